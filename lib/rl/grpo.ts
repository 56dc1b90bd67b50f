/**
 * Group Relative Policy Optimization (GRPO), after DeepSeekMath (Shao et al. 2024, §4.1), the
 * algorithm DeepSeek-R1-Zero was trained with. For each prompt q, G completions o_1..o_G are
 * sampled from the old policy π_old, scored by a rule reward, and the policy maximises (eq. 3)
 *
 *     J = 1/G Σ_i 1/|o_i| Σ_t { min[ ρ_{i,t} Â_i, clip(ρ_{i,t}, 1 − ε, 1 + ε) Â_i ] − β D_KL[π_θ ‖ π_ref] }
 *
 * with `ρ_{i,t} = π_θ(o_{i,t} | q, o_{i,<t}) / π_old(o_{i,t} | q, o_{i,<t})`, and the KL estimated
 * per token by (eq. 4, Schulman's "k3")
 *
 *     D_KL = π_ref / π_θ − ln(π_ref / π_θ) − 1      (≥ 0, unbiased, 0 where π_θ = π_ref)
 *
 * **Advantages (outcome supervision, §4.1.2).** Every token of o_i gets `Â_i = (r_i − mean(r)) /
 * std(r)`, over the group's G rewards. The paper does not say which std; this file uses the
 * sample std with Bessel's correction (divide by G − 1), as `torch.std` does by default and as
 * the TRL implementation inherits: rewards [1, 0, 0, 1] give ±0.866 (the population std would
 * give ±1). A group whose rewards are all equal has std 0 and carries no signal: its advantages
 * are 0 (never 0/0 = NaN), so such a prompt contributes only its KL term.
 *
 * **The loss** is −J: per token, averaged over each sequence (the 1/|o_i|), then over the
 * sequences. With one policy update per batch of samples (μ = 1, as here by default),
 * π_old = π_θ at the update, so ρ = 1 and the surrogate's *value* is `mean_i Â_i = 0`; the loss
 * then equals β · KL exactly, while its gradient is the policy gradient Σ Â_i ∇ ln π_θ(o_i).
 * That is why a GRPO loss curve starts at 0 and rises with the KL: it is not a measure of
 * progress (lesson 13).
 */
import * as tf from '@tensorflow/tfjs';
import { assert, assertIntegerAtLeast, assertPositiveInteger } from '../assert';
import type { Rng } from '../random';
import { buildBatch, meanPerSequence, sampleCompletions, stopGradient, tokenLogProbs, type Policy } from './policy';

/** Hyper-parameters of GRPO. */
export interface GrpoConfig {
  /** Completions per prompt, G ≥ 2 (DeepSeekMath used 64; a toy uses 4 to 16). */
  groupSize: number;
  /** Clipping range ε of the ratio, > 0 (PPO's usual 0.2). */
  epsilon: number;
  /** Weight β of the KL to the reference, ≥ 0 (DeepSeekMath: 0.04). */
  beta: number;
}

/**
 * Checks a GRPO config.
 * @throws Error `groupSize must be an integer ≥ 2, got 1`, `beta must be a finite number >= 0,
 *   got -0.1`, `epsilon must be a finite number > 0, got 0`.
 */
export function checkGrpoConfig(config: GrpoConfig): void {
  assert(config !== null && typeof config === 'object', 'config must be an object { groupSize, epsilon, beta }');
  assertIntegerAtLeast(config.groupSize, 'groupSize', 2);
  const { beta, epsilon } = config;
  assert(typeof beta === 'number' && Number.isFinite(beta) && beta >= 0, () => `beta must be a finite number >= 0, got ${beta}`);
  assert(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0, () => `epsilon must be a finite number > 0, got ${epsilon}`);
}

/**
 * Group-relative advantages `(r − mean) / std` of consecutive groups of `groupSize` rewards,
 * with the Bessel-corrected std (see the file's comment). A group of equal rewards gets 0.
 *
 * ```ts
 * groupAdvantages([1, 0, 0, 1], 4); // [0.866, -0.866, -0.866, 0.866]
 * ```
 * @throws Error when `groupSize` < 2, the rewards do not split into whole groups, or a reward is
 *   not finite.
 */
