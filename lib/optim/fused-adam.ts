/**
 * Adam's whole update as one kernel, for the `wasm` and `cpu` backends (issue 13: a small model's
 * step on wasm costs per kernel dispatched, not per FLOP; the composed flat Adam of
 * lib/optim/flat.ts dispatches 26 kernels for a 4-variable model, this one 1).
 *
 * `FrugalAdamUpdate` takes, for n variables, the weights `w0 … w{n-1}` and their gradients
 * `g0 … g{n-1}` (float32, any shapes, `gj` of `wj`'s shape), and the flat first and second moments
 * `m`, `v` (float32 `[total]`, the variables' elements concatenated in order), and in one pass
 * writes n + 2 outputs: the new weights (each of its variable's shape), then the new `m` and `v`.
 *
 * It computes exactly what {@link FlatAdamOptimizer}'s composed path computes, element by element
 * and in the same order, rounding to float32 (`Math.fround`) after every operation as each tf
 * kernel rounds its float32 output:
 *
 *     m' = b1 m + (1 - b1) g                 v' = b2 v + (1 - b2) g^2
 *     w' = w + (s m') / (sqrt(c v') + eps)    with s = -lr / (1 - beta1^t), c = 1 / (1 - beta2^t)
 *
 * where every scalar (`b1`, `1 - b1`, `b2`, `1 - b2`, `s`, `c`, `eps`) is computed in float64 and
 * rounded to float32 once, as tfjs does when it turns a number into a float32 scalar tensor
 * ({@link adamScalars}). A float32 product, sum, quotient or square root computed in float64 and
 * rounded once is the correctly rounded float32 result (float64 has more than 2 · 24 + 2 bits), so
 * the weights and moments are bit-identical to the composed path's on cpu (which computes in
 * float64 and stores float32) and on wasm (float32 arithmetic); tests/optim-fused-adam.test.ts
 * checks it.
 *
 * The kernels are plain JavaScript loops over the tensors' memory (lib/optim/fused-kernels.ts: on
 * wasm, views of the heap, no copy; on cpu the backend's arrays). Other backends (webgl,
 * tensorflow) have no such kernel and keep the composed tf ops ({@link hasFusedAdam}). The kernels
 * are registered when this module loads (idempotent). No gradient is registered: an optimiser's
 * update is not differentiated.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_UPDATE_BACKENDS, numberAttr, registerFlatUpdate, runFlatUpdate, type FlatUpdateSpec } from './fused-kernels';

/** The kernel's name in the tfjs registry. */
export const FUSED_ADAM = 'FrugalAdamUpdate';

/** Backends the fused kernel is registered for. */
export const FUSED_ADAM_BACKENDS = FUSED_UPDATE_BACKENDS;

/** Adam's hyper-parameters and step number: the kernel's attributes. */
export interface FusedAdamAttrs {
  /** Step size, > 0. */
  learningRate: number;
  /** Decay of the first moment, in [0, 1). */
  beta1: number;
  /** Decay of the second moment, in [0, 1). */
  beta2: number;
  /** Added to sqrt(v_hat), >= 0. */
  epsilon: number;
  /** This step's number, an integer >= 1 (for the bias corrections). */
  step: number;
}

/**
 * The float32 scalars of one Adam step, as the composed path's scalar tensors hold them: each
 * computed in float64 from the hyper-parameters, then rounded to float32 once.
 */
export interface AdamScalars {
  /** beta1. */
  b1: number;
  /** 1 - beta1. */
  oneMinusB1: number;
  /** beta2. */
  b2: number;
  /** 1 - beta2. */
  oneMinusB2: number;
  /** -lr / (1 - beta1^t): the step's scale of m. */
  scale: number;
  /** 1 / (1 - beta2^t): the bias correction of v. */
  invBc2: number;
  /** epsilon. */
  epsilon: number;
}

/**
 * The scalars of step `t` (see {@link AdamScalars}), in float64 then rounded to float32: the one
 * place the composed and the fused paths take them from.
 */
export function adamScalars(a: FusedAdamAttrs): AdamScalars {
  const bc1 = 1 - a.beta1 ** a.step; // bias corrections, float64
  const bc2 = 1 - a.beta2 ** a.step;
  const f = Math.fround;
  return {
    b1: f(a.beta1),
    oneMinusB1: f(1 - a.beta1),
    b2: f(a.beta2),
    oneMinusB2: f(1 - a.beta2),
    scale: f(-a.learningRate / bc1),
    invBc2: f(1 / bc2),
    epsilon: f(a.epsilon),
  };
}

