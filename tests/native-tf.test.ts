// On native TensorFlow, 2-D products run as TensorFlow's MatMul op (lib/ops/native-tf.ts),
// batched ones as BatchMatMulV2; values and gradients against a hand loop in float64.
// Skipped where tfjs-node is not installed, unless FRUGAL_REQUIRE_NATIVE=1 (set by .ci/run).
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { installNativeKernels, NATIVE_MATMUL_MAX_MACS, useNativeKernels } from '../lib/ops/native-tf';
import { matMulReference } from './helpers/matmul-reference';
import { nativeInstalled } from './helpers/native';

const run = nativeInstalled() || process.env.FRUGAL_REQUIRE_NATIVE === '1';

/** Deterministic values in [-1, 1). */
const fill = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => (((i + 1) * 2654435761 + seed * 97) % 1000) / 500 - 1);

/** (a or aᵀ) @ (b or bᵀ) in float64, row-major [m, p] (tests/helpers/matmul-reference.ts). */
function reference(a: Float32Array, aShape: [number, number], ta: boolean, b: Float32Array, bShape: [number, number], tb: boolean): number[] {
  return Array.from(matMulReference(a, aShape, b, bShape, ta, tb));
}

interface Spied { ops: string[]; restore: () => void }

/** Records the TensorFlow op names tfjs-node's backend executes. */
function spyOps(): Spied {
  const backend = tf.backend() as unknown as { executeSingleOutput: (name: string, ...rest: unknown[]) => unknown };
  const original = backend.executeSingleOutput;
  const ops: string[] = [];
  backend.executeSingleOutput = function (this: unknown, name: string, ...rest: unknown[]) {
    ops.push(name);
    return original.call(this, name, ...rest);
  };
  return { ops, restore: () => { backend.executeSingleOutput = original; } };
}

