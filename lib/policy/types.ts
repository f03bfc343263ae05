/**
 * The policy pack's vocabulary (cdk-nag style): a rule has a stable id (`CTP001`), a level, and one check that
 * returns COMPLIANT / NON_COMPLIANT / NOT_APPLICABLE with violations (Problems) that name a field path and say what to
 * change.
 *
 * A rule checks *subjects*: one queue, the labels, one seed payload. Each subject is seen either through the
 * normalized pipeline spec (paths like `pipeline.steps[0].target.auth`, what YAML users wrote) or through a
 * synthesized Terraform block (paths like `google_cloud_tasks_queue.q.http_target`, for TypeScript users who build
 * stacks from constructs directly); ./subjects.ts builds both, so a rule is written once. In a PipelineStack the spec
 * covers the queues and provider it generated, so each problem is reported once, in the user's own terms.
 */
import type { FieldPath, Problem } from '../core/problem';
import type { PipelineSpec, StepRetry } from '../spec/types';

export type PolicyLevel = 'error' | 'warning';

export type PolicyResult = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE';

export interface RuleCheck {
  readonly result: PolicyResult;
  /** One Problem per place that breaks the rule. Messages never contain a secret value; paths point at the field. */
  readonly violations: readonly Problem[];
}

/** Organisation-wide settings that rules read (cdktf.json context, pack props, the spec's own `policy`). */
export interface PolicyConfig {
  /** Label keys every pipeline must carry. */
  readonly requiredLabels: readonly string[];
}

export interface SpecContext {
  readonly spec: PipelineSpec;
  readonly config: PolicyConfig;
}

/** A synthesized Terraform block (resolved JSON, as in cdk.tf.json). */
export interface TerraformBlock {
  readonly kind: 'resource' | 'provider';
  /** Resource type (`google_cloud_tasks_queue`) or provider name (`google`). */
  readonly type: string;
  /** Terraform address: `google_cloud_tasks_queue.q`, `provider.google`. */
  readonly address: string;
  /** Construct path (`my-stack/queue`), for messages and construct-level suppressions. */
  readonly constructPath: string;
  readonly config: Readonly<Record<string, unknown>>;
}

export interface BlockContext {
  readonly block: TerraformBlock;
  readonly config: PolicyConfig;
}

/** Where a subject was read from: its paths and the names in `terms` are in that representation's words. */
export type SubjectSource = 'spec' | 'terraform';

/** A header on every task of a queue. `path` is where it is written (the header, or its value in Terraform). */
export interface SubjectHeader {
  readonly name: string;
  readonly value: string;
  readonly path: FieldPath;
}

/** One Cloud Tasks queue with a queue-level HTTP target: a pipeline step, or a `google_cloud_tasks_queue` block. */
export interface QueueSubject {
  readonly kind: 'queue';
  readonly source: SubjectSource;
  /** The token Cloud Tasks attaches and where it is set; undefined when each task names its own (no queue-level target). */
  readonly token?: { readonly kind: 'oidc' | 'oauth' | 'none'; readonly path: FieldPath };
  /** The host tasks go to; undefined when Terraform only knows it at apply time. */
  readonly host?: string;
  /** Headers set on every task; undefined when each task names its own. */
  readonly headers?: readonly SubjectHeader[];
  /**
   * The target's other strings that reach every task and the queue's configuration: the URL (host, path and query
   * together), the OIDC audience, the OAuth scope. Those Terraform only knows at apply time are left out.
   */
  readonly targetStrings?: readonly SubjectString[];
  /** Retry settings in seconds, and where maxAttempts is set; undefined when Terraform only knows them at apply time. */
  readonly retry?: { readonly config: StepRetry; readonly maxAttemptsPath: FieldPath };
  /** Field names as this representation spells them (spec `maxRetryDuration`, Terraform `max_retry_duration`). */
  readonly terms: QueueTerms;
}

/** A string of a queue's target, where it is set. */
export interface SubjectString {
  readonly field: 'url' | 'audience' | 'scope';
  readonly value: string;
  readonly path: FieldPath;
}

export interface QueueTerms {
  /** What a target without a token is called: `"none"` (the spec's auth value), `http_target with neither ...`. */
  readonly noToken: string;
  /** How to add one: `use oidc`, `add oidc_token`. */
  readonly addToken: string;
  /** The OIDC setting: `oidc`, `oidc_token`. */
  readonly oidc: string;
  readonly maxAttempts: string;
  readonly maxRetryDuration: string;
}

/** The labels every resource of the stack carries: the spec's `labels`, or a google provider's `default_labels`. */
export interface LabelsSubject {
  readonly kind: 'labels';
  readonly source: SubjectSource;
  readonly labels: Readonly<Record<string, unknown>>;
  readonly path: FieldPath;
  /** Where to add a label, for the message: `under labels`, `to the provider's defaultLabels`. */
  readonly addWhere: string;
}

/**
 * The payload of one seed task or schedule: the input of the runs it starts (the spec only: in Terraform it is inside
 * the manifest asset or, base64-encoded twice, the scheduler job's body).
 */
export interface SeedPayloadSubject {
  readonly kind: 'seed-payload';
  readonly source: 'spec';
  readonly payload: unknown;
  readonly path: FieldPath;
}

export type PolicySubject = QueueSubject | LabelsSubject | SeedPayloadSubject;

/** What a rule file defines: the rule's identity and its one check. */
export interface PolicyRuleDefinition {
  /** Stable id, `CTP` + three digits; what suppressions name. */
  readonly id: string;
  /** Short kebab-case name, also the rule file's suffix. */
  readonly name: string;
  readonly level: PolicyLevel;
  /** One sentence: what the rule protects against. */
  readonly description: string;
  /** The check, a pure function of one subject (NOT_APPLICABLE for subjects it is not about). */
  readonly check: (subject: PolicySubject, config: PolicyConfig) => RuleCheck;
}

/** A rule as the pack runs it: the definition, applied to a whole spec or to one Terraform block. */
export interface PolicyRule extends PolicyRuleDefinition {
  readonly checkSpec: (ctx: SpecContext) => RuleCheck;
  readonly checkBlock: (ctx: BlockContext) => RuleCheck;
}

export const NOT_APPLICABLE: RuleCheck = { result: 'NOT_APPLICABLE', violations: [] };

/** COMPLIANT when nothing was found, NON_COMPLIANT otherwise. */
export function checkResult(violations: readonly Problem[]): RuleCheck {
  return { result: violations.length ? 'NON_COMPLIANT' : 'COMPLIANT', violations };
}

/** A string that Terraform resolves at apply time (`${google_service_account.x.email}`): unknown at synth. */
export function isUnresolved(v: unknown): boolean {
  return typeof v === 'string' && v.includes('${');
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
