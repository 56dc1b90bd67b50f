/**
 * lib/repr: the notebook views the course kernel sends as a cell's execute_result (tensors,
 * frames, figures), that they leak no tensors, and that other values get none.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PLOTLY_MIME, lineFigure } from '../lib/plot';
import { heatmapSvg, isFigureLike, isFrameLike, richRepr, viridis } from '../lib/repr';
import { frame } from '../lib/table';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** richRepr with a leak check: no tensor is left behind by rendering. */
async function reprNoLeak(value: unknown, options = {}) {
  const before = tf.memory().numTensors;
  const bundle = await richRepr(value, options);
  expect(tf.memory().numTensors, 'richRepr creates no lasting tensors').toBe(before);
  return bundle;
}

describe('richRepr of tensors', () => {
  it('shows a 2-D tensor as shape, dtype, range, a heat-map and a table of values', async () => {
    const t = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const b = await reprNoLeak(t);
    const html = String(b?.['text/html']);
    expect(html).toContain('shape [2, 2] · float32 · 4 values · min 1 · max 4');
    expect(html).toMatch(/<svg[^>]*aria-label="heat-map 2x2"/);
    // 4 cells + the colour bar: 5 rects.
    expect(html.match(/<rect /g)).toHaveLength(5);
    // The lowest value is viridis(0), the highest viridis(1).
    expect(html).toContain(`fill="${viridis(0)}"><title>[0, 0] = 1</title>`);
    expect(html).toContain(`fill="${viridis(1)}"><title>[1, 1] = 4</title>`);
    expect(html).toContain('<td style="text-align:right">3</td>');
    expect(b?.['text/plain']).toBe('Tensor shape=[2, 2] dtype=float32 min 1 max 4\n    [[1, 2],\n     [3, 4]]');
    t.dispose();
  });

  it('shows the top-left corner of a large matrix and says so', async () => {
    const t = tf.ones([100, 80]);
    const b = await reprNoLeak(t, { heatmapMax: 8 });
    const html = String(b?.['text/html']);
    expect(html).toContain('aria-label="heat-map 8x8"');
    expect(html).toContain('heat-map of rows 0–7, columns 0–7');
    // Too large for a table of values (default 20 x 20): the heat-map only.
    expect(html).not.toContain('frugal-tensor-values');
    t.dispose();
  });

  it('shows a 1-D tensor as rows of values headed by their first index', async () => {
    const t = tf.range(0, 45, 1, 'int32');
    const b = await reprNoLeak(t, { maxCols: 10, maxRows: 2 });
    const html = String(b?.['text/html']);
    expect(html).toContain('<tr><th>0</th><td style="text-align:right">0</td>');
    expect(html).toContain('<tr><th>10</th><td style="text-align:right">10</td>');
    expect(html).toContain('first 20 of 45 values');
    expect(String(b?.['text/plain'])).toMatch(/^Tensor shape=\[45\] dtype=int32 min 0 max 44\n/);
    t.dispose();
  });

  it('shows scalars, bool and string tensors, variables and disposed tensors', async () => {
    const s = tf.scalar(2.5);
    expect(String((await reprNoLeak(s))?.['text/html'])).toContain('<div style="font-family:monospace">2.5</div>');
    const bools = tf.tensor2d([[true, false]], [1, 2], 'bool');
    expect(String((await reprNoLeak(bools))?.['text/html'])).toContain('bool · 2 values · min 0 · max 1');
    const strings = tf.tensor1d(['a', 'b<']);
    const sb = await reprNoLeak(strings);
    expect(String(sb?.['text/html'])).toContain('<td style="text-align:right">b&lt;</td>');
    expect(String(sb?.['text/html'])).not.toContain('min');
    const v = tf.variable(tf.zeros([2]), true, 'w0');
    expect(String((await reprNoLeak(v))?.['text/plain'])).toMatch(/^Variable w0 shape=\[2\]/);
    const d = tf.zeros([3]);
    d.dispose();
    expect((await richRepr(d))?.['text/plain']).toBe('Tensor (disposed) shape=[3] dtype=float32');
    tf.dispose([s, bools, strings, v]);
  });

  it('draws a heat-map between the matrix min and max, NaN as the low colour', () => {
    const svg = heatmapSvg([
      [0, 5],
      [10, Number.NaN],
    ]);
    expect(svg).toContain(`fill="${viridis(0.5)}"><title>[0, 1] = 5</title>`);
    expect(svg).toContain(`fill="${viridis(0)}"><title>[1, 1] = NaN</title>`);
    // Reference: viridis end points are matplotlib's #440154 and #fde725.
    expect(viridis(0)).toBe('rgb(68,1,84)');
    expect(viridis(1)).toBe('rgb(253,231,37)');
  });

  it('rejects options that are not positive integers, naming them', async () => {
    const t = tf.zeros([2]);
    await expect(richRepr(t, { maxRows: 0 })).rejects.toThrow(/maxRows must be a positive integer, got 0/);
    t.dispose();
  });
});

describe('richRepr of frames and figures', () => {
  it('shows a DataFrame as an HTML table with its size, truncated to maxRows', async () => {
    const df = frame([
      { backend: 'wasm', gflops: 31.25 },
      { backend: 'cpu', gflops: 1.5 },
      { backend: 'webgl', gflops: 2 },
    ]);
    expect(isFrameLike(df)).toBe(true);
    const b = await richRepr(df, { maxRows: 2 });
    expect(String(b?.['text/html'])).toContain('<caption>DataFrame: 3 rows × 2 columns (first 2 shown)</caption>');
    expect(String(b?.['text/html'])).toContain('<td style="text-align:left">wasm</td><td style="text-align:right">31.25</td>');
    expect(String(b?.['text/html'])).not.toContain('webgl');
    expect(String(b?.['text/plain']).split('\n')[0]).toBe('DataFrame: 3 rows × 2 columns (first 2 shown)');
  });

  it('gives a figure its plot bundle, or only text when the cell already showed it', async () => {
    const fig = lineFigure({ loss: [3, 2, 1] }, { title: 'loss' });
    expect(isFigureLike(fig)).toBe(true);
    const b = await richRepr(fig, { displayed: [] });
    expect(b?.[PLOTLY_MIME]).toEqual(JSON.parse(JSON.stringify(fig)));
    expect(String(b?.['text/plain'])).toMatch(/^Figure: loss/);
    const again = await richRepr(fig, { displayed: [{ [PLOTLY_MIME]: b?.[PLOTLY_MIME] }] });
    expect(Object.keys(again ?? {})).toEqual(['text/plain']);
    expect(String(again?.['text/plain'])).toMatch(/\(the figure is shown above\)$/);
  }, 120_000);

  it("shows a timer in one line, not util.inspect's Timeout {…}", async () => {
    const t = setTimeout(() => undefined, 1000);
    const i = setInterval(() => undefined, 1000);
    try {
      expect(await richRepr(t)).toEqual({ 'text/plain': 'Timeout (from setTimeout; clearTimeout(it) cancels it)' });
      expect(await richRepr(i)).toEqual({ 'text/plain': 'Timeout (from setInterval; clearInterval(it) cancels it)' });
    } finally {
      clearTimeout(t);
      clearInterval(i);
    }
  });

  it('has no view for other values', async () => {
    for (const v of [42, 'text', null, undefined, { a: 1 }, [1, 2], { data: 'x', layout: {} }]) {
      expect(await richRepr(v)).toBeNull();
    }
  });
});
