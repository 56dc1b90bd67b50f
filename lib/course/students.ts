/**
 * The student-training helpers of the distillation lessons (03 and 04): train one student on a
 * seed, train one per seed, summarise the accuracies, and draw the few-label subsets. Lessons
 * import them from here instead of carrying copies.
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropy, distillationLoss } from '../distill/loss';
import { flatAdam } from '../optim/flat';
import { Progress } from '../progress';
import { Rng } from '../random';
import { accuracy, train, type Batch, type Dataset, type TrainHistory } from '../train/loop';
import { newStudent, STUDENT_CONFIG, type DigitsExperiment } from './digits-experiment';

/** A training loss: the loss of a batch given the model's logits on it. */
export type LossFn = (batch: Batch, logits: tf.Tensor2D) => tf.Scalar;

/** One trained student. */
export interface StudentRun {
  seed: number;
  /** Test accuracy after training. */
  accuracy: number;
  /** Validation accuracy after training: choose settings on this one, report `accuracy` once. */
  valAccuracy: number;
  history: TrainHistory;
  /** The trained student, kept only with `keep: true` (the caller disposes it). */
  model?: tf.Sequential;
}

/** How to train a student; every field is optional (the course's student config otherwise). */
export interface StudentOptions {
  /**
   * A new optimiser for each run (default: Adam at STUDENT_CONFIG.learningRate, the lib's
   * flat-parameter {@link flatAdam}: tf.train.adam's update in half the kernels).
   */
  optimizer?: () => tf.Optimizer;
  /** Learning rate per step, steps from 1 (lib/optim/schedules.ts). */
  lrSchedule?: (step: number) => number;
  /** Batch size per epoch, epochs from 1 (lib/optim/schedules.ts). */
  batchSchedule?: (epoch: number) => number;
  /** Transforms a training batch's images. */
  augment?: (x: tf.Tensor2D, rng: Rng) => tf.Tensor2D;
  /** Passes over the data (default STUDENT_CONFIG.epochs). */
  epochs?: number;
  /** Examples per step (default STUDENT_CONFIG.batchSize). */
  batchSize?: number;
  /** Hidden widths of the student (default STUDENT_CONFIG.hidden). */
  hidden?: readonly number[];
  /** Keep the trained model in the result (default false: it is disposed). */
  keep?: boolean;
  /** Measure validation accuracy after every epoch, for curves (default true). */
  validate?: boolean;
  /** A live display label, or false (default false). */
  progress?: string | false;
}

/** The hard-label loss: cross-entropy with the batch's labels (checked once per step). */
export const hardLabelLoss: LossFn = (b, logits) => crossEntropy(b.y, logits);

/**
 * The distillation loss on a batch that carries the teacher's logits (`teacherLogits` in the
 * data set): `alpha * CE + (1 - alpha) * T^2 * KL`. Inputs are checked once, on the first batch;
 * later steps skip every check (`trusted: true`), since they come from the same checked tensors.
 * @throws Error at the first step when the batch has no teacherLogits, or a label is out of range.
 */
export function distillLoss(config: { alpha: number; temperature: number }): LossFn {
  const checked = distillationLoss({ alpha: config.alpha, temperature: config.temperature });
  const trusted = distillationLoss({ alpha: config.alpha, temperature: config.temperature, trusted: true });
  let first = true;
  return (b, logits) => {
    if (!b.teacherLogits) throw new Error('a distillation loss needs teacherLogits in the data set');
    if (!first) return trusted(b.y, logits, b.teacherLogits);
    first = false;
    return checked(b.y, logits, b.teacherLogits);
  };
}

/**
 * Trains one student: its initial weights and its shuffles come from `seed`, so two runs with the
 * same seed differ only in what the options and the loss change.
 * @returns test and validation accuracy after training, and the history.
 */
export async function trainStudent(
  exp: DigitsExperiment,
  seed: number,
  data: Dataset,
  loss: LossFn,
  options: StudentOptions = {},
): Promise<StudentRun> {
  const student = newStudent(seed, options.hidden ?? STUDENT_CONFIG.hidden);
  const optimizer = options.optimizer ? options.optimizer() : flatAdam(STUDENT_CONFIG.learningRate);
  const validate = options.validate ?? true;
  const history = await train(student, data, {
    epochs: options.epochs ?? STUDENT_CONFIG.epochs,
    batchSize: options.batchSize ?? STUDENT_CONFIG.batchSize,
    optimizer,
    loss,
    rng: new Rng(seed),
    lrSchedule: options.lrSchedule,
    batchSchedule: options.batchSchedule,
    augment: options.augment,
    progress: options.progress ?? false,
    ...(validate ? { validation: exp.val } : {}),
  });
  optimizer.dispose();
  const valAccuracy = validate ? (history.valAccuracy.at(-1) as number) : await accuracy(student, exp.val.x, exp.val.y);
  const acc = await accuracy(student, exp.test.x, exp.test.y);
  if (!options.keep) student.dispose();
  return { seed, accuracy: acc, valAccuracy, history, ...(options.keep ? { model: student } : {}) };
}

