/**
 * Plotly figures as plain, typed objects: `{ data, layout }`, the JSON that the
 * `application/vnd.plotly.v1+json` MIME type carries. Nothing here imports plotly.js (it cannot
 * load in Node); the builders in `./builders` fill these types, `./render` turns them into PNGs.
 */
import { assert, stringOf } from '../assert';

export { assert };

/** Numbers a builder accepts: a plain array, or a typed array from `await t.data()`. */
export type NumericArray = readonly number[] | Float32Array | Float64Array | Int32Array;

/** One axis of a 2-D plot (the subset of plotly's `layout.xaxis` that the builders set). */
export interface PlotAxis {
  title?: { text: string };
  /** `'log'` for log-scale losses; `'category'` keeps numeric category labels apart. */
  type?: 'linear' | 'log' | 'category';
  /** `'y'` on a second y axis drawn over the first (`yaxis2`). */
  overlaying?: 'y';
  /** Which side the axis is drawn on. */
  side?: 'left' | 'right';
  /** `'reversed'` puts row 0 of a heatmap at the top (matrix order). */
  autorange?: boolean | 'reversed';
  /** Tick positions and their labels (heatmap labels, which may repeat, e.g. tokens). */
  tickvals?: number[];
  ticktext?: string[];
  /** First tick and tick spacing (integer ticks for step and cell indices). */
  tick0?: number;
  dtick?: number;
  gridcolor?: string;
  zerolinecolor?: string;
  linecolor?: string;
  automargin?: boolean;
  /** `'tozero'`: the axis always includes 0, so bar heights compare honestly. */
  rangemode?: 'tozero';
  /** The axis's fixed extent [from, to] (plotly then does not autorange it). */
  range?: [number, number];
}

/** The layout of a figure (the subset of plotly's `layout` that the builders set). */
export interface PlotLayout {
  title?: { text: string; x?: number; xref?: 'paper' | 'container'; xanchor?: 'left' | 'center' | 'right' };
  xaxis?: PlotAxis;
  yaxis?: PlotAxis;
  /** A second y axis on the right (a line series with `axis: 'right'`). */
  yaxis2?: PlotAxis;
  /** Size in CSS pixels, also the PNG size. */
  width?: number;
  height?: number;
  barmode?: 'group' | 'overlay' | 'stack';
  hovermode?: 'closest' | 'x' | 'x unified' | false;
  paper_bgcolor?: string;
  plot_bgcolor?: string;
  font?: { family?: string; size?: number; color?: string };
  margin?: { l?: number; r?: number; t?: number; b?: number };
  /** Where the legend goes (plotly's default: a column right of the plot). */
  legend?: { orientation?: 'h' | 'v'; x?: number; y?: number; xanchor?: 'left' | 'center' | 'right'; yanchor?: 'top' | 'middle' | 'bottom' };
}

/** A line or point trace (`lineFigure`, `scatterFigure`). */
export interface ScatterTrace {
  type: 'scatter';
  name?: string;
  /** Numbers, or category labels when the points sit over bars (`spreadFigure`). */
  x: Array<number | string>;
  y: number[];
  mode: 'lines' | 'markers' | 'lines+markers' | 'markers+text';
  /** `'y2'` draws the trace against the right-hand y axis. */
  yaxis?: 'y2';
  /** Text drawn next to each point (with mode `'markers+text'`). */
  text?: string[];
  textposition?: 'top center';
  marker?: { size?: number; color?: string };
}

/** A matrix drawn as coloured cells (`heatmapFigure`). */
export interface HeatmapTrace {
  type: 'heatmap';
  /** Rows of values: z[row][column]. */
  z: number[][];
  colorscale: string | Array<[number, string]>;
  reversescale?: boolean;
  zmin?: number;
  zmax?: number;
  /** A d3 template that writes each value in its cell, e.g. `'%{z:.2f}'`. */
  texttemplate?: string;
}

/** Bars over categories (`barFigure`). */
export interface BarTrace {
  type: 'bar';
  name?: string;
  x: Array<string | number>;
  y: number[];
  /** Error bars: `array[i]` above and below bar i (`spreadFigure`: one SD). */
  error_y?: { type: 'data'; array: number[]; arrayminus?: number[]; visible: true };
  marker?: { color?: string; opacity?: number };
}

/** Counts of values per bin (`histogramFigure`). */
export interface HistogramTrace {
  type: 'histogram';
  name?: string;
  x: number[];
  /** The most bins plotly may use; it rounds the bin width to a nice number. */
  nbinsx?: number;
  /** Traces with the same bingroup share their bins. */
  bingroup?: number;
  opacity?: number;
}

/** The traces the builders produce. */
export type PlotTrace = ScatterTrace | HeatmapTrace | BarTrace | HistogramTrace;

/** Plotly's `config` (the subset the builders set): the modebar's buttons. */
export interface PlotConfig {
  displaylogo?: boolean;
  modeBarButtonsToRemove?: string[];
  responsive?: boolean;
}

/** A plotly figure built by this module. */
export interface Figure {
  data: PlotTrace[];
  layout: PlotLayout;
  /** Read by JupyterLab's plotly renderer and the HTML export. */
  config?: PlotConfig;
}

/** Any plotly figure (hand-built ones too): what `show` and `renderPng` accept. */
export interface FigureLike {
  data: readonly object[];
  layout?: object;
  config?: object;
}

