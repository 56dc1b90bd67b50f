/**
 * lib/plot: the figure builders (field by field, and their validation messages), the PNG
 * renderer (headless Chromium), `show`'s MIME bundle, and that a script using `show` exits by
 * itself with its browser gone.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import ts from 'typescript';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  PLOTLY_MIME,
  barFigure,
  closeRenderer,
  describeFigure,
  figureBundle,
  heatmapFigure,
  histogramFigure,
  lineFigure,
  renderPng,
  rendererTimings,
  scatterFigure,
  show,
  type HistogramTrace,
  type ScatterTrace,
} from '../lib/plot';

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium';
const noChromium = !fs.existsSync(CHROMIUM);
const NEEDS_CHROMIUM = `needs Chromium at ${CHROMIUM}, set FRUGAL_CHROMIUM`;
if (noChromium) console.warn(`tests/plot.test.ts: PNG tests skipped: no Chromium at ${CHROMIUM} (set FRUGAL_CHROMIUM)`);

/** Width and height from a PNG's IHDR chunk, after checking the 8-byte signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  // PNG signature: 89 50 4E 47 0D 0A 1A 0A, then the IHDR chunk (length, "IHDR", width, height).
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

afterAll(() => closeRenderer());

describe('lineFigure', () => {
  it('builds one scatter trace per named series, x = step index by default', () => {
    const fig = lineFigure(
      { train: [3, 2, 1], val: new Float32Array([3.5, 2.5, 1.5]) },
      { title: 'Loss', yTitle: 'loss', logY: true },
    );
    expect(fig.data).toEqual([
      { type: 'scatter', name: 'train', x: [0, 1, 2], y: [3, 2, 1], mode: 'lines' },
      // 3.5, 2.5, 1.5 are exact in float32.
      { type: 'scatter', name: 'val', x: [0, 1, 2], y: [3.5, 2.5, 1.5], mode: 'lines' },
    ]);
    expect(Array.isArray(fig.data[1]?.type === 'scatter' && fig.data[1].y)).toBe(true); // plain array, JSON-safe
    // Left, over the plot area: the modebar shows at the top right on hover.
    expect(fig.layout.title).toEqual({ text: 'Loss', x: 0, xref: 'paper', xanchor: 'left' });
    expect(fig.config?.modeBarButtonsToRemove).toContain('lasso2d');
    expect(fig.config?.displaylogo).toBe(false);
    expect(fig.layout.xaxis?.title).toEqual({ text: 'step' });
    expect(fig.layout.xaxis?.dtick).toBe(1); // 3 steps: a tick on every integer
    expect(fig.layout.yaxis?.title).toEqual({ text: 'loss' });
    expect(fig.layout.yaxis?.type).toBe('log');
    expect([fig.layout.width, fig.layout.height]).toEqual([720, 400]);
    expect([fig.layout.paper_bgcolor, fig.layout.plot_bgcolor]).toEqual(['white', 'white']);
    expect(JSON.parse(JSON.stringify(fig))).toEqual(fig);
  });

  it('takes an array of series with their own x, and options', () => {
    const fig = lineFigure([{ name: 'reward', x: [10, 20], y: [0.5, 0.75] }], { markers: true, xTitle: 'episode', width: 500, height: 300 });
    expect(fig.data).toEqual([{ type: 'scatter', name: 'reward', x: [10, 20], y: [0.5, 0.75], mode: 'lines+markers' }]);
    expect(fig.layout.xaxis?.title).toEqual({ text: 'episode' });
    expect(fig.layout.xaxis?.dtick).toBeUndefined();
    expect(fig.layout.yaxis?.type).toBeUndefined();
    expect(fig.layout.title).toBeUndefined();
    expect([fig.layout.width, fig.layout.height]).toEqual([500, 300]);
  });

  it('rejects bad input, naming the argument and value', () => {
    expect(() => lineFigure({ loss: [1, NaN, 3] })).toThrowError(/^y of series "loss" must hold finite numbers, got NaN at index 1$/);
    expect(() => lineFigure({ loss: [1, Infinity] })).toThrowError(/series "loss".*Infinity at index 1/);
    expect(() => lineFigure({ loss: [] })).toThrowError(/^y of series "loss" must be non-empty/);
    expect(() => lineFigure({})).toThrowError(/^series must name at least one series, got \{\}$/);
    expect(() => lineFigure([{ name: 'a', x: [0, 1], y: [1, 2, 3] }])).toThrowError(/^x of series "a" has length 2, expected 3 \(the length of y\)$/);
    expect(() => lineFigure({ a: [1, 0] }, { logY: true })).toThrowError(/^logY needs values > 0, series "a" has 0 at index 1$/);
    expect(() => lineFigure({ a: [1, 2] }, { logX: true })).toThrowError(/^logX needs x values > 0, series "a" has 0 at index 0$/);
    expect(lineFigure([{ name: 'a', x: [1, 10], y: [1, 2] }], { logX: true }).layout.xaxis?.type).toBe('log');
    expect(() => lineFigure({ a: [1] }, { width: 0 })).toThrowError(/^width must be a positive integer, got 0$/);
    const tensorLike = { dataSync: () => new Float32Array(1) } as unknown as number[];
    expect(() => lineFigure({ a: tensorLike })).toThrowError(/y of series "a" must be an array of numbers .*got a tf\.Tensor \(pass `await t\.array\(\)`\)/);
  });

  it('prints as its summary, not as pages of numbers', () => {
    const fig = lineFigure({ train: [3, 2, 1], val: [4, 3] }, { title: 'Loss' });
    const summary = 'Figure: Loss\n  scatter "train": 3 points\n  scatter "val": 2 points';
    expect(describeFigure(fig)).toBe(summary);
    expect(inspect(fig)).toBe(summary);
  });
});

describe('heatmapFigure', () => {
  it('builds a heatmap with labels as ticks, row 0 at the top, values written', () => {
    const fig = heatmapFigure([[1, 2], new Float32Array([3, 4])], {
      x: ['the', 'the'],
      y: ['q0', 'q1'],
      showValues: true,
      title: 'Attention',
    });
    expect(fig.data).toEqual([{ type: 'heatmap', z: [[1, 2], [3, 4]], colorscale: 'Viridis', texttemplate: '%{z:.2f}' }]);
    // Repeated labels stay two columns: numeric positions with tick text.
    expect(fig.layout.xaxis).toMatchObject({ tickvals: [0, 1], ticktext: ['the', 'the'] });
    expect(fig.layout.yaxis).toMatchObject({ tickvals: [0, 1], ticktext: ['q0', 'q1'], autorange: 'reversed' });
    expect(describeFigure(fig)).toBe('Figure: Attention\n  heatmap: 2×2');
  });

  it('honours colorscale, zmin/zmax, valueFormat and origin', () => {
    const fig = heatmapFigure([[0, 1]], { colorscale: 'Blues', reverseScale: true, zmin: 0, zmax: 2, showValues: true, valueFormat: '.0%', origin: 'bottom' });
    expect(fig.data[0]).toEqual({ type: 'heatmap', z: [[0, 1]], colorscale: 'Blues', reversescale: true, zmin: 0, zmax: 2, texttemplate: '%{z:.0%}' });
    expect(fig.layout.yaxis?.autorange).toBeUndefined();
    expect(fig.layout.xaxis).toMatchObject({ tick0: 0, dtick: 1 }); // no labels: integer index ticks
  });

  it('rejects ragged, empty or non-finite matrices and mismatched labels', () => {
    const ragged = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3]];
    expect(() => heatmapFigure(ragged)).toThrowError(/^z must be a non-empty 2-D array with rows of equal length, got row 2 of length 3 \(expected 4\)$/);
    expect(() => heatmapFigure([])).toThrowError(/^z must be a non-empty 2-D array .*, got an array of length 0$/);
    expect(() => heatmapFigure([[]])).toThrowError(/^z must be a non-empty 2-D array .*, got row 0 of length 0$/);
    expect(() => heatmapFigure([[1], [NaN]])).toThrowError(/^z row 1 must hold finite numbers, got NaN at index 0$/);
    expect(() => heatmapFigure([[1, 2]], { x: ['a', 'b', 'c'] })).toThrowError(/^x must have one label per column \(2\), got 3$/);
    expect(() => heatmapFigure([[1, 2]], { y: ['a', 'b'] })).toThrowError(/^y must have one label per row \(1\), got 2$/);
  });
});

describe('barFigure', () => {
  it('groups several named series over categories', () => {
    const fig = barFigure(['MHA', 'GQA', 'MLA'], { 'KV cache': [96, 24, 9], params: new Float32Array([12, 10, 11]) }, { yTitle: 'KB' });
    expect(fig.data).toEqual([
      { type: 'bar', name: 'KV cache', x: ['MHA', 'GQA', 'MLA'], y: [96, 24, 9] },
      { type: 'bar', name: 'params', x: ['MHA', 'GQA', 'MLA'], y: [12, 10, 11] },
    ]);
    expect(fig.layout.barmode).toBe('group');
    expect(fig.layout.xaxis?.type).toBe('category'); // numeric categories stay categories
    expect(fig.layout.yaxis?.title).toEqual({ text: 'KB' });
  });

  it('takes one unnamed series', () => {
    expect(barFigure([1, 2], [5, 6]).data).toEqual([{ type: 'bar', x: [1, 2], y: [5, 6] }]);
  });

  it('rejects repeated categories and series of the wrong length', () => {
    expect(() => barFigure(['a', 'a'], [1, 2])).toThrowError(/^categories must be distinct, got "a" twice$/);
    expect(() => barFigure([], [])).toThrowError(/^categories must be a non-empty array, got an array of length 0$/);
    expect(() => barFigure(['a', 'b'], { acc: [1] })).toThrowError(/^series "acc" has 1 values, expected 2 \(one per category\)$/);
    expect(() => barFigure(['a'], { acc: [NaN] })).toThrowError(/^series "acc" must hold finite numbers, got NaN at index 0$/);
  });
});

describe('histogramFigure', () => {
  it('bins one set of values', () => {
    const fig = histogramFigure(new Float32Array([1, 2, 2, 3]), { nbins: 5, xTitle: 'logit' });
    expect(fig.data).toEqual([{ type: 'histogram', x: [1, 2, 2, 3], bingroup: 1, nbinsx: 5 }]);
    expect(fig.layout.barmode).toBeUndefined();
    expect(fig.layout.yaxis?.title).toEqual({ text: 'count' });
    expect(fig.layout.xaxis?.title).toEqual({ text: 'logit' });
    expect(describeFigure(fig)).toBe('Figure: (untitled)\n  histogram: 4 values');
  });

  it('overlays several named sets on shared bins', () => {
    const fig = histogramFigure({ teacher: [0, 1], student: [1, 2, 3] });
    const traces = fig.data as HistogramTrace[];
    expect(traces.map((t) => [t.name, t.x, t.bingroup, t.opacity])).toEqual([
      ['teacher', [0, 1], 1, 0.6],
      ['student', [1, 2, 3], 1, 0.6],
    ]);
    expect(fig.layout.barmode).toBe('overlay');
  });

  it('rejects a bad nbins and NaN values', () => {
    expect(() => histogramFigure([1], { nbins: 0.5 })).toThrowError(/^nbins must be a positive integer, got 0\.5$/);
    expect(() => histogramFigure({ kl: [1, NaN] })).toThrowError(/^values of "kl" must hold finite numbers, got NaN at index 1$/);
  });
});

describe('scatterFigure', () => {
  it('splits points into one trace per group, in order of first appearance, with labels', () => {
    const fig = scatterFigure([[0, 1], [2, 3], new Float32Array([4, 5])], { groups: ['noun', 'verb', 'noun'], labels: ['cat', 'run', 'dog'] });
    expect(fig.data).toEqual([
      { type: 'scatter', x: [0, 4], y: [1, 5], mode: 'markers+text', marker: { size: 8 }, name: 'noun', text: ['cat', 'dog'], textposition: 'top center' },
      { type: 'scatter', x: [2], y: [3], mode: 'markers+text', marker: { size: 8 }, name: 'verb', text: ['run'], textposition: 'top center' },
    ]);
  });

  it('takes { x, y } without groups or labels', () => {
    const fig = scatterFigure({ x: [1, 2], y: new Float32Array([0.5, 0.25]) }, { markerSize: 4, xTitle: 'FLOPs', yTitle: 'accuracy' });
    expect(fig.data).toEqual([{ type: 'scatter', x: [1, 2], y: [0.5, 0.25], mode: 'markers', marker: { size: 4 } }]);
    expect((fig.data[0] as ScatterTrace).name).toBeUndefined();
    expect([fig.layout.xaxis?.title, fig.layout.yaxis?.title]).toEqual([{ text: 'FLOPs' }, { text: 'accuracy' }]);
  });

  it('rejects malformed points and per-point options of the wrong length', () => {
    expect(() => scatterFigure([[0, 1], [1, 2, 3]])).toThrowError(/^points must be \{ x, y \} or rows \[x, y\], got row 1 of length 3$/);
    expect(() => scatterFigure({ x: [1, 2], y: [1] })).toThrowError(/^points\.x has length 2, expected 1 \(the length of points\.y\)$/);
    expect(() => scatterFigure([[0, NaN]])).toThrowError(/^points row 0 must hold finite numbers, got NaN at index 1$/);
    expect(() => scatterFigure([[0, 1]], { labels: ['a', 'b'] })).toThrowError(/^labels must have one entry per point \(1\), got an array of length 2$/);
    expect(() => scatterFigure([[0, 1]], { groups: [] })).toThrowError(/^groups must have one entry per point \(1\), got an array of length 0$/);
  });
});

describe('figureBundle and show', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('without PNG: plotly JSON and the text summary', async () => {
    vi.stubEnv('FRUGAL_PLOT_PNG', '0');
    const fig = lineFigure({ a: [1, 2] }, { title: 'T' });
    const bundle = await figureBundle(fig);
    expect(Object.keys(bundle).sort()).toEqual([PLOTLY_MIME, 'text/plain']);
    expect(bundle[PLOTLY_MIME]).toEqual(fig);
    expect(bundle['text/plain']).toBe('Figure: T\n  scatter "a": 2 points');
  });

  it('rejects what is not a figure', async () => {
    await expect(figureBundle({ data: 'x' } as never)).rejects.toThrowError(/^fig must be a plotly figure \{ data: \[\.\.\.\], layout: \{\.\.\.\} \}, got an object$/);
    await expect(show(lineFigure({ a: [1] }), { width: -1, png: false })).rejects.toThrowError(/^width must be a positive integer, got -1$/);
  });

  it('outside a kernel, show writes the summary to stdout and returns nothing', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const fig = barFigure(['a'], [1], { title: 'B' });
    expect(await show(fig, { png: false })).toBeUndefined();
    expect(write).toHaveBeenCalledWith('Figure: B\n  bar: 1 bars\n');
  });

  it('a missing Chromium leaves out the PNG with a one-line notice, never throws', async () => {
    await closeRenderer();
    vi.stubEnv('FRUGAL_CHROMIUM', '/nonexistent/chromium');
    const bundle = await figureBundle(lineFigure({ a: [1] }));
    expect(bundle['image/png']).toBeUndefined();
    expect(bundle['text/plain']).toMatch(/\n\(no PNG: Chromium not found at \/nonexistent\/chromium \(set FRUGAL_CHROMIUM\)\)$/);
    await expect(renderPng(lineFigure({ a: [1] }))).rejects.toThrowError(/^Chromium not found at \/nonexistent\/chromium/);
    await closeRenderer(); // forget the failed start
  });

  it.skipIf(noChromium)(`with Chromium: the bundle carries a 720x400 PNG (${NEEDS_CHROMIUM})`, async () => {
    const bundle = await figureBundle(lineFigure({ a: [1, 2] }, { title: 'T' }));
    expect(pngSize(Buffer.from(bundle['image/png'] as string, 'base64'))).toEqual({ width: 720, height: 400 });
    expect(bundle['text/plain']).toBe('Figure: T\n  scatter "a": 2 points');
  });
});

describe.skipIf(noChromium)(`renderPng (${NEEDS_CHROMIUM})`, () => {
  it('renders a PNG of the layout size, or of the size asked for', async () => {
    const fig = lineFigure({ train: [3, 2, 1], val: [3.5, 2.5, 2] }, { title: 'Loss' });
    const t0 = performance.now();
    const png = await renderPng(fig);
    const first = performance.now() - t0;
    expect(pngSize(png)).toEqual({ width: 720, height: 400 });
    // A blank 720x400 PNG compresses to about 1 KB; title, axes, curves and legend take more.
    expect(png.length).toBeGreaterThan(8_000);
    const t1 = performance.now();
    const small = await renderPng(heatmapFigure([[1, 0], [0, 1]]), { width: 300, height: 200 });
    const second = performance.now() - t1;
    expect(pngSize(small)).toEqual({ width: 300, height: 200 });
    const { launchMs, plotlyMs } = rendererTimings;
    console.log(`renderPng: browser launch ${launchMs} ms, plotly.js load ${plotlyMs} ms; figures ${first.toFixed(0)} ms, ${second.toFixed(0)} ms`);
  });

  it('rejects bad sizes before starting anything', async () => {
    await expect(renderPng(lineFigure({ a: [1] }), { width: 10.5 })).rejects.toThrowError(/^width must be a positive integer, got 10\.5$/);
  });
});

/** Compiles lib/plot and what it imports to CommonJS under out/test-lib, for child scripts. */
function buildPlotLib(): string {
  const outDir = path.join(ROOT, 'out', 'test-lib');
  const files = [
    'plot/index.ts', 'plot/figure.ts', 'plot/builders.ts', 'plot/render.ts', 'display.ts', 'node-require.ts', 'assert.ts',
    'stats.ts', 'measure.ts', // spreadFigure's mean and std
  ];
  for (const f of files) {
    const src = fs.readFileSync(path.join(ROOT, 'lib', f), 'utf8');
    const { outputText } = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const dest = path.join(outDir, f.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, outputText);
  }
  fs.writeFileSync(path.join(outDir, 'package.json'), '{ "type": "commonjs" }\n');
  return outDir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(noChromium)(`a script using show() (${NEEDS_CHROMIUM})`, () => {
  it('exits by itself, and its browser is gone after', async () => {
    const lib = buildPlotLib();
    const script = [
      `const { show, lineFigure, rendererPid } = require(${JSON.stringify(path.join(lib, 'plot/index.js'))});`,
      `(async () => {`,
      `  await show(lineFigure({ a: [1, 2, 3] }, { title: 'exit test' }));`,
      `  console.log('browser pid ' + (await rendererPid()));`,
      `})();`,
    ].join('\n');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, `killed after ${Date.now() - t0} ms: the script did not exit by itself`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Figure: exit test\n  scatter "a": 3 points\n');
    expect(r.stdout).not.toContain('no PNG');
    const pid = Number(/browser pid (\d+)/.exec(r.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((res) => setTimeout(res, 100));
    expect(alive(pid), `browser ${pid} still running after its script exited`).toBe(false);
  });
});

describe('two y axes and log bars', () => {
  it('draws a series with axis: right against a titled right-hand axis', () => {
    const fig = lineFigure(
      [
        { name: 'loss', y: [2, 1, 0.5] },
        { name: 'accuracy', y: [0.2, 0.7, 0.9], axis: 'right' },
      ],
      { yTitle: 'loss', y2Title: 'accuracy', logY: true },
    );
    expect(fig.data.map((t) => (t as { yaxis?: string }).yaxis)).toEqual([undefined, 'y2']);
    expect(fig.layout.yaxis?.type).toBe('log');
    expect(fig.layout.yaxis2).toMatchObject({ title: { text: 'accuracy' }, overlaying: 'y', side: 'right' });
    expect(lineFigure({ a: [1, 2] }).layout.yaxis2).toBeUndefined();
    expect(() => lineFigure([{ name: 'a', y: [1], axis: 'top' as never }])).toThrow(/^axis of series "a" must be 'left' or 'right', got "top"$/);
  });
  it('puts bars of very different sizes on a log axis, refusing values <= 0', () => {
    const fig = barFigure(['parameters', 'latency'], { 'teacher ÷ student': [139, 1.8] }, { logY: true });
    expect(fig.layout.yaxis?.type).toBe('log');
    expect(() => barFigure(['a', 'b'], [1, 0], { logY: true })).toThrow(/^logY needs values > 0, series has 0 at index 1$/);
  });
});
