/**
 * lib/distill/ensemble.ts: combining teachers by mean of logits or mean of softened probabilities.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { ensembleTeachers, pairwiseDisagreement } from '../lib/distill/ensemble';
import { logSoftmaxWithTemperature, softmaxWithTemperature } from '../lib/distill/temperature';
import { compareClose } from './helpers/golden';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

describe('ensembleTeachers', () => {
  const t1 = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
  const t2 = tf.tensor2d([[0, 1, -2], [1, -1, 0]]);
  const t3 = tf.tensor2d([[-1, 4, 0], [2, 2, 2]]);

  it("mode 'logits' is the (weighted) mean of the logits", () => {
    tf.tidy(() => {
      const z = ensembleTeachers([t1, t2], { mode: 'logits' }).dataSync();
      // Reference (hand): (t1 + t2) / 2
      expect(Array.from(z)).toEqual([1, 0.5, -1.5, 0.75, -0.25, 1.5]);
      const w = ensembleTeachers([t1, t2], { mode: 'logits', weights: [3, 1] }).dataSync();
      // Reference (hand): 0.75 t1 + 0.25 t2, first row: [1.5, 0.25, -1.25]
      expect(compareClose(w.slice(0, 3), [1.5, 0.25, -1.25])).toBeNull();
    });
  });

  it("mode 'probs' returns logits z with softmax(z / T) = mean of softmax(t_k / T), exactly as documented", () => {
    tf.tidy(() => {
      for (const T of [1, 2.5]) {
        const z = ensembleTeachers([t1, t2, t3], { mode: 'probs', temperature: T });
        const mean = tf.div(tf.addN([t1, t2, t3].map((t) => softmaxWithTemperature(t, T))), 3);
        // Reference: the arithmetic mean of the three softened distributions, computed directly
        expect(compareClose(softmaxWithTemperature(z, T).dataSync(), mean.dataSync())).toBeNull();
        // z / T are already the log-probabilities of the mixture
        expect(compareClose(logSoftmaxWithTemperature(z, T).dataSync(), tf.div(z, T).dataSync(), 1e-5, 1e-6)).toBeNull();
      }
      // Weights: [1, 0, 0] gives back teacher 1's distribution.
      const only1 = ensembleTeachers([t1, t2, t3], { mode: 'probs', temperature: 2, weights: [1, 0, 0] });
      expect(compareClose(softmaxWithTemperature(only1, 2).dataSync(), softmaxWithTemperature(t1, 2).dataSync())).toBeNull();
    });
  });

  it("mode 'probs' stays finite when a teacher's probabilities underflow", () => {
    tf.tidy(() => {
      const a = tf.tensor2d([[0, -2000, -4000]]);
      const b = tf.tensor2d([[-4000, -2000, 0]]);
      const z = ensembleTeachers([a, b], { mode: 'probs' }).dataSync();
      for (const v of z) expect(Number.isFinite(v)).toBe(true);
      // Reference (hand): p = [0.5, ~0, 0.5] so ln p_0 = ln 0.5 = -0.6931471805599453
      expect(z[0]).toBeCloseTo(-0.6931471805599453, 5);
    });
  });

  it('is differentiable and leaks nothing', () => {
    expectNoLeak(() => ensembleTeachers([t1, t2], { mode: 'logits' }), 'ensemble logits');
    expectNoLeak(() => ensembleTeachers([t1, t2, t3], { mode: 'probs', temperature: 3 }), 'ensemble probs');
    expectNoLeak(() => tf.grad((x: tf.Tensor) => tf.sum(ensembleTeachers([x as tf.Tensor2D, t2], { mode: 'probs', temperature: 2 })))(t1), 'grad');
  });

  it('rejects bad arguments, naming them', () => {
    const odd: tf.Tensor2D = tf.zeros([2, 4]);
    const nan = tf.tensor2d([[0, Number.NaN, 0], [0, 0, 0]]);
    expect(() => ensembleTeachers([], { mode: 'logits' })).toThrowError(/^teacherLogits must be a non-empty array of tf\.Tensor2D, got an empty array$/);
    expect(() => ensembleTeachers([t1], { mode: 'mean' as 'logits' })).toThrowError(/^mode must be 'logits' or 'probs', got "mean"$/);
    expect(() => ensembleTeachers([t1], { mode: 'probs', temperature: 0 })).toThrowError(/^temperature must be a finite number > 0, got 0$/);
    expect(() => ensembleTeachers([t1, t2], { mode: 'logits', weights: [1] })).toThrowError(/^weights must have one entry per teacher \(2\), got 1$/);
    expect(() => ensembleTeachers([t1, t2], { mode: 'logits', weights: [1, -1] })).toThrowError(/^weights\[1\] must be a finite number >= 0, got -1$/);
    expect(() => ensembleTeachers([t1, t2], { mode: 'logits', weights: [0, 0] })).toThrowError(/^weights must not all be 0, got \[0,0\]$/);
    expect(() => ensembleTeachers([t1, odd], { mode: 'logits' })).toThrowError(/^teacherLogits\[1\] shape \[2, 4\] must equal teacherLogits\[0\] shape \[2, 3\]$/);
    expect(() => ensembleTeachers([t1, nan], { mode: 'logits' })).toThrowError(/^teacherLogits\[1\] contains NaN or Inf/);
    tf.dispose([odd, nan]);
  });
});

describe('pairwiseDisagreement', () => {
  it('counts disagreements and shared errors for every pair', () => {
    // Hand example: truth [0, 1, 2, 3]; A = [0, 1, 2, 0] (1 error), B = [0, 1, 0, 0] (2 errors),
    // C = [0, 1, 2, 3] (none). A/B differ at index 2 and both miss index 3; A/C differ at 3; B/C at 2 and 3.
    const rows = pairwiseDisagreement([[0, 1, 2, 0], [0, 1, 0, 0], [0, 1, 2, 3]], [0, 1, 2, 3]);
    expect(rows).toEqual([
      { pair: 'teachers 1 and 2', disagree: 1, 'both wrong': 1, 'errors of each': '1 and 2' },
      { pair: 'teachers 1 and 3', disagree: 1, 'both wrong': 0, 'errors of each': '1 and 0' },
      { pair: 'teachers 2 and 3', disagree: 2, 'both wrong': 0, 'errors of each': '2 and 0' },
    ]);
  });
  it('rejects one member and members of the wrong length', () => {
    expect(() => pairwiseDisagreement([[0]], [0])).toThrow(/^predictions must hold at least 2 members, got 1$/);
    expect(() => pairwiseDisagreement([[0], [0, 1]], [0])).toThrow(/^predictions\[1\] has 2 entries, expected 1 \(the length of truth\)$/);
  });
});
