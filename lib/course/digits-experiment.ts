/**
 * The distillation lessons' shared experiment: the UCI digits split, a large teacher and a small
 * student, with their configs in one place so that lessons 01-04 train the same models.
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropy } from '../distill/loss';
import { augmentDigits, digitsToTensors, loadDigits, splitDigits, type DigitAugmentOptions, type DigitsData, type DigitsSplit } from '../data/digits';
import { mlp } from '../models/mlp';
import { flatAdam } from '../optim/flat';
import { Rng } from '../random';
import { train, type Dataset, type TrainHistory } from '../train/loop';

/** The teacher: 64 -> 256 -> 256 -> 10 with dropout, about 85 k parameters. */
export const TEACHER_CONFIG = {
  /** Hidden widths. */
  hidden: [256, 256],
  /** Dropout after each hidden layer (regularises the large model, as in Hinton et al. 2015). */
  dropout: 0.2,
  /** Passes over the training set. */
  epochs: 40,
  /** Examples per step. */
  batchSize: 64,
  /** Adam's learning rate. */
  learningRate: 1e-3,
} as const;

/** The student: 64 -> 8 -> 10, about 600 parameters, 140 times fewer than the teacher. */
export const STUDENT_CONFIG = {
  /** Hidden widths. */
  hidden: [8],
  /** Passes over the training set. */
  epochs: 60,
  /** Examples per step. */
  batchSize: 64,
  /** Adam's learning rate. */
  learningRate: 1e-2,
} as const;

/** The data of one experiment, as tensors. Call `dispose()` when done. */
export interface DigitsExperiment {
  split: DigitsSplit;
  train: Dataset;
  val: { x: tf.Tensor2D; y: tf.Tensor1D };
  test: { x: tf.Tensor2D; y: tf.Tensor1D };
  dispose(): void;
}

function tensors(d: DigitsData): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const t = digitsToTensors(d);
  return { x: t.x as tf.Tensor2D, y: t.y };
}

/**
 * Loads the digits (hash-checked) and splits them 70/15/15, stratified, with `seed`.
 * @throws Error when the data file is missing or its hash differs.
 */
export function digitsExperiment(seed: number): DigitsExperiment {
  const split = splitDigits(loadDigits(), { seed });
  const tr = tensors(split.train);
  const val = tensors(split.val);
  const test = tensors(split.test);
  return {
    split,
    train: tr,
    val,
    test,
    dispose: () => tf.dispose([tr.x, tr.y, val.x, val.y, test.x, test.y]),
  };
}

/**
 * An augmentation for the training loop (`train({ augment })`), with the given shift and noise:
 * `digitsAugmentation({ maxShift: 1, noiseStd: 0 })` shifts only, `{ maxShift: 0, noiseStd: 0.05 }`
 * adds noise only.
 * @throws Error (at the first batch) on a bad option, see {@link augmentDigits}.
 */
export function digitsAugmentation(options: DigitAugmentOptions): (x: tf.Tensor2D, rng: Rng) => tf.Tensor2D {
  return (x, rng) => tf.tensor2d(augmentDigits(x.dataSync() as Float32Array, rng, options), x.shape);
}

/** The course's augmentation: random shifts of up to one pixel and Gaussian noise of std 0.05. */
export const digitsAugment = digitsAugmentation({ maxShift: 1, noiseStd: 0.05 });

/**
 * Trains the course's teacher on the experiment's training set.
 * @param options.epochs overrides TEACHER_CONFIG.epochs (lessons scale it).
 */
export async function trainTeacher(
  exp: DigitsExperiment,
  options: { seed: number; epochs?: number; hidden?: readonly number[]; progress?: boolean | string },
): Promise<{ model: tf.Sequential; history: TrainHistory }> {
  const rng = new Rng(options.seed);
  const model = mlp({ inputs: 64, hidden: options.hidden ?? TEACHER_CONFIG.hidden, outputs: 10, dropout: TEACHER_CONFIG.dropout, rng, name: 'teacher' });
  const optimizer = flatAdam(TEACHER_CONFIG.learningRate); // tf.train.adam's update, fewer kernels (lib/optim/flat.ts)
  const history = await train(model, { x: exp.train.x, y: exp.train.y }, {
    epochs: options.epochs ?? TEACHER_CONFIG.epochs,
    batchSize: TEACHER_CONFIG.batchSize,
    optimizer,
    loss: (b, logits) => crossEntropy(b.y, logits),
    rng,
    validation: exp.val,
    progress: options.progress ?? 'teacher',
  });
  optimizer.dispose();
  return { model, history };
}

/** A fresh student with the course's config. */
export function newStudent(seed: number, hidden: readonly number[] = STUDENT_CONFIG.hidden): tf.Sequential {
  return mlp({ inputs: 64, hidden, outputs: 10, rng: new Rng(seed), name: 'student' });
}

/** Logits of `model` on `x`, in inference mode. */
export function logitsOf(model: tf.LayersModel, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => model.predict(x, { batchSize: 512 }) as tf.Tensor2D);
}
