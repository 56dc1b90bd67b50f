/**
 * lib/attention: RoPE against a hand-computed rotation; cached == uncached decoding for MHA, GQA,
 * MQA and MLA (naive and absorbed); absorbed == naive MLA; the cache formula of DeepSeek-V2
 * Table 1 against the live tensor bytes; errors; serialisation round trips; leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import type { AttentionSpec } from '../lib/attention/config';
import { cacheElementsPerToken, decodeStepFlops, resolveAttention } from '../lib/attention/config';
import { decodeOneStep, fillCache } from '../lib/attention/fill-cache';
import { GroupedQueryAttention } from '../lib/attention/gqa';
import { KvCache } from '../lib/attention/kv-cache';
import { attentionLayer, type CausalAttention } from '../lib/attention/layer';
import { MultiHeadLatentAttention } from '../lib/attention/mla';
import { applyRope, ropeAngles, ropeAnglesAt, ropeTables, rotateHalf } from '../lib/attention/rope';
import { causalMask, MASK_VALUE, paddedCausalMask } from '../lib/attention/sdpa';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

/** Seeded x [b, t, d] with entries ~ N(0, 1). */
function randomX(seed: number, b: number, t: number, d: number): tf.Tensor3D {
  const rng = new Rng(seed);
  return tf.tensor3d(Array.from({ length: b * t * d }, () => rng.normal()), [b, t, d]);
}

