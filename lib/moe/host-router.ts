/**
 * The MoE router's per-token maths in one host pass: probabilities, the top-k choice, the gates,
 * the Switch balance loss, the router z-loss and the entropy statistic, forward and backward.
 *
 * Why: the router works on `[n, E]` tensors (4096 × 8 in the bench), and as tensor ops it is a
 * hundred-odd small kernels per training step (softmax or sigmoid, top-k, the gate gather and
 * normalisation, the two aux losses, the entropy, and all their gradients). On native TensorFlow
 * each kernel costs a fixed 50–120 µs whatever its size, so those ops took ~12 ms of the MoE
 * bench's step, more than the sparse experts themselves (bench/README.md, the MoE section). Here
 * the logits are read once (the tensor path also reads back, the chosen ids), everything is
 * computed in JavaScript, and two `tf.customGrad` ops return the gates and the three loss scalars
 * (one unstack); the gradient `dLogits` is computed in one JavaScript pass from the incoming
 * `dGates`, and one from `dAux`, `dBalance` and `dZ` when a loss is differentiated.
 *
 * Same maths as {@link chooseExperts} + {@link pickGates} + {@link loadBalancingLossFromCounts} +
 * {@link routerZLoss} + {@link routerEntropy} (router.ts, balance.ts): scores `softmax(u)` or
 * `sigmoid(u)`, the choice the k largest `score + bias` (DeepSeek-V3: the bias picks, it never
 * enters a gate; ties go to the lower expert id, as `tf.topk`), gates the scores at the chosen
 * experts, divided by `Σ_chosen + 1e-20` with `normalize`. Intermediates are float64, outputs
 * rounded to float32: values differ from the tensor path by float32 rounding only (tests check
 * 1e-5), except where two experts' scores tie within rounding, where the two paths may choose
 * differently.
 *
 * Gradients (per token, `s` the scores, `p` the probs, `ℓ = logsumexp(u)`):
 * - gates: `∂/∂s_e = G_e` (unnormalised), `(G_e − Σ_r G_r g_r) / S` (normalised, `S = Σ_chosen s + 1e-20`);
 * - balance `N Σ_i f_i P_i`: `∂/∂p_ti = dB · N · f_i / T`; for sigmoid `p = s / Σ s`, so
 *   `∂/∂s_j = (∂p_j − Σ_i ∂p_i p_i) / Σ s`;
 * - scores to logits: softmax `p_j (∂s_j − Σ_i ∂s_i p_i)`; sigmoid `∂s_j · s_j (1 − s_j)`;
 * - z-loss `(1/T) Σ_t ℓ_t²`: `∂/∂u_tj = dZ · 2 ℓ_t / T · softmax(u_t)_j`.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';
import { assertTopK, type RouterKind } from './router';

/**
 * Where the MoE layer computes its router's per-token maths: `tensors` (tensor ops: router.ts and
 * balance.ts) or `host` ({@link hostRoute}: one op, forward and backward in JavaScript).
 */
export type RouterMath = 'tensors' | 'host';

/**
 * The router path for the active backend: `host` on `tensorflow` (native TensorFlow, where each
 * of the tensor path's small kernels costs a fixed 50–120 µs; measured faster there in every
 * interleaved run, bench/README.md, the MoE section). `tensors` elsewhere: on `wasm` the router
 * alone is faster on the host (about 0.5×) but the whole layer was not measured faster in a
 * consistent way (and the lessons run there), `cpu` stays the tests' tensor-op reference,
 * webgl/webgpu were not measured (a read-back costs more there).
 */
export function defaultRouterMath(): RouterMath {
  return tf.getBackend() === 'tensorflow' ? 'host' : 'tensors';
}

/** Options of {@link hostRoute}. */
export interface HostRouteOptions {
  /** `softmax` (Switch/GShard/DeepSeekMoE) or `sigmoid` (DeepSeek-V3). */
  kind: RouterKind;
  /** Experts per token, in [1, E]. */
  topK: number;
  /** Per-expert selection bias (DeepSeek-V3), E numbers: added to the scores for the choice only. Default none. */
  bias?: ArrayLike<number> | null;
  /** Divide the chosen gates by their sum. Default: false for softmax, true for sigmoid. */
  normalize?: boolean;
  /** Weight of the balance loss in `auxLoss`. Default 0. */
  balanceLossWeight?: number;
  /** Weight of the z-loss in `auxLoss`. Default 0. */
  zLossWeight?: number;
}

