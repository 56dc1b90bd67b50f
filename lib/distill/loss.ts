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
import { FUSED_DISTILLATION_LOSS, FUSED_DISTILLATION_LOSS_BACKENDS, fusedDistillationLossKernel, hasFusedDistillationLoss } from './fused-loss';
import { klFromLogitsUnchecked, logSumExpFromSoftmax } from './kl';
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
  /**
   * Which implementation computes the loss and its gradient. Default (undefined): the fused
   * kernel (lib/distill/fused-loss.ts: one forward kernel, one for the gradient) where the active
   * backend has it (wasm, cpu), else the composed tf ops. `true`: the fused kernel, or an error
   * on a backend without it. `false`: the composed tf ops (for comparison; 33 kernels, 44 with a tape).
   */
  fused?: boolean;
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
  assert(config.fused === undefined || typeof config.fused === 'boolean', () => `fused must be a boolean, got ${show(config.fused)}`);
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
 * `trusted: true` reads nothing back and checks nothing (but the fused kernel still throws on a
 * label out of range: it reads the labels in place, on wasm and cpu, at no extra cost).
 *
 * On wasm and cpu the loss and its gradient run as one kernel each (lib/distill/fused-loss.ts);
 * `fused: false` selects the composed tf ops, which other backends (webgl, tensorflow) use.
 *
 * ```ts
 * const loss = distillationLoss({ alpha: 0.5, temperature: 4 });
 * const value = loss(labels, studentLogits, teacherLogits); // tf.Scalar
 * ```
 *
 * @param config `{ alpha, temperature, checkFinite?, trusted?, fused? }`: see {@link DistillationLossConfig}.
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
    if (useFusedKernel(frozen.fused)) return kernelDistillationLoss(labels, studentLogits, teacherLogits, frozen.alpha, frozen.temperature);
    return composedDistillationLoss(labels, studentLogits, teacherLogits, frozen.alpha, frozen.temperature);
  };
}

/**
 * Whether a call runs the one-kernel loss, from the config's `fused` and the active backend.
 * @throws Error `fused: true needs the FrugalDistillationLoss kernel (wasm, cpu), but the backend is webgl`.
 */
function useFusedKernel(fused: boolean | undefined): boolean {
  if (fused === false) return false;
  const available = hasFusedDistillationLoss();
  assert(available || fused === undefined,
    () => `fused: true needs the ${FUSED_DISTILLATION_LOSS} kernel (${FUSED_DISTILLATION_LOSS_BACKENDS.join(', ')}), but the backend is ${tf.getBackend()}`);
  return available;
}

/**
 * The loss by the fused kernel (lib/distill/fused-loss.ts), which writes the value and the
 * gradient at `dy = 1` in one pass. Wrapped in `tf.customGrad` with the student's logits as its
 * only input, so that the teacher's logits stay a constant off the tape (`tf.grad` w.r.t. them
 * throws, as in the composed path). Kernels: the fused one; on a tape, one Identity (saving the
 * gradient) and, in the backward pass, one Multiply by `dy`.
 */
function kernelDistillationLoss(labels: tf.Tensor1D, student: tf.Tensor2D, teacher: tf.Tensor2D, alpha: number, T: number): tf.Scalar {
  const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const s = args[0] as tf.Tensor2D; // [b, c] student logits
    const save = args[1] as tf.GradSaveFunc;
    const [value, grad] = fusedDistillationLossKernel(labels, s, teacher, alpha, T); // [], [b, c]
    save([grad]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0] as tf.Tensor, dy), // [b, c]
    };
  });
  return loss(student);
}

/**
 * The composed path (`fused: false`, and backends without the fused kernel: webgl, tensorflow).
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
function composedDistillationLoss(labels: tf.Tensor1D, student: tf.Tensor2D, teacher: tf.Tensor2D, alpha: number, T: number): tf.Scalar {
  return tf.tidy(() => {
    const [batch, classes] = student.shape;
    // Everything the gradient needs is made inside the forward function and saved: the gradient
    // runs later (under tf.grad or an optimiser), after this tidy has disposed its own tensors.
    const loss = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const s = args[0] as tf.Tensor2D; // [b, c] student logits
      const save = args[1] as tf.GradSaveFunc;
      // Few kernels (a small model's step costs per kernel on wasm): three softmax kernels, and
      // each log-sum-exp from its softmax (logSumExpFromSoftmax) instead of a logSoftmax chain.
      const a = tf.div<tf.Tensor2D>(teacher, T); // [b, c]
      const b = tf.div<tf.Tensor2D>(s, T); // [b, c]
      const p = tf.softmax(a); // [b, c] teacher probabilities at T
      const qT = tf.softmax(b); // [b, c] student probabilities at T
      const q = tf.softmax(s); // [b, c] student probabilities at 1
      // [b, c]: alpha at each label. oneHot is int32, then cast: wasm's OneHot (tfjs 4.22) ignores
      // dtype 'float32' and onValue, writing integer bits into a float buffer.
      const yAlpha = tf.mul(tf.cast(tf.oneHot(labels, classes), 'float32'), alpha);
      const c = (1 - alpha) * T * T;
      // Per example: alpha (lse(s) - s_y) + c (sum_i p_i (a_i - b_i) - lse(a) + lse(b)), the
      // second being T^2 KL(p_T || q_T) since sum_i p_i = 1. Row sums first (see klFromLogitsUnchecked).
      const lse = tf.add(tf.mul(logSumExpFromSoftmax(s, q), alpha), tf.mul(tf.sub(logSumExpFromSoftmax(b, qT), logSumExpFromSoftmax(a, p)), c)); // [b]
      const elementwise = tf.sub(tf.mul(tf.mul(p, c), tf.sub(a, b)), tf.mul(yAlpha, s)); // [b, c]
      const perExample = tf.add(tf.sum(elementwise, 1), lse); // [b]
      save([q, qT, p, yAlpha]);
      return {
        value: tf.div(tf.sum(perExample), batch),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [qS, qTS, pS, yS] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          // alpha (q - onehot) + (1 - alpha) T (q_T - p_T), per example, / batch
          const g = tf.add(tf.sub(tf.mul(qS, alpha), yS), tf.mul(tf.sub(qTS, pS), (1 - alpha) * T));
          return tf.mul(g, tf.div(dy, batch));
        },
      };
    });
    return loss(student) as tf.Scalar;
  });
}
