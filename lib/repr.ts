/**
 * Rich views of the lib's values, for a cell whose last expression is one of them: the course
 * kernel (kernel/src/repr.ts) sends `richRepr(value)` as the cell's `execute_result`.
 *
 * - a tf.Tensor: shape, dtype, range and values; a heat-map (inline SVG) for a 2-D tensor;
 * - a danfojs DataFrame or Series (anything `{ columns, index, values }`): an HTML table;
 * - a plotly figure `{ data, layout }`: the plot's MIME bundle (`figureBundle`).
 *
 * Every bundle has a text/plain part. Anything else gets `null`: the kernel then shows
 * util.inspect text.
 */
import * as tf from '@tensorflow/tfjs';
import { isTensor } from './assert';
import type { MimeBundle } from './display';
import { inKernel } from './display';
import { PLOTLY_MIME, figureBundle, show, type FigureLike } from './plot';
import { escapeHtml, formatCell, tableHtml, tableText, type FrameLike } from './table';
import { assertPositiveInteger } from './assert';

export interface ReprOptions {
  /** Bundles the cell already displayed: a figure shown there is not drawn a second time. */
  displayed?: MimeBundle[];
  /** Rows of values shown (tensor rows, frame rows; default 20 for tensors, 50 for frames). */
  maxRows?: number;
  /** Columns of tensor values shown (default 20). */
  maxCols?: number;
  /** Largest heat-map, in cells per side (default 64): bigger matrices show their top-left corner. */
  heatmapMax?: number;
  /** Significant digits of numbers (default 4). */
  digits?: number;
}

/** Validates an optional positive integer option, naming it. */
function positiveInt(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  assertPositiveInteger(v, name);
  return v;
}

/** True for a danfojs DataFrame or Series, or any `{ columns, index, values }` of arrays. */
export function isFrameLike(v: unknown): v is FrameLike {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Partial<FrameLike>;
  return Array.isArray(f.columns) && Array.isArray(f.index) && Array.isArray(f.values);
}

/** True for a plotly figure: `{ data: [...], layout: {...} }`. */
export function isFigureLike(v: unknown): v is FigureLike {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as { data?: unknown; layout?: unknown };
  return Array.isArray(f.data) && typeof f.layout === 'object' && f.layout !== null;
}

/**
 * The notebook view of `value`, or null when the lib has none (the kernel then shows text).
 * Creates no lasting tensors: `tf.memory().numTensors` is the same before and after.
 *
 * @throws {Error} if an option is not a positive integer.
 */
export async function richRepr(value: unknown, options: ReprOptions = {}): Promise<MimeBundle | null> {
  if (isTensor(value)) return tensorBundle(value, options);
  if (isFrameLike(value)) return frameBundle(value, options);
  if (isFigureLike(value)) return figureRepr(value, options);
  if (isTimer(value)) return timerBundle(value);
  return null;
}

/** True for what `setTimeout`, `setInterval` and `setImmediate` return in Node. */
function isTimer(v: unknown): v is NodeJS.Timeout | NodeJS.Immediate {
  const name = (v as { constructor?: { name?: string } } | null)?.constructor?.name;
  return typeof v === 'object' && v !== null && (name === 'Timeout' || name === 'Immediate');
}

/** One line for a timer, instead of util.inspect's 14-line `Timeout {…}`. */
function timerBundle(t: NodeJS.Timeout | NodeJS.Immediate): MimeBundle {
  const kind = t.constructor.name;
  const repeat = kind === 'Timeout' && (t as unknown as { _repeat?: unknown })._repeat ? 'setInterval' : kind === 'Timeout' ? 'setTimeout' : 'setImmediate';
  const text = `${kind} (from ${repeat}; ${repeat === 'setImmediate' ? 'clearImmediate' : repeat === 'setInterval' ? 'clearInterval' : 'clearTimeout'}(it) cancels it)`;
  return { 'text/plain': text };
}

// ---------------------------------------------------------------------------------------------
// Tensors

/** Viridis at five stops, interpolated linearly: dark blue (low) to yellow (high). */
const VIRIDIS: ReadonlyArray<readonly [number, number, number]> = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** The colour of `t` in [0, 1] on the viridis scale, as `rgb(r,g,b)`. */
export function viridis(t: number): string {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = x * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = VIRIDIS[i] as readonly [number, number, number];
  const b = VIRIDIS[i + 1] as readonly [number, number, number];
  const c = a.map((v, k) => Math.round(v + f * ((b[k] as number) - v)));
  return `rgb(${c.join(',')})`;
}

/**
 * An SVG heat-map of a matrix: one rect per value, coloured on the viridis scale between the
 * matrix's min and max, with a colour bar; small matrices get a tooltip per cell.
 */
