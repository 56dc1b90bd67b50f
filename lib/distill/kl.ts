/**
 * KL divergence between the teacher's and the student's softened distributions, from logits.
 *
 *     KL(p || q) = sum_i p_i (ln p_i - ln q_i),   p = softmax(t / T) (teacher),  q = softmax(s / T) (student)
 *
 * Numerically stable: both logs come from `logSoftmax` (`z - logsumexp(z)`), never from the log of
 * a probability clipped away from 0, so a class the student rules out (q_i ~ 1e-40) costs its true,
 * large `ln q_i` instead of `ln(1e-7)`.
 *
 * The reduction is PyTorch's `batchmean`: the sum over classes and batch divided by the batch size,
 * which is the mathematical KL averaged over examples. (PyTorch's `mean` divides by batch x classes
 * and is not a KL.) The tests check it against
 * `F.kl_div(F.log_softmax(s / T), F.log_softmax(t / T), log_target=True, reduction='batchmean')`.
 */
import * as tf from '@tensorflow/tfjs';
import { assertFinite, assertLogits, assertSameShape, assertTemperature } from './validate';

/** Options of {@link klDivergence}. */
export interface KlOptions {
  /**
   * Check both logits for NaN/Inf before computing (one small read-back per tensor).
   * Default true; turn off in a trusted inner loop to save the sync.
   */
  checkFinite?: boolean;
}

/**
 * `KL(teacher_T || student_T)` with `batchmean` reduction, from logits.
 *
 * @param teacherLogits float32 `[batch, classes]`; the target distribution (softened at T).
 * @param studentLogits float32 `[batch, classes]`; the distribution being fitted (softened at T).
 * @param T temperature, a finite number > 0, applied to both.
 * @returns a scalar >= 0 (up to rounding): `sum_{b,i} p_bi (ln p_bi - ln q_bi) / batch`.
 *   Differentiable w.r.t. the student's logits; the teacher's are a constant (`tf.grad` w.r.t.
 *   them throws), as a frozen teacher's are.
 * @throws Error when `T` is not a finite number > 0, an argument is not a float32 rank-2 tensor,
 *   the shapes differ (both are named), or (with `checkFinite`) an argument holds NaN or Inf.
 */
export function klDivergence(
  teacherLogits: tf.Tensor2D,
  studentLogits: tf.Tensor2D,
  T: number,
  options: KlOptions = {},
): tf.Scalar {
  assertTemperature(T);
  assertLogits(teacherLogits, 'teacherLogits', 2);
  assertLogits(studentLogits, 'studentLogits', 2);
  assertSameShape(teacherLogits, 'teacherLogits', studentLogits, 'studentLogits');
  if (options.checkFinite ?? true) {
    assertFinite(teacherLogits, 'teacherLogits');
    assertFinite(studentLogits, 'studentLogits');
  }
  return klFromLogitsUnchecked(teacherLogits, studentLogits, T);
}

/**
 * `ln sum_i exp(z_i)` per row, from the logits `z` and their softmax `p`: `max(z) - ln max(p)`,
 * since the softmax's largest entry is `exp(0) / sum_i exp(z_i - max z)`. Two reductions and no
 * pass of `exp` over the rows (the softmax kernel already made them); exact where logSoftmax is,
 * because `max(p) >= 1 / classes` never underflows.
 */
export function logSumExpFromSoftmax(z: tf.Tensor2D, p: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub<tf.Tensor1D>(tf.max(z, 1), tf.log(tf.max(p, 1)))); // [b]
}

/**
 * The computation of {@link klDivergence} without the checks (for callers that already checked).
 *
 * Written for few kernels (a [4096, 1000] KL is bound by passes over memory, a [64, 10] one by
 * kernel dispatches): with `a = t / T`, `b = s / T`, `p = softmax(a)`, `q = softmax(b)`,
 *
 *     KL_row = sum_i p_i (a_i - b_i) - lse(a) + lse(b)        (since sum_i p_i = 1)
 *
 * with `lse` from {@link logSumExpFromSoftmax}, and its gradient written out (`tf.customGrad`):
 * `dKL/ds = (q - p) / (T * batch)`. The teacher's logits are a constant, as a frozen teacher's
 * are: `tf.grad` with respect to them throws.
 */
export function klFromLogitsUnchecked(teacherLogits: tf.Tensor2D, studentLogits: tf.Tensor2D, T: number): tf.Scalar {
  return tf.tidy(() => {
    const batch = teacherLogits.shape[0];
    // What the gradient needs is made inside the forward function and saved: the gradient runs
    // later (under tf.grad or an optimiser), after this tidy has disposed its own tensors.
    const kl = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const s = args[0] as tf.Tensor2D; // [b, c] student logits
      const save = args[1] as tf.GradSaveFunc;
      const a = tf.div<tf.Tensor2D>(teacherLogits, T); // [b, c]
      const b = tf.div<tf.Tensor2D>(s, T); // [b, c]
      const p = tf.softmax(a); // [b, c] teacher probabilities at T
      const q = tf.softmax(b); // [b, c] student probabilities at T
      const cross = tf.sum(tf.mul(p, tf.sub(a, b)), 1); // [b]: sum_i p_i (a_i - b_i)
      const perRow = tf.add(tf.sub(cross, logSumExpFromSoftmax(a, p)), logSumExpFromSoftmax(b, q)); // [b]
      save([p, q]);
      // Per-row sums first, then the batch: wasm's float32 sum of 4 M terms in one pass loses
      // 4e-4 relative (measured on [4096, 1000] by npm run bench); per-row sums keep it near 1e-6.
      return {
        value: tf.div(tf.sum(perRow), batch), // PyTorch's reduction='batchmean'
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [pS, qS] = saved as [tf.Tensor, tf.Tensor];
          return tf.mul(tf.sub(qS, pS), tf.div(dy, T * batch)); // [b, c]
        },
      };
    });
    return kl(studentLogits) as tf.Scalar;
  });
}
