/**
 * The distillation loss (Hinton, Vinyals & Dean 2015, §2):
 *
 *     L = alpha * CE(y, softmax(s))  +  (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T))
 *
 * - `CE` is the ordinary cross-entropy with the hard labels, at T = 1, averaged over the batch.
 * - `KL` is {@link klDivergence} (batchmean): the student imitates the teacher's softened
 *   distribution.
 *
 * Why T^2: the soft term's gradient w.r.t. a student logit is
 * `dKL/ds_i = (q_i - p_i) / T` (per example), and for large T,
 * `q_i - p_i ~ (s_i - t_i) / (C T)` (after centring the logits), so the gradient shrinks as 1/T^2.
 * Multiplying by T^2 keeps the soft term's gradients at the same scale whatever T is, so changing
 * T does not silently change the balance `alpha` sets between the two terms (Hinton et al. 2015,
 * end of §2). `tests/distill-loss.test.ts` checks the 1/T^2 scaling numerically.
 *
 * Labels are integer class indices (`tf.Tensor1D`, dtype int32), not one-hot vectors: one format,
 * checked once. Use `tf.argMax(oneHot, -1)` to convert.
 */
import * as tf from '@tensorflow/tfjs';
import { klFromLogitsUnchecked } from './kl';
import { assert, assertFinite, assertLogits, assertSameShape, assertTemperature, show } from './validate';

/** Configuration of the distillation loss. */
export interface DistillationLossConfig {
  /** Weight of the hard-label cross-entropy, in [0, 1]; the soft (KL) term gets `1 - alpha`. */
  alpha: number;
  /** Softmax temperature of the soft term, > 0 (typically 1..10; Hinton et al. used up to 20). */
  temperature: number;
  /**
   * Check the logits for NaN/Inf on every call (one small read-back each). Default true.
   * `false` skips only this check: the labels are still read back and range-checked.
   */
  checkFinite?: boolean;
  /**
   * Skip every per-call check: no label read-back, no NaN/Inf read-back, no shape or dtype check.
   * For trusted inner loops whose inputs were checked once, outside the loop; a bad label then
   * gives a wrong loss silently. Default false.
   */
  trusted?: boolean;
}

/** The two terms of the loss, already weighted, and their sum. */
export interface DistillationLossTerms {
  /** `alpha * CE(labels, student)`. */
  hard: tf.Scalar;
  /** `(1 - alpha) * T^2 * KL(teacher_T || student_T)`. */
  soft: tf.Scalar;
  /** `hard + soft`. */
  total: tf.Scalar;
}

/** The function returned by {@link distillationLoss}. */
export type DistillationLossFn = (labels: tf.Tensor1D, studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D) => tf.Scalar;

/**
 * Checks `alpha` and `temperature`.
 * @throws Error `alpha must be in [0, 1], got 1.5` or `temperature must be a finite number > 0, got 0`.
 */
function checkConfig(config: DistillationLossConfig): void {
  assert(config !== null && typeof config === 'object', () => `config must be an object { alpha, temperature }, got ${show(config)}`);
  const { alpha } = config;
  assert(typeof alpha === 'number' && alpha >= 0 && alpha <= 1, () => `alpha must be in [0, 1], got ${show(alpha)}`);
  assertTemperature(config.temperature);
  assert(config.trusted === undefined || typeof config.trusted === 'boolean', () => `trusted must be a boolean, got ${show(config.trusted)}`);
}

/**
 * Checks integer class labels against logits `[batch, classes]`: int32, rank 1, one per row, each
 * in `[0, classes)` (this reads the labels back).
 * @throws Error naming the bad label and its index, or the dtype, shape or length.
 */
function checkLabels(labels: tf.Tensor1D, batch: number, classes: number, logitsName: string): void {
  assert(labels instanceof tf.Tensor, () => `labels must be a tf.Tensor1D of class indices, got ${labels === null ? 'null' : typeof labels}`);
  assert(labels.rank === 1 && labels.dtype === 'int32',
    () => `labels must be a tf.Tensor1D of int32 class indices, got dtype ${labels.dtype} shape [${labels.shape.join(', ')}]`);
  assert(labels.shape[0] === batch, () => `labels length ${labels.shape[0]} must equal the batch size of ${logitsName} ${batch}`);
  const ys = labels.dataSync();
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i] as number;
    assert(y >= 0 && y < classes, () => `labels must be class indices in [0, ${classes}), got ${y} at index ${i}`);
  }
}

