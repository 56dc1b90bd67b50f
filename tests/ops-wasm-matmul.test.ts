/**
 * lib/ops/wasm-matmul.ts: wasm's matMul with transposeA/transposeB, rerouted through an explicit
 * transpose, gives the products of the plain definition (the CPU backend's results, and
 * tf.transpose then a plain product on wasm), forward, fused and through gradients, and leaves
 * no wasm buffer behind.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { installWasmMatMulTransposeFix, MIN_EXPLICIT_TRANSPOSE } from '../lib/ops/wasm-matmul';
import { Rng } from '../lib/random';

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
  ] as Array<[number[], number[], boolean, boolean]>)('%j @ %j (transposeA %s, transposeB %s) equals the CPU backend', async (sa, sb, ta, tb) => {
    const av = values(sa, 1);
    const bv = values(sb, 2);
    const { cpu, wasm } = await onBoth(() => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb));
    // Reference: tfjs's CPU backend (plain loops) on the same inputs; float32 sums of <= 64 terms
    expect(maxRelDiff(wasm, cpu)).toBeLessThan(1e-5);
    expect(MIN_EXPLICIT_TRANSPOSE).toBeGreaterThan(15);
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