/** What {@link hostRoute} returns. Tensors belong to the caller (inside a tidy, the tidy disposes them). */
export interface HostRouting {
  /** `[n·k]` chosen expert ids, row-major `[n, k]`, slot 0 the highest (biased) score. */
  expertIndex: Int32Array;
  /** `[n, k]` gate values of the chosen experts, differentiable w.r.t. the logits. */
  gates: tf.Tensor2D;
  /** The gates' values on the host (the same floats as `gates`). */
  gateValues: Float32Array;
  /** `balanceLossWeight · balanceLoss + zLossWeight · zLoss`, differentiable. */
  auxLoss: tf.Scalar;
  /** The Switch loss `N Σ f_i P_i`, f from the routed counts (before any capacity cut), differentiable. */
  balanceLoss: tf.Scalar;
  /** The router z-loss, differentiable. */
  zLoss: tf.Scalar;
  /** Slots routed to each expert (before any capacity cut); sums to n·k. */
  routed: number[];
  /** Mean entropy (nats) of the tokens' router distributions (statistic, no gradient). */
  entropy: number;
}

function checkWeight(v: number | undefined, name: string): number {
  const x = v ?? 0;
  assert(typeof x === 'number' && Number.isFinite(x) && x >= 0, () => `${name} must be a finite number ≥ 0, got ${String(v)}`);
  return x;
}

/** The per-token arrays of one routing, shared by the forward and the backward pass. */
interface RouteState {
  n: number;
  E: number;
  k: number;
  softmax: boolean;
  normalize: boolean;
  /** `[n·E]` the logits. */
  u: Float32Array;
  /** `[n·E]` softmax p or sigmoid s. */
  scores: Float32Array;
  /** `[n]` sigmoid: Σ_j s_j (probs = s / Σ s); softmax: 1. */
  rowSum: Float64Array;
  /** `[n]` logsumexp(u_t), for the z-loss. */
  lse: Float64Array;
  /** `[n·k]` chosen ids. */
  expertIndex: Int32Array;
  /** `[n·k]` gate values. */
  gateValues: Float32Array;
}

/** Throws on the first non-finite logit, naming its token and expert. */
function rejectNonFinite(u: Float32Array, E: number): void {
  for (let i = 0; i < u.length; i++) {
    const v = u[i] as number;
    if (!Number.isFinite(v)) throw new Error(`router logits must be finite, got ${v} at token ${Math.floor(i / E)}, expert ${i % E}`);
  }
}

/**
 * The forward pass over every token (a top-level function with its arrays as arguments, so that
 * V8 keeps them in registers): fills the state's scores, rowSum, lse, expertIndex and gateValues,
 * adds each expert's probability sum into `probMean` and routed count into `routed`.
 * @returns Σ_t ℓ_t² and the summed entropy.
 */
function routeForward(st: RouteState, bias: ArrayLike<number> | null, probMean: Float64Array, routed: Float64Array): { zSum: number; hSum: number } {
  const { n, E, k, softmax, normalize, u, scores, rowSum, lse, expertIndex, gateValues } = st;
  const expRow = new Float64Array(E);
  const choice = new Float64Array(E);
  const topIdx = new Int32Array(k);
  const topVal = new Float64Array(k);
  let zSum = 0;
  let hSum = 0;
  let nonFinite = 0; // v · 0 is NaN for a non-finite v, 0 otherwise: one check for the whole pass
  for (let t = 0; t < n; t++) {
    const o = t * E;
    let m = -Infinity;
    for (let j = 0; j < E; j++) {
      const v = u[o + j] as number;
      nonFinite += v * 0;
      if (v > m) m = v;
    }
    if (nonFinite !== 0) rejectNonFinite(u, E); // throws
    let se = 0;
    for (let j = 0; j < E; j++) {
      const ex = Math.exp((u[o + j] as number) - m);
      expRow[j] = ex;
      se += ex;
    }
    const l = m + Math.log(se);
    lse[t] = l;
    zSum += l * l;
    let sum = 0;
    if (softmax) {
      for (let j = 0; j < E; j++) scores[o + j] = (expRow[j] as number) / se;
      sum = 1;
    } else {
      for (let j = 0; j < E; j++) {
        scores[o + j] = 1 / (1 + Math.exp(-(u[o + j] as number)));
        sum += scores[o + j] as number;
      }
    }
    rowSum[t] = sum;
    for (let j = 0; j < E; j++) {
      const sj = scores[o + j] as number;
      // softmax: log p_j = u_j − ℓ, no log needed (routerEntropy's clamp at 1e-30 changes p·log p by < 1e-28)
      const p = softmax ? sj : Math.fround(sj / sum);
      probMean[j] = (probMean[j] as number) + p;
      hSum -= softmax ? p * ((u[o + j] as number) - l) : p * Math.log(Math.max(p, 1e-30));
      choice[j] = bias === null ? sj : Math.fround(sj + (bias[j] as number));
    }
    // top-k: the k largest choice values, ties to the lower id. One pass, inserting into a
    // descending list: a later id goes after an equal value, and does not displace one.
    let count = 0;
    for (let j = 0; j < E; j++) {
      const v = choice[j] as number;
      if (count === k && !(v > (topVal[k - 1] as number))) continue;
      let p = count < k ? count++ : k - 1;
      while (p > 0 && v > (topVal[p - 1] as number)) {
        topVal[p] = topVal[p - 1] as number;
        topIdx[p] = topIdx[p - 1] as number;
        p--;
      }
      topVal[p] = v;
      topIdx[p] = j;
    }
    let gsum = 0;
    for (let s = 0; s < k; s++) {
      const best = topIdx[s] as number;
      expertIndex[t * k + s] = best;
      routed[best] = (routed[best] as number) + 1;
      gsum += scores[o + best] as number;
    }
    const denom = gsum + 1e-20;
    for (let s = 0; s < k; s++) {
      const g = scores[o + (topIdx[s] as number)] as number;
      gateValues[t * k + s] = normalize ? g / denom : g;
    }
  }
  return { zSum, hSum };
}

