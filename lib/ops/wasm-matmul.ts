/**
 * WASM's matMul without its slow transposed path, for every product at once (layers, attention,
 * gradients).
 *
 * tfjs-backend-wasm 4.22's `BatchMatMul` (and `_FusedMatMul`) with `transposeA` or `transposeB`
 * leaves XNNPACK's fast kernel. Measured here (2 vCPUs, under load, `/tmp`-free micro-benchmark
 * described in bench/README.md): `[256, 256]` products took 60 ms with `transposeA` and 52 ms with
 * `transposeB` against 2.3 ms and 5.7 ms as an explicit transpose then a plain product; at 1024²,
 * 8.4 s against 0.65 s; even the distillation student's `[64, 64]ᵀ @ [64, 8]` took 47 µs against
 * 25 µs. Every Dense layer's backward pass uses both flags (tfjs's matMul gradient is
 * `dy @ bᵀ`, `aᵀ @ dy`), and attention's `q @ kᵀ` uses `transposeB` forward.
 *
 * {@link installWasmMatMulTransposeFix} re-registers the two wasm kernels with a wrapper that
 * transposes a flagged operand explicitly (wasm's `Transpose` kernel, a copy) and runs the
 * original kernel without the flag. Same products (an exact copy, then the same XNNPACK kernel),
 * and the engine, the tape and the gradients see the original kernel name and attributes.
 * Operands under {@link MIN_EXPLICIT_TRANSPOSE} elements keep the flag: there the copy costs more
 * than it saves.
 */
import * as tf from '@tensorflow/tfjs';

/** Operands with fewer elements keep wasm's transposed path (measured: [8, 10]ᵀ was no slower). */
export const MIN_EXPLICIT_TRANSPOSE = 256;

/** The kernels wrapped (both take inputs `a`, `b` and attributes `transposeA`, `transposeB`). */
const KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;

/** Marks a wrapped kernel function, so installing twice wraps once. */
const WRAPPED = new WeakSet<object>();

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: tf.KernelBackend;
  attrs?: Record<string, unknown>;
}

/**
 * Wraps wasm's `BatchMatMul` and `_FusedMatMul` so that flagged operands are transposed
 * explicitly. Idempotent; a no-op where the wasm backend's kernels are not registered.
 * @returns the names of the kernels now wrapped (empty when wasm is absent).
 */
export function installWasmMatMulTransposeFix(): string[] {
  const transposeKernel = tf.getKernel('Transpose', 'wasm');
  if (transposeKernel === undefined) return [];
  const wrapped: string[] = [];
  for (const name of KERNELS) {
    const original = tf.getKernel(name, 'wasm');
    if (original === undefined) continue;
    if (WRAPPED.has(original.kernelFunc)) {
      wrapped.push(name);
      continue;
    }
    const kernelFunc = (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
      const attrs = args.attrs ?? {};
      const { a, b } = args.inputs;
      let transposeA = attrs['transposeA'] === true;
      let transposeB = attrs['transposeB'] === true;
      if ((!transposeA && !transposeB) || a === undefined || b === undefined) return original.kernelFunc(args as never);
      const temps: tf.TensorInfo[] = [];
      // [..., r, c] -> [..., c, r], as a copy in wasm memory (disposed below)
      const flip = (x: tf.TensorInfo): tf.TensorInfo => {
        const r = x.shape.length;
        const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
        const out = transposeKernel.kernelFunc({ inputs: { x }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
        temps.push(out);
        return out;
      };
      const size = (x: tf.TensorInfo): number => x.shape.reduce((p, d) => p * d, 1);
      const inputs = { ...args.inputs };
      if (transposeA && size(a) >= MIN_EXPLICIT_TRANSPOSE) {
        inputs['a'] = flip(a);
        transposeA = false;
      }
      if (transposeB && size(b) >= MIN_EXPLICIT_TRANSPOSE) {
        inputs['b'] = flip(b);
        transposeB = false;
      }
      try {
        return original.kernelFunc({ ...args, inputs, attrs: { ...attrs, transposeA, transposeB } });
      } finally {
        for (const t of temps) args.backend.disposeData(t.dataId);
      }
    };
    WRAPPED.add(kernelFunc);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    wrapped.push(name);
  }
  return wrapped;
}
