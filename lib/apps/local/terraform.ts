/**
 * A synthesized stack (read by lib/core/synthesized-stack.ts) in the terms `npm run local` and
 * `npm run emulator -- --stack` need: the queues exactly as Terraform would create them
 * (`resource.google_cloud_tasks_queue.*`) and the seeding command of the `terraform_data` resource's local-exec
 * provisioner; and those queues created in an emulator (createStackQueues). Reading the synthesized JSON, not the
 * spec, means a local run exercises what deploys.
 */
import path from 'node:path';
import type { HttpMethod } from '../../core/rules/cloud-tasks';
import { readSynthesizedStack, SynthOutputError, type SynthesizedStack } from '../../core/synthesized-stack';
import { parseTerraformDuration as terraformSeconds } from '../../core/duration';
import { terraformLiteralText } from '../../core/terraform-string';
import type { QueueHttpTarget, QueueInput } from '../../emulator/model';
import type { EmulatorState } from '../../emulator/state';

/** One `google_cloud_tasks_queue`, in the emulator's terms. */
export interface SynthesizedQueue {
  /** The resource's address, e.g. `google_cloud_tasks_queue.queue-train_74420F46`. */
  readonly address: string;
  readonly project: string;
  readonly location: string;
  readonly queueId: string;
  /** `projects/P/locations/L/queues/Q` */
  readonly queueName: string;
  /** CreateQueue input (name, rate limits, retry config, logging). */
  readonly input: QueueInput;
  /** The queue's `http_target`, as the emulator's QueueHttpTarget. */
  readonly httpTarget?: QueueHttpTarget;
}

/** A local-exec provisioner: what Terraform runs, and where. */
export interface SeedCommand {
  readonly address: string;
  /** `[interpreter..., command]`, run without a shell, as Terraform does with an `interpreter` list. */
  readonly argv: readonly string[];
  /** `working_dir` with `${path.module}` resolved to the stack folder. */
  readonly cwd: string;
  /** The provisioner's `environment`, if any. */
  readonly environment: Readonly<Record<string, string>>;
}

interface TfQueue {
  name?: unknown;
  project?: unknown;
  location?: unknown;
  rate_limits?: { max_dispatches_per_second?: number; max_concurrent_dispatches?: number };
  retry_config?: {
    max_attempts?: number;
    min_backoff?: string;
    max_backoff?: string;
    max_doublings?: number;
    max_retry_duration?: string;
  };
  stackdriver_logging_config?: { sampling_ratio?: number };
  http_target?: {
    http_method?: string;
    uri_override?: {
      scheme?: string;
      host?: string;
      port?: string | number;
      path_override?: { path?: string };
      query_override?: { query_params?: string };
      uri_override_enforce_mode?: string;
    };
    header_overrides?: Array<{ header: { key: string; value: string } }>;
    oidc_token?: { service_account_email: string; audience?: string };
    oauth_token?: { service_account_email: string; scope?: string };
  };
}

interface TfProvisioner {
  'local-exec'?: {
    command?: string;
    interpreter?: string[];
    working_dir?: string;
    environment?: Record<string, string>;
  };
}

/** A stack as a local run uses it. */
export interface LocalStack {
  readonly dir: string;
  readonly name: string;
  readonly queues: readonly SynthesizedQueue[];
  readonly seedCommands: readonly SeedCommand[];
}

const SYNTH_HINT = 'run `npm run synth` and pass a folder cdktf.out/stacks/<stack>';

/**
 * Reads `<stackDir>/cdk.tf.json` for a local run. Throws SynthOutputError naming the path and what is missing when the
 * folder is not a pipeline stack, and an Error naming the resource and field when something in it cannot run locally.
 */
export function readLocalStack(stackDir: string): LocalStack {
  return localStackOf(readSynthesizedStack(stackDir));
}

