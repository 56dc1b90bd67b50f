/**
 * lib/ops/wasm-matmul.ts: wasm's matMul with transposeA/transposeB, rerouted through an explicit
 * transpose, gives the products of the plain definition (the CPU backend's results, and
 * tf.transpose then a plain product on wasm), forward, fused and through gradients, and leaves
 * no wasm buffer behind; batched products run as one XNNPACK product per batch (views into the
 * heap) where they have enough rows, with the same values, gradients and buffers.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { explicitTransposePays, installWasmMatMulTransposeFix, transposeBBySwap, MIN_EXPLICIT_TRANSPOSE, MIN_EXPLICIT_TRANSPOSE_MACS, MIN_XNN_BATCH_ROWS, xnnPerBatch } from '../lib/ops/wasm-matmul';
import { Rng } from '../lib/random';
import { matMulReference } from './helpers/matmul-reference';

function values(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

/** Runs `f` on the CPU backend and on wasm with the same input arrays; returns both outputs. */
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Float32Array; wasm: Float32Array }> {
  await initBackend({ force: 'cpu' });
  const cpu = tf.tidy(f).dataSync() as Float32Array;
  await initBackend({ force: 'wasm' });
  const wasm = tf.tidy(f).dataSync() as Float32Array;
  return { cpu, wasm };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(...Array.from(b, Math.abs));
  return Math.max(...Array.from(a, (x, i) => Math.abs(x - (b[i] as number)))) / scale;
}