/**
 * dLogits `[n·E]` from the gates' gradient `dG` `[n·k]` (null: none reached the gates), the
 * balance loss's per-expert `∂/∂p_ti` `cb` and the z-loss's `dZ`.
 */
function routeBackward(st: RouteState, dG: Float32Array | null, cb: Float64Array, dZ: number): Float32Array {
  const { n, E, k, softmax, normalize, u, scores, rowSum, lse, expertIndex, gateValues } = st;
  const du = new Float32Array(n * E);
  const ds = new Float64Array(E);
  for (let t = 0; t < n; t++) {
    const o = t * E;
    ds.fill(0);
    // gates
    if (dG === null) {
      // no gradient reached the gates
    } else if (normalize) {
      let S = 1e-20;
      let dot = 0;
      for (let s = 0; s < k; s++) {
        S += scores[o + (expertIndex[t * k + s] as number)] as number;
        dot += (dG[t * k + s] as number) * (gateValues[t * k + s] as number);
      }
      for (let s = 0; s < k; s++) {
        const e = expertIndex[t * k + s] as number;
        ds[e] = (ds[e] as number) + ((dG[t * k + s] as number) - dot) / S;
      }
    } else {
      for (let s = 0; s < k; s++) {
        const e = expertIndex[t * k + s] as number;
        ds[e] = (ds[e] as number) + (dG[t * k + s] as number);
      }
    }
    // balance, through the probs
    if (softmax) {
      for (let j = 0; j < E; j++) ds[j] = (ds[j] as number) + (cb[j] as number);
    } else {
      const sum = rowSum[t] as number;
      let dq = 0;
      for (let j = 0; j < E; j++) dq += (cb[j] as number) * ((scores[o + j] as number) / sum);
      for (let j = 0; j < E; j++) ds[j] = (ds[j] as number) + ((cb[j] as number) - dq) / sum;
    }
    // scores -> logits, plus the z-loss
    const l = lse[t] as number;
    const cz = (dZ * 2 * l) / n;
    if (softmax) {
      let dot = 0;
      for (let j = 0; j < E; j++) dot += (ds[j] as number) * (scores[o + j] as number);
      for (let j = 0; j < E; j++) {
        const p = scores[o + j] as number;
        du[o + j] = p * ((ds[j] as number) - dot) + cz * p;
      }
    } else {
      for (let j = 0; j < E; j++) {
        const sj = scores[o + j] as number;
        du[o + j] = (ds[j] as number) * sj * (1 - sj) + cz * Math.exp((u[o + j] as number) - l);
      }
    }
  }
  return du;
}

/**
 * Routes tokens on the host in one op (see the file header): the choice, the gates, the aux
 * losses and the statistics, with one JavaScript pass for the gradient w.r.t. the logits.
 * @param logits `[n, E]` router logits (finite).
 * @throws Error on a bad `kind`, `topK`, bias length, loss weight, logits rank, or a non-finite logit
 *   (`router logits must be finite, got NaN at token 3, expert 1`).
 */