export function localStackOf(stack: SynthesizedStack): LocalStack {
  const resources = (stack.config.resource ?? {}) as Record<string, Record<string, unknown>>;
  if (Object.keys(resources.google_cloud_tasks_queue ?? {}).length === 0)
    throw new SynthOutputError(
      `${stack.file} has no resource.google_cloud_tasks_queue: it is not a pipeline stack; ${SYNTH_HINT}`,
    );
  const queues = Object.entries(resources.google_cloud_tasks_queue ?? {}).map(([id, r]) =>
    queueFrom(`google_cloud_tasks_queue.${id}`, r as TfQueue, stack.file),
  );
  const seedCommands: SeedCommand[] = [];
  for (const [id, r] of Object.entries(resources.terraform_data ?? {})) {
    const provisioners = ((r as { provisioner?: TfProvisioner[] }).provisioner ?? [])
      .map((p) => p['local-exec'])
      .filter((p) => p !== undefined);
    for (const p of provisioners) seedCommands.push(seedCommandFrom(`terraform_data.${id}`, p!, stack.dir, stack.file));
  }
  return { dir: stack.dir, name: stack.name, queues, seedCommands };
}

/**
 * The text of a literal Terraform string (the constructs escape `${` as `$${`: lib/core/terraform-string.ts). A value
 * holding a live interpolation is known only to Terraform, so the queue cannot be created locally.
 */
function literal(value: unknown, where: string, file: string): string {
  const text = typeof value === 'string' ? terraformLiteralText(value) : undefined;
  if (text === undefined)
    throw new Error(
      `${file}: ${where} = ${JSON.stringify(value)} is not a literal; queues can be created locally only when their values are known at synth time`,
    );
  return text;
}

/** Terraform's duration strings for Cloud Tasks: `"600s"`, `"0.5s"`. */
export function parseTerraformDuration(text: string | undefined, where: string): number | undefined {
  if (text === undefined) return undefined;
  const seconds = terraformSeconds(text);
  if (seconds === undefined) throw new Error(`${where} = "${text}" is not a duration in seconds such as "600s"`);
  return seconds;
}

function queueFrom(address: string, r: TfQueue, file: string): SynthesizedQueue {
  const queueId = literal(r.name, `${address}.name`, file);
  const project = literal(r.project, `${address}.project`, file);
  const location = literal(r.location, `${address}.location`, file);
  const rc = r.retry_config;
  const input: QueueInput = {
    name: `projects/${project}/locations/${location}/queues/${queueId}`,
    ...(r.rate_limits
      ? {
          rateLimits: {
            maxDispatchesPerSecond: r.rate_limits.max_dispatches_per_second,
            maxConcurrentDispatches: r.rate_limits.max_concurrent_dispatches,
          },
        }
      : {}),
    ...(rc
      ? {
          retryConfig: {
            maxAttempts: rc.max_attempts,
            minBackoffSeconds: parseTerraformDuration(rc.min_backoff, `${address}.retry_config.min_backoff`),
            maxBackoffSeconds: parseTerraformDuration(rc.max_backoff, `${address}.retry_config.max_backoff`),
            maxDoublings: rc.max_doublings,
            maxRetryDurationSeconds: parseTerraformDuration(
              rc.max_retry_duration,
              `${address}.retry_config.max_retry_duration`,
            ),
          },
        }
      : {}),
    ...(r.stackdriver_logging_config
      ? { stackdriverLoggingConfig: { samplingRatio: r.stackdriver_logging_config.sampling_ratio ?? 0 } }
      : {}),
  };
  const t = r.http_target;
  let httpTarget: QueueHttpTarget | undefined;
  if (t) {
    const u = t.uri_override;
    const text = (value: string, field: string): string => literal(value, `${address}.http_target.${field}`, file);
    httpTarget = {
      ...(t.http_method ? { httpMethod: t.http_method as HttpMethod } : {}),
      ...(u
        ? {
            uriOverride: {
              ...(u.scheme ? { scheme: u.scheme as 'HTTP' | 'HTTPS' } : {}),
              ...(u.host ? { host: text(u.host, 'uri_override.host') } : {}),
              ...(u.port !== undefined ? { port: Number(u.port) } : {}),
              ...(u.path_override
                ? { pathOverride: { path: text(u.path_override.path ?? '', 'uri_override.path_override.path') } }
                : {}),
              ...(u.query_override
                ? {
                    queryOverride: {
                      queryParams: text(
                        u.query_override.query_params ?? '',
                        'uri_override.query_override.query_params',
                      ),
                    },
                  }
                : {}),
              ...(u.uri_override_enforce_mode
                ? { uriOverrideEnforceMode: u.uri_override_enforce_mode as 'ALWAYS' | 'IF_NOT_EXISTS' }
                : {}),
            },
          }
        : {}),
      ...(t.header_overrides
        ? {
            headerOverrides: t.header_overrides.map((h, i) => ({
              header: {
                key: text(h.header.key, `header_overrides[${i}].header.key`),
                value: text(h.header.value, `header_overrides[${i}].header.value`),
              },
            })),
          }
        : {}),
      ...(t.oidc_token
        ? {
            oidcToken: {
              serviceAccountEmail: text(t.oidc_token.service_account_email, 'oidc_token.service_account_email'),
              ...(t.oidc_token.audience ? { audience: text(t.oidc_token.audience, 'oidc_token.audience') } : {}),
            },
          }
        : {}),
      ...(t.oauth_token
        ? {
            oauthToken: {
              serviceAccountEmail: text(t.oauth_token.service_account_email, 'oauth_token.service_account_email'),
              ...(t.oauth_token.scope ? { scope: text(t.oauth_token.scope, 'oauth_token.scope') } : {}),
            },
          }
        : {}),
    };
  }
  return { address, project, location, queueId, queueName: input.name!, input, ...(httpTarget ? { httpTarget } : {}) };
}

