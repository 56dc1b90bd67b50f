/**
 * Keeping experts busy: the Switch load-balancing loss, the router z-loss, DeepSeek-V3's
 * auxiliary-loss-free bias update, and the statistics that show the balance.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';

/**
 * The Switch Transformer load-balancing loss (Fedus et al. 2021, §2.2, eq. 4–6):
 *
 *     loss = α · N · Σ_i f_i · P_i,
 *     f_i = fraction of the routed slots that chose expert i   (eq. 5; not differentiable)
 *     P_i = mean over tokens of the router probability of i     (eq. 6; differentiable)
 *
 * With top-k routing each token fills k slots, so `f_i = count_i / (k·T)` (Σ f_i = 1, as in
 * DeepSeekMoE's expert-level balance loss, which writes `N'/(K'T)` for the same normalisation and
 * folds the N into f). Under uniform routing (f_i = P_i = 1/N) the loss is exactly α.
 *
 * @param probs `[T, N]` router probabilities (rows sum to 1).
 * @param expertIndex `[T, k]` int32 chosen experts.
 * @param alpha the weight α (Switch used 1e-2).
 * @returns a scalar, differentiable w.r.t. `probs`.
 */
export function loadBalancingLoss(probs: tf.Tensor2D, expertIndex: tf.Tensor2D, alpha = 1): tf.Scalar {
  assert(probs.rank === 2 && expertIndex.rank === 2 && probs.shape[0] === expertIndex.shape[0],
    () => `probs [T, N] and expertIndex [T, k] must have the same T, got [${probs.shape.join(', ')}] and [${expertIndex.shape.join(', ')}]`);
  assert(expertIndex.dtype === 'int32', () => `expertIndex must have dtype int32, got ${expertIndex.dtype}`);
  const [T, N] = probs.shape;
  const k = expertIndex.shape[1];
  return tf.tidy(() => {
    const counts = tf.sum(tf.oneHot(tf.reshape(expertIndex, [-1]), N), 0); // [T·k, N] -> [N]
    const f = tf.div(counts, T * k); // [N]
    const P = tf.mean(probs, 0); // [N]
    return tf.mul<tf.Scalar>(alpha * N, tf.sum(tf.mul(f, P)));
  });
}

/**
 * {@link loadBalancingLoss} from the routed counts already on the host (`count_i`, e.g. the
 * dispatch plan's `routed`): the same value, without the one-hot and count kernels. `f_i =
 * count_i / (k·T)` is computed here in float64 and stored as float32, which gives the float32
 * quotient bit for bit (one float64 division then one rounding to float32 never differs from a
 * float32 division of the same integers).
 * @param probs `[T, N]` router probabilities.
 * @param counts slots routed to each expert, N integers summing to T·k.
 * @param topK k, the slots per token.
 * @param alpha the weight α.
 * @throws Error when `counts` does not have N entries.
 */
export function loadBalancingLossFromCounts(probs: tf.Tensor2D, counts: readonly number[], topK: number, alpha = 1): tf.Scalar {
  assert(probs.rank === 2 && counts.length === probs.shape[1],
    () => `counts must have one entry per expert (${probs.shape[1]}), got ${counts.length}`);
  const [T, N] = probs.shape;
  return tf.tidy(() => {
    const f = tf.tensor1d(Float32Array.from(counts, (c) => c / (T * topK))); // [N]
    const P = tf.mean(probs, 0); // [N]
    return tf.mul<tf.Scalar>(alpha * N, tf.sum(tf.mul(f, P)));
  });
}

/**
 * The router z-loss (ST-MoE, Zoph et al. 2022, §3.1, eq. 5):
 *
 *     L_z = (1/B) Σ_b ( log Σ_j exp(x_bj) )²
 *
 * It pushes the router logits towards small magnitudes, which keeps the router's exp/softmax
 * numerically tame (ST-MoE weights it by c_z = 1e-3).
 * @param logits `[B, N]` router logits.
 */
export function routerZLoss(logits: tf.Tensor2D): tf.Scalar {
  assert(logits.rank === 2, () => `logits must have rank 2 ([tokens, experts]), got shape [${logits.shape.join(', ')}]`);
  return tf.tidy(() => tf.mean<tf.Scalar>(tf.square(tf.logSumExp(logits, -1))));
}

/**
 * DeepSeek-V3's auxiliary-loss-free balancing update (DeepSeek-V3 report, §2.1.2): after each
 * step, `b_i -= γ` for every overloaded expert and `b_i += γ` for every underloaded one. Overloaded
 * means a load above the mean load (n·k/E); an expert exactly at the mean keeps its bias.
 * Pure: returns a new array.
 * @param bias the current biases, one per expert.
 * @param load the step's load per expert (slots routed to it).
 * @param gamma the bias update speed γ ≥ 0 (V3 used 0.001 for most of training).
 * @throws Error when the lengths differ or γ < 0.
 */
export function updateRoutingBias(bias: readonly number[], load: readonly number[], gamma: number): number[] {
  assert(bias.length === load.length, () => `bias and load must have the same length, got ${bias.length} and ${load.length}`);
  assert(typeof gamma === 'number' && gamma >= 0 && Number.isFinite(gamma), () => `biasUpdateRate must be a finite number ≥ 0, got ${gamma}`);
  const mean = load.reduce((a, b) => a + b, 0) / load.length;
  return bias.map((b, i) => {
    const l = load[i] as number;
    return l > mean ? b - gamma : l < mean ? b + gamma : b;
  });
}

/** Entropy (nats) of a distribution given by non-negative weights (normalised here). ln E when uniform. */
export function loadEntropy(load: readonly number[]): number {
  const total = load.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let h = 0;
  for (const l of load) if (l > 0) h -= (l / total) * Math.log(l / total);
  return h;
}

/** Mean over tokens of the entropy (nats) of each token's router distribution `[n, E]`. */
export function routerEntropy(probs: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(probs, tf.log(tf.maximum(probs, 1e-30))), -1))) as tf.Scalar);
}

/**
 * Coefficient of variation of the load (std / mean): 0 when perfectly balanced, √(E−1) when one
 * expert takes everything.
 */
export function loadImbalance(load: readonly number[]): number {
  const mean = load.reduce((a, b) => a + b, 0) / load.length;
  if (mean === 0) return 0;
  const v = load.reduce((a, b) => a + (b - mean) ** 2, 0) / load.length;
  return Math.sqrt(v) / mean;
}