export function heatmapSvg(rows: number[][], digits = 4): string {
  const nr = rows.length;
  const nc = rows[0]?.length ?? 0;
  const flat = rows.flat().filter((v) => Number.isFinite(v));
  const lo = flat.length ? Math.min(...flat) : 0;
  const hi = flat.length ? Math.max(...flat) : 0;
  const span = hi - lo || 1;
  // Cells of 4 to 24 px, so that the map is at most about 384 px wide or tall.
  const cell = Math.max(4, Math.min(24, Math.floor(384 / Math.max(nr, nc, 1))));
  const w = nc * cell;
  const h = nr * cell;
  const tips = nr * nc <= 1024;
  const rects: string[] = [];
  rows.forEach((r, i) =>
    r.forEach((v, j) => {
      const tip = tips ? `<title>[${i}, ${j}] = ${escapeHtml(formatCell(v, digits))}</title>` : '';
      rects.push(`<rect x="${j * cell}" y="${i * cell}" width="${cell}" height="${cell}" fill="${viridis((v - lo) / span)}">${tip}</rect>`);
    }),
  );
  const stops = VIRIDIS.map((_, k) => `<stop offset="${k / (VIRIDIS.length - 1)}" stop-color="${viridis(k / (VIRIDIS.length - 1))}"/>`).join('');
  const barY = h + 8;
  const font = 'font-family="sans-serif" font-size="11" fill="#444"';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.max(w, 120)}" height="${barY + 24}" role="img" aria-label="heat-map ${nr}x${nc}">` +
    `<defs><linearGradient id="frugal-viridis" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>` +
    rects.join('') +
    `<rect x="0" y="${barY}" width="120" height="6" fill="url(#frugal-viridis)"/>` +
    `<text x="0" y="${barY + 18}" ${font}>${escapeHtml(formatCell(lo, digits))}</text>` +
    `<text x="120" y="${barY + 18}" text-anchor="end" ${font}>${escapeHtml(formatCell(hi, digits))}</text>` +
    '</svg>'
  );
}

/** An HTML table of a matrix (row and column indices as headers). */
function matrixTable(rows: unknown[][], digits: number, moreRows: boolean, moreCols: boolean): string {
  const nc = rows[0]?.length ?? 0;
  const head = `<tr><th></th>${Array.from({ length: nc }, (_, j) => `<th>${j}</th>`).join('')}${moreCols ? '<th>…</th>' : ''}</tr>`;
  const body = rows
    .map((r, i) => {
      const cells = r.map((v) => `<td style="text-align:right">${escapeHtml(formatCell(v, digits))}</td>`).join('');
      return `<tr><th>${i}</th>${cells}${moreCols ? '<td>…</td>' : ''}</tr>`;
    })
    .join('');
  const more = moreRows ? `<tr><th>…</th>${'<td>…</td>'.repeat(nc + (moreCols ? 1 : 0))}</tr>` : '';
  return `<table class="frugal-tensor-values"><thead>${head}</thead><tbody>${body}${more}</tbody></table>`;
}

/** The first `rows` x `cols` corner of a tensor of rank 1 or 2, as nested arrays. */
async function corner(t: tf.Tensor, rows: number, cols: number): Promise<unknown[] | unknown[][]> {
  const size = t.rank === 1 ? [Math.min(t.shape[0], cols)] : [Math.min(t.shape[0], rows), Math.min(t.shape[1] as number, cols)];
  const part = tf.tidy(() => tf.slice(t, t.rank === 1 ? [0] : [0, 0], size));
  try {
    return (await part.array()) as unknown[] | unknown[][];
  } finally {
    part.dispose();
  }
}

/** min and max of a numeric or bool tensor (null for strings and empty tensors). */
async function range(t: tf.Tensor): Promise<[number, number] | null> {
  if (t.dtype === 'string' || t.size === 0) return null;
  const mm = tf.tidy(() => {
    const x = t.dtype === 'bool' ? tf.cast(t, 'int32') : t;
    return tf.stack([tf.cast(tf.min(x), 'float32'), tf.cast(tf.max(x), 'float32')]);
  });
  try {
    const [lo, hi] = Array.from(await mm.data());
    return [lo as number, hi as number];
  } finally {
    mm.dispose();
  }
}