describe('wasm matMul with transpose flags', () => {
  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
  });
  afterAll(async () => {
    await initBackend({ force: 'cpu' });
  });

  it('is installed by initBackend on wasm, once (idempotent)', () => {
    expect(installWasmMatMulTransposeFix()).toEqual(['BatchMatMul', '_FusedMatMul']);
    expect(installWasmMatMulTransposeFix()).toEqual(['BatchMatMul', '_FusedMatMul']);
  });

  it.each([
    // [a shape, b shape, transposeA, transposeB]: 2-D and batched, above and below the threshold
    [[64, 32], [64, 8], true, false],
    [[64, 32], [8, 32], false, true],
    [[32, 64], [8, 32], true, true],
    [[4, 20, 16], [4, 12, 20], true, true],
    [[3, 5], [4, 3], true, true], // 15 and 12 elements: below MIN_EXPLICIT_TRANSPOSE, flags kept
    [[2048, 8], [8, 8], false, true], // a small flagged operand in a large product: transposed explicitly
    [[1, 8, 24], [1, 300, 24], false, true], // a few queries against a larger b (a cache): (b @ aᵀ)ᵀ
    [[8, 24], [300, 24], false, true], // the same, 2-D
  ] as Array<[number[], number[], boolean, boolean]>)('%j @ %j (transposeA %s, transposeB %s) equals the CPU backend', async (sa, sb, ta, tb) => {
    const av = values(sa, 1);
    const bv = values(sb, 2);
    const { cpu, wasm } = await onBoth(() => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb));
    // Reference: tfjs's CPU backend (plain loops) on the same inputs; float32 sums of <= 64 terms
    expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
    expect(MIN_EXPLICIT_TRANSPOSE).toBeGreaterThan(15);
  });

  it('runs a @ bᵀ as (b @ aᵀ)ᵀ when b is larger than a and the product together, with the same values and gradients', async () => {
    expect(transposeBBySwap([1, 8, 288], [1, 4097, 288])).toBe(true); // MLA's absorbed scores
    expect(transposeBBySwap([8, 288], [4097, 288])).toBe(true);
    expect(transposeBBySwap([128, 64, 8], [128, 64, 8])).toBe(false); // attention's q @ kᵀ in training: b no larger
    expect(transposeBBySwap([1024, 64], [64, 64])).toBe(false); // a Dense gradient dy @ Wᵀ
    expect(transposeBBySwap([2, 8, 24], [1, 300, 24])).toBe(false); // leading axes differ (broadcast)
    expect(transposeBBySwap([8, 24], [10, 24])).toBe(false); // 240 < 192 + 80 = 272
    const av = values([1, 8, 24], 11);
    const bv = values([1, 300, 24], 12);
    const R = values([1, 8, 300], 13);
    const { cpu, wasm } = await onBoth(() => {
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, false, true), tf.tensor3d(R, [1, 8, 300]))))([tf.tensor3d(av, [1, 8, 24]), tf.tensor3d(bv, [1, 300, 24])]);
      return tf.concat([tf.reshape(ga as tf.Tensor, [-1]), tf.reshape(gb as tf.Tensor, [-1])]);
    });
    // Reference: tfjs's CPU backend (plain loops) on the same inputs
    expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
    const a = tf.tensor3d(av, [1, 8, 24]);
    const b = tf.tensor3d(bv, [1, 300, 24]);
    const before = tf.memory().numTensors;
    const out = tf.matMul(a, b, false, true);
    expect(out.shape).toEqual([1, 8, 300]);
    expect(tf.memory().numTensors).toBe(before + 1); // only the product: the copies are gone
    tf.dispose([a, b, out]);
  });

  it('transposes a flagged operand explicitly when it or the product is large enough', () => {
    expect(explicitTransposePays(MIN_EXPLICIT_TRANSPOSE, 1)).toBe(true);
    expect(explicitTransposePays(MIN_EXPLICIT_TRANSPOSE - 1, MIN_EXPLICIT_TRANSPOSE_MACS - 1)).toBe(false);
    expect(explicitTransposePays(64, 2048 * 8 * 8)).toBe(true); // [2048, 8] @ [8, 8]ᵀ
    expect(explicitTransposePays(64, 64 * 8 * 8)).toBe(false); // [64, 8] @ [8, 8]ᵀ
    expect(MIN_EXPLICIT_TRANSPOSE_MACS).toBe(2 ** 14);
  });

  it('the fused product (bias + relu) with both flags equals the CPU backend', async () => {
    const av = values([32, 64], 3);
    const bv = values([16, 32], 4);
    const biasV = values([16], 5);
    const { cpu, wasm } = await onBoth(() =>
      tf.fused.matMul({ a: tf.tensor2d(av, [32, 64]), b: tf.tensor2d(bv, [16, 32]), transposeA: true, transposeB: true, bias: tf.tensor1d(biasV), activation: 'relu' }),
    );
    // Reference: tfjs's CPU backend; relu zeroes about half the entries, so the check is not vacuous
    expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
    expect(Array.from(wasm).filter((x) => x === 0).length).toBeGreaterThan(100);
  });

  it('a Dense-like layer\'s gradients (which use both flags) equal the CPU backend\'s', async () => {
    const xv = values([64, 64], 6);
    const wv = values([64, 8], 7);
    const { cpu, wasm } = await onBoth(() => {
      const x = tf.tensor2d(xv, [64, 64]);
      const w = tf.tensor2d(wv, [64, 8]);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.matMul(a, b)))))([x, w]) as [tf.Tensor, tf.Tensor];
      return tf.concat([tf.reshape(gx, [-1]), tf.reshape(gw, [-1])]);
    });
    // Reference: autodiff on tfjs's CPU backend
    expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('leaves no wasm buffer and no tensor behind', async () => {
    await initBackend({ force: 'wasm' });
    const a = tf.tensor2d(values([64, 64], 8), [64, 64]);
    const b = tf.tensor2d(values([8, 64], 9), [8, 64]);
    const backend = tf.engine().backend;
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    const out = tf.matMul(a, b, true, true);
    expect(backend.numDataIds()).toBe(ids + 1); // the product only: the two transposed copies are freed
    expect(tf.memory().numTensors).toBe(tensors + 1);
    tf.dispose([out, a, b]);
  });
});

