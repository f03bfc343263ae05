/**
 * Small pieces every page uses. Every status is a word next to its colour (never the colour alone), and every user
 * string is rendered as text by Preact (escaped), never as HTML.
 */
import type { ComponentChildren } from 'preact';
import type { PhaseCounts, TaskPhase } from '../api-types';
import type { ApiCallError } from './data';

export const PHASES: readonly TaskPhase[] = ['pending', 'running', 'retrying', 'succeeded', 'failed', 'deleted'];

/** A hash route, with every segment encoded. */
export const href = (...segments: string[]) => `#/${segments.map(encodeURIComponent).join('/')}`;

export function formatTime(iso: string | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour12: false })}`;
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A status or phase: its word, in its colour class. */
export function Badge({ value, label }: { readonly value: string; readonly label?: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z-]/g, '')}`}>{label ?? value}</span>;
}

/** Non-zero counts as "3 succeeded", each with its colour; "no tasks" when all are zero. */
export function Counts({ counts, compact }: { readonly counts: PhaseCounts; readonly compact?: boolean }) {
  const shown = PHASES.filter((p) => counts[p] > 0);
  if (shown.length === 0) return <span class="muted">no tasks</span>;
  return (
    <span class={compact ? 'counts compact' : 'counts'}>
      {shown.map((p) => (
        <span key={p} class={`count count-${p}`}>
          <span class="swatch" aria-hidden="true" />
          {counts[p]} {p}
        </span>
      ))}
    </span>
  );
}

export function ErrorMessage({ error }: { readonly error?: ApiCallError | Error | string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {typeof error === 'string' ? error : error.message}
    </p>
  );
}

export function Section({
  title,
  children,
  actions,
}: {
  readonly title: string;
  readonly children: ComponentChildren;
  readonly actions?: ComponentChildren;
}) {
  return (
    <section class="panel" aria-label={title}>
      <div class="panel-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A table that scrolls sideways on a narrow window instead of squeezing. */
export function Table({ label, children }: { readonly label: string; readonly children: ComponentChildren }) {
  return (
    <div class="scroll" role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

/** The last segment of a resource name. */
export const shortName = (name: string) => name.slice(name.lastIndexOf('/') + 1);

export const KIND_LABELS: Readonly<Record<string, string>> = {
  service: 'service',
  cloudRunJob: 'Cloud Run job',
  vertexAI: 'Vertex job',
};
