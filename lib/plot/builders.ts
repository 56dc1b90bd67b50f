/**
 * Figure builders for lessons: curves over steps, heatmaps, bars, histograms and scatter
 * plots. Each returns a plain `Figure` (`{ data, layout }`) and validates its inputs, naming the
 * argument and the value it got. Pass tensors as `await t.array()` or `await t.data()`.
 */
import {
  assert,
  axis,
  baseLayout,
  checkFigureOptions,
  describeValue,
  toNumbers,
  withSummary,
  PLOT_CONFIG,
  type BarTrace,
  type Figure,
  type FigureOptions,
  type HeatmapTrace,
  type HistogramTrace,
  type NumericArray,
  type PlotAxis,
  type ScatterTrace,
} from './figure';
import { isArray } from '../assert';
import { mean, std } from '../stats';

/** Named series: `{ train: losses, val: valLosses }`. */
export type NamedSeries = Readonly<Record<string, NumericArray>>;

/** One curve of a line figure. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** Values, one per step. */
  y: NumericArray;
  /** Steps (default 0, 1, 2, ...), same length as `y`. */
  x?: NumericArray;
  /**
   * `'right'` draws the series against a second y axis on the right (titled `y2Title`), for a
   * quantity in another unit: accuracy beside a loss.
   */
  axis?: 'left' | 'right';
}

export interface LineOptions extends FigureOptions {
  /** x-axis title (default `'step'`). */
  xTitle?: string;
  /** y-axis title. */
  yTitle?: string;
  /** Log-scale y axis (losses); every value must then be > 0. */
  logY?: boolean;
  /** Title of the right-hand y axis (series with `axis: 'right'`). */
  y2Title?: string;
  /** Log-scale x axis (temperatures, sizes); every x must then be > 0. */
  logX?: boolean;
  /** Draw a marker at each point too. */
  markers?: boolean;
}

