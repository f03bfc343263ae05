/**
 * Mermaid flowcharts of a pipeline's steps and `next` edges, drawn from the stack's `pipeline_graph` output (a
 * literal in cdk.tf.json). When a base graph is given, added steps and edges are highlighted and removed ones are
 * drawn dashed, so the diagram itself shows the change.
 */
import { terminalSafe } from '../../core/text';
import { STEP_KIND_LABELS } from '../../core/job-route';
import { STEP_KINDS, type StepKind } from '../../core/routes';

export interface PipelineGraph {
  readonly pipeline: string;
  readonly environment: string;
  readonly steps: ReadonlyArray<{
    readonly name: string;
    readonly queueId?: string;
    readonly next: readonly string[];
    /** What runs the step; absent in the output of a service step (and of stacks from before job steps). */
    readonly kind?: StepKind;
    /** A job step's job: the Cloud Run job's name, or the Vertex machine type. */
    readonly job?: string;
    /** Tasks (Cloud Run) or replicas (Vertex) per message. */
    readonly tasks?: number;
  }>;
}

/** The `pipeline_graph` output of a synthesized stack, if it has a usable one. */
export function pipelineGraphOf(config: Record<string, unknown>): PipelineGraph | undefined {
  const outputs = config.output as Record<string, { value?: unknown }> | undefined;
  const v = outputs?.pipeline_graph?.value as Partial<PipelineGraph> | undefined;
  if (!v || !Array.isArray(v.steps)) return undefined;
  const steps = v.steps
    .filter((s): s is PipelineGraph['steps'][number] => !!s && typeof s.name === 'string')
    .map((s) => ({
      name: s.name,
      queueId: typeof s.queueId === 'string' ? s.queueId : undefined,
      next: Array.isArray(s.next) ? s.next.filter((n) => typeof n === 'string') : [],
      ...((STEP_KINDS as readonly unknown[]).includes(s.kind) ? { kind: s.kind } : {}),
      ...(typeof s.job === 'string' ? { job: s.job } : {}),
      ...(Number.isInteger(s.tasks) ? { tasks: s.tasks } : {}),
    }));
  return { pipeline: String(v.pipeline ?? ''), environment: String(v.environment ?? ''), steps };
}

/** Mermaid node ids allow letters, digits and underscores; step names may have hyphens. */
function nodeId(step: string): string {
  return `step_${step.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0).toString(16)}_`)}`;
}

/** Label text inside `["..."]`: on one line (control characters escaped), quotes and angle brackets as Mermaid entities. */
function label(text: string): string {
  return terminalSafe(text).replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

/** `Cloud Run job recsys-train, 3 tasks` / `Vertex AI custom job a2-highgpu-1g, 2 replicas`; nothing for a service. */
function kindLine(s: PipelineGraph['steps'][number]): string | undefined {
  if (!s.kind || s.kind === 'service') return undefined;
  const n = s.tasks ?? 1;
  const count = s.kind === 'cloudRunJob' ? `${n} task${n === 1 ? '' : 's'}` : `${n} replica${n === 1 ? '' : 's'}`;
  return `${STEP_KIND_LABELS[s.kind]}${s.job ? ` ${s.job}` : ''}, ${count}`;
}

/** What the flowchart draws of a schedule (the stack's `schedules` output). */
export interface GraphSchedule {
  readonly step: string;
  readonly cron: string;
  readonly timeZone: string;
  readonly paused: boolean;
}

/**
 * `schedules` (head's, by name) are drawn as rounded nodes with a dotted arrow into the step each one starts runs
 * at, so the diagram shows which steps a schedule starts.
 */
export function mermaidFlowchart(
  head: PipelineGraph | undefined,
  base?: PipelineGraph,
  schedules?: Readonly<Record<string, GraphSchedule>>,
): string {
  const lines = ['flowchart LR'];
  const headSteps = new Map((head?.steps ?? []).map((s) => [s.name, s]));
  const baseSteps = new Map((base?.steps ?? []).map((s) => [s.name, s]));
  const compare = base !== undefined;
  const classes: Record<'added' | 'removed', string[]> = { added: [], removed: [] };

  const names = [...headSteps.keys(), ...[...baseSteps.keys()].filter((n) => !headSteps.has(n))];
  for (const name of names) {
    const s = headSteps.get(name) ?? baseSteps.get(name)!;
    const was = baseSteps.get(name);
    const parts = [name, ...(s.queueId ? [s.queueId] : []), ...(kindLine(s) ? [kindLine(s)!] : [])];
    // A step whose kind changed (a service turned into a job) says what it was.
    if (compare && was && headSteps.has(name) && (was.kind ?? 'service') !== (s.kind ?? 'service'))
      parts.push(`was a ${STEP_KIND_LABELS[was.kind ?? 'service']}`);
    const text = parts.map(label).join('<br/>');
    // Jobs are drawn as subroutines: the queue starts them, they run on their own.
    lines.push(`  ${nodeId(name)}${s.kind && s.kind !== 'service' ? `[["${text}"]]` : `["${text}"]`}`);
    if (compare && !baseSteps.has(name)) classes.added.push(nodeId(name));
    if (compare && !headSteps.has(name)) classes.removed.push(nodeId(name));
  }
  const edges = (g: Map<string, PipelineGraph['steps'][number]>): Set<string> =>
    new Set([...g.values()].flatMap((s) => s.next.map((n) => `${s.name}\u0000${n}`)));
  const headEdges = edges(headSteps);
  const baseEdges = edges(baseSteps);
  for (const e of headEdges) {
    const [from, to] = e.split('\u0000') as [string, string];
    const arrow = compare && !baseEdges.has(e) ? '==>|added|' : '-->';
    lines.push(`  ${nodeId(from)} ${arrow} ${nodeId(to)}`);
  }
  if (compare)
    for (const e of baseEdges) {
      if (headEdges.has(e)) continue;
      const [from, to] = e.split('\u0000') as [string, string];
      lines.push(`  ${nodeId(from)} -.->|removed| ${nodeId(to)}`);
    }
  const scheduled = Object.entries(schedules ?? {}).filter(([, x]) => headSteps.has(x.step));
  for (const [name, x] of scheduled) {
    const id = `schedule_${nodeId(name).slice('step_'.length)}`;
    const when = `${x.cron} ${x.timeZone}${x.paused ? ' (paused)' : ''}`;
    lines.push(`  ${id}(["schedule ${label(name)}<br/>${label(when)}"]) -.->|starts| ${nodeId(x.step)}`);
  }
  if (scheduled.length) {
    lines.push('  classDef schedule fill:#ddf4ff,stroke:#0969da,stroke-dasharray:3 3');
    lines.push(
      `  class ${scheduled.map(([name]) => `schedule_${nodeId(name).slice('step_'.length)}`).join(',')} schedule`,
    );
  }
  if (classes.added.length) {
    lines.push('  classDef added fill:#dafbe1,stroke:#1a7f37,stroke-width:2px');
    lines.push(`  class ${classes.added.join(',')} added`);
  }
  if (classes.removed.length) {
    lines.push('  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:5 5');
    lines.push(`  class ${classes.removed.join(',')} removed`);
  }
  return lines.join('\n');
}
