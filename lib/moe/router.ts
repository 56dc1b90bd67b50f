/**
 * MoE routers: from router logits `[n, E]` to each token's k experts and their gate values.
 *
 * - `softmax` (Shazeer et al. 2017; GShard; Switch): `p = softmax(u)`, choose the k largest `p`,
 *   gate `g = p_i` (Switch, k = 1; DeepSeekMoE) or `p_i / Σ_{chosen} p_j` with `normalize`
 *   (GShard top-2; Shazeer's softmax over the kept logits is the same thing).
 * - `sigmoid` (DeepSeek-V3, §2.1.2, eq. 13–16): `s_i = sigmoid(u_i)`, choose the k largest
 *   `s_i + b_i`, gate `g_i = s_i / Σ_{chosen} s_j`. The bias `b` only picks the experts; it never
 *   enters the gate value.
 *
 * Noisy top-k gating (Shazeer et al. 2017, eq. 4) is added to the logits by the layer before
 * routing, during training: `H = x·W_g + ε · softplus(x·W_noise)`, ε ~ N(0, 1).
 *
 * The chosen ids are read back to the CPU (`[n, k]` int32, one sync per step): the sparse dispatch
 * needs them there to give each expert its own rows.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';
import { gatherRows } from './dispatch';

/** How router logits become scores. */
export type RouterKind = 'softmax' | 'sigmoid';

/** Options of {@link route}. */
export interface RouteOptions {
  /** `softmax` (Switch/GShard/DeepSeekMoE) or `sigmoid` (DeepSeek-V3). */
  kind: RouterKind;
  /** Experts per token, in [1, E]. */
  topK: number;
  /** Per-expert selection bias `[E]` (DeepSeek-V3's auxiliary-loss-free balancing); added to the scores for the choice only. */
  bias?: tf.Tensor1D;
  /** Divide the chosen gates by their sum. Default: false for softmax, true for sigmoid. */
  normalize?: boolean;
}

/** The routing of n tokens. Tensors belong to the caller (inside a tidy, the tidy disposes them). */
export interface Routing {
  /** `[n, E]` scores: softmax probabilities, or sigmoid affinities. */
  scores: tf.Tensor2D;
  /**
   * `[n, E]` a distribution over experts per token, for the balance loss and the entropy: the
   * softmax probabilities, or the sigmoid scores divided by their sum over all E experts
   * (DeepSeek-V3 eq. 19).
   */
  probs: tf.Tensor2D;
  /** `[n·k]` chosen expert ids, row-major `[n, k]`, slot 0 the highest (biased) score. */
  expertIndex: Int32Array;
  /** `[n, k]` gate values of the chosen experts (differentiable w.r.t. the logits). */
  gates: tf.Tensor2D;
}

/**
 * @throws Error `topK must be in [1, 8], got 9` unless `topK` is an integer in [1, experts].
 */
export function assertTopK(topK: number, experts: number): void {
  assert(Number.isInteger(topK) && topK >= 1 && topK <= experts, () => `topK must be in [1, ${experts}], got ${topK}`);
}

/** Router scores `[n, E]` from logits: softmax or sigmoid. */
export function routerScores(logits: tf.Tensor2D, kind: RouterKind): tf.Tensor2D {
  return tf.tidy(() => (kind === 'softmax' ? tf.softmax(logits) : tf.sigmoid(logits)));
}

/** The routing's choice alone (see {@link chooseExperts}): no gates yet. */
export interface RouterChoice {
  /** `[n, E]` scores: softmax probabilities, or sigmoid affinities. */
  scores: tf.Tensor2D;
  /** `[n, E]` a distribution over experts per token (see {@link Routing.probs}). */
  probs: tf.Tensor2D;
  /** `[n·k]` chosen expert ids, row-major `[n, k]`, slot 0 the highest (biased) score. */
  expertIndex: Int32Array;
  /**
   * `[n, k]` the (biased) scores that won, TopK's values: without a bias, exactly the gates
   * before any normalisation (the same floats as the scores at the chosen experts). No gradient.
   */
  topValues: tf.Tensor2D;
}

