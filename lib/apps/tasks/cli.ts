/**
 * `npm run tasks -- list [--queue <id>] [--emulator host:port | --rest [url]] [--show-body]`: what is in the local
 * emulator, read with the official client as any user code would (ListQueues, ListTasks with the FULL view), over
 * gRPC or, with `--rest`, over the client's REST transport (google-gax `fallback: 'rest'`).
 *
 * One table per queue: task id, schedule time, method, URL, token (kind, service account, audience or scope), body
 * size and a short sha256 of the body, so two listings (or a listing and a seed manifest) compare at a glance.
 * `--show-body` adds each task's headers and body: in a local emulator they are the user's own payloads. Authorization
 * headers are never printed. Every name, URL, header and body is printed terminal-safe (control and bidi characters
 * escaped, lib/core/text.ts): a task's content is whatever its creator sent. Exit codes: 0 listed, 1 the emulator cannot be reached or has no such queue, 2 the
 * command line or the emulator address is wrong.
 */
import { createHash } from 'node:crypto';
import { Command, CommanderError } from 'commander';
import type { protos } from '@google-cloud/tasks';
import { ANY } from '../../emulator/names';
import { DEFAULT_EMULATOR_PORT, EMULATOR_HOST_ENV, EMULATOR_REST_URL_ENV } from '../../core/env';
import { terminalSafe } from '../../core/text';

type TaskMessage = protos.google.cloud.tasks.v2.ITask;

export interface TasksCliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
}

interface ListOptions {
  readonly queue?: string;
  readonly emulator?: string;
  /** true: the REST URL from the environment or the default; a string: that URL. */
  readonly rest?: boolean | string;
  readonly showBody?: boolean;
}

/** The emulator's REST URL when none is given: its default REST port is the gRPC port + 2. */
const DEFAULT_REST_URL = `http://127.0.0.1:${DEFAULT_EMULATOR_PORT + 2}/`;

/** Every queue of every project and location: an emulator extension of ListQueues (lib/emulator/names.ts). */
const ALL_LOCATIONS = `projects/${ANY}/locations/${ANY}`;
/**
 * No client retries (the emulator is local: an UNAVAILABLE means it is not running, say so at once) and a bound on
 * each call; the emulator answers in milliseconds.
 */
const CALL_OPTIONS = { timeout: 5000, retry: null };
/** Headers whose values are credentials: shown by name only. */
const HIDDEN_HEADERS = new Set(['authorization', 'proxy-authorization']);

export async function main(argv: readonly string[], io: TasksCliIo = processIo()): Promise<number> {
  let code = 0;
  const program = new Command('tasks')
    .description('Inspect the queues and tasks of the local Cloud Tasks emulator (npm run emulator).')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  program
    .command('list')
    .description('list queues and their tasks: id, schedule time, method, URL, token, body size and sha256')
    .option('--queue <id>', 'only this queue (its id, or its full name projects/P/locations/L/queues/Q)')
    .option(
      '--emulator <host:port>',
      `the emulator (default: ${EMULATOR_HOST_ENV}, else 127.0.0.1:${DEFAULT_EMULATOR_PORT})`,
    )
    .option(
      '--rest [url]',
      `read over REST (the client's fallback: 'rest' transport) from url (default: ${EMULATOR_REST_URL_ENV}, else ${DEFAULT_REST_URL})`,
    )
    .option('--show-body', "print each task's headers (never Authorization) and body")
    .action(async (opts: ListOptions) => {
      code = await list(opts, io);
    });
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}

/** The client: insecure gRPC to host:port, or the REST transport to the emulator's REST URL, without credentials. */
async function clientFor(
  opts: ListOptions,
  io: TasksCliIo,
): Promise<{ client: import('@google-cloud/tasks').CloudTasksClient; address: string } | string> {
  if (opts.rest !== undefined) {
    const url = typeof opts.rest === 'string' ? opts.rest : io.env[EMULATOR_REST_URL_ENV] || DEFAULT_REST_URL;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.protocol !== 'http:' || !parsed.port)
      return `${typeof opts.rest === 'string' ? '--rest' : EMULATOR_REST_URL_ENV} "${url}" is not the emulator's REST URL, e.g. ${DEFAULT_REST_URL}`;
    const { CloudTasksClient } = await import('@google-cloud/tasks');
    const { PassThroughClient } = await import('google-auth-library');
    const client = new CloudTasksClient({
      fallback: 'rest',
      protocol: 'http',
      servicePath: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: Number(parsed.port),
      // A local emulator takes no credentials; PassThroughClient sends none (on Node's own fetch).
      authClient: new PassThroughClient({ transporterOptions: { fetchImplementation: fetch } }),
    });
    return { client, address: url };
  }
  const address = opts.emulator ?? (io.env[EMULATOR_HOST_ENV] || `127.0.0.1:${DEFAULT_EMULATOR_PORT}`);
  const { seedTargetFromEnv } = await import('../../core/env');
  let target: ReturnType<typeof seedTargetFromEnv>;
  try {
    target = seedTargetFromEnv({ [EMULATOR_HOST_ENV]: address });
  } catch {
    const source = opts.emulator !== undefined ? '--emulator' : EMULATOR_HOST_ENV;
    return `${source} "${address}" is not host:port, e.g. 127.0.0.1:${DEFAULT_EMULATOR_PORT} or [::1]:${DEFAULT_EMULATOR_PORT}`;
  }
  const { createClients } = await import('../../core/tasks-client');
  return { client: createClients(target, 1)[0], address };
}

