/**
 * Tables in lessons: danfojs DataFrames shown as HTML (JupyterLab, classic Notebook, HTML
 * export) with a plain-text twin. danfojs-node has no `toHTML`, so the table is built here from
 * `df.columns`, `df.index` and `df.values`.
 *
 * danfojs-node is loaded lazily (it costs about a second), and it shares this project's single
 * tfjs-core (see package.json `overrides`, and tests/table.test.ts).
 */
import type { DataFrame } from 'danfojs-node';
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
}

/** A cell value as text: numbers to `digits` significant digits, integers as they are. */
export function formatCell(v: unknown, digits = 4): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    if (!Number.isFinite(v)) return String(v);
    const abs = Math.abs(v);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(digits - 1);
    return String(Number(v.toPrecision(digits)));
  }
  return v === null || v === undefined ? '' : String(v);
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function rowsOf(df: FrameLike): unknown[][] {
  const vals = df.values;
  // A one-column frame may hold a flat array.
  return vals.map((r) => (Array.isArray(r) ? r : [r]));
}

/** An HTML table of the frame. */
export function tableHtml(df: FrameLike, options: TableOptions = {}): string {
  const digits = options.digits ?? 4;
  const head = `<tr><th></th>${df.columns.map((c) => `<th>${escapeHtml(String(c))}</th>`).join('')}</tr>`;
  const body = rowsOf(df)
    .map((r, i) => {
      const cells = r.map((v) => {
        const align = typeof v === 'number' ? ' style="text-align:right"' : '';
        return `<td${align}>${escapeHtml(formatCell(v, digits))}</td>`;
      });
      return `<tr><th>${escapeHtml(String(df.index[i] ?? i))}</th>${cells.join('')}</tr>`;
    })
    .join('');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="frugal-table dataframe">${caption}<thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/** A fixed-width text table of the frame, with columns aligned. */
export function tableText(df: FrameLike, options: TableOptions = {}): string {
  const digits = options.digits ?? 4;
  const header = ['', ...df.columns.map(String)];
  const rows = rowsOf(df).map((r, i) => [String(df.index[i] ?? i), ...r.map((v) => formatCell(v, digits))]);
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) => r.map((s, c) => (c === 0 ? s.padEnd(widths[c] ?? 0) : s.padStart(widths[c] ?? 0))).join('  ');
  const lines = all.map(fmt);
  if (options.caption) lines.unshift(options.caption);
  return lines.join('\n');
}

/** Shows the frame as one output: HTML table + text. */
export function showTable(df: FrameLike, options: TableOptions = {}): void {
  displayBundle({ 'text/html': tableHtml(df, options), 'text/plain': tableText(df, options) });
}

/** The danfojs-node module, loaded on first use. */
export function danfo(): typeof import('danfojs-node') {
  return nodeRequire('danfojs-node') as typeof import('danfojs-node');
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
