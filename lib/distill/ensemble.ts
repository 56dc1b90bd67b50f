/**
 * Teacher ensembles: several teachers' logits combined into one teacher for distillation.
 *
 * Two ways to combine K teachers (weights w_k >= 0, normalised to sum to 1; equal by default):
 *
 * - `mode: 'logits'`: the weighted mean of the logits, `z = sum_k w_k t_k`. Cheap, and the
 *   softmax of a mean of logits is a normalised geometric mean of the teachers' distributions:
 *   classes all teachers agree on are reinforced.
 * - `mode: 'probs'`: the weighted mean of the softened distributions,
 *   `p = sum_k w_k softmax(t_k / T)` (an arithmetic mixture: a class any one teacher believes in keeps
 *   its mass). Computed in log space, `ln p = logsumexp_k(ln w_k + log_softmax(t_k / T))`, so it never
 *   takes the log of a probability that underflowed.
 *
 * What is returned, in both modes: **teacher logits** `[batch, classes]` that plug straight into
 * {@link distillationLoss} / {@link klDivergence} at the same temperature T. In `'probs'` mode they
 * are `T * ln p` (T times the log-probabilities of the mixture), because then
 * `softmax(z / T) = softmax(ln p) = p` exactly. So:
 *
 * - the mixture's probabilities: `softmaxWithTemperature(z, T)`;
 * - its log-probabilities: `logSoftmaxWithTemperature(z, T)` (equal to `z / T`).
 *
 * In `'probs'` mode the result is tied to T: use the same T in the loss.
 */
import * as tf from '@tensorflow/tfjs';
import { assert, assertFinite, assertLogits, assertSameShape, assertTemperature, show } from './validate';
import { isArray } from '../assert';

/** How {@link ensembleTeachers} combines the teachers. */
export type EnsembleMode = 'logits' | 'probs';

/** Options of {@link ensembleTeachers}. */
export interface EnsembleOptions {
  /** `'logits'`: mean of logits; `'probs'`: mean of softmax at `temperature` (see the file's doc). */
  mode: EnsembleMode;
  /** Temperature of the softmax in `'probs'` mode (> 0, default 1). Ignored in `'logits'` mode. */
  temperature?: number;
  /** One weight >= 0 per teacher, not all 0; normalised to sum to 1. Default: equal weights. */
  weights?: readonly number[];
  /** Check the teachers' logits for NaN/Inf (one read-back each). Default true. */
  checkFinite?: boolean;
}

/**
 * Combines several teachers' logits into the logits of one ensemble teacher.
 *
 * @param teacherLogits K >= 1 float32 tensors `[batch, classes]`, all the same shape.
 * @param options `{ mode, temperature?, weights?, checkFinite? }`.
 * @returns float32 `[batch, classes]`: teacher logits to use at the same temperature (see the
 *   file's doc for `'probs'` mode: `T * ln(mean of softmax(t_k / T))`).
 * @throws Error when the list is empty, `mode` is unknown, `temperature` <= 0, the weights are not
 *   one finite number >= 0 per teacher with a positive sum, the shapes differ (`teacherLogits[1]
 *   shape [4, 3] must equal teacherLogits[0] shape [4, 10]`), or a teacher's logits hold NaN/Inf.
 */
export function ensembleTeachers(teacherLogits: readonly tf.Tensor2D[], options: EnsembleOptions): tf.Tensor2D {
  assert(isArray(teacherLogits) && teacherLogits.length >= 1,
    () => `teacherLogits must be a non-empty array of tf.Tensor2D, got ${Array.isArray(teacherLogits) ? 'an empty array' : show(teacherLogits)}`);
  const { mode } = options;
  assert(mode === 'logits' || mode === 'probs', () => `mode must be 'logits' or 'probs', got ${show(mode)}`);
  const T = options.temperature ?? 1;
  assertTemperature(T);
  const K = teacherLogits.length;
  const raw = options.weights ?? new Array<number>(K).fill(1);
  assert(raw.length === K, () => `weights must have one entry per teacher (${K}), got ${raw.length}`);
  raw.forEach((w, k) => assert(Number.isFinite(w) && w >= 0, () => `weights[${k}] must be a finite number >= 0, got ${show(w)}`));
  const total = raw.reduce((a, b) => a + b, 0);
  assert(total > 0, () => `weights must not all be 0, got ${show(raw)}`);
  const weights = raw.map((w) => w / total);

  const first = teacherLogits[0] as tf.Tensor2D;
  teacherLogits.forEach((t, k) => {
    assertLogits(t, `teacherLogits[${k}]`, 2);
    assertSameShape(t, `teacherLogits[${k}]`, first, 'teacherLogits[0]');
    if (options.checkFinite ?? true) assertFinite(t, `teacherLogits[${k}]`);
  });

  return tf.tidy(() => {
    if (mode === 'logits') {
      // sum_k w_k t_k: [K, b, c] -> [b, c]
      const terms = teacherLogits.map((t, k) => tf.mul(t, weights[k] as number));
      return tf.addN(terms) as tf.Tensor2D;
    }
    // ln p = logsumexp_k(ln w_k + log_softmax(t_k / T)); teachers with weight 0 are left out.
    const logTerms: tf.Tensor2D[] = [];
    teacherLogits.forEach((t, k) => {
      const w = weights[k] as number;
      if (w > 0) logTerms.push(tf.add<tf.Tensor2D>(tf.logSoftmax(tf.div(t, T)), Math.log(w)));
    });
    const stacked = tf.stack(logTerms); // [K', b, c]
    const logP = tf.logSumExp(stacked, 0); // [b, c]
    return tf.mul<tf.Tensor2D>(logP, T); // logits z with softmax(z / T) = p
  });
}

/** How two ensemble members compare on a labelled set (counts of examples); a table row. */
export type PairDisagreement = {
  /** `teachers i and j` (1-based). */
  pair: string;
  /** Examples on which the two predict different classes. */
  disagree: number;
  /** Examples both get wrong. */
  'both wrong': number;
  /** The errors of each, `"e_i and e_j"`. */
  'errors of each': string;
};

/**
 * For every pair of members, how often they disagree and how often both are wrong: an ensemble
 * can only correct the examples on which its members disagree.
 * @param predictions predicted classes of each member, all as long as `truth`.
 * @param truth the true classes.
 * @throws Error when there are fewer than 2 members or a member's length differs from `truth`'s.
 */
export function pairwiseDisagreement(predictions: readonly (readonly number[])[], truth: readonly number[]): PairDisagreement[] {
  assert(predictions.length >= 2, () => `predictions must hold at least 2 members, got ${predictions.length}`);
  predictions.forEach((p, k) =>
    assert(p.length === truth.length, () => `predictions[${k}] has ${p.length} entries, expected ${truth.length} (the length of truth)`),
  );
  const errors = (p: readonly number[]) => p.filter((c, n) => c !== truth[n]).length;
  const rows: PairDisagreement[] = [];
  for (let i = 0; i < predictions.length; i++) {
    for (let j = i + 1; j < predictions.length; j++) {
      const a = predictions[i] as readonly number[];
      const b = predictions[j] as readonly number[];
      rows.push({
        pair: `teachers ${i + 1} and ${j + 1}`,
        disagree: a.filter((c, n) => c !== b[n]).length,
        'both wrong': a.filter((c, n) => c !== truth[n] && b[n] !== truth[n]).length,
        'errors of each': `${errors(a)} and ${errors(b)}`,
      });
    }
  }
  return rows;
}
