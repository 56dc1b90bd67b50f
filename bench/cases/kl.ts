/**
 * The KL divergence of distillation at a large shape, forward and forward + backward: the lib's
 * `klDivergence` (lib/distill/kl.ts, log-softmax based) against PyTorch's
 * `F.kl_div(log_q, log_p, reduction='batchmean', log_target=True)`.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase } from '../case.js';
import { hashFill } from '../fill.js';

/** Logits [batch, classes] and the temperature. */
const KL = { batch: 4096, classes: 1000, temperature: 4 } as const;

/**
 * KL(softmax(teacher / T) || softmax(student / T)), batchmean, from logits. `checkFinite: false`
 * skips the lib's NaN/Inf read-back of both inputs, as a training loop over trusted tensors would.
 */
const kl = (teacher: tf.Tensor2D, student: tf.Tensor2D): tf.Scalar =>
  lib.klDivergence(teacher, student, KL.temperature, { checkFinite: false });

function klInputs() {
  const teacher = hashFill(KL.batch, KL.classes, 3, 8); // [b, c]
  const student = hashFill(KL.batch, KL.classes, 4, 6); // [b, c]
  return { teacher, student };
}

const boundWhy = 'element-wise passes and reductions over 4M floats';

/** KL forward, and forward + backward. */
export const klCases: BenchCase[] = [
  {
    id: 'kl-forward',
    title: 'KL fwd',
    family: 'kl',
    what: 'KL(softmax(t / T) ‖ softmax(s / T)), batchmean, from logits [4096, 1000], T = 4',
    bound: 'memory',
    boundWhy,
    params: KL,
    torch: 'kl-forward',
    setup: () => {
      const { teacher, student } = klInputs();
      return { step: () => kl(teacher, student), dispose: () => tf.dispose([teacher, student]) }; // -> []
    },
  },
  {
    id: 'kl-forward-backward',
    title: 'KL fwd+bwd',
    family: 'kl',
    what: 'the same, plus its gradient with respect to the student logits `s`',
    bound: 'memory',
    boundWhy,
    params: KL,
    torch: 'kl-forward-backward',
    setup: () => {
      const { teacher, student } = klInputs();
      // d KL / d student logits; tf.grad disposes the forward's intermediates.
      const grad = tf.grad((s: tf.Tensor) => kl(teacher, s as tf.Tensor2D));
      return { step: () => grad(student), dispose: () => tf.dispose([teacher, student]) }; // -> [b, c]
    },
  },
];
