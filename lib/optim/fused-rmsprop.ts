/**
 * RMSprop's whole update as one kernel, `FrugalRmspropUpdate`, for the `wasm` and `cpu` backends:
 * {@link FlatRmspropOptimizer}'s composed path (12 to 15 kernels for a 4-variable model, plus 1 + 4
 * per variable to flatten and to apply) in one kernel (lib/optim/fused-kernels.ts: inputs
 * `w0 … w{n-1}`, `g0 … g{n-1}`, the flat mean square `rms` and, with momentum > 0, the flat
 * `momentum`; outputs the new weights, then the new slots).
 *
 * It computes what the composed path computes (tfjs's non-centred RMSprop), element by element,
 * in the same order, each operation rounded to float32 as each tf kernel rounds its output:
 *
 *     ms' = d ms + (1 - d) g^2       r = sqrt(ms' + eps)
 *     momentum 0:   w' = w + (-lr g) / r
 *     momentum mu:  mom' = mu mom + (lr g) / r,   w' = w + (-mom')
 *
 * with each scalar (`d`, `1 - d`, `eps`, `lr`, `-lr`, `mu`) computed in float64 and rounded to
 * float32 once ({@link rmspropScalars}), so the results are bit-identical to the composed path on
 * cpu and wasm (the argument of lib/optim/fused-adam.ts; tests/optim-fused-adam.test.ts checks it).
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_UPDATE_BACKENDS, numberAttr, registerFlatUpdate, runFlatUpdate, type FlatUpdateSpec } from './fused-kernels';

/** The kernel's name in the tfjs registry. */
export const FUSED_RMSPROP = 'FrugalRmspropUpdate';

/** Backends the fused kernel is registered for. */
export const FUSED_RMSPROP_BACKENDS = FUSED_UPDATE_BACKENDS;

/** RMSprop's hyper-parameters: the kernel's attributes. */
export interface FusedRmspropAttrs {
  /** Step size, > 0. */
  learningRate: number;
  /** Decay of the mean square, in [0, 1). */
  decay: number;
  /** Momentum, in [0, 1); 0: no momentum slot. */
  momentum: number;
  /** Added to the mean square under the root, >= 0. */
  epsilon: number;
}

/** The float32 scalars of one RMSprop step, as the composed path's scalar tensors hold them. */
export interface RmspropScalars {
  /** decay. */
  decay: number;
  /** 1 - decay. */
  oneMinusDecay: number;
  /** epsilon. */
  epsilon: number;
  /** learningRate (the momentum form). */
  lr: number;
  /** -learningRate (the form without momentum). */
  negLr: number;
  /** momentum. */
  momentum: number;
  /** Whether the step keeps a momentum slot (the hyper-parameter > 0, before rounding). */
  hasMomentum: boolean;
}

/** The scalars (see {@link RmspropScalars}): computed in float64, then rounded to float32 once. */
export function rmspropScalars(a: FusedRmspropAttrs): RmspropScalars {
  const f = Math.fround;
  return { decay: f(a.decay), oneMinusDecay: f(1 - a.decay), epsilon: f(a.epsilon), lr: f(a.learningRate), negLr: f(-a.learningRate), momentum: f(a.momentum), hasMomentum: a.momentum > 0 };
}

/**
 * One RMSprop step over `size` elements from offset `offset` of the flat slots (`mom` and
 * `momOut` given exactly when the step keeps momentum). Every operation rounded to float32, in the
 * composed path's order.
 */
export function fusedRmspropRange(
  w: ArrayLike<number>,
  g: ArrayLike<number>,
  ms: ArrayLike<number>,
  mom: ArrayLike<number> | undefined,
  offset: number,
  size: number,
  k: RmspropScalars,
  wOut: Float32Array,
  msOut: Float32Array,
  momOut: Float32Array | undefined,
): void {
  const f = Math.fround;
  const { decay, oneMinusDecay, epsilon, lr, negLr, momentum } = k;
  for (let i = 0; i < size; i++) {
    const j = offset + i;
    const gi = g[i] as number;
    const msi = f(f((ms[j] as number) * decay) + f(f(gi * gi) * oneMinusDecay)); // add(mul(ms, d), mul(square(g), 1 - d))
    const root = f(Math.sqrt(f(msi + epsilon))); // sqrt(add(ms, eps))
    msOut[j] = msi;
    if (mom === undefined || momOut === undefined) {
      wOut[i] = f((w[i] as number) + f(f(gi * negLr) / root)); // add(w, div(mul(g, -lr), root))
    } else {
      const momi = f(f((mom[j] as number) * momentum) + f(f(gi * lr) / root)); // add(mul(mom, mu), div(mul(g, lr), root))
      momOut[j] = momi;
      wOut[i] = f((w[i] as number) - momi); // add(w, neg(mom))
    }
  }
}

/**
 * The attributes, checked (the optimiser checks them before; this guards direct `runKernel` calls).
 * @throws Error `decay must be a number in [0, 1), got 1`, ...
 */
function rmspropAttrs(at: Record<string, unknown>): FusedRmspropAttrs {
  return {
    learningRate: numberAttr(at, 'learningRate', (x) => Number.isFinite(x) && x > 0, 'a finite number > 0'),
    decay: numberAttr(at, 'decay', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    momentum: numberAttr(at, 'momentum', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    epsilon: numberAttr(at, 'epsilon', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0'),
  };
}

/** The kernel: slots `rms` (and `momentum` when momentum > 0), the loop above. */
const RMSPROP_SPEC: FlatUpdateSpec<RmspropScalars> = {
  kernelName: FUSED_RMSPROP,
  scalars: (at) => rmspropScalars(rmspropAttrs(at)),
  slots: (k) => (k.hasMomentum ? ['rms', 'momentum'] : ['rms']),
  range: (w, g, [ms, mom], offset, size, k, wOut, [msOut, momOut]) =>
    fusedRmspropRange(w, g, ms as ArrayLike<number>, mom, offset, size, k, wOut, msOut as Float32Array, momOut),
};

/** Registers the kernel for wasm and cpu. Idempotent. */
export function registerFusedRmsprop(): void {
  registerFlatUpdate(RMSPROP_SPEC);
}

registerFusedRmsprop();

/**
 * Whether `backendName` (default: the active backend) has the fused kernel.
 * @returns true on wasm and cpu.
 */
export function hasFusedRmsprop(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(FUSED_RMSPROP, backendName) !== undefined;
}

/**
 * Runs the fused kernel: one RMSprop step for every variable. The caller assigns the results (the
 * lib's {@link FlatRmspropOptimizer} does, on wasm and cpu).
 * @param weights the variables' values, float32, in the order of the flat slots.
 * @param grads their gradients, each of its weight's shape.
 * @param rms the flat mean square, float32 `[total]`.
 * @param momentum the flat momentum `[total]`, exactly when `attrs.momentum > 0`.
 * @returns `[w0', …, w{n-1}', rms']`, then `momentum'` with momentum; owned by the caller.
 * @throws Error when the active backend has no such kernel, naming it; or on bad dtypes, shapes or
 *   attributes, naming the input and the value.
 */
export function fusedRmspropKernel(
  weights: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  rms: tf.Tensor1D,
  momentum: tf.Tensor1D | undefined,
  attrs: FusedRmspropAttrs,
): tf.Tensor[] {
  return runFlatUpdate(FUSED_RMSPROP, weights, grads, momentum === undefined ? { rms } : { rms, momentum }, attrs);
}
