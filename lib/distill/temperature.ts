/**
 * Temperature scaling and soft targets (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in
 * a Neural Network", §2).
 *
 *     q_i = exp(z_i / T) / sum_j exp(z_j / T)
 *
 * T = 1 is the ordinary softmax. T > 1 softens the distribution: the small probabilities a teacher
 * gives to wrong classes ("dog" 0.20 and "rabbit" 0.05 for a cat) grow, and they carry what the
 * teacher knows about which classes resemble each other. T < 1 sharpens it towards one-hot. As
 * T -> infinity every class tends to 1/C.
 *
 * All functions work on the last axis, run inside `tf.tidy` and are differentiable.
 */
import * as tf from '@tensorflow/tfjs';
import { assertLogits, assertTemperature } from './validate';

/**
 * Softmax of `logits / T` over the last axis.
 *
 * @param logits float32 tensor, classes on the last axis, e.g. `[batch, classes]`.
 * @param T temperature, a finite number > 0.
 * @returns probabilities of the same shape; each row sums to 1.
 * @throws Error when `T` is not a finite number > 0 (`temperature must be a finite number > 0, got 0`),
 *   or `logits` is not a non-empty float32 tensor.
 */
export function softmaxWithTemperature<R extends tf.Rank>(logits: tf.Tensor<R>, T: number): tf.Tensor<R> {
  assertTemperature(T);
  assertLogits(logits, 'logits');
  return tf.tidy(() => tf.softmax(tf.div(logits, T)) as tf.Tensor<R>);
}

/**
 * Log-softmax of `logits / T` over the last axis, computed as `z/T - logsumexp(z/T)`, which stays
 * finite where `log(softmax(...))` would give `log(0) = -Infinity`.
 *
 * @param logits float32 tensor, classes on the last axis.
 * @param T temperature, a finite number > 0.
 * @returns log-probabilities of the same shape.
 * @throws Error when `T` is not a finite number > 0, or `logits` is not a non-empty float32 tensor.
 */
export function logSoftmaxWithTemperature<R extends tf.Rank>(logits: tf.Tensor<R>, T: number): tf.Tensor<R> {
  assertTemperature(T);
  assertLogits(logits, 'logits');
  return tf.tidy(() => tf.logSoftmax(tf.div(logits, T)) as tf.Tensor<R>);
}

/**
 * The teacher's soft targets: `softmax(teacherLogits / T)`. The same computation as
 * {@link softmaxWithTemperature}, named for its role: the distribution the student learns to
 * imitate. It stays differentiable (tfjs has no stop-gradient); in a training step the teacher's
 * logits are constants, so no gradient reaches the teacher anyway.
 *
 * @param teacherLogits float32 tensor `[batch, classes]` (or any rank, classes last).
 * @param T temperature, a finite number > 0; the same T must be used for the student.
 * @returns probabilities of the same shape.
 * @throws Error when `T` is not a finite number > 0, or `teacherLogits` is not a non-empty float32 tensor.
 */
export function softTargets<R extends tf.Rank>(teacherLogits: tf.Tensor<R>, T: number): tf.Tensor<R> {
  assertTemperature(T);
  assertLogits(teacherLogits, 'teacherLogits');
  return tf.tidy(() => tf.softmax(tf.div(teacherLogits, T)) as tf.Tensor<R>);
}

/**
 * Shannon entropy `H(p) = -sum_i p_i ln p_i` (in nats) over the last axis, with `0 ln 0 = 0`.
 * A lesson uses it to show how temperature spreads the teacher's distribution: H grows from
 * near 0 (confident) towards `ln C` (uniform) as T grows.
 *
 * The log is taken of `p` where `p > 0` and of 1 where `p = 0`, so both the value and the gradient
 * stay finite at `p = 0` (no clipping of the probabilities). The gradient is `-(ln p + 1)`, and 0
 * at `p = 0`.
 *
 * @param probs float32 probabilities, classes on the last axis (each row should sum to 1; this is
 *   not checked).
 * @returns entropy per row: shape `probs.shape` without the last axis (a scalar for a 1-D input).
 * @throws Error when `probs` is not a non-empty float32 tensor.
 */
export function entropy(probs: tf.Tensor): tf.Tensor {
  assertLogits(probs, 'probs');
  return tf.tidy(() => entropyOp(probs));
}

/**
 * `-sum p ln p` with a custom gradient `-(ln p + 1)` where `p > 0` and 0 where `p = 0` (the
 * derivative of `p ln p` is unbounded at 0; 0 is the value the masked formula below gives).
 * A custom gradient because the mask needs a comparison, which has no gradient in tfjs, and
 * `tf.sign` is not a usable mask: the wasm backend (tfjs 4.22) returns 0 for positive values <= 1e-7.
 */
const entropyOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const probs = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const positive = tf.greater(probs, 0);
  const safe = tf.where(positive, probs, tf.onesLike(probs)); // p where p > 0, 1 where p = 0
  const logSafe = tf.log(safe); // ln p, or 0 where p = 0
  save([logSafe, tf.cast(positive, 'float32')]);
  return {
    value: tf.neg(tf.sum(tf.mul(probs, logSafe), -1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [lnP, mask] = saved as [tf.Tensor, tf.Tensor];
      // d/dp_i (-sum p ln p) = -(ln p_i + 1), masked to 0 where p_i = 0; dy broadcasts over classes
      return tf.mul(tf.expandDims(dy, -1), tf.neg(tf.add(lnP, mask)));
    },
  };
});
