/**
 * lib/ops/wasm-transpose.ts: the blocked transpose of tall matrices on wasm gives the plain
 * kernel's copy bit for bit (it is the same copy, in another order), the wrapper registered by
 * initBackend takes it only for a swap of the last two axes of a shape where it wins, products
 * with `transposeA` on tall operands still equal the float64 definition, and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { blockedTranspose, blockedTransposeWins, installWasmTransposeFix, MIN_BLOCKED_ROWS, swapsLastTwo, TRANSPOSE_BLOCK } from '../lib/ops/wasm-transpose';
import type { KernelFunc } from '../lib/ops/kernel-backend';
import { Rng } from '../lib/random';
import { matMulReference } from './helpers/matmul-reference';

function values(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

/** The last two axes swapped, by index arithmetic (the definition). */
function transposeReference(v: Float32Array, shape: number[]): Float32Array {
  const r = shape.length;
  const R = shape[r - 2] as number;
  const C = shape[r - 1] as number;
  const out = new Float32Array(v.length);
  for (let n = 0; n < v.length / (R * C); n++) {
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[n * R * C + j * R + i] = v[n * R * C + i * C + j] as number;
  }
  return out;
}

describe('which transposes take the blocked path', () => {
  it('tall matrices of whole blocks, from MIN_BLOCKED_ROWS rows, swapping the last two axes only', () => {
    expect(TRANSPOSE_BLOCK).toBe(8);
    expect(blockedTransposeWins([MIN_BLOCKED_ROWS, 64])).toBe(true);
    expect(blockedTransposeWins([3, 1024, 64])).toBe(true);
    expect(blockedTransposeWins([MIN_BLOCKED_ROWS - 8, 64])).toBe(false); // too few rows
    expect(blockedTransposeWins([64, 1024])).toBe(false); // wide: the plain kernel is faster
    expect(blockedTransposeWins([1024, 1024])).toBe(false); // square
    expect(blockedTransposeWins([1001, 64])).toBe(false); // not whole blocks
    expect(blockedTransposeWins([1024, 60])).toBe(false);
    expect(blockedTransposeWins([1024])).toBe(false);
    expect(swapsLastTwo([1, 0])).toBe(true);
    expect(swapsLastTwo([0, 1, 3, 2])).toBe(true);
    expect(swapsLastTwo([0, 2, 1, 3])).toBe(false);
    expect(swapsLastTwo([1, 0, 2])).toBe(false);
    expect(swapsLastTwo([0])).toBe(false);
  });
});

describe('the blocked transpose on wasm', () => {
  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
  });
  afterAll(async () => {
    await initBackend({ force: 'cpu' });
  });

  const SHAPES: number[][] = [[256, 64], [1024, 8], [2, 512, 64], [2, 3, 264, 16], [64, 1024], [1001, 64], [8, 8]];

  for (const shape of SHAPES) {
    it(`tf.transpose of [${shape.join(', ')}] is the definition's copy, bit for bit (${blockedTransposeWins(shape) ? 'blocked' : 'plain kernel'})`, () => {
      const v = values(shape, shape.length + (shape[0] as number));
      const r = shape.length;
      const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => tf.transpose(tf.tensor(v, shape), perm).dataSync()) as Float32Array;
      expect(tf.memory().numTensors).toBe(before);
      expect(Array.from(got)).toEqual(Array.from(transposeReference(v, shape)));
    });
  }

  it('blockedTranspose itself equals the plain kernel, and the wrapper is installed once', () => {
    expect(installWasmTransposeFix()).toBe(true); // already installed by initBackend: idempotent
    const original = tf.getKernel('Transpose', 'wasm');
    expect(original).toBeDefined();
    const shape = [3, 512, 32];
    const v = values(shape, 9);
    const x = tf.tensor3d(v, shape as [number, number, number]);
    const backend = tf.engine().backend;
    const out = blockedTranspose(original.kernelFunc as unknown as KernelFunc, backend, { dataId: x.dataId, shape: x.shape, dtype: x.dtype });
    expect(out.shape).toEqual([3, 32, 512]);
    const got = Float32Array.from(backend.readSync(out.dataId) as Float32Array);
    backend.disposeData(out.dataId);
    expect(Array.from(got)).toEqual(Array.from(transposeReference(v, shape)));
    x.dispose();
  });

  it('a weight gradient xᵀ @ dy of a tall batch (transposeA) equals the float64 definition', () => {
    const sa = [512, 64];
    const sb = [512, 24];
    const av = values(sa, 3);
    const bv = values(sb, 4);
    const got = tf.tidy(() => tf.matMul(tf.tensor2d(av, sa as [number, number]), tf.tensor2d(bv, sb as [number, number]), true, false).dataSync()) as Float32Array;
    const ref = matMulReference(av, sa, bv, sb, true, false);
    const scale = Math.max(...Array.from(ref, Math.abs));
    expect(Math.max(...Array.from(got, (x, i) => Math.abs(x - (ref[i] as number))))).toBeLessThan(1e-5 * scale);
  });
});