export function groupAdvantages(rewards: readonly number[], groupSize: number): number[] {
  assertIntegerAtLeast(groupSize, 'groupSize', 2);
  assert(rewards.length > 0 && rewards.length % groupSize === 0,
    () => `rewards length ${rewards.length} must be a positive multiple of groupSize ${groupSize}`);
  rewards.forEach((r, i) => assert(Number.isFinite(r), () => `rewards[${i}] must be finite, got ${r}`));
  const out: number[] = [];
  for (let g = 0; g < rewards.length; g += groupSize) {
    const group = rewards.slice(g, g + groupSize);
    const mean = group.reduce((s, r) => s + r, 0) / groupSize;
    const variance = group.reduce((s, r) => s + (r - mean) ** 2, 0) / (groupSize - 1);
    const std = Math.sqrt(variance);
    // Exactly equal rewards give variance 0; rewards equal up to rounding give a std ~1e-17 that
    // would blow the advantages up, so anything below 1e-8 counts as "no spread".
    for (const r of group) out.push(std > 1e-8 ? (r - mean) / std : 0);
  }
  return out;
}

/**
 * The k3 estimator of KL(π_θ ‖ π_ref) per token, from log-probabilities of the sampled tokens:
 * `exp(ref − logp) − (ref − logp) − 1` (DeepSeekMath eq. 4). Elementwise; ≥ 0; 0 where equal.
 */
export function klK3(logp: tf.Tensor, refLogp: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d = tf.sub(refLogp, logp); // ln(π_ref / π_θ)
    return tf.sub(tf.sub(tf.exp(d), d), 1);
  });
}

/**
 * The clipped surrogate per token, `min(ρ Â, clip(ρ, 1 − ε, 1 + ε) Â)` with `ρ = exp(logp −
 * oldLogp)`. `advantages` broadcasts against the log-probs (`[n, 1]` against `[n, T]`).
 */
export function clippedSurrogate(logp: tf.Tensor, oldLogp: tf.Tensor, advantages: tf.Tensor, epsilon: number): tf.Tensor {
  assert(Number.isFinite(epsilon) && epsilon > 0, () => `epsilon must be a finite number > 0, got ${epsilon}`);
  return tf.tidy(() => {
    const ratio = tf.exp(tf.sub(logp, oldLogp));
    const unclipped = tf.mul(ratio, advantages);
    const clipped = tf.mul(tf.clipByValue(ratio, 1 - epsilon, 1 + epsilon), advantages);
    return tf.minimum(unclipped, clipped);
  });
}

/** The GRPO loss and what it is made of, per batch. */
export interface GrpoLossTerms {
  /** −J: `−mean_i 1/|o_i| Σ_t (surrogate − β k3)`. Differentiable. */
  loss: tf.Scalar;
  /** `mean_i 1/|o_i| Σ_t k3`: the KL to the reference, per token. */
  kl: tf.Scalar;
  /** Fraction of completion tokens whose ratio lies outside [1 − ε, 1 + ε]. */
  clipFraction: tf.Scalar;
}

/**
 * GRPO's loss from per-token log-probabilities (`[n, T]`, of the sampled tokens) under the
 * policy, the old policy and the reference, the per-completion advantages `[n]` and the mask of
 * completion tokens `[n, T]`.
 * @throws Error when ε ≤ 0 or β < 0, or the shapes disagree.
 */