describe('wasm batched matMul, one XNNPACK product per batch', () => {
  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
  });
  afterAll(async () => {
    await initBackend({ force: 'cpu' });
  });

  /** The ids the backend has handed out: the per-batch path takes 2 or 3 views per batch. */
  const idsTaken = (): number => (tf.engine().backend as unknown as { dataIdNextNumber: number }).dataIdNextNumber;

  it.each([
    // [a shape, b shape, transposeB, per batch?]
    [[16, 8, 64, 64], [16, 8, 64, 8], false, true], // lesson 11's attention mixing
    [[6, 5, 7], [6, 7, 3], false, true],
    [[2, 3, 5, 4], [1, 1, 4, 6], false, true], // b shared by every batch
    [[1, 5, 4], [7, 4, 6], false, true], // a shared
    [[1, 8, 1, 8], [1, 8, 103, 8], true, true], // a decoding step's scores: one row times Kᵀ
    [[8, 1, 64], [8, 3, 64], true, false], // 3 keys: fewer rows than MIN_XNN_BATCH_ROWS
    [[8, 1, 64], [8, 64, 30], false, false], // one row, not transposed: the loop
    [[2, 3, 5, 4], [4, 6], false, false], // a matrix shared by every batch: the original kernel (tfjs-core broadcasts it)
  ] as Array<[number[], number[], boolean, boolean]>)('%j @ %j (transposeB %s): per batch %s, the values of float64 loops', (sa, sb, tb, perBatch) => {
    const av = values(sa, 3);
    const bv = values(sb, 4);
    const a = tf.tensor(av, sa);
    const b = tf.tensor(bv, sb);
    const before = idsTaken();
    const out = tf.matMul(a, b, false, tb);
    const taken = idsTaken() - before;
    const batch = out.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    // The product's own id, plus (per batch) the views: 2 when one operand is shared, else 3
    if (perBatch) expect(taken).toBeGreaterThanOrEqual(1 + 2 * batch);
    else expect(taken).toBeLessThan(1 + 2 * batch);
    // Reference: float64 loops (tfjs 4.22 itself returns too few values when both operands
    // broadcast, [2, 1, ...] with [1, 3, ...], on cpu as on wasm: no case here does that)
    const ref = matMulReference(av, sa, bv, sb, false, tb);
    const got = out.dataSync();
    const scale = Math.max(...Array.from(ref, Math.abs));
    expect(Math.max(...Array.from(got, (x, i) => Math.abs(x - (ref[i] as number))))).toBeLessThan(1e-5 * scale);
    tf.dispose([a, b, out]);
  });

  it('gradients through batched products equal the CPU backend\'s', async () => {
    const av = values([4, 6, 5], 5);
    const bv = values([4, 5, 3], 6);
    const grads = (): tf.Tensor => {
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([tf.tensor3d(av, [4, 6, 5]), tf.tensor3d(bv, [4, 5, 3])]);
      return tf.concat([tf.reshape(ga as tf.Tensor, [-1]), tf.reshape(gb as tf.Tensor, [-1])]);
    };
    const { cpu, wasm } = await onBoth(grads);
    // Reference: tfjs's CPU backend (plain loops) on the same inputs
    expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('returns null where the original kernel must run, and leaves no buffer or C-side view behind', () => {
    const backend = tf.engine().backend;
    const a = tf.tensor3d(values([3, MIN_XNN_BATCH_ROWS - 1, 4], 7), [3, MIN_XNN_BATCH_ROWS - 1, 4]);
    const b = tf.tensor3d(values([3, 4, 5], 8), [3, 4, 5]);
    expect(xnnPerBatch(backend, a, b, false)).toBeNull(); // too few rows
    expect(xnnPerBatch(backend, tf.reshape(a, [-1, 4]), tf.reshape(b, [-1, 5]), false)).toBeNull(); // 2-D
    expect(xnnPerBatch({}, a, b, false)).toBeNull(); // not the wasm backend
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    const c = tf.tensor3d(values([3, 8, 4], 9), [3, 8, 4]);
    const out = tf.matMul(c, b);
    expect(backend.numDataIds()).toBe(ids + 2); // c and the product: the views are C-side only, and gone
    expect(tf.memory().numTensors).toBe(tensors + 2);
    tf.dispose([a, b, c, out]);
  });
});
