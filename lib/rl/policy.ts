/**
 * What reinforcement learning needs from a language model, as one small interface, and the
 * helpers built on it: per-token log-probabilities of given sequences, seeded sampling, and the
 * padded batch of prompts + completions with the mask of the completion tokens.
 *
 * A `Policy` is any autoregressive model over token ids that returns next-token logits. The
 * course's tiny LM is adapted to it in `lib/rl/tiny-policy.ts`; tests use stub policies of
 * constant logits.
 */
import * as tf from '@tensorflow/tfjs';
import { assert, assertPositiveInteger } from '../assert';
import { sampleToken } from '../lm/sampling';
import type { Rng } from '../random';

/** Options of sampling. */
export interface SampleOptions {
  /** The most tokens to generate per prompt (the `<eos>` token counts). */
  maxNewTokens: number;
  /** Softmax temperature, ≥ 0; 0 is greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens before sampling (default: all). */
  topK?: number;
  /** The seeded generator every draw comes from. */
  rng: Rng;
  /** Id of the end-of-sequence token: a completion stops after it. */
  eosId: number;
}

/** An autoregressive model over token ids, as GRPO, SFT and distillation see it. */
export interface Policy {
  /** Number of token ids. */
  readonly vocabSize: number;
  /**
   * Next-token logits: `[n, t]` int32 ids → `[n, t, vocabSize]` float32, where position `j`
   * scores token `j + 1` (causal: position `j` sees tokens `0..j` only). Differentiable w.r.t.
   * {@link Policy.trainableVariables}.
   */
  logits(tokens: tf.Tensor2D): tf.Tensor3D;
  /** The variables an optimiser updates. */
  readonly trainableVariables: tf.Variable[];
  /**
   * Optional faster sampler (a KV cache, say) with the contract of {@link sampleCompletions}:
   * one completion per prompt, at most `maxNewTokens` ids, ending at the first `<eos>` if any.
   */
  sample?(prompts: readonly (readonly number[])[], options: SampleOptions): number[][];
}

/** Checks sampling options, naming the bad one. */
export function checkSampleOptions(options: SampleOptions, vocabSize: number): void {
  assertPositiveInteger(options.maxNewTokens, 'maxNewTokens');
  assert(Number.isFinite(options.temperature) && options.temperature >= 0, () => `temperature must be a finite number >= 0, got ${options.temperature}`);
  if (options.topK !== undefined) assertPositiveInteger(options.topK, 'topK');
  assert(Number.isInteger(options.eosId) && options.eosId >= 0 && options.eosId < vocabSize,
    () => `eosId must be a token id in [0, ${vocabSize}), got ${options.eosId}`);
}

/**
 * One completion per prompt, sampled from the policy: its own sampler when it has one, else a
 * loop that reruns the full forward pass on the growing sequences (no cache; fine for short
 * sequences and stub policies). Prompts of different lengths are sampled in groups of equal
 * length. Draws happen in prompt order, so a seed fixes the result.
 * @returns the completions' ids, each ending at its first `<eos>` (kept) or at `maxNewTokens`.
 * @throws Error when a prompt is empty or holds an id outside the vocabulary, or an option is bad.
 */
export function sampleCompletions(policy: Policy, prompts: readonly (readonly number[])[], options: SampleOptions): number[][] {
  checkSampleOptions(options, policy.vocabSize);
  prompts.forEach((p, i) => {
    assert(p.length > 0, () => `prompts[${i}] must not be empty`);
    for (const id of p) assert(Number.isInteger(id) && id >= 0 && id < policy.vocabSize, () => `prompts[${i}] holds id ${id}, outside [0, ${policy.vocabSize})`);
  });
  if (policy.sample) return policy.sample(prompts, options);
  const out: number[][] = prompts.map(() => []);
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]));
  for (const rows of byLength.values()) {
    const seqs = rows.map((i) => [...(prompts[i] as number[])]);
    const done = rows.map(() => false);
    for (let step = 0; step < options.maxNewTokens && done.some((d) => !d); step++) {
      const last = tf.tidy(() => {
        const logits = policy.logits(tf.tensor2d(seqs, [seqs.length, (seqs[0] as number[]).length], 'int32')); // [n, t, v]
        const t = logits.shape[1];
        return logits.slice([0, t - 1, 0], [-1, 1, -1]).reshape([seqs.length, policy.vocabSize]); // [n, 1, v] -> [n, v]
      });
      const values = last.dataSync();
      last.dispose();
      rows.forEach((row, r) => {
        const seq = seqs[r] as number[];
        if (done[r]) {
          seq.push(options.eosId); // filler so the batch stays rectangular; never returned
          return;
        }
        const id = sampleToken(values.subarray(r * policy.vocabSize, (r + 1) * policy.vocabSize), { temperature: options.temperature, topK: options.topK }, options.rng);
        seq.push(id);
        (out[row] as number[]).push(id);
        if (id === options.eosId) done[r] = true;
      });
    }
  }
  return out;
}

