/**
 * A small, explicit training loop for classifiers: shuffled mini-batches from the seeded `Rng`,
 * any loss of (batch, logits), any tfjs optimiser, an optional learning-rate schedule and
 * augmentation, validation accuracy per epoch, and a live progress display. Every step runs in
 * `tf.tidy`; the loop leaves no tensor behind (tests/train.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { Progress } from '../progress';
import type { Rng } from '../random';
import { assertPositiveInteger } from '../assert';
import { fusedMlpForward } from '../models/fused-mlp';
import { gatherBatch, hasGatherBatch } from '../ops/gather-batch';

/** A labelled data set: features [n, d], integer labels [n], optional teacher logits [n, C]. */
export interface Dataset {
  x: tf.Tensor2D;
  y: tf.Tensor1D;
  /** Teacher logits aligned with `x` (a cached teacher), used by distillation losses. */
  teacherLogits?: tf.Tensor2D;
}

/** One mini-batch, as the loss sees it. */
export interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor1D;
  teacherLogits?: tf.Tensor2D;
}

export interface TrainOptions {
  /** Passes over the data. */
  epochs: number;
  /** Examples per step; the last batch of an epoch may be smaller. */
  batchSize: number;
  /** Any tfjs optimiser (Adam, RMSprop, the lib's LAMB). */
  optimizer: tf.Optimizer;
  /** The loss of a batch given the model's logits on it. */
  loss: (batch: Batch, logits: tf.Tensor2D) => tf.Scalar;
  /** Seeded source of the shuffles (and of the augmentation, if any). */
  rng: Rng;
  /** Learning rate per step, applied before each step; steps count from 1 (lib/optim/schedules.ts). */
  lrSchedule?: (step: number) => number;
  /** Batch size per epoch, overriding `batchSize`; epochs count from 1 (lib/optim/schedules.ts). */
  batchSchedule?: (epoch: number) => number;
  /** Transforms a batch's features before the forward pass (training only). */
  augment?: (x: tf.Tensor2D, rng: Rng) => tf.Tensor2D;
  /** Validation data: accuracy is measured after each epoch. */
  validation?: { x: tf.Tensor2D; y: tf.Tensor1D };
  /** A live display in the notebook (default true), or a label for it. */
  progress?: boolean | string;
  /** Runs after each optimiser step (1-based step count), e.g. to re-apply pruning masks. */
  afterStep?: (step: number) => void;
  /**
   * The forward and backward passes through the fused Dense kernels (lib/ops/fused-dense.ts: one
   * kernel per layer each way), same values bit for bit. Default true: used where the model is
   * Dense layers only (ReLU or linear, with bias) and the backend has the kernels (wasm, cpu);
   * elsewhere, and with false, `model.apply` runs tfjs-layers' own ops.
   */
  fusedDense?: boolean;
  /**
   * Each batch's rows of `x`, `y` and the teacher logits in one kernel (lib/ops/gather-batch.ts:
   * whole-row copies, same values) where the backend has it (wasm, cpu). Default true; false:
   * one `tf.gather` per tensor.
   */
  fusedGather?: boolean;
}

export interface TrainHistory {
  /** Mean training loss per epoch. */
  loss: number[];
  /** Validation accuracy per epoch (empty without validation data). */
  valAccuracy: number[];
  /** Seconds per epoch. */
  epochSeconds: number[];
  /** Optimiser steps taken. */
  steps: number;
}

/**
 * Sets a tfjs optimiser's learning rate. tfjs keeps it in a field named `learningRate` on every
 * built-in optimiser (and on the lib's LAMB).
 * @throws Error when `lr` is not a finite number > 0, or the optimiser has no learning rate.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`learning rate must be a finite number > 0, got ${lr}`);
  const o = optimizer as unknown as { learningRate?: number };
  if (typeof o.learningRate !== 'number') {
    throw new Error(`optimizer ${optimizer.getClassName()} has no numeric learningRate field`);
  }
  o.learningRate = lr;
}

/**
 * Accuracy of `model` on (x, y), computed in batches.
 * @throws Error when x and y disagree in length.
 */