/**
 * Trains one student per seed, with a live display of the seeds (and of the first seed's
 * training when `progress` is not false).
 * @param data the data set of a seed (the same for all, or a per-seed subset).
 */
export async function overSeeds(
  exp: DigitsExperiment,
  name: string,
  seeds: readonly number[],
  data: (seed: number) => Dataset,
  loss: LossFn,
  options: StudentOptions = {},
): Promise<StudentRun[]> {
  const runs: StudentRun[] = [];
  const bar = new Progress({ total: seeds.length, label: `${name}: seeds`, curve: 'test acc', sparkline: 'points' });
  for (const [i, seed] of seeds.entries()) {
    const progress = options.progress === false || i > 0 ? false : `${name}, seed ${seed}`;
    const run = await trainStudent(exp, seed, data(seed), loss, { ...options, progress });
    runs.push(run);
    bar.update(i + 1, { 'test acc': run.accuracy });
  }
  bar.done();
  return runs;
}

/** Mean, sample standard deviation (n − 1), minimum and maximum. */
export interface Summary {
  mean: number;
  std: number;
  min: number;
  max: number;
}

/**
 * Mean, sample standard deviation (n − 1; 0 for one value), min and max of `xs`.
 * @throws Error when `xs` is empty or holds a non-finite number.
 */
export function summarise(xs: readonly number[]): Summary {
  if (xs.length === 0) throw new Error('summarise needs at least one value, got none');
  xs.forEach((x, i) => {
    if (!Number.isFinite(x)) throw new Error(`values must be finite numbers, got ${x} at index ${i}`);
  });
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs) };
}

/** {@link summarise} of the runs' test accuracies. */
export function summariseRuns(runs: readonly StudentRun[], which: 'accuracy' | 'valAccuracy' = 'accuracy'): Summary {
  return summarise(runs.map((r) => r[which]));
}

/**
 * Indices of `perClass` examples of each class, drawn with `rng` (a few-label regime: 10 per
 * digit gives 100 labelled images). Class by class, in class order; within a class, a shuffle.
 * @throws Error when a class has fewer than `perClass` examples.
 */
export function sampleLabelled(labels: ArrayLike<number>, classes: number, perClass: number, rng: Rng): number[] {
  const all = Array.from({ length: labels.length }, (_, i) => i);
  return Array.from({ length: classes }, (_, c) => {
    const members = all.filter((i) => labels[i] === c);
    if (members.length < perClass) throw new Error(`class ${c} has ${members.length} examples, fewer than perClass ${perClass}`);
    return rng.shuffle(members).slice(0, perClass);
  }).flat();
}

/**
 * The few-label training sets of the seeds: for each seed, `perClass` training images of each
 * digit drawn with `new Rng(1000 + seed)` (lessons 03 and 04 draw the same sets), their labels
 * and, when given, the teacher's logits on them. Call `dispose()` when done.
 */
export function fewLabelSets(
  exp: DigitsExperiment,
  seeds: readonly number[],
  perClass: number,
  teacherLogits?: tf.Tensor2D,
): { get: (seed: number) => Dataset; dispose: () => void } {
  const sets = new Map<number, Dataset>();
  for (const seed of seeds) {
    const ix = tf.tensor1d(sampleLabelled(exp.split.train.y, 10, perClass, new Rng(1000 + seed)), 'int32');
    const set: Dataset = { x: tf.gather(exp.train.x, ix), y: tf.gather(exp.train.y, ix) };
    if (teacherLogits) set.teacherLogits = tf.gather(teacherLogits, ix);
    ix.dispose();
    sets.set(seed, set);
  }
  return {
    get: (seed) => {
      const s = sets.get(seed);
      if (!s) throw new Error(`no few-label set for seed ${seed}; seeds are ${[...sets.keys()].join(', ')}`);
      return s;
    },
    dispose: () => {
      for (const s of sets.values()) tf.dispose([s.x, s.y, ...(s.teacherLogits ? [s.teacherLogits] : [])]);
      sets.clear();
    },
  };
}
