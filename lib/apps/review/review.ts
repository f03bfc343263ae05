/**
 * Compares two synthesized cdktf outputs (base and head of a pull request) without terraform or credentials:
 * per stack, the Terraform blocks added, removed and changed, the seed tasks that changed, asset content changes,
 * and the pipeline graph. lib/apps/review/markdown.ts renders the result for a PR comment.
 */
import { configEntries, diffEntries, type EntryChange } from './diff';
import { mermaidFlowchart, pipelineGraphOf, type PipelineGraph } from './graph';
import { diffSeedManifestFields, diffSeedManifests, type SeedFieldChange, type SeedTaskChange } from './seed-diff';
import { diffSchedules, type ScheduleChange } from './schedule-diff';
import { schedulesOutputOf } from '../../core/schedule-request';
import type { RecordedSuppression } from '../../core/synthesized-stack';
import { SEED_MANIFEST_FILE, type AssetFingerprint, type ReviewInput, type ReviewedStack } from './synth-output';

export type StackStatus = 'added' | 'removed' | 'changed' | 'unchanged';

export interface AssetChange {
  readonly id: string;
  readonly status: 'added' | 'removed' | 'changed';
  readonly before?: AssetFingerprint;
  readonly after?: AssetFingerprint;
}

/** A policy suppression of the head stack (unchanged or added), or one the head no longer has (removed). */
export interface SuppressionChange {
  readonly status: 'added' | 'removed' | 'unchanged';
  readonly suppression: RecordedSuppression;
}

export interface StackReview {
  readonly name: string;
  readonly status: StackStatus;
  /** Terraform blocks that changed (resources, data sources, outputs, providers, terraform settings). */
  readonly changes: readonly EntryChange[];
  readonly seedTasks: readonly SeedTaskChange[];
  /** Seed manifest fields other than tasks (project, location, version) that changed. */
  readonly seedManifestFields: readonly SeedFieldChange[];
  /** Assets other than the seed manifest (whose content change is reported as seed-task changes). */
  readonly assets: readonly AssetChange[];
  readonly graph?: PipelineGraph;
  readonly baseGraph?: PipelineGraph;
  /** Mermaid source for the pipeline, with changes highlighted when the stack existed before. */
  readonly mermaid?: string;
  /** Terraform backend type of the stack (`local`, `gcs`, ...), head's when it exists. */
  readonly backend?: string;
  /** The pipeline environment (from `pipeline_graph`), e.g. `prod`: the GitHub environment a deploy runs in. */
  readonly environment?: string;
  /** Policy rules switched off for the stack (recorded in its cdk.tf.json), head's, with what changed since base. */
  readonly suppressions: readonly SuppressionChange[];
  /** The stack's schedules (docs/schedules.md) with what changed; absent when neither side has any. */
  readonly schedules?: readonly ScheduleChange[];
}

export interface Review {
  readonly stacks: readonly StackReview[];
  readonly hasChanges: boolean;
}

/** Addresses whose change is shown another way (the diagram) and would only repeat it as attribute noise. */
const SHOWN_ELSEWHERE = new Set(['output.pipeline_graph']);

export interface ReviewOptions {
  /**
   * The clock the schedules' next fire times are computed from.
   * @default - the current time
   */
  readonly now?: Date;
}

export function reviewSynthOutputs(base: ReviewInput, head: ReviewInput, opts: ReviewOptions = {}): Review {
  const names = [...new Set([...Object.keys(base.stacks), ...Object.keys(head.stacks)])].sort();
  const stacks = names.map((n) => reviewStack(base.stacks[n], head.stacks[n], opts.now ?? new Date()));
  return { stacks, hasChanges: stacks.some((s) => s.status !== 'unchanged') };
}