/**
 * Checks the three inputs of the loss.
 * @throws Error naming the bad argument.
 */
function checkInputs(labels: tf.Tensor1D, student: tf.Tensor2D, teacher: tf.Tensor2D, checkFinite: boolean): void {
  assertLogits(student, 'studentLogits', 2);
  assertLogits(teacher, 'teacherLogits', 2);
  assertSameShape(teacher, 'teacherLogits', student, 'studentLogits');
  const [batch, classes] = student.shape;
  checkLabels(labels, batch, classes, 'studentLogits');
  if (checkFinite) {
    assertFinite(student, 'studentLogits');
    assertFinite(teacher, 'teacherLogits');
  }
}

/**
 * Mean cross-entropy of integer labels under `softmax(logits)` (T = 1):
 * `-mean_b ln softmax(s_b)[y_b]`, via logSoftmax. The hard-label term of the distillation loss,
 * and the loss of a student or teacher trained on labels alone.
 *
 * The labels are checked (one read-back): an out-of-range label would otherwise make a zero
 * one-hot row and silently drop that example from the loss. `{ trusted: true }` skips the checks.
 * @param labels int32 `[batch]`, class indices in `[0, classes)`.
 * @param logits float32 `[batch, classes]`.
 * @param options `{ trusted }`: skip the checks in a loop whose labels were checked once.
 * @throws Error `labels must be class indices in [0, 4), got 7 at index 1`, or naming a wrong
 *   dtype, rank or length of the labels, or logits that are not float32 `[batch, classes]`.
 */