/** One full pass and one cached step, results disposed: builds the weights and absorbed MLA's kept products. */
function warmUp(layer: CausalAttention): void {
  tf.tidy(() => {
    const first = layer.forward(randomX(1, 1, 2, D));
    layer.forward(randomX(2, 1, 1, D), first.cache);
  });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

const D = 16;
const VARIANTS: Record<string, AttentionSpec> = {
  mha: { kind: 'mha', nHeads: 4 },
  gqa: { kind: 'gqa', nHeads: 4, nKvHeads: 2 },
  mqa: { kind: 'mqa', nHeads: 4 },
  'mla naive': { kind: 'mla', nHeads: 4, qLatent: 12, kvLatent: 8, ropeHeadDim: 4 },
  'mla absorbed': { kind: 'mla', nHeads: 4, qLatent: 12, kvLatent: 8, ropeHeadDim: 4, absorb: true },
};

describe('RoPE', () => {
  it('rotates the pair (x_i, x_{i+d/2}) by p · base^(-2i/d) (hand-computed)', () => {
    tf.tidy(() => {
      // One vector [1, 2, 3, 4] (d = 4) at positions 0, 1 and 5; base 100.
      const x = tf.tensor4d([1, 2, 3, 4, 1, 2, 3, 4], [1, 1, 2, 4]);
      const y = applyRope(x, 5, 100).arraySync()[0]![0]!;
      // Reference (hand): position 5, pair (1, 3) at θ0 = 5, pair (2, 4) at θ1 = 5 · 100^(-1/2) = 0.5
      // (1, 3) -> (cos 5 - 3 sin 5, sin 5 + 3 cos 5) = (3.1604350094526414, -0.10793771827345966)
      // (2, 4) -> (2 cos 0.5 - 4 sin 0.5, 2 sin 0.5 + 4 cos 0.5) = (-0.1625370306360665, 4.469181324769897)
      const p5 = [Math.cos(5) - 3 * Math.sin(5), 2 * Math.cos(0.5) - 4 * Math.sin(0.5), Math.sin(5) + 3 * Math.cos(5), 2 * Math.sin(0.5) + 4 * Math.cos(0.5)];
      expect(p5[0]).toBeCloseTo(3.1604350094526414, 12);
      expect(p5[3]).toBeCloseTo(4.469181324769897, 12);
      y[0]!.forEach((v, i) => expect(v).toBeCloseTo(p5[i] as number, 5));
      // Position 6: θ0 = 6, θ1 = 0.6
      const p6 = [Math.cos(6) - 3 * Math.sin(6), 2 * Math.cos(0.6) - 4 * Math.sin(0.6), Math.sin(6) + 3 * Math.cos(6), 2 * Math.sin(0.6) + 4 * Math.cos(0.6)];
      y[1]!.forEach((v, i) => expect(v).toBeCloseTo(p6[i] as number, 5));
      // Position 0 is the identity.
      expect(Array.from(applyRope(x, 0, 100).dataSync().slice(0, 4))).toEqual([1, 2, 3, 4]);
    });
  });

  it('makes q·k depend on the offset only', () => {
    tf.tidy(() => {
      const rng = new Rng(3);
      const q = tf.tensor4d(Array.from({ length: 8 }, () => rng.normal()), [1, 1, 1, 8]);
      const k = tf.tensor4d(Array.from({ length: 8 }, () => rng.normal()), [1, 1, 1, 8]);
      const dot = (m: number, n: number) => tf.sum(tf.mul(applyRope(q, m), applyRope(k, n))).dataSync()[0] as number;
      expect(dot(7, 3)).toBeCloseTo(dot(24, 20), 4);
      expect(Math.abs(dot(7, 3) - dot(7, 4))).toBeGreaterThan(1e-3);
    });
  });

  it.each(['cpu', 'wasm'] as const)('gives the same floats and gradients as the split form [x1 cos − x2 sin, x1 sin + x2 cos], on %s', async (backend) => {
    await initBackend({ force: backend });
    // The lib rotates as x · [cos, cos] + swap(x) · [−sin, sin], the swap a permutation product.
    const splitForm = (x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor => {
      const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
      return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x1, sin), tf.mul(x2, cos))], -1);
    };
    tf.tidy(() => {
      const rng = new Rng(11);
      const [b, h, t, d] = [2, 3, 5, 6];
      const x = tf.tensor4d(Array.from({ length: b * h * t * d }, () => rng.normal() * 3), [b, h, t, d]);
      const w = tf.tensor4d(Array.from({ length: b * h * t * d }, () => rng.normal()), [b, h, t, d]);
      const ang = ropeAngles(7, t, d, 100);
      const cos = tf.tensor2d(ang.map(Math.cos), [t, d / 2]);
      const sin = tf.tensor2d(ang.map(Math.sin), [t, d / 2]);
      expect(Array.from(applyRope(x, 7, 100).dataSync())).toEqual(Array.from(splitForm(x, cos, sin).dataSync()));
      const gLib = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(applyRope(z, 7, 100), w)))(x);
      const gRef = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(splitForm(z, cos, sin), w)))(x);
      expect(Array.from(gLib.dataSync())).toEqual(Array.from(gRef.dataSync()));
      // rotateHalf with per-row tables (left-padded batches): [b, 1, t, d/2]
      const positions = Array.from({ length: b * t }, (_, k) => (k * 3) % 11);
      const tables = ropeTables(positions, d, 100, [b, 1, t, d / 2]);
      expect(Array.from(rotateHalf(x, tables.cos, tables.sin).dataSync())).toEqual(Array.from(splitForm(x, tables.cos, tables.sin).dataSync()));
    });
    await initBackend({ force: 'cpu' }); // the rest of this file runs on cpu
  });

  it('rejects an odd dimension, naming it', () => {
    expect(() => applyRope(tf.zeros([1, 1, 2, 5]))).toThrowError(/RoPE dimension \(last axis of x\) must be even for RoPE.*got 5/);
  });
});

describe('causal mask', () => {
  it('lets query i see keys up to position tk - tq + i', () => {
    const m = causalMask(2, 4);
    // Reference (hand): queries at positions 2 and 3 of 4
    expect(Array.from(m.dataSync())).toEqual([0, 0, 0, -1e9, 0, 0, 0, 0]);
    m.dispose();
  });
});

