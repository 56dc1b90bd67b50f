/**
 * lib/compress: SVD, low-rank factorisation, magnitude pruning and weight quantisation.
 * References: hand computations, Eckart–Young (the truncation error is the discarded singular
 * values), IEEE 754 binary16 encodings, and the quantisation error bounds stated in the lib.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { lowRank } from '../lib/compress/low-rank';
import { kernelSparsity, magnitudePrune } from '../lib/compress/prune';
import {
  cloneModel,
  dequantizeInt8PerChannel,
  float16Bits,
  float16Value,
  fromFloat16,
  quantizeInt8PerChannel,
  fakeQuantizeInt8,
  predictDynamicInt8,
  quantizeModel,
  toFloat16,
  weightBytes,
} from '../lib/compress/quantize';
import { discardedNorm, rankForEnergy, svd, truncate } from '../lib/compress/svd';
import { mlp } from '../lib/models/mlp';
import { Rng } from '../lib/random';
import { train } from '../lib/train/loop';
import { crossEntropy } from '../lib/distill/loss';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

function randomMatrix(rng: Rng, m: number, n: number): Float64Array {
  return Float64Array.from({ length: m * n }, () => rng.normal());
}

/** ‖A − B‖_F for row-major arrays. */
function frob(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

/** Row-major product of m × k and k × n. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] = (c[i * n + j] as number) + (a[i * k + p] as number) * (b[p * n + j] as number);
  return c;
}

function studentLike(seed = 1, hidden: number[] = [12]): tf.Sequential {
  return mlp({ inputs: 16, hidden, outputs: 5, rng: new Rng(seed), name: 'tiny' });
}

describe('svd (one-sided Jacobi)', () => {
  it('[[3, 0], [4, 5]] has singular values 3√5 and √5 (hand-computed from AᵀA = [[25, 20], [20, 25]])', () => {
    const d = svd([3, 0, 4, 5], 2, 2);
    // Reference: eigenvalues of AᵀA are 45 and 5
    expect(d.s[0]).toBeCloseTo(3 * Math.sqrt(5), 12);
    expect(d.s[1]).toBeCloseTo(Math.sqrt(5), 12);
  });

  for (const [m, n] of [[9, 4], [4, 9], [16, 16], [64, 8]] as const) {
    it(`reconstructs a random ${m} × ${n} matrix with orthonormal U and V`, () => {
      const a = randomMatrix(new Rng(m * 100 + n), m, n);
      const d = svd(a, m, n);
      const k = Math.min(m, n);
      expect(d.s.length).toBe(k);
      for (let i = 1; i < k; i++) expect(d.s[i]).toBeLessThanOrEqual(d.s[i - 1] as number);
      const { left, right } = truncate(d, k);
      expect(frob(matmul(left, right, m, k, n), a)).toBeLessThan(1e-12 * Math.sqrt(m * n));
      for (const [q, rows] of [[d.u, m], [d.v, n]] as const) {
        // QᵀQ = I
        for (let p = 0; p < k; p++) for (let r = 0; r < k; r++) {
          let dot = 0;
          for (let i = 0; i < rows; i++) dot += (q[i * k + p] as number) * (q[i * k + r] as number);
          expect(Math.abs(dot - (p === r ? 1 : 0))).toBeLessThan(1e-12);
        }
      }
    });
  }

  it('the rank-r truncation error is √(Σ discarded σ²) (Eckart–Young) for every r', () => {
    const [m, n] = [20, 12];
    const a = randomMatrix(new Rng(5), m, n);
    const d = svd(a, m, n);
    for (let r = 1; r <= n; r++) {
      const { left, right } = truncate(d, r);
      const err = frob(matmul(left, right, m, r, n), a);
      expect(Math.abs(err - discardedNorm(d.s, r))).toBeLessThan(1e-10);
    }
  });

  it('rankForEnergy keeps the smallest prefix with the energy asked for', () => {
    // Reference: σ² = [16, 9, 1] of total 26; 16/26 = 0.615, 25/26 = 0.962
    expect(rankForEnergy([4, 3, 1], 0.6)).toBe(1);
    expect(rankForEnergy([4, 3, 1], 0.9)).toBe(2);
    expect(rankForEnergy([4, 3, 1], 0.97)).toBe(3);
    expect(rankForEnergy([4, 3, 1], 1)).toBe(3);
    expect(() => rankForEnergy([1], 0)).toThrow(/energy must be in \(0, 1\], got 0/);
  });

  it('rejects bad input, naming it', () => {
    expect(() => svd([1, 2, 3], 2, 2)).toThrow(/a must have m\*n = 4 entries, got 3/);
    expect(() => svd([1, NaN, 3, 4], 2, 2)).toThrow(/a\[1\] must be finite, got NaN/);
    expect(() => svd([1], 0, 1)).toThrow(/m must be a positive integer, got 0/);
    expect(() => truncate(svd([1, 2, 3, 4], 2, 2), 3)).toThrow(/rank must be an integer in \[1, 2\], got 3/);
  });
});

describe('lowRank', () => {
  it("keeps a model's SeededDropout (the course's dropout) as a SeededDropout, and predicts like it at inference", () => {
    const m = mlp({ inputs: 16, hidden: [12], outputs: 5, dropout: 0.2, rng: new Rng(21), name: 'withDropout' });
    expect(m.layers.map((l) => l.getClassName())).toContain('SeededDropout');
    const res = lowRank(m, { energy: 1 }); // all the energy: the same function, up to round-off
    expect(res.model.layers.map((l) => l.getClassName())).toContain('SeededDropout');
    const x = tf.randomNormal([4, 16], 0, 1, 'float32', 5);
    const [a, b] = [m.predict(x) as tf.Tensor, res.model.predict(x) as tf.Tensor];
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, a, b]);
    res.model.dispose();
    m.dispose();
  });
  it('factorises each Dense kernel with error = discarded singular values, and counts params and MACs', () => {
    const m = studentLike(2);
    const res = lowRank(m, { rank: 3 });
    // 16 -> 12: 3·(16+12) = 84 < 192, factorised; 12 -> 5: 3·17 = 51 < 60, factorised
    expect(res.layers.map((l) => l.rank)).toEqual([3, 3]);
    // Reference: before (16·12 + 12) + (12·5 + 5) = 269; after (3·28 + 12) + (3·17 + 5) = 152
    expect([res.paramsBefore, res.paramsAfter]).toEqual([269, 152]);
    // Reference: MACs 16·12 + 12·5 = 252 before, 84 + 51 = 135 after
    expect([res.macsBefore, res.macsAfter]).toEqual([252, 135]);
    expect(res.model.countParams()).toBe(152);
    // The product of the two new kernels differs from the old kernel by the discarded σ.
    const dense = m.layers.filter((l) => l.getClassName() === 'Dense');
    const lr = res.model.layers;
    dense.forEach((l, i) => {
      const w = l.getWeights()[0]!.dataSync();
      const [inputs, units] = l.getWeights()[0]!.shape as [number, number];
      const a = lr[2 * i]!.getWeights()[0]!.dataSync();
      const b = lr[2 * i + 1]!.getWeights()[0]!.dataSync();
      const err = frob(matmul(a, b, inputs, 3, units), w);
      // float32 storage of the factors: a relative 1e-6 slack
      expect(Math.abs(err - res.layers[i]!.discardedNorm)).toBeLessThan(1e-5 * (1 + err));
    });
    m.dispose();
    res.model.dispose();
  });

  it('at full rank predicts what the original predicts', () => {
    const m = studentLike(3, [6]);
    // full rank of 16 -> 6 is 6, of 6 -> 5 is 5; named layers are factorised even when not smaller
    const names = m.layers.map((l) => l.name);
    const res = lowRank(m, { rank: { [names[0]!]: 6, [names[1]!]: 5 }, layers: names });
    const x = tf.randomNormal([8, 16], 0, 1, 'float32', 1);
    const [p, q] = [m.predict(x) as tf.Tensor, res.model.predict(x) as tf.Tensor];
    expect(tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, p, q]);
    m.dispose();
    res.model.dispose();
  });

  it('chooses ranks by energy, keeps non-shrinking layers dense by default, and validates', () => {
    const m = studentLike(4);
    const res = lowRank(m, { energy: 0.999999 });
    // full rank everywhere: 12·28 ≥ 192 and 5·17 ≥ 60, so both stay dense
    expect(res.layers.map((l) => l.rank)).toEqual([null, null]);
    expect(res.paramsAfter).toBe(res.paramsBefore);
    res.model.dispose();
    expect(() => lowRank(m, {})).toThrow(/give exactly one of rank and energy/);
    expect(() => lowRank(m, { rank: 13 })).toThrow(/rank for layer .* must be an integer in \[1, 12\], got 13/);
    expect(() => lowRank(m, { rank: 2, layers: ['nope'] })).toThrow(/layers: "nope" is not a Dense layer/);
    m.dispose();
  });

  it('leaks no tensor beyond the new model\'s weights', () => {
    const m = studentLike(5);
    const before = tf.memory().numTensors;
    const res = lowRank(m, { rank: 2 });
    expect(tf.memory().numTensors).toBe(before + res.model.weights.length);
    res.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('magnitudePrune', () => {
  for (const scope of ['global', 'layer'] as const) {
    it(`${scope}: reaches exactly round(s · n) zeros and removes the smallest weights`, () => {
      const m = studentLike(6);
      const before = m.layers.filter((l) => l.getClassName() === 'Dense').map((l) => Array.from(l.getWeights()[0]!.dataSync()));
      const masks = magnitudePrune(m, { sparsity: 0.7, scope });
      const rep = kernelSparsity(m);
      if (scope === 'global') {
        // Reference: round(0.7 · (192 + 60)) = 176
        expect(rep.zeros).toBe(176);
        const all = before.flat().map(Math.abs).sort((a, b) => a - b);
        const kept = m.layers.filter((l) => l.getClassName() === 'Dense').flatMap((l) => Array.from(l.getWeights()[0]!.dataSync())).filter((x) => x !== 0);
        expect(Math.min(...kept.map(Math.abs))).toBeGreaterThanOrEqual(all[175]!);
      } else {
        // Reference: round(0.7 · 192) = 134, round(0.7 · 60) = 42
        expect(rep.layers.map((l) => l.zeros)).toEqual([134, 42]);
      }
      expect(masks.sparsity).toBeCloseTo(rep.sparsity, 12);
      masks.dispose();
      m.dispose();
    });
  }

  it('masked weights stay exactly zero through fine-tuning with Adam (afterStep re-applies the masks)', async () => {
    const m = studentLike(7);
    const masks = magnitudePrune(m, { sparsity: 0.5 });
    const zerosBefore = kernelSparsity(m).zeros;
    const rng = new Rng(8);
    const x: tf.Tensor2D = tf.randomNormal([40, 16], 0, 1, 'float32', 2);
    const y = tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 5), 'int32');
    const opt = tf.train.adam(0.05);
    const w0 = m.layers[0]!.getWeights()[0]!.dataSync().slice();
    let calls = 0;
    const h = await train(m, { x, y }, {
      epochs: 3, batchSize: 8, optimizer: opt, loss: (b, l) => crossEntropy(b.y, l), rng, progress: false,
      afterStep: (step) => {
        calls++;
        expect(step).toBe(calls); // train's hook: called after each step, with the 1-based step count
        masks.apply();
      },
    });
    expect(calls).toBe(h.steps);
    const w1 = m.layers[0]!.getWeights()[0]!.dataSync();
    // the zeros are the same positions as before, and the kept weights did move
    let moved = 0;
    masks.kernels[0]!.mask.dataSync().forEach((keep, i) => {
      if (keep === 0) expect(Math.abs(w1[i] as number)).toBe(0); // 0 or -0 (a negative weight times the mask)
      else if (w1[i] !== w0[i]) moved++;
    });
    expect(moved).toBeGreaterThan(0);
    expect(kernelSparsity(m).zeros).toBe(zerosBefore);
    opt.dispose();
    tf.dispose([x, y]);
    masks.dispose();
    m.dispose();
  });

  it('without the masks, training would move the pruned weights (the test above can fail)', async () => {
    const m = studentLike(7);
    const masks = magnitudePrune(m, { sparsity: 0.5 });
    const zeros = kernelSparsity(m).zeros;
    const x: tf.Tensor2D = tf.randomNormal([40, 16], 0, 1, 'float32', 2);
    const y = tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 5), 'int32');
    const opt = tf.train.adam(0.05);
    await train(m, { x, y }, { epochs: 1, batchSize: 8, optimizer: opt, loss: (b, l) => crossEntropy(b.y, l), rng: new Rng(8), progress: false });
    expect(kernelSparsity(m).zeros).toBeLessThan(zeros);
    opt.dispose();
    tf.dispose([x, y]);
    masks.dispose();
    m.dispose();
  });

  it('validates, and pruning and apply() leak nothing beyond the masks', () => {
    const m = studentLike(9);
    expect(() => magnitudePrune(m, { sparsity: 1 })).toThrow(/sparsity must be in \[0, 1\), got 1/);
    expect(() => magnitudePrune(m, { sparsity: 0.5, scope: 'x' as 'layer' })).toThrow(/scope must be 'global' or 'layer', got "x"/);
    const before = tf.memory().numTensors;
    const masks = magnitudePrune(m, { sparsity: 0.3 });
    expect(tf.memory().numTensors).toBe(before + 2);
    masks.apply();
    expect(tf.memory().numTensors).toBe(before + 2);
    masks.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('quantisation', () => {
  it('float16 encodes the IEEE 754 binary16 reference values', () => {
    // Reference: IEEE 754 binary16 (numpy.float16(x).view(numpy.uint16))
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [1 / 3, 0x3555],
      [2 ** -24, 0x0001], [2 ** -14, 0x0400], [0, 0], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [x, h] of cases) expect([x, float16Bits(x)]).toEqual([x, h]);
    expect(float16Value(0x3555)).toBe(0.333251953125);
    expect(float16Bits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(float16Value(float16Bits(NaN)))).toBe(true);
  });

  it('float16 round trip is within 2⁻¹¹ relative (normal) or 2⁻²⁵ absolute (subnormal)', () => {
    const rng = new Rng(10);
    const x = Float32Array.from({ length: 5000 }, (_, i) => rng.normal() * 2 ** ((i % 40) - 30));
    const y = fromFloat16(toFloat16(x));
    x.forEach((v, i) => {
      const bound = Math.abs(v) >= 2 ** -14 ? Math.abs(v) * 2 ** -11 : 2 ** -25;
      expect(Math.abs(v - (y[i] as number))).toBeLessThanOrEqual(bound);
    });
  });

  it('int8 per-channel: error ≤ s_j / 2, the max of each column maps to ±127, zeros stay zero', () => {
    const rng = new Rng(11);
    const [rows, cols] = [30, 7];
    const w = Float32Array.from({ length: rows * cols }, (_, i) => (i % 5 === 0 ? 0 : rng.normal() * (1 + (i % cols))));
    const q = quantizeInt8PerChannel(w, rows, cols);
    const back = dequantizeInt8PerChannel(q);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      expect(Math.abs((w[k] as number) - (back[k] as number))).toBeLessThanOrEqual((q.scales[j] as number) / 2 * (1 + 1e-6));
      if (w[k] === 0) expect(back[k]).toBe(0);
    }
    for (let j = 0; j < cols; j++) {
      const col = Array.from({ length: rows }, (_, i) => Math.abs(q.q[i * cols + j] as number));
      expect(Math.max(...col)).toBe(127);
    }
    // Reference: [[1, -0.5], [0.25, 2]] -> scales [1/127, 2/127], q = [[127, -32], [32, 127]] (−31.75 -> −32)
    const small = quantizeInt8PerChannel([1, -0.5, 0.25, 2], 2, 2);
    expect(Array.from(small.q)).toEqual([127, -32, 32, 127]);
    expect(() => quantizeInt8PerChannel([1, 2, 3], 2, 2)).toThrow(/w must have rows\*cols = 4 entries, got 3/);
  });

  it('quantizeModel stays within each weight\'s bound, counts bytes, and leaks nothing', () => {
    const m = studentLike(12);
    // Reference: 16·12 + 12 + 12·5 + 5 = 269 weights; int8 = 252 kernel bytes + 4·(12+5) scale bytes + 4·17 bias bytes
    expect(weightBytes(m, 'float32')).toBe(269 * 4);
    expect(weightBytes(m, 'float16')).toBe(269 * 2);
    expect(weightBytes(m, 'int8')).toBe(252 + 68 + 68);
    for (const format of ['float16', 'int8'] as const) {
      const before = tf.memory().numTensors;
      const q = quantizeModel(m, format);
      expect(tf.memory().numTensors).toBe(before + q.model.weights.length);
      for (const w of q.weights) expect(w.maxAbsError).toBeLessThanOrEqual(w.bound);
      expect(q.weights.some((w) => w.maxAbsError > 0)).toBe(true);
      q.model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => weightBytes(m, 'int4' as 'int8')).toThrow(/format must be one of float32, float16, int8, got "int4"/);
    m.dispose();
  });

  it('dynamic int8 activations: each value within s/2 of itself, zeros stay zero, 127 levels', () => {
    const x = tf.tensor2d([[0, 1.27, -0.635], [0.004, -1, 0.3]]);
    const q = fakeQuantizeInt8(x);
    const v = q.dataSync();
    // Reference: s = 1.27 / 127 = 0.01; 0.004 -> 0, -0.635 -> -0.64 (−63.5 rounds half to even: −64)
    expect(v[0]).toBe(0);
    expect(v[1]).toBeCloseTo(1.27, 6);
    expect(v[3]).toBe(0);
    x.dataSync().forEach((a, i) => expect(Math.abs(a - (v[i] as number))).toBeLessThanOrEqual(0.005 + 1e-7));
    const z = fakeQuantizeInt8(tf.zeros([2, 2]));
    expect(Array.from(z.dataSync())).toEqual([0, 0, 0, 0]);
    tf.dispose([x, q, z]);
    const ones = tf.ones([3]);
    expectNoLeak(() => fakeQuantizeInt8(ones), 'fakeQuantizeInt8');
    ones.dispose();
  });

  it('predictDynamicInt8 stays close to predict, differs from it, and leaks nothing', () => {
    const m = mlp({ inputs: 16, hidden: [12], outputs: 5, dropout: 0.1, rng: new Rng(14), name: 'dyn' });
    const x: tf.Tensor2D = tf.randomNormal([20, 16], 0, 1, 'float32', 5);
    const [p, q] = [m.predict(x) as tf.Tensor, expectNoLeak(() => predictDynamicInt8(m, x), 'predictDynamicInt8')];
    const q2 = predictDynamicInt8(m, x);
    const d = tf.max(tf.abs(tf.sub(p, q2))).dataSync()[0]!;
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.05);
    tf.dispose([x, p, q2]);
    void q;
    const conv = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4] })] });
    expect(() => predictDynamicInt8(conv, tf.zeros([1, 4, 4]) as unknown as tf.Tensor2D)).toThrow(/handles Dense and Dropout layers, got Flatten/);
    conv.dispose();
    m.dispose();
  });

  it('cloneModel copies weights (predictions equal) without sharing them', () => {
    const m = studentLike(13);
    const c = cloneModel(m);
    const x = tf.randomNormal([3, 16], 0, 1, 'float32', 4);
    const out = expectNoLeak(() => [m.predict(x) as tf.Tensor, c.predict(x) as tf.Tensor], 'predict');
    void out;
    const [p, q] = [m.predict(x) as tf.Tensor, c.predict(x) as tf.Tensor];
    expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
    c.dispose();
    expect(m.weights[0]!.read().isDisposed).toBe(false);
    tf.dispose([x, p, q]);
    m.dispose();
  });
});
