/**
 * Two tfjs-node kernels replaced on native TensorFlow: small matrix products through TensorFlow's
 * `MatMul` op instead of `BatchMatMulV2`, and `Reshape` without a tfjs tensor for its shape.
 *
 * **Products.** tfjs-node 4.22 runs every `tf.matMul` (and `tf.fused.matMul`, which calls it) as
 * TensorFlow's `BatchMatMulV2`, whatever the operands' rank. With the tensorflow-cpu 2.21 library
 * on this 2-vCPU machine (oneDNN on, 2 intra-op threads), that op pays a large fixed cost on small
 * products, which `MatMul` does not. Measured 2026-12-02 on the quiet machine, per call:
 * `[1, 512] @ [512, 512]` (a decoding step's projection) 119 µs against 27 µs; `[64, 64] @ [64, 8]`
 * 85 µs against 13 µs; `[1024, 128]ᵀ @ [1024, 64]` (a weight gradient) 186 µs against 116 µs;
 * `[1024, 64] @ [128, 64]ᵀ` 246 µs against 158 µs. Both ops are oneDNN's matmul, and `MatMul`
 * takes the transpose flags as attributes, so no copy is made. The wrapper runs `MatMul` when both
 * operands are float32 matrices, or batches of one matrix, and the product is at most
 * {@link NATIVE_MATMUL_MAX_MACS} multiply-adds; the original kernel runs otherwise.
 * `tf.fused.matMul`, hence tfjs-layers' Dense, reshapes its operands to `[1, m, n]`: those are
 * reshaped to matrices and back by TensorFlow's `Reshape`.
 *
 * **Reshape.** tfjs-node's `Reshape` kernel makes its shape operand a tfjs tensor (`tf.tensor1d`)
 * inside the kernel, then disposes it: 21 µs per `tf.reshape` of a `[1, 512]` here, against 6 µs
 * for TensorFlow's op alone. The replacement writes the shape straight into the backend (no
 * engine tensor) and frees it after the op.
 *
 * {@link installNativeKernels} re-registers both kernels of the tensorflow backend with these
 * wrappers. The engine, the tape and the gradients see the original kernel names and attributes
 * (tfjs's gradient of a product is two products, which take the same path).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NodeBackendLike } from './kernel-backend';

/**
 * Products of at most this many multiply-adds (m·n·p) run as `MatMul`; larger ones keep
 * `BatchMatMulV2`. Measured 2026-12-02 (quiet, best of two): `MatMul` took 0.72 to 0.88 of
 * `BatchMatMulV2`'s time from 16.8M to 33.6M multiply-adds (`[256, 256]²`, `[512, 256] @
 * [256, 256]`, each transpose flag); from 67M to 1074M the two were within ±25 % either way, in no
 * consistent direction, and the MoE bench's all-experts layer (products of 268M with transposes)
 * was 4 % slower, interleaved, with every product on `MatMul`.
 */
export const NATIVE_MATMUL_MAX_MACS = 2 ** 25;

/** Marks a wrapped kernel function, so installing twice wraps once. */
const WRAPPED = new WeakSet<object>();

function isNodeBackend(backend: unknown): backend is NodeBackendLike {
  const b = backend as Partial<NodeBackendLike> | null;
  return typeof b?.executeSingleOutput === 'function' && typeof b.write === 'function' && typeof b.binding?.TF_ATTR_BOOL === 'number';
}

/** `[m, n]` when `x` is a float32 matrix, or a batch of one (`[1, m, n]`); else null. */
function matrixShape(x: tf.TensorInfo | undefined): [number, number] | null {
  if (x === undefined || x.dtype !== 'float32') return null;
  const s = x.shape;
  if (s.length === 2) return [s[0] as number, s[1] as number];
  if (s.length === 3 && s[0] === 1) return [s[1] as number, s[2] as number];
  return null;
}

/** TensorFlow's type code of a tfjs dtype, for the ones the replacements handle. */
function tfType(binding: NodeBackendLike['binding'], dtype: tf.DataType): number | null {
  if (dtype === 'float32') return binding.TF_FLOAT;
  if (dtype === 'int32') return binding.TF_INT32;
  if (dtype === 'bool') return binding.TF_BOOL;
  return null;
}

/**
 * TensorFlow's `Reshape` of `x` (of TensorFlow type `type`) to `shape`, its shape operand written
 * for this call and freed after it. The caller disposes the result.
 */
function reshapeOp(backend: NodeBackendLike, x: tf.TensorInfo, shape: readonly number[], type: number): tf.TensorInfo {
  const { binding } = backend;
  const shapeInfo: tf.TensorInfo = { dataId: backend.write(Int32Array.from(shape), [shape.length], 'int32'), shape: [shape.length], dtype: 'int32' };
  try {
    return backend.executeSingleOutput('Reshape', [
      { name: 'T', type: binding.TF_ATTR_TYPE, value: type },
      { name: 'Tshape', type: binding.TF_ATTR_TYPE, value: binding.TF_INT32 },
    ], [x, shapeInfo]);
  } finally {
    backend.disposeData(shapeInfo.dataId);
  }
}

