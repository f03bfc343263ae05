/**
 * The policy pack's vocabulary (cdk-nag style): a rule has a stable id (`CTP001`), a level, and checks that return
 * COMPLIANT / NON_COMPLIANT / NOT_APPLICABLE with violations that name a field path and say what to change.
 *
 * A rule can check two things: the normalized pipeline spec (paths like `pipeline.steps[0].target.auth`, what YAML
 * users wrote) and synthesized Terraform blocks (paths like `google_cloud_tasks_queue.q.http_target`, for TypeScript
 * users who build stacks from constructs directly). In a PipelineStack the spec check covers the queues and provider
 * the spec generated, so each problem is reported once, in the user's own terms.
 */
import type { PipelineSpec } from '../spec/types';

export type PolicyLevel = 'error' | 'warning';

export type PolicyResult = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE';

/** One broken rule at one place. `message` never contains a secret value; `path` points at the field. */
export interface Violation {
  readonly path: string;
  readonly message: string;
}

export interface RuleCheck {
  readonly result: PolicyResult;
  readonly violations: readonly Violation[];
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

export interface PolicyRule {
  /** Stable id, `CTP` + three digits; what suppressions name. */
  readonly id: string;
  /** Short kebab-case name, also the rule file's suffix. */
  readonly name: string;
  readonly level: PolicyLevel;
  /** One sentence: what the rule protects against. */
  readonly description: string;
  readonly checkSpec?: (ctx: SpecContext) => RuleCheck;
  readonly checkBlock?: (ctx: BlockContext) => RuleCheck;
}

export const NOT_APPLICABLE: RuleCheck = { result: 'NOT_APPLICABLE', violations: [] };

/** COMPLIANT when nothing was found, NON_COMPLIANT otherwise. */
export function checkResult(violations: readonly Violation[]): RuleCheck {
  return { result: violations.length ? 'NON_COMPLIANT' : 'COMPLIANT', violations };
}

/** A string that Terraform resolves at apply time (`${google_service_account.x.email}`): unknown at synth. */
export function isUnresolved(v: unknown): boolean {
  return typeof v === 'string' && v.includes('${');
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