describe.skipIf(!run)('native TensorFlow: 2-D products through MatMul', () => {
  let spy: Spied | null = null;
  beforeAll(async () => {
    expect(nativeInstalled(), 'FRUGAL_REQUIRE_NATIVE=1 but @tensorflow/tfjs-node is not installed').toBe(true);
    const report = await initBackend({ force: 'tensorflow' });
    expect(report.backend).toBe('tensorflow');
  });
  afterEach(() => {
    spy?.restore();
    spy = null;
  });

  it('is installed by initBackend, once', () => {
    spy = spyOps();
    tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])));
    expect(spy.ops).toEqual(['MatMul']); // initBackend wrapped the kernel (without it: BatchMatMulV2)
    const kernel = tf.getKernel('BatchMatMul', 'tensorflow');
    const reshape = tf.getKernel('Reshape', 'tensorflow');
    expect(installNativeKernels()).toEqual(['BatchMatMul', 'Reshape']);
    expect(tf.getKernel('BatchMatMul', 'tensorflow')?.kernelFunc).toBe(kernel?.kernelFunc); // not wrapped twice
    expect(tf.getKernel('Reshape', 'tensorflow')?.kernelFunc).toBe(reshape?.kernelFunc);
  });

  it('useNativeKernels(false) puts tfjs-node\'s own kernels back, (true) the lib\'s', () => {
    spy = spyOps();
    const product = (): void => tf.tidy(() => { tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])); });
    expect(useNativeKernels(false)).toEqual(['BatchMatMul', 'Reshape']);
    product();
    expect(useNativeKernels(true)).toEqual(['BatchMatMul', 'Reshape']);
    product();
    expect(spy.ops).toEqual(['BatchMatMulV2', 'MatMul']);
    useNativeKernels(false);
    expect(installNativeKernels()).toEqual(['BatchMatMul', 'Reshape']); // switches the lib's back on
    product();
    expect(spy.ops).toEqual(['BatchMatMulV2', 'MatMul', 'MatMul']);
  });

  it.each([
    ['float32', [2, 6], [3, -1]],
    ['int32', [2, 6], [12]],
    ['bool', [12], [2, 2, 3]],
  ] as const)('Reshape of %s %j to %j: the same values, no tfjs tensor made for the shape, nothing left behind', (dtype, from, to) => {
    const values = Array.from({ length: 12 }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : dtype === 'int32' ? i - 5 : i / 4 - 1));
    const x = tf.tensor(values, [...from], dtype);
    const engine = tf.engine() as unknown as { makeTensor: (...a: unknown[]) => unknown };
    const makeTensor = engine.makeTensor;
    let made = 0;
    engine.makeTensor = function (this: unknown, ...a: unknown[]) {
      made++;
      return makeTensor.apply(this, a);
    };
    spy = spyOps();
    const before = tf.memory().numTensors;
    let y: tf.Tensor;
    try {
      y = tf.reshape(x, [...to]);
    } finally {
      engine.makeTensor = makeTensor;
    }
    expect(made).toBe(0); // tfjs-node's own Reshape kernel makes a tf.tensor1d of the shape
    expect(spy.ops).toEqual(['Reshape']);
    expect(y.shape).toEqual(to[0] === 3 ? [3, 4] : [...to]);
    expect(y.dtype).toBe(dtype);
    expect(Array.from(y.dataSync())).toEqual(values);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it.each([[false, false], [true, false], [false, true], [true, true]])('transposeA %s, transposeB %s: MatMul, values within 1e-5', (ta, tb) => {
    const aShape: [number, number] = ta ? [5, 3] : [3, 5];
    const bShape: [number, number] = tb ? [4, 5] : [5, 4];
    const a = fill(15, 1);
    const b = fill(20, 2);
    spy = spyOps();
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => Array.from(tf.matMul(tf.tensor2d(a, aShape), tf.tensor2d(b, bShape), ta, tb).dataSync()));
    expect(tf.memory().numTensors).toBe(before);
    expect(spy.ops).toContain('MatMul');
    expect(spy.ops).not.toContain('BatchMatMulV2');
    const want = reference(a, aShape, ta, b, bShape, tb);
    got.forEach((v, i) => expect(Math.abs(v - (want[i] as number))).toBeLessThan(1e-5));
  });

  it('gradients of a 2-D product (two 2-D products) run as MatMul and match dy @ bᵀ, aᵀ @ dy', () => {
    const a = fill(12, 3);
    const b = fill(8, 4);
    spy = spyOps();
    const [ga, gb] = tf.tidy(() => {
      const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D)));
      return g([tf.tensor2d(a, [6, 2]), tf.tensor2d(b, [2, 4])]).map((t) => t.arraySync() as number[][]);
    });
    expect(spy.ops.filter((o) => o === 'MatMul')).toHaveLength(3);
    // d sum(a @ b) / da[i][k] = sum_j b[k][j]; / db[k][j] = sum_i a[i][k]
    for (let i = 0; i < 6; i++) for (let k = 0; k < 2; k++) {
      const want = [0, 1, 2, 3].reduce((s, j) => s + (b[k * 4 + j] as number), 0);
      expect(Math.abs((ga?.[i]?.[k] as number) - want)).toBeLessThan(1e-5);
    }
    for (let k = 0; k < 2; k++) for (let j = 0; j < 4; j++) {
      const want = [0, 1, 2, 3, 4, 5].reduce((s, i) => s + (a[i * 2 + k] as number), 0);
      expect(Math.abs((gb?.[k]?.[j] as number) - want)).toBeLessThan(1e-5);
    }
  });

  it('batched (3-D) products keep BatchMatMulV2, with the same values', () => {
    const a = fill(2 * 3 * 5, 5);
    const b = fill(2 * 5 * 4, 6);
    spy = spyOps();
    const got = tf.tidy(() => Array.from(tf.matMul(tf.tensor3d(a, [2, 3, 5]), tf.tensor3d(b, [2, 5, 4])).dataSync()));
    expect(spy.ops).toEqual(['BatchMatMulV2']);
    for (let batch = 0; batch < 2; batch++) {
      const want = reference(a.subarray(batch * 15, batch * 15 + 15), [3, 5], false, b.subarray(batch * 20, batch * 20 + 20), [5, 4], false);
      want.forEach((w, i) => expect(Math.abs((got[batch * 12 + i] as number) - w)).toBeLessThan(1e-5));
    }
  });

  it.each([[false, false], [true, true]])('a batch of one ([1, m, n]) runs as MatMul between two Reshapes, transposeA %s, transposeB %s', (ta, tb) => {
    const a = fill(15, 9);
    const b = fill(20, 10);
    spy = spyOps();
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => tf.matMul(tf.tensor3d(a, ta ? [1, 5, 3] : [1, 3, 5]), tf.tensor3d(b, tb ? [1, 4, 5] : [1, 5, 4]), ta, tb));
    expect(out.shape).toEqual([1, 3, 4]);
    const got = Array.from(out.dataSync());
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(spy.ops).toEqual(['Reshape', 'Reshape', 'MatMul', 'Reshape']);
    const want = reference(a, ta ? [5, 3] : [3, 5], ta, b, tb ? [4, 5] : [5, 4], tb);
    want.forEach((w, i) => expect(Math.abs((got[i] as number) - w)).toBeLessThan(1e-5));
  });

  it('products over NATIVE_MATMUL_MAX_MACS multiply-adds keep BatchMatMulV2', () => {
    expect(NATIVE_MATMUL_MAX_MACS).toBe(512 * 256 * 256);
    spy = spyOps();
    tf.tidy(() => {
      const a = tf.ones([512, 256]);
      tf.matMul(a, tf.ones([256, 256])); // exactly the limit
      const over = tf.matMul(a, tf.ones([256, 257])); // one column more
      expect(over.dataSync()[0]).toBe(256);
    });
    expect(spy.ops).toEqual(['MatMul', 'BatchMatMulV2']);
  });

  it('tf.fused.matMul (tfjs-layers Dense) with bias and relu goes through MatMul too', () => {
    const a = fill(6, 7);
    const b = fill(6, 8);
    spy = spyOps();
    const got = tf.tidy(() => Array.from(tf.fused.matMul({ a: tf.tensor2d(a, [2, 3]), b: tf.tensor2d(b, [3, 2]), bias: tf.tensor1d([0.5, -10]), activation: 'relu' }).dataSync()));
    expect(spy.ops).toContain('MatMul');
    expect(spy.ops).not.toContain('BatchMatMulV2');
    const want = reference(a, [2, 3], false, b, [3, 2], false).map((v, i) => Math.max(0, v + (i % 2 === 0 ? 0.5 : -10)));
    got.forEach((v, i) => expect(Math.abs(v - (want[i] as number))).toBeLessThan(1e-5));
  });
});