/**
 * Replaces the tensorflow backend's `BatchMatMul` and `Reshape` kernels (see the file header).
 * Idempotent; a no-op where the tensorflow backend's kernels are not registered (tfjs-node not
 * loaded).
 * @returns the names of the kernels now replaced (empty without tfjs-node).
 */
export function installNativeKernels(): string[] {
  const done: string[] = [];
  if (wrapKernel('BatchMatMul', matMulKernel)) done.push('BatchMatMul');
  if (wrapKernel('Reshape', reshapeKernel)) done.push('Reshape');
  return done;
}


/** Each replaced kernel: tfjs-node's own config and the lib's. */
const REPLACED = new Map<string, { stock: tf.KernelConfig; lib: tf.KernelConfig }>();

/** Registers `make(original)` in place of the tensorflow backend's kernel `name`, once. */
function wrapKernel(name: string, make: (original: KernelFunc) => KernelFunc): boolean {
  const config = tf.getKernel(name, 'tensorflow');
  if (config === undefined) return false;
  if (WRAPPED.has(config.kernelFunc)) return true;
  const known = REPLACED.get(name);
  if (known?.stock === config) { // switched off by useNativeKernels(false): switch back on
    tf.unregisterKernel(name, 'tensorflow');
    tf.registerKernel(known.lib);
    return true;
  }
  const kernelFunc = make(config.kernelFunc as unknown as KernelFunc);
  WRAPPED.add(kernelFunc);
  const replacement = { ...config, kernelFunc } as tf.KernelConfig;
  REPLACED.set(name, { stock: config, lib: replacement });
  tf.unregisterKernel(name, 'tensorflow');
  tf.registerKernel(replacement);
  return true;
}

/**
 * Switches between tfjs-node's own kernels (`false`) and the lib's replacements (`true`, what
 * {@link installNativeKernels} leaves), for a before/after comparison in one process
 * (`npm run bench -- --interleave` with a case id ending in `@stock-native`).
 * @returns the names of the kernels switched (empty before {@link installNativeKernels} ran).
 */
export function useNativeKernels(on: boolean): string[] {
  for (const [name, { stock, lib }] of REPLACED) {
    tf.unregisterKernel(name, 'tensorflow');
    tf.registerKernel(on ? lib : stock);
  }
  return [...REPLACED.keys()];
}

/** `Reshape` with its shape operand written to the backend directly; other dtypes: the original. */
function reshapeKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const shape = args.attrs?.['shape'];
    const backend = args.backend;
    if (x === undefined || !Array.isArray(shape) || !isNodeBackend(backend)) return original(args);
    const type = tfType(backend.binding, x.dtype);
    if (type === null) return original(args); // string, complex64
    return reshapeOp(backend, x, shape as number[], type);
  };
}

/** `BatchMatMul` as TensorFlow's `MatMul` for small products of matrices; others: the original. */
function matMulKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs;
    const backend = args.backend;
    const aShape = matrixShape(a);
    const bShape = matrixShape(b);
    if (a === undefined || b === undefined || aShape === null || bShape === null || a.shape.length !== b.shape.length || !isNodeBackend(backend)) {
      return original(args); // batched, mixed ranks, or not float32
    }
    const attrs = args.attrs ?? {};
    const transposeA = attrs['transposeA'] === true;
    const transposeB = attrs['transposeB'] === true;
    const macs = aShape[0] * aShape[1] * (transposeB ? bShape[0] : bShape[1]); // m·n·p, whichever side of a is m
    if (macs > NATIVE_MATMUL_MAX_MACS) return original(args);
    const { binding } = backend;
    const batched = a.shape.length === 3; // [1, m, n]: TensorFlow's MatMul takes matrices only
    const temps: tf.TensorInfo[] = [];
    const matrix = (x: tf.TensorInfo, shape: [number, number]): tf.TensorInfo => {
      if (!batched) return x;
      const m = reshapeOp(backend, x, shape, binding.TF_FLOAT);
      temps.push(m);
      return m;
    };
    try {
      const product = backend.executeSingleOutput('MatMul', [
        { name: 'T', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
        { name: 'transpose_a', type: binding.TF_ATTR_BOOL, value: transposeA },
        { name: 'transpose_b', type: binding.TF_ATTR_BOOL, value: transposeB },
      ], [matrix(a, aShape), matrix(b, bShape)]);
      if (!batched) return product;
      temps.push(product);
      return reshapeOp(backend, product, [1, ...product.shape], binding.TF_FLOAT); // [m, p] -> [1, m, p]
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}