export function hostRoute(logits: tf.Tensor2D, options: HostRouteOptions): HostRouting {
  const { kind, topK: k } = options;
  assert(kind === 'softmax' || kind === 'sigmoid', () => `router must be 'softmax' or 'sigmoid', got ${String(kind)}`);
  assert(logits instanceof tf.Tensor && logits.rank === 2, () => `router logits must have rank 2 ([tokens, experts]), got shape [${logits instanceof tf.Tensor ? logits.shape.join(', ') : String(logits)}]`);
  assert(logits.dtype === 'float32', () => `router logits must have dtype float32, got ${logits.dtype}`);
  const [n, E] = logits.shape;
  assert(n > 0, () => `router logits must hold at least one token, got shape [${n}, ${E}]`);
  assertTopK(k, E);
  const bias = options.bias ?? null;
  if (bias !== null) {
    assert(bias.length === E, () => `bias must have ${E} entries (one per expert), got ${bias.length}`);
    for (let e = 0; e < E; e++) assert(Number.isFinite(bias[e]), () => `bias must be finite, got ${bias[e]} at expert ${e}`);
  }
  const normalize = options.normalize ?? kind === 'sigmoid';
  const wb = checkWeight(options.balanceLossWeight, 'balanceLossWeight');
  const wz = checkWeight(options.zLossWeight, 'zLossWeight');

  const nk = n * k;
  const st: RouteState = {
    n, E, k, softmax: kind === 'softmax', normalize,
    u: logits.dataSync() as Float32Array, // read only
    scores: new Float32Array(n * E),
    rowSum: new Float64Array(n),
    lse: new Float64Array(n),
    expertIndex: new Int32Array(nk),
    gateValues: new Float32Array(nk),
  };
  const probMean = new Float64Array(E); // P_i · T
  const routedCounts = new Float64Array(E);
  const { zSum, hSum } = routeForward(st, bias, probMean, routedCounts);
  const routed = Array.from(routedCounts);
  const entropy = Math.fround(hSum / n);
  // balance: N Σ_i f_i P_i, f_i = routed_i / (n k), P_i = mean_t p_ti
  const fi = routed.map((c) => Math.fround(c / nk));
  let bal = 0;
  for (let i = 0; i < E; i++) bal += (fi[i] as number) * ((probMean[i] as number) / n);
  bal *= E;
  const z = zSum / n;
  const losses = Float32Array.from([wb * Math.fround(bal) + wz * Math.fround(z), bal, z]); // aux, balance, z
  /** dLogits from the gates' gradient and the losses' `dL` (aux, balance, z); either may be absent. */
  const backward = (dG: Float32Array | null, dL: Float32Array | null): tf.Tensor2D => {
    const dAux = dL ? (dL[0] as number) : 0;
    const dBal = dL ? (dL[1] as number) + wb * dAux : 0;
    const dZ = dL ? (dL[2] as number) + wz * dAux : 0;
    const cb = Float64Array.from(fi, (f1) => (dBal * E * f1) / n); // ∂/∂p_ti, the same for every token
    return tf.tensor2d(routeBackward(st, dG, cb, dZ), [n, E]);
  };
  const { expertIndex, gateValues } = st;
  // Two ops: the gates `[n, k]`, and the three losses `[3]` unstacked into scalars (one kernel
  // each way); each one's gradient is the JavaScript pass above, and the engine adds the two.
  const gatesOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    void args;
    return { value: tf.tensor2d(gateValues, [n, k]), gradFunc: (dy: tf.Tensor) => backward(dy.dataSync() as Float32Array, null) };
  });
  const lossOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    void args;
    return { value: tf.tensor1d(losses), gradFunc: (dy: tf.Tensor) => backward(null, dy.dataSync() as Float32Array) };
  });
  const tensors = tf.tidy(() => {
    const [auxLoss, balanceLoss, zLoss] = tf.unstack(lossOp(logits)) as tf.Scalar[]; // [3] -> 3 scalars
    return { gates: gatesOp(logits) as tf.Tensor2D, auxLoss: auxLoss as tf.Scalar, balanceLoss: balanceLoss as tf.Scalar, zLoss: zLoss as tf.Scalar };
  });
  return { ...tensors, expertIndex, gateValues, routed, entropy };
}