describe('errors name the argument and the value', () => {
  it('heads that do not divide the width', () => {
    expect(() => new GroupedQueryAttention({ dModel: 10, nHeads: 3, maxContext: 8 })).toThrowError(/nHeads must divide dModel.*dModel 10 is not divisible by nHeads 3/);
    expect(() => cacheElementsPerToken({ kind: 'mla', nHeads: 3, qLatent: 4, kvLatent: 4, ropeHeadDim: 2 }, 10)).toThrowError(/dModel 10 is not divisible by nHeads 3/);
  });
  it('groups that do not divide the heads', () => {
    expect(() => new GroupedQueryAttention({ dModel: 16, nHeads: 4, nKvHeads: 3, maxContext: 8 })).toThrowError(/nKvHeads must divide nHeads: nHeads 4 is not divisible by nKvHeads 3/);
  });
  it('an odd RoPE dimension', () => {
    expect(() => new GroupedQueryAttention({ dModel: 12, nHeads: 4, maxContext: 8 })).toThrowError(/headDim must be even for RoPE.*got 3/);
    expect(() => new MultiHeadLatentAttention({ dModel: 16, nHeads: 4, qLatent: 8, kvLatent: 8, ropeHeadDim: 3, maxContext: 8 })).toThrowError(/ropeHeadDim must be even for RoPE.*got 3/);
  });
  it('decoding past the context', () => {
    for (const spec of Object.values(VARIANTS)) {
      const layer = attentionLayer(spec, { dModel: D, maxContext: 4, seed: 1 });
      const cache = new KvCache(1, 4);
      tf.tidy(() => {
        cache.set(0, layer.forward(randomX(1, 1, 3, D)).cache);
        expect(() => layer.forward(randomX(2, 1, 2, D), cache.get(0))).toThrowError(/decoding past the context: 3 cached \+ 2 new tokens = 5 > maxContext 4/);
      });
      cache.dispose();
      layer.dispose();
    }
  });
  it('an unknown kind', () => {
    expect(() => resolveAttention({ kind: 'sparse' } as unknown as AttentionSpec, 16)).toThrowError(/nHeads must be a positive integer|kind must be mha, gqa, mqa or mla/);
    expect(() => resolveAttention({ kind: 'sparse', nHeads: 4 } as unknown as AttentionSpec, 16)).toThrowError(/attention kind must be mha, gqa, mqa or mla, got "sparse"/);
  });
});