export function crossEntropy(labels: tf.Tensor1D, logits: tf.Tensor2D, options: { trusted?: boolean } = {}): tf.Scalar {
  if (options.trusted !== true) {
    assertLogits(logits, 'logits', 2);
    checkLabels(labels, logits.shape[0], logits.shape[1], 'logits');
  }
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const logQ = tf.logSoftmax(logits); // [b, c]
    const picked = tf.sum(tf.mul(tf.oneHot(labels, classes), logQ), -1); // [b]: ln q_b[y_b]
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/**
 * The weighted terms of the distillation loss, for lessons that plot them separately.
 *
 * @param labels int32 `[batch]`, class indices in `[0, classes)`.
 * @param studentLogits float32 `[batch, classes]`.
 * @param teacherLogits float32 `[batch, classes]`.
 * @param config `{ alpha, temperature, checkFinite? }`.
 * @returns `{ hard, soft, total }`, three scalars the caller disposes.
 * @throws Error when `alpha` is outside [0, 1], `temperature` <= 0, the logits' shapes differ
 *   (both named), a label is out of range (value and index named), or a logits tensor holds NaN/Inf
 *   (its name given).
 */
export function distillationLossTerms(
  labels: tf.Tensor1D,
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  config: DistillationLossConfig,
): DistillationLossTerms {
  checkConfig(config);
  if (config.trusted !== true) checkInputs(labels, studentLogits, teacherLogits, config.checkFinite ?? true);
  const { alpha, temperature: T } = config;
  return tf.tidy(() => {
    const hard: tf.Scalar = tf.mul(alpha, crossEntropy(labels, studentLogits, { trusted: true })); // checked above
    const soft: tf.Scalar = tf.mul((1 - alpha) * T * T, klFromLogitsUnchecked(teacherLogits, studentLogits, T));
    return { hard, soft, total: tf.add<tf.Scalar>(hard, soft) };
  });
}

/**
 * Builds the distillation loss `alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T)`.
 * The configuration is checked once, here; the inputs on every call, unless `trusted: true`.
 * What each call reads back from the backend: the labels (range check) and, with `checkFinite`
 * (default), one boolean per logits tensor; `checkFinite: false` leaves the labels' read-back;
 * `trusted: true` reads nothing back and checks nothing.
 *
 * ```ts
 * const loss = distillationLoss({ alpha: 0.5, temperature: 4 });
 * const value = loss(labels, studentLogits, teacherLogits); // tf.Scalar
 * ```
 *
 * @param config `{ alpha, temperature, checkFinite?, trusted? }`: see {@link DistillationLossConfig}.
 * @returns `(labels, studentLogits, teacherLogits) => tf.Scalar`, differentiable w.r.t. the
 *   student logits (and anything they depend on). Labels are int32 class indices, not one-hot.
 * @throws Error at construction: `alpha must be in [0, 1], got 1.5`,
 *   `temperature must be a finite number > 0, got 0`. At each call: shape mismatch
 *   (`teacherLogits shape [4, 10] must equal studentLogits shape [4, 5]`), labels out of range
 *   (`labels must be class indices in [0, 10), got 12 at index 3`), wrong label dtype or length,
 *   NaN/Inf (`studentLogits contains NaN or Inf (...)`).
 */
export function distillationLoss(config: DistillationLossConfig): DistillationLossFn {
  checkConfig(config);
  const frozen: DistillationLossConfig = { ...config };
  const trusted = frozen.trusted === true;
  return (labels, studentLogits, teacherLogits) => {
    if (!trusted) checkInputs(labels, studentLogits, teacherLogits, frozen.checkFinite ?? true);
    return fusedDistillationLoss(labels, studentLogits, teacherLogits, frozen.alpha, frozen.temperature);
  };
}

/**
 * The loss with its gradient w.r.t. the student's logits written out (`tf.customGrad`) instead
 * of traced through autodiff. For a batch of B examples:
 *
 *     dL/ds = [ alpha * (softmax(s) - onehot(y)) + (1 - alpha) * T * (softmax(s/T) - softmax(t/T)) ] / B
 *
 * (the soft term: `T^2 * (q_T - p_T) / T`). Same value as the traced form, and the same gradient
 * (tests/distill-loss.test.ts checks both, and the PyTorch goldens cover it), but a training
 * step dispatches about half as many tfjs kernels, and on the WASM backend a small model's step
 * costs per kernel, not per FLOP (bench/README.md).
 *
 * The teacher's logits are constants here, as a frozen teacher's are: no gradient flows to
 * them (`tf.grad` w.r.t. them throws).
 */
function fusedDistillationLoss(labels: tf.Tensor1D, student: tf.Tensor2D, teacher: tf.Tensor2D, alpha: number, T: number): tf.Scalar {
  return tf.tidy(() => {
    const [batch, classes] = student.shape;
    // Everything the gradient needs is made inside the forward function and saved: the gradient
    // runs later (under tf.grad or an optimiser), after this tidy has disposed its own tensors.
    const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const s = args[0] as tf.Tensor; // [b, c] student logits
      const save = args[1] as tf.GradSaveFunc;
      const oneHot = tf.oneHot(labels, classes).toFloat(); // [b, c]
      const logPT = tf.logSoftmax(tf.div(teacher, T)); // [b, c] teacher log-probs at T
      const pT = tf.exp(logPT); // [b, c]
      const logQ = tf.logSoftmax(s); // [b, c]
      const logQT = tf.logSoftmax(tf.div(s, T)); // [b, c]
      // Per example: -ln q[y] and KL(p_T || q_T); row sums first (see klFromLogitsUnchecked).
      const ce = tf.neg(tf.sum(tf.mul(oneHot, logQ), 1)); // [b]
      const kl = tf.sum(tf.mul(pT, tf.sub(logPT, logQT)), 1); // [b]
      const perExample = tf.add(tf.mul(alpha, ce), tf.mul((1 - alpha) * T * T, kl)); // [b]
      save([logQ, logQT, oneHot, pT]);
      return {
        value: tf.div(tf.sum(perExample), batch),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [lq, lqT, y, p] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const hard = tf.mul(alpha, tf.sub(tf.exp(lq), y));
          const soft = tf.mul((1 - alpha) * T, tf.sub(tf.exp(lqT), p));
          return tf.mul(tf.add(hard, soft), tf.div(dy, batch));
        },
      };
    });
    return loss(student) as tf.Scalar;
  });
}
