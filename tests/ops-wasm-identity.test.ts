/**
 * lib/ops/wasm-identity.ts: on wasm, a clone shares its source's buffer (one more reference, no
 * copy), outlives the source's disposal with the same values, frees the buffer with the last
 * reference, and leaves gradients (whose saved tensors are clones) unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { installWasmIdentityFix } from '../lib/ops/wasm-identity';
import { wrapBackendKernel } from '../lib/ops/wrap-kernel';

describe('wasm Identity without the copy', () => {
  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
  });
  afterAll(async () => {
    await initBackend({ force: 'cpu' });
  });

  it('a clone shares the buffer and outlives its source; the buffer goes with the last reference', () => {
    const registered = tf.getKernel('Identity', 'wasm')?.kernelFunc;
    expect(installWasmIdentityFix()).toBe(true); // installed by initBackend already: idempotent
    expect(tf.getKernel('Identity', 'wasm')?.kernelFunc).toBe(registered); // not wrapped twice
    expect(wrapBackendKernel('Identity', 'no-such-backend', (original) => original)).toBe(false);
    const backend = tf.engine().backend as tf.KernelBackend & { refCount(dataId: tf.DataId): number };
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId); // shared, not copied
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(backend.refCount(y.dataId)).toBe(1);
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([2, 3]);
    y.dispose();
    expect(backend.refCount(y.dataId)).toBe(0); // freed
  });

  it('gradients through ops that save their inputs equal the CPU backend\'s', async () => {
    const f = (): number[] => {
      const x = tf.tensor2d([[0.5, -1, 2], [3, -0.25, 1]]);
      const w = tf.tensor2d([[1, -2], [0.5, 1], [-1, 0.25]]);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.sigmoid(tf.matMul(tf.mul(a, a), b)))))([x, w]);
      const out = [...(gx as tf.Tensor).dataSync(), ...(gw as tf.Tensor).dataSync()];
      tf.dispose([x, w, gx, gw]);
      return out;
    };
    const wasm = f();
    await initBackend({ force: 'cpu' });
    const cpu = f();
    await initBackend({ force: 'wasm' });
    // Reference: tfjs's CPU backend (float32 loops) on the same inputs
    wasm.forEach((v, i) => expect(Math.abs(v - (cpu[i] as number))).toBeLessThan(1e-6));
  });

  it('string tensors keep the original kernel', () => {
    const s = tf.tensor1d(['a', 'b'], 'string');
    const c = tf.clone(s);
    expect(c.dataSync()).toEqual(['a', 'b']);
    tf.dispose([s, c]);
  });
});