describe.each(Object.entries(VARIANTS))('%s', (_name, spec) => {
  it('decoding with the cache (prefill 3, then 1, 2, 1, 1 tokens) equals the full causal pass (max |diff| < 1e-5)', () => {
    const layer = attentionLayer(spec, { dModel: D, maxContext: 16, seed: 7 });
    const x = randomX(11, 2, 8, D);
    const full = layer.forward(x);
    const cache = new KvCache(1, 16);
    const parts: tf.Tensor3D[] = [];
    let pos = 0;
    for (const n of [3, 1, 2, 1, 1]) {
      const out = layer.forward(tf.slice(x, [0, pos, 0], [2, n, D]), cache.get(0));
      cache.set(0, out.cache);
      parts.push(out.y);
      pos += n;
    }
    const inc = tf.concat(parts, 1);
    expect(cache.length).toBe(8);
    expect(maxAbsDiff(full.y, inc)).toBeLessThan(1e-5);
    // The output depends on the past: position 7 differs from a pass over token 7 alone.
    const alone = layer.forward(tf.slice(x, [0, 7, 0], [2, 1, D])).y;
    expect(maxAbsDiff(alone, tf.slice(inc, [0, 7, 0], [2, 1, D]))).toBeGreaterThan(1e-3);
    tf.dispose([x, full.y, ...Object.values(full.cache.tensors), ...parts, inc, alone]);
    cache.dispose();
    layer.dispose();
  });

  it('the live cache bytes equal cacheElementsPerToken · tokens · batch · 4 (DeepSeek-V2 Table 1)', () => {
    const layer = attentionLayer(spec, { dModel: D, maxContext: 32, seed: 7 });
    warmUp(layer); // build the weights (and absorbed MLA's kept products) first
    const x = randomX(5, 3, 10, D);
    const before = tf.memory().numBytes;
    const cache = new KvCache(1, 32);
    for (let i = 0; i < 10; i++) {
      const out = layer.forward(tf.slice<tf.Rank.R3, tf.Tensor3D>(x, [0, i, 0], [3, 1, D]), cache.get(0));
      cache.set(0, out.cache);
      out.y.dispose();
    }
    // tf.slice of the whole step input is disposed with out.y's scope? No: it is created here, so count its bytes out.
    const measured = tf.memory().numBytes - before - 10 * 3 * D * 4;
    const expected = cacheElementsPerToken(spec, D) * 10 * 3 * 4;
    expect(measured).toBe(expected);
    expect(cache.bytes()).toBe(expected);
    cache.dispose();
    x.dispose();
    layer.dispose();
  });

  it('serialises and reloads to the same outputs', () => {
    const layer = attentionLayer(spec, { dModel: D, maxContext: 16, seed: 3, name: `attn_${spec.kind}` });
    const x = randomX(2, 1, 5, D);
    const y = layer.apply(x) as tf.Tensor;
    const cls = layer.constructor as unknown as { className: string; fromConfig: (c: unknown, cfg: tf.serialization.ConfigDict) => tf.layers.Layer };
    const json = JSON.parse(JSON.stringify({ className: cls.className, config: layer.getConfig() })) as { className: string; config: tf.serialization.ConfigDict & { name: string } };
    const [ctor, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[json.className]!;
    const copy = fromConfig(ctor, { ...json.config, name: `${json.config.name}_copy`, seed: 99 }) as unknown as tf.layers.Layer;
    tf.dispose(copy.apply(x) as tf.Tensor); // build
    copy.setWeights(layer.getWeights());
    const y2 = copy.apply(x) as tf.Tensor;
    expect(maxAbsDiff(y, y2)).toBe(0);
    tf.dispose([x, y, y2]);
    layer.dispose();
    copy.dispose();
  });

  it('leaks no tensor in a forward pass or a cached step', () => {
    const layer = attentionLayer(spec, { dModel: D, maxContext: 16, seed: 3 });
    const x = randomX(2, 2, 4, D);
    tf.dispose(layer.apply(x) as tf.Tensor);
    expectNoLeak(() => layer.apply(x), 'apply');
    warmUp(layer); // absorbed MLA keeps its two absorbed products from the first cached step on
    const first = layer.forward(x);
    const step: tf.Tensor3D = tf.slice(x, [0, 0, 0], [2, 1, D]);
    expectNoLeak(() => layer.forward(step, first.cache), 'cached step');
    tf.dispose([x, step, first.y, ...Object.values(first.cache.tensors)]);
    layer.dispose();
  });
});

describe('left padding', () => {
  it('paddedCausalMask hides the pads and the future of each row (hand-computed)', () => {
    const M = MASK_VALUE;
    // Reference (hand): tq 2 of tk 4, queries at indices 2 and 3; row 0 has 1 pad, row 1 none.
    expect(Array.from(paddedCausalMask(2, 4, [1, 0]))).toEqual([M, 0, 0, M, M, 0, 0, 0, 0, 0, 0, M, 0, 0, 0, 0]);
    expect(() => paddedCausalMask(1, 3, [3])).toThrowError(/pad\[0\] must be an integer in \[0, 3\), got 3/);
  });

  it('ropeAnglesAt gives each position the angles ropeAngles gives it', () => {
    const got = Array.from(ropeAnglesAt([5, 0, 7], 4, 100));
    const expected = [5, 0, 7].flatMap((p) => Array.from(ropeAngles(p, 1, 4, 100)));
    expect(got).toEqual(expected);
    expect(() => ropeAnglesAt([1, -1], 4)).toThrowError(/positions\[1\]/);
  });

  it('a padded row attends as it does alone, for every variant (max |diff| < 1e-5)', () => {
    for (const spec of Object.values(VARIANTS)) {
      const layer = attentionLayer(spec, { dModel: D, maxContext: 16, seed: 6 });
      const x = randomX(8, 1, 3, D); // one sequence of 3 tokens
      const alone = layer.forward(x);
      // The same sequence after 2 padding tokens, batched with an unpadded row; then one cached step.
      const padded = tf.concat<tf.Tensor3D>([tf.concat([randomX(9, 1, 2, D), x], 1), randomX(10, 1, 5, D)], 0);
      const both = layer.forward(padded, undefined, { pad: [2, 0] });
      const mine = tf.slice(both.y, [0, 2, 0], [1, 3, D]);
      expect(maxAbsDiff(alone.y, mine), spec.kind).toBeLessThan(1e-5);
      const step = randomX(11, 1, 1, D);
      const aloneStep = layer.forward(step, alone.cache);
      const bothStep = layer.forward(tf.concat<tf.Tensor3D>([step, step], 0), both.cache, { pad: [2, 0] });
      expect(maxAbsDiff(aloneStep.y, tf.slice(bothStep.y, [0, 0, 0], [1, 1, D])), `${spec.kind} step`).toBeLessThan(1e-5);
      tf.dispose([x, padded, mine, step, alone.y, both.y, aloneStep.y, bothStep.y, ...[alone, both, aloneStep, bothStep].flatMap((o) => Object.values(o.cache.tensors))]);
      layer.dispose();
    }
  });
});

describe('MLA', () => {
  it('absorbed == naive within 1e-5 (float32 rounding), over a 12-token decode and a full pass', () => {
    const spec = { kind: 'mla', nHeads: 4, qLatent: 24, kvLatent: 12, ropeHeadDim: 6, headDim: 10 } as const;
    const layer = new MultiHeadLatentAttention({ dModel: 20, maxContext: 16, seed: 5, ...spec });
    const x = randomX(9, 2, 12, 20);
    layer.absorb = false;
    const naive = layer.forward(x);
    layer.absorb = true;
    const absorbed = layer.forward(x);
    expect(maxAbsDiff(naive.y, absorbed.y)).toBeLessThan(1e-5);
    // Same cache either way: the latents do not depend on the path.
    expect(maxAbsDiff(naive.cache.tensors['latent']!, absorbed.cache.tensors['latent']!)).toBe(0);
    const scale = tf.tidy(() => tf.max(tf.abs(naive.y)).dataSync()[0] as number);
    expect(scale).toBeGreaterThan(0.1); // the comparison is not between two near-zero outputs
    tf.dispose([x, naive.y, absorbed.y, ...Object.values(naive.cache.tensors), ...Object.values(absorbed.cache.tensors)]);
    layer.dispose();
  });

  it('uses the softmax scale 1/√(d_h + d_h^R) (V2 eq. 18)', () => {
    const layer = new MultiHeadLatentAttention({ dModel: 16, nHeads: 4, qLatent: 8, kvLatent: 8, ropeHeadDim: 2, maxContext: 4 });
    // Reference (hand): d_h = 16 / 4 = 4, d_h^R = 2: 1/√6
    expect(layer.softmaxScale).toBeCloseTo(1 / Math.sqrt(6), 12);
    layer.dispose();
  });

  it('caches only c_KV and k^R, side by side in one tensor [b, t, d_c + d_h^R]', () => {
    const layer = new MultiHeadLatentAttention({ dModel: 16, nHeads: 4, qLatent: 8, kvLatent: 6, ropeHeadDim: 2, maxContext: 8 });
    const x = randomX(1, 2, 5, 16);
    const out = layer.forward(x);
    expect(Object.keys(out.cache.tensors)).toEqual(['latent']);
    expect(out.cache.tensors['latent']!.shape).toEqual([2, 5, 8]);
    // The same numbers as intermediates()' c^KV [b, t, d_c] and k^R [b, t, d_h^R], side by side.
    const it = layer.intermediates(x);
    const rebuilt = layer.cacheFromLatents(it['cKV'] as tf.Tensor3D, it['kR'] as tf.Tensor3D);
    expect(maxAbsDiff(rebuilt.tensors['latent']!, out.cache.tensors['latent']!)).toBeLessThan(1e-6);
    expect(() => layer.cacheFromLatents(it['kR'] as tf.Tensor3D, it['kR'] as tf.Tensor3D)).toThrowError(/cKV must be \[b, T, 6\] and kR \[b, T, 2\], got \[2, 5, 2\]/);
    tf.dispose([x, out.y, ...Object.values(out.cache.tensors), ...Object.values(it), ...Object.values(rebuilt.tensors)]);
    layer.dispose();
  });

  it('keeps the absorbed products between decoding steps, rebuilds them when the weights change, and frees them on dispose', () => {
    const layer = new MultiHeadLatentAttention({ dModel: 16, nHeads: 4, qLatent: 8, kvLatent: 6, ropeHeadDim: 2, maxContext: 8, absorb: true, seed: 4 });
    const x = randomX(3, 1, 3, 16);
    const step = randomX(4, 1, 1, 16);
    const first = layer.forward(x);
    const before = tf.memory().numTensors;
    const a = layer.forward(step, first.cache);
    expect(tf.memory().numTensors).toBe(before + 2 + 2); // y and the cache, + the two kept products
    const b = layer.forward(step, first.cache);
    expect(tf.memory().numTensors).toBe(before + 4 + 2); // reused: nothing new besides y and the cache
    expect(maxAbsDiff(a.y, b.y)).toBe(0);
    // New weights (as training or setWeights would assign): the products follow them.
    const w = layer.getWeights();
    layer.setWeights(w.map((t) => tf.mul(t, 2)));
    const c = layer.forward(step, first.cache);
    layer.absorb = false;
    const naive = layer.forward(step, first.cache);
    expect(maxAbsDiff(c.y, naive.y)).toBeLessThan(1e-4);
    expect(maxAbsDiff(c.y, a.y)).toBeGreaterThan(1e-3);
    tf.dispose([x, step, first.y, a.y, b.y, c.y, naive.y, ...[first, a, b, c, naive].flatMap((o) => Object.values(o.cache.tensors))]);
    const live = tf.memory().numTensors;
    layer.dispose();
    expect(tf.memory().numTensors).toBe(live - 8 - 2); // the 8 weights and the 2 products
  });
});

describe('cache accounting (DeepSeek-V2 Table 1)', () => {
  it('gives 2·n_h·d_h·l, 2·n_g·d_h·l, 2·d_h·l and (d_c + d_h^R)·l', () => {
    // Reference (hand): d = 64, n_h = 8, d_h = 8, l = 3
    expect(cacheElementsPerToken({ kind: 'mha', nHeads: 8 }, 64, 3)).toBe(2 * 8 * 8 * 3);
    expect(cacheElementsPerToken({ kind: 'gqa', nHeads: 8, nKvHeads: 2 }, 64, 3)).toBe(2 * 2 * 8 * 3);
    expect(cacheElementsPerToken({ kind: 'mqa', nHeads: 8 }, 64, 3)).toBe(2 * 8 * 3);
    expect(cacheElementsPerToken({ kind: 'mla', nHeads: 8, qLatent: 24, kvLatent: 32, ropeHeadDim: 4 }, 64, 3)).toBe((32 + 4) * 3);
  });

  it.each([
    [{ kind: 'mha', nHeads: 2 }, 8, 1, 3],
    [{ kind: 'gqa', nHeads: 6, nKvHeads: 3 }, 24, 2, 5],
    [{ kind: 'mqa', nHeads: 4, headDim: 6 }, 8, 3, 7],
    [{ kind: 'mla', nHeads: 2, qLatent: 4, kvLatent: 10, ropeHeadDim: 2 }, 8, 2, 6],
  ] as [AttentionSpec, number, number, number][])('measured bytes == formula for %o at d=%i, b=%i, t=%i', (spec, d, b, t) => {
    const layer = attentionLayer(spec, { dModel: d, maxContext: 16, seed: 1 });
    const x = randomX(3, b, t, d);
    tf.dispose(layer.apply(x) as tf.Tensor);
    const before = tf.memory().numBytes;
    const cache = new KvCache(1, 16);
    const out = layer.forward(x);
    cache.set(0, out.cache);
    out.y.dispose();
    expect(tf.memory().numBytes - before).toBe(cacheElementsPerToken(spec, d) * b * t * 4);
    cache.dispose();
    x.dispose();
    layer.dispose();
  });

  it('at the DeepSeek-V2 shape (n_h = 128, d_h = 128, d_c = 512, d_h^R = 64) MLA caches 576 of MHA\'s 32768 elements per token and layer, measured', () => {
    const mha = { kind: 'mha', nHeads: 128, headDim: 128 } as const;
    const mla = { kind: 'mla', nHeads: 128, headDim: 128, qLatent: 16, kvLatent: 512, ropeHeadDim: 64 } as const;
    // Reference: DeepSeek-V2 Table 1 with §3.1.2's sizes: 2·128·128 = 32768; 512 + 64 = 576
    expect(cacheElementsPerToken(mha, 16)).toBe(32768);
    expect(cacheElementsPerToken(mla, 16)).toBe(576);
    // Measured on live tensors with a narrow model width (d = 16; the cache does not depend on d).
    const measure = (spec: AttentionSpec): number => {
      const layer = attentionLayer(spec, { dModel: 16, maxContext: 8, seed: 1 });
      const x = randomX(4, 1, 3, 16);
      tf.dispose(layer.apply(tf.slice(x, [0, 0, 0], [1, 1, 16])) as tf.Tensor);
      const before = tf.memory().numBytes;
      const cache = new KvCache(1, 8);
      for (let i = 0; i < 3; i++) {
        const step: tf.Tensor3D = tf.slice(x, [0, i, 0], [1, 1, 16]);
        const out = layer.forward(step, cache.get(0));
        cache.set(0, out.cache);
        tf.dispose([out.y, step]);
      }
      const bytes = (tf.memory().numBytes - before) / 3; // per token
      cache.dispose();
      x.dispose();
      layer.dispose();
      return bytes;
    };
    const mhaBytes = measure(mha);
    const mlaBytes = measure(mla);
    expect(mhaBytes).toBe(32768 * 4);
    expect(mlaBytes).toBe(576 * 4);
    // Reference (hand): 576 / 32768 = 0.017578125 (≤ 2 %, the target)
    expect(mlaBytes / mhaBytes).toBe(0.017578125);
  });
});

describe('fillCache and decodeOneStep', () => {
  it('fill a cache in chunks, and run a step that leaves the cache as it was and leaks nothing', () => {
    const layer = new MultiHeadLatentAttention({ dModel: D, nHeads: 4, qLatent: 12, kvLatent: 8, ropeHeadDim: 4, maxContext: 40, seed: 2 });
    tf.tidy(() => { layer.apply(randomX(1, 1, 1, D)); }); // build the weights
    const before = tf.memory().numTensors;
    const cache = fillCache(layer, 37, { chunk: 8, seed: 5 });
    expect(cache.length).toBe(37);
    expect(cache.tensors['latent']!.shape).toEqual([1, 37, 8 + 4]);
    expect(tf.memory().numTensors).toBe(before + 1); // the latent (c_KV and k^R) only
    const x = randomX(1, 1, 1, D);
    decodeOneStep(layer, cache, x);
    expect(tf.memory().numTensors).toBe(before + 2); // + x
    expect(cache.length).toBe(37);
    expect(cache.tensors['latent']!.isDisposed).toBe(false);
    expect(() => fillCache(layer, 41)).toThrowError(/decoding past the context: tokens 41 > maxContext 40/);
    tf.dispose([x, ...Object.values(cache.tensors)]);
    layer.dispose();
  });
});

describe('decodeStepFlops', () => {
  /**
   * 2 · m · k · n summed over the matrix products a profile of `fn` saw, read from their shapes,
   * except RoPE's half swap: a product with a `[ropeDim, ropeDim]` permutation matrix (a data move,
   * lib/attention/rope.ts; decodeStepFlops leaves RoPE out).
   */
  async function matmulFlops(fn: () => void, ropeDim: number): Promise<number> {
    const info = await tf.profile(fn);
    let flops = 0;
    for (const k of info.kernels) {
      if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul') continue;
      const b = k.inputShapes[1]!;
      if (b.length === 2 && b[0] === ropeDim && b[1] === ropeDim) continue; // RoPE's swap
      const a = k.inputShapes[0]!;
      const out = k.outputShapes[0]!;
      const m = out[out.length - 2]!;
      // a is [..., m, k] or, transposed, [..., k, m]
      const inner = a[a.length - 2] === m ? a[a.length - 1]! : a[a.length - 2]!;
      flops += 2 * out.reduce((p, v) => p * v, 1) * inner;
    }
    return flops;
  }

  // Sizes chosen distinct so that a wrong term cannot cancel by coincidence.
  const specs: Record<string, AttentionSpec> = {
    mha: { kind: 'mha', nHeads: 4, headDim: 6 },
    gqa: { kind: 'gqa', nHeads: 4, nKvHeads: 2, headDim: 6 },
    mqa: { kind: 'mqa', nHeads: 4, headDim: 6 },
    'mla naive': { kind: 'mla', nHeads: 4, headDim: 6, qLatent: 10, kvLatent: 14, ropeHeadDim: 4 },
    'mla absorbed': { kind: 'mla', nHeads: 4, headDim: 6, qLatent: 10, kvLatent: 14, ropeHeadDim: 4, absorb: true },
  };
  for (const [name, spec] of Object.entries(specs)) {
    it(`${name}: the count equals the FLOPs of the matrix products one step really runs`, async () => {
      const context = 23;
      const layer = attentionLayer(spec, { dModel: D, maxContext: 32, seed: 3 });
      const cache = fillCache(layer, context - 1, { seed: 4 });
      const x = randomX(5, 1, 1, D);
      decodeOneStep(layer, cache, x); // computes and keeps MLA's absorbed products, once per weight update
      const ropeDim = spec.kind === 'mla' ? spec.ropeHeadDim : (spec.headDim as number);
      const measured = await matmulFlops(() => decodeOneStep(layer, cache, x), ropeDim);
      expect(decodeStepFlops(spec, D, context).total).toBe(measured);
      tf.dispose([x, ...Object.values(cache.tensors)]);
      layer.dispose();
    });
  }

  it('MLA at lesson 10\'s shape, by hand: absorbed decoding does 12.6× fewer FLOPs at 1024 tokens', () => {
    const spec: AttentionSpec = { kind: 'mla', nHeads: 4, headDim: 16, qLatent: 32, kvLatent: 32, ropeHeadDim: 8 };
    // naive: down 2·64·72 = 9216, up 2·32·4·24 = 6144, out 2·4·16·64 = 8192; keys and values
    // rebuilt 4·1024·32·4·16 = 8388608, scores and mixing 2·4·1024·40 = 327680
    expect(decodeStepFlops(spec, 64, 1024, false)).toEqual({ projections: 23552, context: 8716288, total: 8739840 });
    // absorbed: down 9216, query into latent space 2·32·4·40 = 10240, out 2·4·32·64 = 16384;
    // scores and mixing against the latents 4·4·1024·40 = 655360
    expect(decodeStepFlops(spec, 64, 1024, true)).toEqual({ projections: 35840, context: 655360, total: 691200 });
  });

  it('errors name the argument and the value', () => {
    expect(() => decodeStepFlops({ kind: 'mha', nHeads: 4 }, 64, 0)).toThrowError(/context.*0/);
    expect(() => decodeStepFlops({ kind: 'mha', nHeads: 3 }, 64, 8)).toThrowError(/dModel 64 is not divisible by nHeads 3/);
  });
});