/** Options every builder takes. */
export interface FigureOptions {
  /** The title above the plot. */
  title?: string;
  /** Width in CSS pixels (default 720). */
  width?: number;
  /** Height in CSS pixels (default 400). */
  height?: number;
}

/** Default figure size in CSS pixels: also the PNG size. */
export const DEFAULT_WIDTH = 720;
export const DEFAULT_HEIGHT = 400;

/** A one-line description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof (v as { dataSync?: unknown }).dataSync === 'function') return 'a tf.Tensor (pass `await t.array()`)';
  if (typeof v === 'object') {
    const name = v.constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof v;
}

/**
 * Copies a numeric array into a plain `number[]`, checking every value is finite.
 * @param what names the argument in errors, e.g. `y of series "train"`.
 * @throws {Error} if `v` is not a non-empty array of numbers, or holds NaN or ±Infinity.
 */
export function toNumbers(v: unknown, what: string): number[] {
  const ok = Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  assert(ok, () => `${what} must be an array of numbers (number[] or Float32Array), got ${describeValue(v)}`);
  const arr = v as ArrayLike<unknown>;
  assert(arr.length > 0, `${what} must be non-empty, got an empty array`);
  const out = new Array<number>(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i];
    assert(typeof x === 'number', () => `${what} must hold numbers, got ${describeValue(x)} at index ${i}`);
    assert(Number.isFinite(x), () => `${what} must hold finite numbers, got ${x} at index ${i}`);
    out[i] = x;
  }
  return out;
}

/**
 * Checks the common builder options.
 * @throws {Error} if width or height is not a positive integer.
 */
export function checkFigureOptions(o: FigureOptions): void {
  for (const key of ['width', 'height'] as const) {
    const v = o[key];
    assert(v === undefined || (Number.isInteger(v) && v > 0), () => `${key} must be a positive integer, got ${describeValue(v)}`);
  }
}

const GRID = '#ebf0f8';

/** A plain-white axis with a title (the look of plotly's `plotly_white` template). */
export function axis(title: string | undefined, extra: PlotAxis = {}): PlotAxis {
  return {
    ...(title ? { title: { text: title } } : {}),
    gridcolor: GRID,
    zerolinecolor: GRID,
    linecolor: GRID,
    automargin: true,
    ...extra,
  };
}

/**
 * The modebar (plotly's toolbar, shown on hover at the figure's top right) without the buttons
 * lessons do not need, so that it stays short and clear of the title.
 */
export const PLOT_CONFIG: PlotConfig = {
  displaylogo: false,
  modeBarButtonsToRemove: ['select2d', 'lasso2d', 'autoScale2d', 'toggleSpikelines', 'hoverClosestCartesian', 'hoverCompareCartesian'],
};

/**
 * The plain-white base layout every builder starts from. The title sits at the left of the plot
 * area: the modebar appears at the top right on hover, where a centred title would be under it.
 */
export function baseLayout(o: FigureOptions): PlotLayout {
  return {
    ...(o.title ? { title: { text: o.title, x: 0, xref: 'paper', xanchor: 'left' } } : {}),
    width: o.width ?? DEFAULT_WIDTH,
    height: o.height ?? DEFAULT_HEIGHT,
    paper_bgcolor: 'white',
    plot_bgcolor: 'white',
    font: { family: 'Arial, "Liberation Sans", "DejaVu Sans", sans-serif', size: 13, color: '#2a3f5f' },
    margin: { l: 64, r: 24, t: o.title ? 56 : 24, b: 56 },
  };
}

function traceSize(t: Record<string, unknown>): string {
  const len = (k: string): number | null => (Array.isArray(t[k]) ? (t[k] as unknown[]).length : null);
  const z = t['z'];
  if (Array.isArray(z)) {
    const cols = Array.isArray(z[0]) ? (z[0] as unknown[]).length : 0;
    return `${z.length}×${cols}`;
  }
  const n = len('y') ?? len('x');
  if (n === null) return 'no data';
  if (t['type'] === 'histogram') return `${n} values`;
  if (t['type'] === 'bar') return `${n} bars`;
  return `${n} points`;
}

/**
 * A short text summary of a figure: the title, then one line per trace with its type, name
 * and size. It is the `text/plain` part of `show`, and how a built figure prints in a cell.
 */
export function describeFigure(fig: FigureLike): string {
  const layout = (fig.layout ?? {}) as { title?: string | { text?: string } };
  const title = typeof layout.title === 'string' ? layout.title : layout.title?.text;
  const lines = [`Figure: ${title ?? '(untitled)'}`];
  for (const trace of fig.data) {
    const t = trace as Record<string, unknown>;
    const name = typeof t['name'] === 'string' && t['name'] ? ` "${t['name']}"` : '';
    lines.push(`  ${stringOf(t['type'] ?? 'scatter')}${name}: ${traceSize(t)}`);
  }
  return lines.join('\n');
}

/**
 * Makes a built figure print as its summary (`describeFigure`) in a notebook cell or
 * `console.log`, instead of pages of numbers. The hook is a non-enumerable symbol, so JSON and
 * equality checks do not see it.
 */
export function withSummary<F extends FigureLike>(fig: F): F {
  Object.defineProperty(fig, Symbol.for('nodejs.util.inspect.custom'), {
    value: () => describeFigure(fig),
    enumerable: false,
  });
  return fig;
}