/** Prompts and completions as one right-padded batch. */
export interface SequenceBatch {
  /** `[n, T]` int32: prompt, then completion, then padding. */
  tokens: tf.Tensor2D;
  /** `[n, T - 1]` float32: 1 where target `tokens[:, j + 1]` is a completion token, else 0. */
  mask: tf.Tensor2D;
  /** Completion lengths (tokens counted by the mask). */
  lengths: number[];
}

/**
 * Pads prompts + completions to one `[n, T]` batch and builds the mask of the completion tokens
 * as targets of the shifted log-probabilities (see {@link tokenLogProbs}).
 * @throws Error when the lists differ in length, a prompt is empty, or a completion is empty.
 */
export function buildBatch(prompts: readonly (readonly number[])[], completions: readonly (readonly number[])[], padId: number): SequenceBatch {
  assert(prompts.length === completions.length, () => `prompts (${prompts.length}) and completions (${completions.length}) must have the same length`);
  assert(prompts.length > 0, 'prompts must not be empty');
  const n = prompts.length;
  const total = prompts.map((p, i) => p.length + (completions[i] as readonly number[]).length);
  const T = Math.max(...total);
  const ids = new Int32Array(n * T).fill(padId);
  const m = new Float32Array(n * (T - 1));
  const lengths: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = prompts[i] as readonly number[];
    const c = completions[i] as readonly number[];
    assert(p.length > 0, () => `prompts[${i}] must not be empty`);
    assert(c.length > 0, () => `completions[${i}] must not be empty (a completion holds at least <eos>)`);
    ids.set(p, i * T);
    ids.set(c, i * T + p.length);
    // Target j + 1 is completion token k when j + 1 = p.length + k.
    for (let k = 0; k < c.length; k++) m[i * (T - 1) + p.length + k - 1] = 1;
    lengths.push(c.length);
  }
  return { tokens: tf.tensor2d(ids, [n, T], 'int32'), mask: tf.tensor2d(m, [n, T - 1]), lengths };
}

/**
 * Per-token log-probabilities of given sequences under a policy: `out[i, j] = ln π(tokens[i, j+1]
 * | tokens[i, ≤ j])`, `[n, T]` → `[n, T - 1]`. Differentiable w.r.t. the policy's variables.
 */
export function tokenLogProbs(policy: Policy, tokens: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, T] = tokens.shape;
    const logits = policy.logits(tokens); // [n, T, v]
    const ls = tf.logSoftmax(logits.slice([0, 0, 0], [n, T - 1, policy.vocabSize])); // [n, T-1, v]
    const targets = tokens.slice([0, 1], [n, T - 1]); // [n, T-1]
    return tf.sum<tf.Tensor2D>(tf.mul(ls, tf.oneHot(targets, policy.vocabSize)), -1); // [n, T-1]
  });
}

/**
 * Masked mean over each sequence, then mean over sequences: `mean_i (Σ_j x·m / Σ_j m)`. The
 * normalisation of GRPO's loss (DeepSeekMath eq. 3: `1/G Σ_i 1/|o_i| Σ_t`) and of the SFT loss.
 */
export function meanPerSequence(x: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean<tf.Scalar>(tf.div(tf.sum(tf.mul(x, mask), 1), tf.maximum(tf.sum(mask, 1), 1))));
}

/**
 * The value of `x` with no gradient through it (tfjs has no `stopGradient`): an identity whose
 * gradient is zero.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const t = args[0] as tf.Tensor;
    return { value: t.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return f(x) as T;
}

/**
 * Copies the values of one policy's variables into another's of the same architecture (to make
 * the frozen reference of GRPO, or to restart from a checkpoint).
 * @throws Error when the variable counts or shapes differ.
 */
export function copyWeights(from: Policy, to: Policy): void {
  const a = from.trainableVariables;
  const b = to.trainableVariables;
  assert(a.length === b.length, () => `the policies have ${a.length} and ${b.length} variables: not the same architecture`);
  a.forEach((v, i) => {
    const w = b[i] as tf.Variable;
    assert(v.shape.join(',') === w.shape.join(','), () => `variable ${i} has shape [${v.shape.join(', ')}] in one policy and [${w.shape.join(', ')}] in the other`);
    w.assign(v);
  });
}