function reviewStack(base: ReviewedStack | undefined, head: ReviewedStack | undefined, now: Date): StackReview {
  const name = (head ?? base)!.name;
  const empty = new Map();
  const changes = diffEntries(base ? configEntries(base.config) : empty, head ? configEntries(head.config) : empty)
    .filter((c) => !SHOWN_ELSEWHERE.has(c.address))
    .map(withScheduleBodiesHidden);
  const schedules = diffSchedules(base?.config, head?.config, now);
  const seedTasks = diffSeedManifests(base?.seedManifest, head?.seedManifest);
  const seedManifestFields = diffSeedManifestFields(base?.seedManifest, head?.seedManifest);
  const assets = diffAssets(base?.assets ?? {}, head?.assets ?? {});
  const suppressions = diffSuppressions(base?.policySuppressions ?? [], head?.policySuppressions ?? []);
  const graph = head ? pipelineGraphOf(head.config) : undefined;
  const baseGraph = base ? pipelineGraphOf(base.config) : undefined;
  const graphChanged = JSON.stringify(graph) !== JSON.stringify(baseGraph);
  const status: StackStatus = !base
    ? 'added'
    : !head
      ? 'removed'
      : changes.length ||
          seedTasks.length ||
          seedManifestFields.length ||
          assets.length ||
          graphChanged ||
          suppressions.some((x) => x.status !== 'unchanged')
        ? 'changed'
        : 'unchanged';
  const drawn = graph ?? baseGraph;
  const config = (head ?? base)!.config;
  const backends = (config.terraform as { backend?: Record<string, unknown> } | undefined)?.backend;
  return {
    backend: backends ? Object.keys(backends)[0] : undefined,
    environment: drawn?.environment || undefined,
    name,
    status,
    changes,
    seedTasks,
    seedManifestFields,
    assets,
    suppressions,
    graph,
    baseGraph,
    mermaid: drawn
      ? mermaidFlowchart(
          graph ?? undefined,
          status === 'changed' || status === 'removed' ? baseGraph : undefined,
          head ? schedulesOutputOf(head.config) : undefined,
        )
      : undefined,
    ...(schedules.length ? { schedules } : {}),
  };
}

/**
 * A scheduler job's `http_target.body` is its payload, base64-encoded: never shown as an attribute. The Schedules
 * section summarizes it (size, keys, hash), as for seed tasks.
 */
function withScheduleBodiesHidden(c: EntryChange): EntryChange {
  if (c.type !== 'google_cloud_scheduler_job') return c;
  return { ...c, attributes: c.attributes.map((a) => (a.path === 'http_target.body' ? { ...a, redacted: true } : a)) };
}

function diffSuppressions(
  base: readonly RecordedSuppression[],
  head: readonly RecordedSuppression[],
): SuppressionChange[] {
  const key = (s: RecordedSuppression): string => JSON.stringify([s.rule, s.scope, s.source, s.reason]);
  const before = new Set(base.map(key));
  const after = new Set(head.map(key));
  return [
    ...head.map((s) => ({ status: before.has(key(s)) ? ('unchanged' as const) : ('added' as const), suppression: s })),
    ...base.filter((s) => !after.has(key(s))).map((s) => ({ status: 'removed' as const, suppression: s })),
  ];
}

function diffAssets(
  base: Readonly<Record<string, AssetFingerprint>>,
  head: Readonly<Record<string, AssetFingerprint>>,
): AssetChange[] {
  const out: AssetChange[] = [];
  const isSeedManifest = (a: AssetFingerprint | undefined): boolean =>
    !!a && a.files.some((f) => f.endsWith(SEED_MANIFEST_FILE));
  for (const id of [...new Set([...Object.keys(base), ...Object.keys(head)])].sort()) {
    const before = base[id];
    const after = head[id];
    if (isSeedManifest(before) || isSeedManifest(after)) continue;
    if (before && !after) out.push({ id, status: 'removed', before });
    else if (!before && after) out.push({ id, status: 'added', after });
    else if (before && after && before.sha256 !== after.sha256) out.push({ id, status: 'changed', before, after });
  }
  return out;
}

export interface ChangeCounts {
  readonly add: number;
  readonly change: number;
  readonly replace: number;
  readonly remove: number;
}

/** Counts over resources and data sources only (what `terraform plan` counts). */
export function resourceCounts(s: StackReview): ChangeCounts {
  const r = s.changes.filter((c) => c.kind === 'resource' || c.kind === 'data');
  return {
    add: r.filter((c) => c.status === 'added').length,
    change: r.filter((c) => c.status === 'changed' && !c.replacedBy).length,
    replace: r.filter((c) => c.status === 'changed' && c.replacedBy).length,
    remove: r.filter((c) => c.status === 'removed').length,
  };
}

export function seedCounts(s: StackReview): Omit<ChangeCounts, 'replace'> {
  return {
    add: s.seedTasks.filter((t) => t.status === 'added').length,
    change: s.seedTasks.filter((t) => t.status === 'changed').length,
    remove: s.seedTasks.filter((t) => t.status === 'removed').length,
  };
}

/** Stacks a deploy has to apply: added or changed (removed stacks need a deliberate `cdktf destroy`). */
export function stacksToDeploy(review: Review): string[] {
  return review.stacks.filter((s) => s.status === 'added' || s.status === 'changed').map((s) => s.name);
}
