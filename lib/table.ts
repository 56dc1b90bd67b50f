/**
 * Tables in lessons: danfojs DataFrames shown as HTML (JupyterLab, classic Notebook, HTML
 * export) with a plain-text twin. danfojs-node has no `toHTML`, so the table is built here from
 * `df.columns`, `df.index` and `df.values`.
 *
 * danfojs-node is loaded lazily (it costs about a second), and it shares this project's single
 * tfjs-core (see package.json `overrides`, and tests/table.test.ts). Where the native
 * `@tensorflow/tfjs-node` is installed, danfojs-node loads it, which selects the `tensorflow`
 * backend: `danfo()` puts back the backend that was active (`keepBackend`, lib/backend).
 */
import type { DataFrame } from 'danfojs-node';
import { isArray, stringOf } from './assert';
import { keepBackend } from './backend';
import { displayBundle } from './display';
import { nodeRequire } from './node-require';

/** The part of a danfojs DataFrame that rendering needs. */
export interface FrameLike {
  columns: string[];
  index: Array<string | number>;
  values: unknown[] | unknown[][];
}

export interface TableOptions {
  /** A caption shown above the table. */
  caption?: string;
  /** Significant digits for numbers (default 4). */
  digits?: number;
  /**
   * Show the index column. Default: only when it says something, i.e. unless it is the plain
   * row numbers 0, 1, …, n − 1 that danfojs gives every frame.
   */
  index?: boolean;
}

/** Groups of three digits in the integer part: 85002 -> "85,002", 1234.5 -> "1,234.5". */
function withThousands(s: string): string {
  const m = s.match(/^(-?)(\d+)(\.\d+)?$/);
  if (!m || (m[2] ?? '').length < 4) return s;
  return `${m[1]}${(m[2] ?? '').replace(/\B(?=(\d{3})+$)/g, ',')}${m[3] ?? ''}`;
}

/**
 * A cell value as text: numbers to `digits` significant digits (integers in full), with
 * thousands separators from 1,000 on; exponent notation below 0.001 and from 1e9 on.
 */
export function formatCell(v: unknown, digits = 4): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    const abs = Math.abs(v);
    if (Number.isInteger(v)) return abs >= 1e15 ? v.toExponential(digits - 1) : withThousands(String(v));
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e9)) return v.toExponential(digits - 1);
    return withThousands(String(Number(v.toPrecision(digits))));
  }
  return v === null || v === undefined ? '' : stringOf(v);
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function rowsOf(df: FrameLike): (readonly unknown[])[] {
  const vals = df.values;
  // A one-column frame may hold a flat array.
  return vals.map((r) => (isArray(r) ? r : [r]));
}

/** True when the frame's index is the plain row numbers 0..n-1, which say nothing. */
export function isRowNumberIndex(df: FrameLike): boolean {
  return df.index.every((v, i) => v === i || v === String(i));
}

/** Per column: true when every value is a number (right-aligned), else text (left-aligned). */
function numericColumns(df: FrameLike, rows: readonly (readonly unknown[])[]): boolean[] {
  return df.columns.map((_, c) => rows.every((r) => typeof r[c] === 'number' || r[c] === null || r[c] === undefined) && rows.some((r) => typeof r[c] === 'number'));
}

/**
 * An HTML table of the frame: number columns right-aligned, text columns left-aligned, the
 * index column only when it says something (see `TableOptions.index`).
 */
export function tableHtml(df: FrameLike, options: TableOptions = {}): string {
  const digits = options.digits ?? 4;
  const rows = rowsOf(df);
  const showIndex = options.index ?? !isRowNumberIndex(df);
  const numeric = numericColumns(df, rows);
  const align = (c: number) => ` style="text-align:${numeric[c] ? 'right' : 'left'}"`;
  const head = `<tr>${showIndex ? '<th></th>' : ''}${df.columns.map((c, i) => `<th${align(i)}>${escapeHtml(String(c))}</th>`).join('')}</tr>`;
  const body = rows
    .map((r, i) => {
      const cells = r.map((v, c) => `<td${align(c)}>${escapeHtml(formatCell(v, digits))}</td>`);
      return `<tr>${showIndex ? `<th>${escapeHtml(String(df.index[i] ?? i))}</th>` : ''}${cells.join('')}</tr>`;
    })
    .join('');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="frugal-table dataframe">${caption}<thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** A fixed-width text table of the frame, aligned as `tableHtml`. */
export function tableText(df: FrameLike, options: TableOptions = {}): string {
  const digits = options.digits ?? 4;
  const rows = rowsOf(df);
  const showIndex = options.index ?? !isRowNumberIndex(df);
  const numeric = [...(showIndex ? [false] : []), ...numericColumns(df, rows)];
  const header = [...(showIndex ? [''] : []), ...df.columns.map(String)];
  const body = rows.map((r, i) => [...(showIndex ? [String(df.index[i] ?? i)] : []), ...r.map((v) => formatCell(v, digits))]);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) => r.map((s, c) => (numeric[c] ? s.padStart(widths[c] ?? 0) : s.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  const lines = all.map(fmt);
  if (options.caption) lines.unshift(options.caption);
  return lines.join('\n');
}

/** Shows the frame as one output: HTML table + text. */
export function showTable(df: FrameLike, options: TableOptions = {}): void {
  displayBundle({ 'text/html': tableHtml(df, options), 'text/plain': tableText(df, options) });
}

/** The danfojs-node module, loaded on first use, leaving the active backend as it was. */
export function danfo(): typeof import('danfojs-node') {
  return keepBackend('danfojs-node', () => nodeRequire('danfojs-node') as typeof import('danfojs-node'));
}

/**
 * A DataFrame from records, e.g. `frame([{ backend: 'wasm', gflops: 31.2 }])`.
 * @throws Error when `rows` is empty or the rows do not share the same keys.
 */
export function frame(rows: Array<Record<string, string | number | boolean>>): DataFrame {
  if (rows.length === 0) throw new Error('rows must hold at least one record, got 0');
  const keys = Object.keys(rows[0] as object);
  rows.forEach((r, i) => {
    const k = Object.keys(r);
    if (k.length !== keys.length || k.some((x, j) => x !== keys[j])) {
      throw new Error(`rows[${i}] has keys ${JSON.stringify(k)}, expected ${JSON.stringify(keys)}`);
    }
  });
  const { DataFrame: DF } = danfo();
  return new DF(rows);
}
