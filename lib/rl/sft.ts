/**
 * Learning from labels, for a policy: supervised fine-tuning (SFT) on reference completions, and
 * distillation of a teacher policy's next-token distributions into a student (KD) with the lib's
 * distillation loss. Both score only the completion tokens, so the prompt is context, not target.
 *
 * - SFT: `−mean_i 1/|o_i| Σ_t ln π(o_{i,t} | q_i, o_{i,<t})`, the same per-sequence averaging as
 *   GRPO's loss.
 * - KD: {@link distillationLoss} over every completion position: α · CE with the completion's
 *   token + (1 − α) · T² · KL(teacher_T ‖ student_T).
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';
import { distillationLoss, type DistillationLossConfig } from '../distill/loss';
import { buildBatch, meanPerSequence, tokenLogProbs, type Policy } from './policy';

/**
 * The SFT loss of prompts + completions (token ids; each completion ends with `<eos>`).
 * Differentiable w.r.t. the policy's variables.
 */
export function sftLoss(policy: Policy, prompts: readonly (readonly number[])[], completions: readonly (readonly number[])[], padId: number): tf.Scalar {
  return tf.tidy(() => {
    const batch = buildBatch(prompts, completions, padId);
    return tf.neg<tf.Scalar>(meanPerSequence(tokenLogProbs(policy, batch.tokens), batch.mask));
  });
}

/**
 * One SFT update: minimises {@link sftLoss} and returns its value. Disposes the gradients.
 */
export function sftStep(policy: Policy, optimizer: tf.Optimizer, prompts: readonly (readonly number[])[], completions: readonly (readonly number[])[], padId: number): number {
  const { value, grads } = tf.variableGrads(() => sftLoss(policy, prompts, completions, padId), policy.trainableVariables);
  optimizer.applyGradients(grads);
  const loss = value.dataSync()[0] as number;
  tf.dispose([value, grads]);
  return loss;
}

/**
 * A one-hot selection matrix `[count, rows]` picking the rows where the flattened mask is 1. A
 * matmul with it selects rows with a gradient every backend has (tf.gather's gradient needs
 * UnsortedSegmentSum, which the WASM backend lacks).
 */
function selectionMatrix(batchMask: tf.Tensor2D): tf.Tensor2D {
  const m = batchMask.dataSync();
  const idx: number[] = [];
  for (let i = 0; i < m.length; i++) if (m[i] === 1) idx.push(i);
  return tf.oneHot(tf.tensor1d(idx, 'int32'), m.length).toFloat() as tf.Tensor2D; // [count, rows]
}

/**
 * The distillation loss of a student policy against a teacher policy on prompts + completions:
 * {@link distillationLoss} applied to every completion position (the hard label is the
 * completion's token). The teacher runs without gradient. Both policies must share the vocabulary.
 * @throws Error when the vocabularies differ, or the config is bad (see distillationLoss).
 */
export function kdLoss(
  student: Policy,
  teacher: Policy,
  prompts: readonly (readonly number[])[],
  completions: readonly (readonly number[])[],
  padId: number,
  config: DistillationLossConfig,
): tf.Scalar {
  assert(student.vocabSize === teacher.vocabSize, () => `teacher vocabSize ${teacher.vocabSize} must equal student vocabSize ${student.vocabSize}`);
  const loss = distillationLoss({ ...config, checkFinite: config.checkFinite ?? false });
  return tf.tidy(() => {
    const batch = buildBatch(prompts, completions, padId);
    const [n, T] = batch.tokens.shape;
    const v = student.vocabSize;
    const select = selectionMatrix(batch.mask); // [count, n·(T-1)]
    const pick = (logits: tf.Tensor3D) => tf.matMul<tf.Tensor2D>(select, logits.slice([0, 0, 0], [n, T - 1, v]).reshape([n * (T - 1), v])); // [n, T-1, v] -> [n·(T-1), v] -> [count, v]
    const targets = batch.tokens.slice([0, 1], [n, T - 1]).reshape([n * (T - 1), 1]).toFloat(); // [n·(T-1), 1]
    const labels = tf.matMul(select, targets).reshape([-1]).round().toInt() as tf.Tensor1D; // [count]
    // The teacher's variables are not among the student's, so no gradient reaches them.
    const teacherLogits = pick(teacher.logits(batch.tokens));
    return loss(labels, pick(student.logits(batch.tokens)), teacherLogits);
  });
}
