/**
 * lib/ops/matmul.ts's matMulTransposeB (`a @ bᵀ` over a batch, MLA's absorbed scores against the
 * cache): the values and both gradients of `tf.matMul(a, b, false, true)` on cpu and wasm, the form
 * each backend runs (two transposes on wasm, none elsewhere), the error, and no leak.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../lib/backend';
import { matMulTransposeB } from '../lib/ops/matmul';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';

function randn(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => rng.normal()), shape);
}

const maxAbsDiff = (x: tf.Tensor, y: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0] as number);
const r3 = (t: tf.Tensor): tf.Tensor3D => t as tf.Tensor3D;

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`matMulTransposeB on ${backend}`, () => {
    it('equals tf.matMul(a, b, false, true) in value and in both gradients', async () => {
      await initBackend({ force: backend });
      tf.tidy(() => {
        const rng = new Rng(5);
        const a = randn(rng, [2, 3, 7]);
        const b = randn(rng, [2, 9, 7]);
        const R = randn(rng, [2, 3, 9]);
        expect(matMulTransposeB(r3(a), r3(b)).shape).toEqual([2, 3, 9]);
        expect(maxAbsDiff(matMulTransposeB(r3(a), r3(b)), tf.matMul(a, b, false, true))).toBeLessThan(1e-5);
        const mine = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMulTransposeB(r3(x), r3(y)), R)))([a, b]);
        const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, false, true), R)))([a, b]);
        mine.forEach((g, i) => expect(maxAbsDiff(g, ref[i] as tf.Tensor), `gradient ${i}`).toBeLessThan(1e-5));
      });
    });

    it(`runs ${backend === 'wasm' ? 'two transposes around a plain product' : 'the transposeB product, no transpose'}, and leaks nothing`, async () => {
      await initBackend({ force: backend });
      const a = tf.ones<tf.Rank.R3>([1, 2, 4]);
      const b = tf.ones<tf.Rank.R3>([1, 5, 4]);
      const names = (await tf.profile(() => matMulTransposeB(a, b))).kernels.map((k) => k.name); // kernelNames holds each name once
      expect(names.filter((k) => k === 'Transpose').length).toBe(backend === 'wasm' ? 2 : 0);
      expectNoLeak(() => matMulTransposeB(a, b));
      expect(() => matMulTransposeB(a, tf.ones<tf.Rank.R3>([1, 5, 3]))).toThrowError(/^matMulTransposeB needs \[b, m, n\] and \[b, p, n\], got \[1, 2, 4\] and \[1, 5, 3\]$/);
      tf.dispose([a, b]);
    });
  });
}