function isNumeric(v: unknown): v is NumericArray {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** Named series as entries, checking there is at least one. */
function seriesEntries(series: unknown, what: string): Array<[string, unknown]> {
  assert(
    typeof series === 'object' && series !== null && !isNumeric(series),
    () => `${what} must be an object of named number arrays, got ${describeValue(series)}`,
  );
  const entries = Object.entries(series);
  assert(entries.length > 0, `${what} must name at least one series, got {}`);
  return entries;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Curves over steps (losses, accuracies, rewards): one line per named series.
 *
 * @example lineFigure({ train: losses, val: valLosses }, { title: 'Loss', logY: true })
 * @throws {Error} if there is no series, a series is empty or holds NaN/±Infinity, `x` and
 *   `y` differ in length, or `logY` is set and a value is <= 0.
 */
export function lineFigure(series: NamedSeries | readonly LineSeries[], options: LineOptions = {}): Figure {
  checkFigureOptions(options);
  const list: LineSeries[] = Array.isArray(series)
    ? [...(series as readonly LineSeries[])]
    : seriesEntries(series, 'series').map(([name, y]) => ({ name, y: y as NumericArray }));
  assert(list.length > 0, 'series must hold at least one series, got []');
  const mode = options.markers ? 'lines+markers' : 'lines';
  const data = list.map((s, i): ScatterTrace => {
    assert(typeof s?.name === 'string', () => `series[${i}].name must be a string, got ${describeValue(s?.name)}`);
    const y = toNumbers(s.y, `y of series "${s.name}"`);
    const x = s.x === undefined ? range(y.length) : toNumbers(s.x, `x of series "${s.name}"`);
    assert(x.length === y.length, () => `x of series "${s.name}" has length ${x.length}, expected ${y.length} (the length of y)`);
    assert(s.axis === undefined || s.axis === 'left' || s.axis === 'right', () => `axis of series "${s.name}" must be 'left' or 'right', got ${describeValue(s.axis)}`);
    const right = s.axis === 'right';
    if (options.logY && !right) {
      const bad = y.findIndex((v) => v <= 0);
      assert(bad < 0, () => `logY needs values > 0, series "${s.name}" has ${y[bad]} at index ${bad}`);
    }
    if (options.logX) {
      const bad = x.findIndex((v) => v <= 0);
      assert(bad < 0, () => `logX needs x values > 0, series "${s.name}" has ${x[bad]} at index ${bad}`);
    }
    return right ? { type: 'scatter', name: s.name, x, y, mode, yaxis: 'y2' } : { type: 'scatter', name: s.name, x, y, mode };
  });
  const twoAxes = data.some((t) => t.yaxis === 'y2');
  const base = baseLayout(options);
  return withSummary({
    config: { ...PLOT_CONFIG },
    data,
    layout: {
      ...base,
      // With a right axis, the legend's default place (right of the plot) covers its tick labels:
      // the legend goes in a row above the plot instead, under the title.
      ...(twoAxes
        ? {
            legend: { orientation: 'h', x: 0, xanchor: 'left', y: 1.02, yanchor: 'bottom' },
            margin: { ...base.margin, t: (base.margin?.t ?? 24) + 28 },
          }
        : {}),
      // Default steps are indices: keep their ticks on integers.
      xaxis: axis(
        options.xTitle ?? 'step',
        options.logX
          ? { type: 'log' }
          : list.every((s) => s.x === undefined)
            ? indexTicks(Math.max(...data.map((t) => t.x.length)))
            : {},
      ),
      yaxis: axis(options.yTitle, options.logY ? { type: 'log' } : {}),
      ...(twoAxes ? { yaxis2: axis(options.y2Title, { overlaying: 'y', side: 'right' }) } : {}),
      hovermode: 'x unified',
    },
  });
}

export interface HeatmapOptions extends FigureOptions {
  /** One label per column (e.g. key tokens). Labels may repeat. */
  x?: ReadonlyArray<string | number>;
  /** One label per row (e.g. query tokens). Labels may repeat. */
  y?: ReadonlyArray<string | number>;
  xTitle?: string;
  yTitle?: string;
  /**
   * A plotly.js colorscale name (`'Viridis'`, `'Blues'`, `'RdBu'`, ...) or `[[0, color], ..., [1, color]]`.
   * Default `'Viridis'`. Note: plotly.js's `'Blues'` runs dark (low) to light (high); set `reverseScale`
   * for light-to-dark as in matplotlib.
   */
  colorscale?: string | Array<[number, string]>;
  /** Flip the colorscale. */
  reverseScale?: boolean;
  /** Colour range (default: the data's min and max). */
  zmin?: number;
  zmax?: number;
  /** Write each value in its cell. */
  showValues?: boolean;
  /** d3 format of the written values (default `'.2f'`). */
  valueFormat?: string;
  /** Where row 0 goes: `'top'` (matrix order, the default) or `'bottom'`. */
  origin?: 'top' | 'bottom';
}

/** Ticks on every index when there are few (plotly would put some at halves); else plotly's own. */
function indexTicks(n: number): PlotAxis {
  return n <= 20 ? { tick0: 0, dtick: 1 } : {};
}

function labelAxis(labels: ReadonlyArray<string | number> | undefined, n: number, what: string, dim: string): PlotAxis {
  if (labels === undefined) return indexTicks(n);
  assert(Array.isArray(labels), () => `${what} must be an array of labels, got ${describeValue(labels)}`);
  assert(labels.length === n, () => `${what} must have one label per ${dim} (${n}), got ${labels.length}`);
  // Numeric positions + tick text, so that repeated labels (tokens) stay separate cells.
  return { tickvals: range(n), ticktext: labels.map(String) };
}

/**
 * A matrix as coloured cells: attention weights, confusion matrices, expert routing.
 * `z[row][column]`; row 0 is drawn at the top unless `origin: 'bottom'`.
 *
 * @throws {Error} if `z` is not a non-empty 2-D array with rows of equal length, holds
 *   NaN/±Infinity, or the `x`/`y` labels do not match its columns/rows.
 */
export function heatmapFigure(z: readonly NumericArray[], options: HeatmapOptions = {}): Figure {
  checkFigureOptions(options);
  const shape = 'z must be a non-empty 2-D array with rows of equal length';
  assert(Array.isArray(z) && z.length > 0, () => `${shape}, got ${describeValue(z)}`);
  const cols = isNumeric(z[0]) ? z[0].length : 0;
  const rows = z.map((row: unknown, r) => {
    assert(isNumeric(row), () => `${shape}, got row ${r}: ${describeValue(row)}`);
    assert(row.length === cols && cols > 0, () => `${shape}, got row ${r} of length ${row.length}${r > 0 ? ` (expected ${cols})` : ''}`);
    return toNumbers(row, `z row ${r}`);
  });
  const trace: HeatmapTrace = { type: 'heatmap', z: rows, colorscale: options.colorscale ?? 'Viridis' };
  if (options.reverseScale) trace.reversescale = true;
  if (options.zmin !== undefined) trace.zmin = options.zmin;
  if (options.zmax !== undefined) trace.zmax = options.zmax;
  if (options.showValues) trace.texttemplate = `%{z:${options.valueFormat ?? '.2f'}}`;
  const top = (options.origin ?? 'top') === 'top';
  return withSummary({
    config: { ...PLOT_CONFIG },
    data: [trace],
    layout: {
      ...baseLayout(options),
      xaxis: axis(options.xTitle, labelAxis(options.x, cols, 'x', 'column')),
      yaxis: axis(options.yTitle, { ...labelAxis(options.y, rows.length, 'y', 'row'), ...(top ? { autorange: 'reversed' } : {}) }),
    },
  });
}

export interface BarOptions extends FigureOptions {
  xTitle?: string;
  yTitle?: string;
  /**
   * Log-scale y axis, for bars of very different sizes (ratios of 1.8× beside counts of 140):
   * every value must then be > 0.
   */
  logY?: boolean;
}

/** Checks category labels: non-empty, strings or numbers, all distinct. */
function checkCategories(categories: unknown): Array<string | number> {
  assert(isArray(categories) && categories.length > 0, () => `categories must be a non-empty array, got ${describeValue(categories)}`);
  const out: Array<string | number> = [];
  const seen = new Set<string>();
  for (const c of categories) {
    assert(typeof c === 'string' || typeof c === 'number', () => `categories must be strings or numbers, got ${describeValue(c)}`);
    assert(!seen.has(String(c)), () => `categories must be distinct, got ${JSON.stringify(c)} twice`);
    seen.add(String(c));
    out.push(c);
  }
  return out;
}

/**
 * Bars over categories: one series, or several named series side by side (grouped).
 *
 * @example barFigure(['MHA', 'GQA', 'MLA'], { 'KV cache (KB)': [96, 24, 9] })
 * @throws {Error} if categories are empty or repeat, or a series is not one finite number per category.
 */
export function barFigure(
  categories: ReadonlyArray<string | number>,
  series: NumericArray | NamedSeries,
  options: BarOptions = {},
): Figure {
  checkFigureOptions(options);
  const x = checkCategories(categories);
  const entries: Array<[string, unknown]> = isNumeric(series) ? [['', series]] : seriesEntries(series, 'series');
  const data = entries.map(([name, values]): BarTrace => {
    const y = toNumbers(values, name ? `series "${name}"` : 'series');
    assert(y.length === x.length, () => `${name ? `series "${name}"` : 'series'} has ${y.length} values, expected ${x.length} (one per category)`);
    if (options.logY) {
      const bad = y.findIndex((v) => v <= 0);
      assert(bad < 0, () => `logY needs values > 0, ${name ? `series "${name}"` : 'series'} has ${y[bad]} at index ${bad}`);
    }
    return name ? { type: 'bar', name, x, y } : { type: 'bar', x, y };
  });
  return withSummary({
    config: { ...PLOT_CONFIG },
    data,
    layout: {
      ...baseLayout(options),
      barmode: 'group',
      xaxis: axis(options.xTitle, { type: 'category' }),
      yaxis: axis(options.yTitle, options.logY ? { type: 'log' } : {}),
    },
  });
}

export interface SpreadOptions extends FigureOptions {
  xTitle?: string;
  yTitle?: string;
}

/**
 * Repeated runs (seeds) per category, drawn so that a reader sees whether the differences
 * between categories exceed the run-to-run noise: a bar at each category's mean, an error bar
 * of ± one sample standard deviation over its runs, and every run as a dot. The y axis always
 * includes 0, so bar heights are not magnified. When no run is negative (accuracies, counts,
 * times), the axis starts at 0 and a whisker stops there: a quantity that cannot be negative
 * gets no whisker below 0.
 *
 * @example spreadFigure({ 'SFT, real': [0.03, 0.02, 0.04], RL: [0.01, 0.02, 0.02] }, { yTitle: 'accuracy' })
 * @throws {Error} if there are no categories, a category has no runs, or a value is not finite.
 */
export function spreadFigure(runs: Readonly<Record<string, NumericArray>>, options: SpreadOptions = {}): Figure {
  checkFigureOptions(options);
  assert(typeof runs === 'object' && runs !== null && !isArray(runs), () => `runs must be an object { category: values }, got ${describeValue(runs)}`);
  const entries = Object.entries(runs);
  assert(entries.length > 0, 'runs must have at least one category, got none');
  const cats: string[] = [];
  const values: number[][] = [];
  for (const [name, v] of entries) {
    const ys = toNumbers(v, `runs of "${name}"`); // non-empty and finite, or it throws
    cats.push(name);
    values.push(ys);
  }
  const means = values.map((ys) => mean(ys));
  const sds = values.map((ys) => std(ys));
  const nonNegative = values.every((ys) => ys.every((y) => y >= 0));
  const bars: BarTrace = {
    type: 'bar',
    name: 'mean ± SD',
    x: cats,
    y: means,
    error_y: {
      type: 'data',
      array: sds,
      ...(nonNegative ? { arrayminus: sds.map((sd, i) => Math.min(sd, means[i]!)) } : {}),
      visible: true,
    },
    marker: { color: '#9ec5e8' },
  };
  // From 0 to a little above the highest dot or whisker (a flat [0, 1] when everything is 0).
  const top = Math.max(...values.flat(), ...means.map((m, i) => m + sds[i]!));
  const yRange: PlotAxis = nonNegative ? { range: [0, top > 0 ? 1.08 * top : 1] } : { rangemode: 'tozero' };
  const dots: ScatterTrace = {
    type: 'scatter',
    name: 'each run',
    mode: 'markers',
    x: values.flatMap((ys, i) => ys.map(() => cats[i]!)),
    y: values.flat(),
    marker: { size: 8, color: '#1f3b73' },
  };
  return withSummary({
    config: { ...PLOT_CONFIG },
    data: [bars, dots],
    layout: {
      ...baseLayout(options),
      xaxis: axis(options.xTitle, { type: 'category' }),
      yaxis: axis(options.yTitle, yRange),
    },
  });
}

export interface HistogramOptions extends FigureOptions {
  /** The most bins to use (plotly rounds the bin width to a nice number). Default: automatic. */
  nbins?: number;
  xTitle?: string;
  /** y-axis title (default `'count'`). */
  yTitle?: string;
}

/**
 * Distribution of values: one set, or several named sets overlaid on shared bins.
 *
 * @example histogramFigure({ teacher: tLogits, student: sLogits }, { nbins: 40 })
 * @throws {Error} if a set is empty or holds NaN/±Infinity, or `nbins` is not a positive integer.
 */
export function histogramFigure(values: NumericArray | NamedSeries, options: HistogramOptions = {}): Figure {
  checkFigureOptions(options);
  const { nbins } = options;
  assert(nbins === undefined || (Number.isInteger(nbins) && nbins > 0), () => `nbins must be a positive integer, got ${describeValue(nbins)}`);
  const entries: Array<[string, unknown]> = isNumeric(values) ? [['', values]] : seriesEntries(values, 'values');
  const several = entries.length > 1;
  const data = entries.map(([name, v]): HistogramTrace => {
    const t: HistogramTrace = { type: 'histogram', x: toNumbers(v, name ? `values of "${name}"` : 'values'), bingroup: 1 };
    if (name) t.name = name;
    if (nbins !== undefined) t.nbinsx = nbins;
    if (several) t.opacity = 0.6;
    return t;
  });
  return withSummary({
    config: { ...PLOT_CONFIG },
    data,
    layout: {
      ...baseLayout(options),
      ...(several ? { barmode: 'overlay' as const } : {}),
      xaxis: axis(options.xTitle),
      yaxis: axis(options.yTitle ?? 'count'),
    },
  });
}

/** Points as two coordinate arrays, or as rows `[x, y]` (e.g. `await embeddings2d.array()`). */
export type ScatterPoints = { x: NumericArray; y: NumericArray } | readonly NumericArray[];

export interface ScatterOptions extends FigureOptions {
  xTitle?: string;
  yTitle?: string;
  /** Text drawn next to each point (e.g. the token of an embedding). */
  labels?: readonly string[];
  /** A group per point: one colour and legend entry per distinct group, in order of first appearance. */
  groups?: ReadonlyArray<string | number>;
  /** Marker diameter in pixels (default 8). */
  markerSize?: number;
}

function pointsXY(points: unknown): { x: number[]; y: number[] } {
  const shape = 'points must be { x, y } or rows [x, y]';
  if (Array.isArray(points)) {
    assert(points.length > 0, `${shape}, got an empty array`);
    const x: number[] = [];
    const y: number[] = [];
    points.forEach((row: unknown, i) => {
      assert(isNumeric(row) && row.length === 2, () => `${shape}, got row ${i} ${isNumeric(row) ? `of length ${row.length}` : describeValue(row)}`);
      const [px, py] = toNumbers(row, `points row ${i}`) as [number, number];
      x.push(px);
      y.push(py);
    });
    return { x, y };
  }
  assert(typeof points === 'object' && points !== null && 'x' in points && 'y' in points, () => `${shape}, got ${describeValue(points)}`);
  const x = toNumbers(points.x, 'points.x');
  const y = toNumbers(points.y, 'points.y');
  assert(x.length === y.length, () => `points.x has length ${x.length}, expected ${y.length} (the length of points.y)`);
  return { x, y };
}

/**
 * Points in the plane (2-D embeddings, accuracy vs. cost), optionally labelled and coloured by group.
 *
 * @example scatterFigure(await xy.array(), { labels: tokens, groups: kinds })
 * @throws {Error} if points are malformed or hold NaN/±Infinity, or labels/groups do not have one entry per point.
 */
export function scatterFigure(points: ScatterPoints, options: ScatterOptions = {}): Figure {
  checkFigureOptions(options);
  const { x, y } = pointsXY(points);
  const n = x.length;
  const { labels, groups, markerSize } = options;
  assert(labels === undefined || (Array.isArray(labels) && labels.length === n), () => `labels must have one entry per point (${n}), got ${describeValue(labels)}`);
  assert(groups === undefined || (Array.isArray(groups) && groups.length === n), () => `groups must have one entry per point (${n}), got ${describeValue(groups)}`);
  assert(markerSize === undefined || markerSize > 0, () => `markerSize must be > 0, got ${describeValue(markerSize)}`);
  // Point indices per group, in order of first appearance; one unnamed group without `groups`.
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = groups ? String(groups[i]) : '';
    const list = byGroup.get(key) ?? [];
    list.push(i);
    byGroup.set(key, list);
  }
  const data = [...byGroup].map(([name, idx]): ScatterTrace => {
    const t: ScatterTrace = {
      type: 'scatter',
      x: idx.map((i) => x[i] as number),
      y: idx.map((i) => y[i] as number),
      mode: labels ? 'markers+text' : 'markers',
      marker: { size: markerSize ?? 8 },
    };
    if (name) t.name = name;
    if (labels) {
      t.text = idx.map((i) => String(labels[i]));
      t.textposition = 'top center';
    }
    return t;
  });
  return withSummary({
    config: { ...PLOT_CONFIG },
    data,
    layout: { ...baseLayout(options), xaxis: axis(options.xTitle), yaxis: axis(options.yTitle) },
  });
}