function seedCommandFrom(
  address: string,
  p: NonNullable<TfProvisioner['local-exec']>,
  stackDir: string,
  file: string,
): SeedCommand {
  const moduleDir = path.resolve(stackDir);
  const resolveModule = (text: string, where: string): string => {
    const resolved = text.split('${path.module}').join(moduleDir);
    if (resolved.includes('${'))
      throw new Error(
        `${file}: ${address} ${where} = "${text}" uses an interpolation a local run cannot resolve (only \${path.module})`,
      );
    return resolved;
  };
  if (!p.command) throw new Error(`${file}: ${address} has a local-exec provisioner without a command`);
  if (!p.interpreter || p.interpreter.length === 0)
    // Without an interpreter Terraform hands the command to a shell; the project's seeding never does that.
    throw new Error(
      `${file}: ${address} local-exec has no interpreter list; local runs start commands only without a shell, as SeedTasks writes them`,
    );
  return {
    address,
    argv: [...p.interpreter.map((a, i) => resolveModule(a, `interpreter[${i}]`)), resolveModule(p.command, 'command')],
    cwd: path.resolve(moduleDir, resolveModule(p.working_dir ?? '${path.module}', 'working_dir')),
    environment: p.environment ?? {},
  };
}

export interface StackQueuesResult {
  /** Queue names created now. */
  readonly created: readonly string[];
  /** Queue names that existed (restored from a data directory, or from another run) and were set to the stack's config. */
  readonly updated: readonly string[];
}

/**
 * Creates the stack's queues in the emulator as `terraform apply` would: name, rate limits, retry config and logging
 * from the synthesized JSON, unset fields at the service defaults. A queue that already exists is updated (every
 * field, as UpdateQueue with an empty mask), so it ends exactly as synthesized. Then each queue gets its queue-level
 * http_target: by default the synthesized one (production URLs and tokens); `httpTargetFor` replaces it (npm run
 * local routes queues to local workers).
 */
export function createStackQueues(
  state: EmulatorState,
  queues: readonly SynthesizedQueue[],
  httpTargetFor: (q: SynthesizedQueue) => QueueHttpTarget | undefined = (q) => q.httpTarget,
): StackQueuesResult {
  const created: string[] = [];
  const updated: string[] = [];
  const existing = new Set(state.queues().map((q) => q.name));
  for (const q of queues) {
    if (existing.has(q.queueName)) {
      state.updateQueue(q.input, []);
      updated.push(q.queueName);
    } else {
      state.createQueue(`projects/${q.project}/locations/${q.location}`, q.input);
      created.push(q.queueName);
    }
    state.setQueueHttpTarget(q.queueName, httpTargetFor(q));
  }
  return { created, updated };
}