/**
 * One Adam step over `size` elements, from offset `offset` of the flat moments: reads `w`, `g`
 * (the variable's own arrays, from 0) and `m`, `v` (from `offset`), writes `wOut` (from 0) and
 * `mOut`, `vOut` (from `offset`). Every operation rounded to float32, in the composed path's order.
 */
export function fusedAdamRange(
  w: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  offset: number,
  size: number,
  k: AdamScalars,
  wOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
): void {
  const f = Math.fround;
  const { b1, oneMinusB1, b2, oneMinusB2, scale, invBc2, epsilon } = k;
  for (let i = 0; i < size; i++) {
    const j = offset + i;
    const gi = g[i] as number;
    const mi = f(f((m[j] as number) * b1) + f(gi * oneMinusB1)); // add(mul(m, b1), mul(g, 1 - b1))
    const vi = f(f((v[j] as number) * b2) + f(f(gi * gi) * oneMinusB2)); // add(mul(v, b2), mul(square(g), 1 - b2))
    const den = f(f(Math.sqrt(f(vi * invBc2))) + epsilon); // add(sqrt(mul(v, c)), eps)
    const delta = f(f(mi * scale) / den); // div(mul(m, s), den)
    mOut[j] = mi;
    vOut[j] = vi;
    wOut[i] = f((w[i] as number) + delta); // add(w, delta)
  }
}

/** The kernel: Adam's scalars from the attributes, slots `m` and `v`, the loop above. */
const ADAM_SPEC: FlatUpdateSpec<AdamScalars> = {
  kernelName: FUSED_ADAM,
  scalars: (at) => adamScalars(adamAttrs(at)),
  slots: () => ['m', 'v'],
  range: (w, g, [m, v], offset, size, k, wOut, [mOut, vOut]) =>
    fusedAdamRange(w, g, m as ArrayLike<number>, v as ArrayLike<number>, offset, size, k, wOut, mOut as Float32Array, vOut as Float32Array),
};

/**
 * The attributes, checked (the optimiser checks them before; this guards direct `runKernel` calls).
 * @throws Error `learningRate must be a finite number > 0, got 0`, `step must be an integer >= 1, got 0`, ...
 */
function adamAttrs(at: Record<string, unknown>): FusedAdamAttrs {
  return {
    learningRate: numberAttr(at, 'learningRate', (x) => Number.isFinite(x) && x > 0, 'a finite number > 0'),
    beta1: numberAttr(at, 'beta1', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    beta2: numberAttr(at, 'beta2', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    epsilon: numberAttr(at, 'epsilon', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0'),
    step: numberAttr(at, 'step', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
  };
}

/** Registers the kernel for wasm and cpu. Idempotent (a second call, or a second copy of the lib, leaves the first). */
export function registerFusedAdam(): void {
  registerFlatUpdate(ADAM_SPEC);
}

registerFusedAdam();

/**
 * Whether `backendName` (default: the active backend) has the fused kernel.
 * @returns true on wasm and cpu.
 */
export function hasFusedAdam(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(FUSED_ADAM, backendName) !== undefined;
}

/**
 * Runs the fused kernel: one Adam step for every variable, in one kernel. The caller assigns the
 * results (the lib's {@link FlatAdamOptimizer} does, on wasm and cpu).
 * @param weights the variables' values, float32, in the order of the flat moments.
 * @param grads their gradients, each of its weight's shape.
 * @param m the flat first moment, float32 `[total]`.
 * @param v the flat second moment, float32 `[total]`.
 * @param attrs the hyper-parameters and the step number `t` >= 1.
 * @returns `[w0', …, w{n-1}', m', v']`, owned by the caller.
 * @throws Error when the active backend has no such kernel (webgl, tensorflow), naming it; or on
 *   bad dtypes, shapes or attributes, naming the input and the value.
 */
export function fusedAdamKernel(
  weights: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  m: tf.Tensor1D,
  v: tf.Tensor1D,
  attrs: FusedAdamAttrs,
): tf.Tensor[] {
  return runFlatUpdate(FUSED_ADAM, weights, grads, { m, v }, attrs);
}