async function tensorBundle(t: tf.Tensor, options: ReprOptions): Promise<MimeBundle> {
  const maxRows = positiveInt(options.maxRows, 20, 'maxRows');
  const maxCols = positiveInt(options.maxCols, 20, 'maxCols');
  const heatMax = positiveInt(options.heatmapMax, 64, 'heatmapMax');
  const digits = positiveInt(options.digits, 4, 'digits');
  const kind = t instanceof tf.Variable ? `Variable ${t.name}` : 'Tensor';
  const shape = `[${t.shape.join(', ')}]`;
  if (t.isDisposed) {
    const text = `${kind} (disposed) shape=${shape} dtype=${t.dtype}`;
    return { 'text/plain': text, 'text/html': `<div class="frugal-tensor"><b>${escapeHtml(kind)}</b> (disposed) shape ${shape} · ${t.dtype}</div>` };
  }
  const mm = await range(t);
  const stats = mm ? ` · min ${formatCell(mm[0], digits)} · max ${formatCell(mm[1], digits)}` : '';
  const title = `<div><b>${escapeHtml(kind)}</b> shape ${shape} · ${t.dtype} · ${t.size} value${t.size === 1 ? '' : 's'}${escapeHtml(stats)}</div>`;
  // tf's own print: values with tf's truncation of large tensors ("..." in the middle).
  const text = `${kind} shape=${shape} dtype=${t.dtype}${stats.replace(/ · /g, ' ')}\n${t.toString().replace(/^Tensor\n/, '')}`;

  let body: string;
  if (t.rank === 0) {
    body = `<div style="font-family:monospace">${escapeHtml(formatCell(await t.array(), digits))}</div>`;
  } else if (t.rank === 1) {
    // Up to maxRows lines of maxCols values; each line headed by the index of its first value.
    const n = t.shape[0];
    const vals = (await corner(t, 1, maxRows * maxCols)) as unknown[];
    const lines: string[] = [];
    for (let i = 0; i < vals.length; i += maxCols) {
      const cells = vals.slice(i, i + maxCols).map((v) => `<td style="text-align:right">${escapeHtml(formatCell(v, digits))}</td>`);
      lines.push(`<tr><th>${i}</th>${cells.join('')}</tr>`);
    }
    body = `<table class="frugal-tensor-values"><tbody>${lines.join('')}</tbody></table>`;
    if (vals.length < n) body += `<div>first ${vals.length} of ${n} values</div>`;
  } else if (t.rank === 2) {
    const [nr, nc] = t.shape as [number, number];
    const parts: string[] = [];
    if (t.dtype !== 'string' && t.size > 0) {
      const m = (await corner(t, heatMax, heatMax)) as Array<Array<number | boolean>>;
      const numeric = m.map((r) => r.map(Number));
      parts.push(heatmapSvg(numeric, digits));
      if (nr > heatMax || nc > heatMax) parts.push(`<div>heat-map of rows 0–${numeric.length - 1}, columns 0–${(numeric[0]?.length ?? 1) - 1}</div>`);
    }
    if (nr <= maxRows && nc <= maxCols) {
      parts.push(matrixTable((await corner(t, maxRows, maxCols)) as unknown[][], digits, false, false));
    } else if (t.dtype === 'string' || t.size === 0) {
      parts.push(matrixTable((await corner(t, maxRows, maxCols)) as unknown[][], digits, nr > maxRows, nc > maxCols));
    }
    body = `<div style="display:flex;gap:16px;align-items:flex-start">${parts.join('')}</div>`;
  } else {
    body = `<pre>${escapeHtml(t.toString().replace(/^Tensor\n/, ''))}</pre>`;
  }
  return { 'text/plain': text, 'text/html': `<div class="frugal-tensor">${title}${body}</div>` };
}

// ---------------------------------------------------------------------------------------------
// Frames and figures

function frameBundle(df: FrameLike, options: ReprOptions): MimeBundle {
  const maxRows = positiveInt(options.maxRows, 50, 'maxRows');
  const digits = positiveInt(options.digits, 4, 'digits');
  const n = df.values.length;
  const kind = (df as { constructor?: { name?: string } }).constructor?.name;
  const name = kind && kind !== 'Object' ? kind : 'Table';
  const shown: FrameLike = n > maxRows ? { columns: df.columns, index: df.index.slice(0, maxRows), values: df.values.slice(0, maxRows) } : df;
  const caption = `${name}: ${n} row${n === 1 ? '' : 's'} × ${df.columns.length} column${df.columns.length === 1 ? '' : 's'}${n > maxRows ? ` (first ${maxRows} shown)` : ''}`;
  return { 'text/html': tableHtml(shown, { caption, digits }), 'text/plain': tableText(shown, { caption, digits }) };
}

async function figureRepr(fig: FigureLike, options: ReprOptions): Promise<MimeBundle | null> {
  let light: MimeBundle;
  try {
    light = await figureBundle(fig, { png: false });
  } catch {
    return null; // not a figure that plot/ accepts: the kernel shows it as text
  }
  const json = JSON.stringify(light[PLOTLY_MIME]);
  const shown = (options.displayed ?? []).some((b) => b[PLOTLY_MIME] !== undefined && JSON.stringify(b[PLOTLY_MIME]) === json);
  if (shown) return { 'text/plain': `${String(light['text/plain'])}\n(the figure is shown above)` };
  // In a kernel, show() sends the figure first without its PNG so that JupyterLab draws it
  // interactively at once (see show); the cell's value is then only the summary.
  if (inKernel()) {
    await show(fig);
    return { 'text/plain': `${String(light['text/plain'])}\n(the figure is shown above)` };
  }
  return figureBundle(fig);
}