export function grpoLoss(
  logp: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  refLogp: tf.Tensor2D,
  advantages: tf.Tensor1D,
  mask: tf.Tensor2D,
  config: { epsilon: number; beta: number },
): GrpoLossTerms {
  const { epsilon, beta } = config;
  assert(Number.isFinite(beta) && beta >= 0, () => `beta must be a finite number >= 0, got ${beta}`);
  assert(Number.isFinite(epsilon) && epsilon > 0, () => `epsilon must be a finite number > 0, got ${epsilon}`);
  for (const [t, name] of [[oldLogp, 'oldLogp'], [refLogp, 'refLogp'], [mask, 'mask']] as const) {
    assert(t.shape[0] === logp.shape[0] && t.shape[1] === logp.shape[1],
      () => `${name} shape [${t.shape.join(', ')}] must equal logp shape [${logp.shape.join(', ')}]`);
  }
  assert(advantages.shape[0] === logp.shape[0], () => `advantages length ${advantages.shape[0]} must equal the batch size ${logp.shape[0]}`);
  return tf.tidy(() => {
    const adv = advantages.reshape([-1, 1]); // [n] -> [n, 1]
    const surrogate = clippedSurrogate(logp, oldLogp, adv, epsilon); // [n, T]
    const k3 = klK3(logp, refLogp); // [n, T]
    const perToken = tf.sub(surrogate, tf.mul(beta, k3));
    const loss: tf.Scalar = tf.neg(meanPerSequence(perToken as tf.Tensor2D, mask));
    const kl = meanPerSequence(k3 as tf.Tensor2D, mask);
    const ratio = tf.exp(tf.sub(logp, oldLogp));
    const outside = tf.cast(tf.logicalOr(tf.less(ratio, 1 - epsilon), tf.greater(ratio, 1 + epsilon)), 'float32');
    const clipFraction: tf.Scalar = tf.div(tf.sum(tf.mul(outside, mask)), tf.maximum(tf.sum(mask), 1));
    return { loss, kl, clipFraction };
  });
}

/** A prompt with its verifiable answer, as GRPO needs it. */
export interface RlPrompt {
  /** The prompt's token ids. */
  ids: readonly number[];
  /** The verifiable answer (passed to the reward function). */
  answer: string;
}

/** A reward function: the decoded completion and the answer → `{ total, accuracy, format }`. */
export type RewardFn = (completion: string, answer: string) => { total: number; accuracy: number; format: number };

/** Everything one GRPO step needs besides the policy, the reference and the optimiser. */
export interface GrpoStepOptions extends GrpoConfig {
  /** Scores a decoded completion. */
  reward: RewardFn;
  /** Turns completion ids into text (the tokenizer's `decode`). */
  decode: (ids: readonly number[]) => string;
  /** Most tokens per completion. */
  maxNewTokens: number;
  /** Sampling temperature (> 0; 1 samples the policy as it is). */
  temperature: number;
  /** Id of `<eos>`. */
  eosId: number;
  /** Id of `<pad>`. */
  padId: number;
  /** The seeded generator of the samples. */
  rng: Rng;
  /** Optimiser updates per batch of samples, μ ≥ 1 (default 1: π_old = π_θ, ratio 1). */
  innerSteps?: number;
}

/** The metrics of one GRPO step (all means over the G · prompts completions). */
export interface GrpoMetrics {
  /** Mean total reward. */
  reward: number;
  /** Fraction of completions with the right answer. */
  accuracy: number;
  /** Fraction of completions in the `<think>…</think><answer>…</answer>` format. */
  formatRate: number;
  /** KL to the reference (k3, per token, mean over sequences), before the update. */
  kl: number;
  /** The loss of the (first) update. */
  loss: number;
  /** Mean completion length in tokens (`<eos>` included). */
  completionLength: number;
  /** Std of all the advantages in the batch (0 when every group is uniform). */
  advantageStd: number;
  /** Fraction of groups whose rewards are all equal (no learning signal). */
  zeroSpreadGroups: number;
  /** Fraction of clipped tokens in the last update (0 when μ = 1). */
  clipFraction: number;
  /** Seconds spent sampling, and in the update(s). */
  sampleSeconds: number;
  updateSeconds: number;
}

/** One step's samples and metrics. */
export interface GrpoStepResult {
  metrics: GrpoMetrics;
  /** The decoded completions, G per prompt in prompt order. */
  completions: string[];
  /** Their rewards, in the same order. */
  rewards: number[];
}