function checkRoute(logits: tf.Tensor2D, options: RouteOptions): void {
  const { kind, topK } = options;
  assert(kind === 'softmax' || kind === 'sigmoid', () => `router must be 'softmax' or 'sigmoid', got ${String(kind)}`);
  assert(logits.rank === 2, () => `router logits must have rank 2 ([tokens, experts]), got shape [${logits.shape.join(', ')}]`);
  const E = logits.shape[1];
  assertTopK(topK, E);
  if (options.bias) assert(options.bias.size === E, () => `bias must have ${E} entries (one per expert), got ${options.bias?.size}`);
}

/**
 * The first half of {@link route}: scores, probs and the k chosen experts (read back), without the
 * gates, for callers that gather the gates their own way (the MoE layer's capacity-padded mode
 * gathers them straight into its padded rows). Tensors belong to the caller.
 * @param logits `[n, E]` router logits.
 * @throws Error on a bad `topK`, `kind`, or a bias whose length is not E.
 */
export function chooseExperts(logits: tf.Tensor2D, options: RouteOptions): RouterChoice {
  checkRoute(logits, options);
  const { kind, topK } = options;
  let expertIndex = new Int32Array(0);
  const tensors = tf.tidy(() => {
    const scores = routerScores(logits, kind); // [n, E]
    const probs: tf.Tensor2D = kind === 'softmax' ? scores : tf.div(scores, tf.sum(scores, -1, true)); // [n, E]
    // The choice: top-k of the (biased) scores. No gradient flows through the choice.
    const choice = options.bias ? tf.add(scores, options.bias) : scores;
    const top = tf.topk(choice, topK);
    expertIndex = Int32Array.from(top.indices.dataSync()); // [n·k]
    return { scores, probs, topValues: top.values as tf.Tensor2D };
  });
  return { ...tensors, expertIndex };
}

/**
 * The second half of {@link route}: the gates `[n, k]`, the unbiased scores at the chosen
 * experts (one gather from the flat `[n·E]` scores), divided by their sum with `normalize`.
 */
export function pickGates(scores: tf.Tensor2D, expertIndex: Int32Array, topK: number, normalize: boolean): tf.Tensor2D {
  const [n, E] = scores.shape;
  assert(expertIndex.length === n * topK, () => `expertIndex must hold n·k = ${n * topK} ids, got ${expertIndex.length}`);
  return tf.tidy(() => {
    const flat = new Int32Array(n * topK);
    for (let t = 0; t < n; t++) for (let s = 0; s < topK; s++) flat[t * topK + s] = t * E + (expertIndex[t * topK + s] as number);
    const picked = gatherRows(tf.reshape(scores, [n * E, 1]), flat); // [n·E, 1] -> [n·k, 1]
    let gates: tf.Tensor2D = tf.reshape(picked, [n, topK]); // [n·k, 1] -> [n, k]
    if (normalize) gates = tf.div<tf.Tensor2D>(gates, tf.add(tf.sum(gates, -1, true), 1e-20));
    return gates;
  });
}

/**
 * Routes tokens: scores, the k chosen experts per token and their gates
 * ({@link chooseExperts} then {@link pickGates}).
 * @param logits `[n, E]` router logits.
 * @throws Error on a bad `topK`, `kind`, or a bias whose length is not E.
 */
export function route(logits: tf.Tensor2D, options: RouteOptions): Routing {
  const normalize = options.normalize ?? options.kind === 'sigmoid';
  const c = chooseExperts(logits, options);
  c.topValues.dispose();
  return { scores: c.scores, probs: c.probs, expertIndex: c.expertIndex, gates: pickGates(c.scores, c.expertIndex, options.topK, normalize) };
}