async function list(opts: ListOptions, io: TasksCliIo): Promise<number> {
  const made = await clientFor(opts, io);
  if (typeof made === 'string') {
    io.stderr.write(`${made}\n`);
    return 2;
  }
  const { client, address } = made;
  try {
    const [all] = await client.listQueues({ parent: ALL_LOCATIONS }, CALL_OPTIONS);
    const queues =
      opts.queue === undefined
        ? all
        : all.filter((q) => q.name === opts.queue || q.name?.endsWith(`/queues/${opts.queue}`));
    if (queues.length === 0) {
      const ids = all.map((q) => q.name!.slice(q.name!.lastIndexOf('/') + 1));
      io.stderr.write(
        terminalSafe(
          opts.queue !== undefined
            ? `no queue ${opts.queue} in the emulator at ${address}; its queues: ${ids.length > 0 ? ids.join(', ') : 'none'}`
            : `no queues in the emulator at ${address}; create them from a synthesized stack: npm run emulator -- --stack cdktf.out/stacks/<stack>`,
        ) + '\n',
      );
      return opts.queue !== undefined ? 1 : 0;
    }
    const listed: Array<{ name: string; state: string; tasks: TaskMessage[] }> = [];
    for (const q of queues) {
      const [tasks] = await client.listTasks({ parent: q.name!, responseView: 'FULL' }, CALL_OPTIONS);
      listed.push({ name: q.name!, state: String(q.state ?? ''), tasks });
    }
    const total = listed.reduce((n, q) => n + q.tasks.length, 0);
    io.stdout.write(
      `Cloud Tasks emulator at ${terminalSafe(address)}: ${plural(listed.length, 'queue')}, ${plural(total, 'task')}\n`,
    );
    for (const q of listed)
      io.stdout.write(
        `\n${terminalSafe(q.name)}  ${terminalSafe(q.state)}  ${plural(q.tasks.length, 'task')}\n${taskTable(q.tasks, opts.showBody === true)}`,
      );
    return 0;
  } catch (err) {
    const e = err as { code?: number | string; details?: string; message: string };
    // 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED (gRPC), a refused connection (REST): nothing answers at that address.
    // gaxios (REST) wraps fetch's error in `cause` ("fetch failed"), whose own cause carries ECONNREFUSED.
    const wrapped = (err as { cause?: { message?: string; cause?: { code?: string } } }).cause;
    const unreachable =
      e.code === 14 ||
      e.code === 4 ||
      /ECONNREFUSED|fetch failed/.test(`${e.message} ${wrapped?.message} ${wrapped?.cause?.code}`);
    io.stderr.write(
      terminalSafe(
        unreachable
          ? `cannot reach the Cloud Tasks emulator at ${address} (${(e.details || e.message).split('\n')[0].replace(/\.? *Resolution note: *$/, '')}); start it with npm run emulator, which prints its address (${opts.rest !== undefined ? EMULATOR_REST_URL_ENV : EMULATOR_HOST_ENV})\n`
          : `the emulator at ${address} refused the listing: ${e.details ?? e.message}`,
      ) + '\n',
    );
    return 1;
  } finally {
    await client.close();
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The rows of one queue; with showBody each row is followed by its headers and body, indented. */
export function taskTable(tasks: readonly TaskMessage[], showBody: boolean): string {
  if (tasks.length === 0) return '';
  const header = ['TASK ID', 'SCHEDULE', 'METHOD', 'URL', 'TOKEN', 'BODY'];
  const rows = tasks.map((t) => {
    const r = t.httpRequest ?? {};
    const body = bodyBytes(r.body);
    return [
      t.name!.slice(t.name!.lastIndexOf('/') + 1),
      timestamp(t.scheduleTime),
      String(r.httpMethod ?? 'POST'),
      r.url ?? '',
      token(r),
      `${body.length} B sha256:${createHash('sha256').update(body).digest('hex').slice(0, 12)}`,
    ].map((cell) => terminalSafe(cell));
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`;
  let out = line(header);
  tasks.forEach((t, i) => {
    out += line(rows[i]);
    if (showBody) out += details(t);
  });
  return out;
}

function token(r: NonNullable<TaskMessage['httpRequest']>): string {
  if (r.oidcToken) return `oidc ${r.oidcToken.serviceAccountEmail ?? ''} aud=${r.oidcToken.audience || '(the URL)'}`;
  if (r.oauthToken)
    return `oauth ${r.oauthToken.serviceAccountEmail ?? ''} scope=${r.oauthToken.scope || '(cloud-platform)'}`;
  return 'none';
}

function details(t: TaskMessage): string {
  const r = t.httpRequest ?? {};
  let out = '';
  for (const [key, value] of Object.entries(r.headers ?? {}).sort(([a], [b]) => a.localeCompare(b)))
    out += `      ${terminalSafe(key)}: ${HIDDEN_HEADERS.has(key.toLowerCase()) ? '(hidden)' : terminalSafe(value)}\n`;
  const body = bodyBytes(r.body);
  if (body.length === 0) return `${out}      (no body)\n`;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    text = `(binary, base64) ${body.toString('base64')}`;
  }
  // The body's own lines stay lines; within each, control and bidi characters are shown escaped.
  return `${out}${terminalSafe(text, { keepNewlines: true })
    .split('\n')
    .map((l) => `      ${l}\n`)
    .join('')}`;
}

function bodyBytes(body: Uint8Array | string | null | undefined): Buffer {
  if (body === null || body === undefined) return Buffer.alloc(0);
  // gax returns bytes as a Buffer; a string is its base64 form (proto3 JSON).
  return typeof body === 'string' ? Buffer.from(body, 'base64') : Buffer.from(body);
}

function timestamp(t: TaskMessage['scheduleTime']): string {
  if (!t) return '-';
  const ms = Number(String(t.seconds ?? 0)) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return new Date(ms).toISOString();
}

function processIo(): TasksCliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export function runMain(argv: readonly string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`tasks: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