/**
 * One GRPO step: sample G completions per prompt from the policy, score them, compute the
 * group-relative advantages, and update the policy `innerSteps` times on the clipped objective
 * with the KL to `reference` (a frozen copy of the starting policy). Disposes every tensor it
 * makes, gradients included.
 * @throws Error when G < 2, β < 0, ε ≤ 0, or another option is bad.
 */
export function grpoStep(policy: Policy, reference: Policy, optimizer: tf.Optimizer, prompts: readonly RlPrompt[], options: GrpoStepOptions): GrpoStepResult {
  checkGrpoConfig(options);
  assert(prompts.length > 0, 'prompts must not be empty');
  const mu = options.innerSteps ?? 1;
  assertPositiveInteger(mu, 'innerSteps');
  assert(Number.isFinite(options.temperature) && options.temperature > 0, () => `temperature must be a finite number > 0, got ${options.temperature}`);
  const G = options.groupSize;

  const t0 = performance.now();
  const rowPrompts = prompts.flatMap((p) => Array.from({ length: G }, () => p.ids));
  const ids = sampleCompletions(policy, rowPrompts, {
    maxNewTokens: options.maxNewTokens, temperature: options.temperature, rng: options.rng, eosId: options.eosId,
  });
  const completions = ids.map((c) => options.decode(c));
  const scored = completions.map((c, i) => options.reward(c, (prompts[Math.floor(i / G)] as RlPrompt).answer));
  const rewards = scored.map((s) => s.total);
  const adv = groupAdvantages(rewards, G);
  const t1 = performance.now();

  // A completion cut at maxNewTokens before any token cannot happen (maxNewTokens ≥ 1), but a
  // sampler may return [] if a prompt was already at the model's context limit: refuse it.
  ids.forEach((c, i) => assert(c.length > 0, () => `completion ${i} is empty: is the prompt at the model's context length?`));
  const batch = buildBatch(rowPrompts, ids, options.padId);
  const advantages = tf.tensor1d(adv);
  const refLogp = tf.tidy(() => tokenLogProbs(reference, batch.tokens));
  const oldLogp = mu > 1 ? tf.tidy(() => tokenLogProbs(policy, batch.tokens)) : null;
  let loss = 0;
  let kl = 0;
  let clipFraction = 0;
  for (let k = 0; k < mu; k++) {
    let klT: tf.Scalar | null = null;
    let clipT: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logp = tokenLogProbs(policy, batch.tokens);
      // μ = 1: π_old is π_θ itself, held constant (its value without its gradient).
      const old = oldLogp ?? stopGradient(logp);
      const terms = grpoLoss(logp, old, refLogp, advantages, batch.mask, options);
      klT = tf.keep(terms.kl);
      clipT = tf.keep(terms.clipFraction);
      return terms.loss;
    }, policy.trainableVariables);
    optimizer.applyGradients(grads);
    if (k === 0) {
      loss = value.dataSync()[0] as number;
      kl = (klT as unknown as tf.Scalar).dataSync()[0] as number;
    }
    clipFraction = (clipT as unknown as tf.Scalar).dataSync()[0] as number;
    tf.dispose([value, klT as unknown as tf.Scalar, clipT as unknown as tf.Scalar]);
    tf.dispose(grads);
  }
  tf.dispose([batch.tokens, batch.mask, advantages, refLogp]);
  if (oldLogp) oldLogp.dispose();
  const t2 = performance.now();

  const n = rewards.length;
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const advMean = mean(adv);
  let zero = 0;
  for (let g = 0; g < n; g += G) {
    const grp = rewards.slice(g, g + G);
    if (grp.every((r) => r === grp[0])) zero++;
  }
  return {
    completions,
    rewards,
    metrics: {
      reward: mean(rewards),
      accuracy: mean(scored.map((s) => s.accuracy)),
      formatRate: mean(scored.map((s) => s.format)),
      kl,
      loss,
      completionLength: mean(batch.lengths),
      advantageStd: Math.sqrt(mean(adv.map((a) => (a - advMean) ** 2))),
      zeroSpreadGroups: zero / (n / G),
      clipFraction,
      sampleSeconds: (t1 - t0) / 1000,
      updateSeconds: (t2 - t1) / 1000,
    },
  };
}
