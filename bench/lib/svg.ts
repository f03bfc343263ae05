/**
 * A small SVG line chart writer (no dependency): panels side by side, each with axes, ticks, one or more series of
 * points joined by lines, and dashed horizontal reference lines (budgets). Enough for docs/benchmarks.svg.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface ReferenceLine {
  readonly y: number;
  readonly label: string;
  readonly color: string;
}

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly lines?: readonly ReferenceLine[];
}

const PANEL_W = 440;
const PANEL_H = 300;
const MARGIN = { left: 58, right: 16, top: 34, bottom: 46 };

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "Nice" tick values (1, 2, 2.5, 5 x 10^k steps) from 0 to at least `max`, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmtTick(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.max(0, -Math.floor(Math.log10(Math.abs(v % 1) || 1)) + 1));
}

function panelSvg(panel: Panel, offsetX: number): string {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const all = panel.series.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(1, ...all.map((p) => p.x)));
  const yTicks = niceTicks(Math.max(...all.map((p) => p.y), ...(panel.lines ?? []).map((l) => l.y), Number.MIN_VALUE));
  const xMax = xTicks[xTicks.length - 1];
  const yMax = yTicks[yTicks.length - 1];
  const X = (x: number) => offsetX + MARGIN.left + (x / xMax) * plotW;
  const Y = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<text x="${offsetX + PANEL_W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${xmlEscape(panel.title)}</text>`,
  );
  // Grid and ticks.
  for (const t of yTicks) {
    out.push(`<line x1="${X(0)}" y1="${Y(t)}" x2="${X(xMax)}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${X(0) - 6}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${fmtTick(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${X(t)}" y1="${Y(0)}" x2="${X(t)}" y2="${Y(0) + 4}" stroke="#333"/>`);
    out.push(`<text x="${X(t)}" y="${Y(0) + 16}" text-anchor="middle" font-size="11">${fmtTick(t)}</text>`);
  }
  out.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(xMax)}" y2="${Y(0)}" stroke="#333"/>`);
  out.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(0)}" y2="${Y(yMax)}" stroke="#333"/>`);
  out.push(
    `<text x="${X(xMax / 2)}" y="${PANEL_H - 8}" text-anchor="middle" font-size="12">${xmlEscape(panel.xLabel)}</text>`,
  );
  out.push(
    `<text x="${offsetX + 14}" y="${MARGIN.top + plotH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${offsetX + 14} ${MARGIN.top + plotH / 2})">${xmlEscape(panel.yLabel)}</text>`,
  );
  // Reference lines.
  for (const l of panel.lines ?? []) {
    out.push(
      `<line x1="${X(0)}" y1="${Y(l.y)}" x2="${X(xMax)}" y2="${Y(l.y)}" stroke="${l.color}" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${X(xMax) - 4}" y="${Y(l.y) - 5}" text-anchor="end" font-size="11" fill="${l.color}">${xmlEscape(l.label)}</text>`,
    );
  }
  // Series.
  panel.series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts)
      out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    out.push(
      `<text x="${X(0) + 8}" y="${MARGIN.top + 14 + i * 15}" font-size="11" fill="${s.color}">${xmlEscape(s.name)}</text>`,
    );
  });
  return out.join('\n');
}

/** The whole SVG document: the panels side by side, a caption under them. */
export function chartSvg(panels: readonly Panel[], caption: string): string {
  const width = PANEL_W * panels.length;
  const height = PANEL_H + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...panels.map((p, i) => panelSvg(p, i * PANEL_W)),
    `<text x="${width / 2}" y="${height - 6}" text-anchor="middle" font-size="11" fill="#555">${xmlEscape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