export async function accuracy(model: tf.LayersModel, x: tf.Tensor2D, y: tf.Tensor1D, batchSize = 512): Promise<number> {
  if (x.shape[0] !== y.shape[0]) throw new Error(`x has ${x.shape[0]} rows but y has ${y.shape[0]} labels`);
  const correct = tf.tidy(() => {
    const pred = tf.argMax(model.predict(x, { batchSize }) as tf.Tensor2D, 1);
    return tf.sum(tf.cast(tf.equal(pred, tf.cast(y, 'int32')), 'float32'));
  });
  const n = (await correct.data())[0] ?? 0;
  correct.dispose();
  return n / x.shape[0];
}

/**
 * Trains `model` on `data` and returns the history. Each step: gather a shuffled batch, augment,
 * forward, loss, gradients, update, all inside `tf.tidy`.
 * @throws Error on bad sizes, mismatched data lengths, or a non-finite loss (naming the epoch
 *   and step, so that a NaN never surfaces cells later).
 */
export async function train(model: tf.LayersModel, data: Dataset, options: TrainOptions): Promise<TrainHistory> {
  assertPositiveInteger(options.epochs, 'epochs');
  assertPositiveInteger(options.batchSize, 'batchSize');
  const n = data.x.shape[0];
  if (data.y.shape[0] !== n) throw new Error(`data.y has ${data.y.shape[0]} labels, expected ${n} (one per row of data.x)`);
  if (data.teacherLogits && data.teacherLogits.shape[0] !== n) {
    throw new Error(`data.teacherLogits has ${data.teacherLogits.shape[0]} rows, expected ${n}`);
  }
  const history: TrainHistory = { loss: [], valAccuracy: [], epochSeconds: [], steps: 0 };
  const show = options.progress ?? true;
  const progress = show
    ? new Progress({ total: options.epochs, label: typeof show === 'string' ? show : model.name, curve: 'loss' })
    : null;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (const name of ['fusedDense', 'fusedGather'] as const) {
    const v = options[name];
    if (v !== undefined && typeof v !== 'boolean') throw new Error(`${name} must be a boolean, got ${String(v)}`);
  }
  const fused = options.fusedDense === false ? null : fusedMlpForward(model);
  const gatherInOne = options.fusedGather !== false && hasGatherBatch() && data.x.dtype === 'float32' && (data.y.dtype === 'int32' || data.y.dtype === 'float32');
  const forward = typeof fused === 'function' ? fused : (x: tf.Tensor2D) => model.apply(x, { training: true }) as tf.Tensor2D;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const t0 = performance.now();
    const bs = options.batchSchedule ? options.batchSchedule(epoch) : options.batchSize;
    assertPositiveInteger(bs, `batchSchedule(${epoch})`);
    const order = options.rng.permutation(n);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < n; start += bs) {
      // Step numbers count from 1, as the schedules and Adam's bias correction count them.
      if (options.lrSchedule) setLearningRate(options.optimizer, options.lrSchedule(history.steps + 1));
      const idx = order.slice(start, start + bs);
      const lossT = tf.tidy(() => {
        // The batch's rows: one kernel for all the tensors where the backend has it (wasm, cpu).
        const sources: tf.Tensor[] = data.teacherLogits ? [data.x, data.y, data.teacherLogits] : [data.x, data.y];
        const ix = gatherInOne ? null : tf.tensor1d(idx, 'int32');
        const rows = ix === null ? gatherBatch(sources, idx) : sources.map((t) => tf.gather(t, ix));
        let x = rows[0] as tf.Tensor2D;
        if (options.augment) x = options.augment(x, options.rng);
        const batch: Batch = { x, y: rows[1] as tf.Tensor1D };
        if (rows[2]) batch.teacherLogits = rows[2] as tf.Tensor2D;
        return options.optimizer.minimize(
          () => options.loss(batch, forward(x)),
          true,
          vars,
        ) as tf.Scalar;
      });
      const l = (await lossT.data())[0] ?? NaN;
      lossT.dispose();
      if (!Number.isFinite(l)) throw new Error(`loss is ${l} at epoch ${epoch}, step ${history.steps + 1}`);
      lossSum += l;
      batches++;
      history.steps++;
      options.afterStep?.(history.steps);
    }
    history.loss.push(lossSum / batches);
    const metrics: Record<string, number> = { loss: lossSum / batches };
    if (options.validation) {
      const acc = await accuracy(model, options.validation.x, options.validation.y);
      history.valAccuracy.push(acc);
      metrics.valAcc = acc;
    }
    history.epochSeconds.push((performance.now() - t0) / 1000);
    progress?.update(epoch, metrics);
  }
  progress?.done();
  return history;
}
