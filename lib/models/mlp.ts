/**
 * Multi-layer perceptrons: the teachers and students of the distillation lessons.
 * Weights are initialised from the course's seeded `Rng`, so the same seed gives the same model.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random';
import { assertPositiveInteger } from '../assert';
import { SeededDropout } from './dropout';

export interface MlpConfig {
  /** Input features (64 for 8×8 digits). */
  inputs: number;
  /** Width of each hidden layer, e.g. [256, 256] for a teacher, [16] for a student. */
  hidden: readonly number[];
  /** Output classes (logits, no softmax). */
  outputs: number;
  /** Hidden activation (default relu). */
  activation?: 'relu' | 'tanh' | 'elu';
  /** Dropout rate after each hidden layer, in [0, 1) (default 0): a fresh mask at each training step ({@link SeededDropout}). */
  dropout?: number;
  /** Seeded source of the initial weights. */
  rng: Rng;
  /** Model name, shown in summaries. */
  name?: string;
}

/**
 * Builds an MLP that maps [batch, inputs] to [batch, outputs] logits.
 * @throws Error naming the field when a size is not a positive integer or dropout is outside [0, 1).
 */
export function mlp(config: MlpConfig): tf.Sequential {
  assertPositiveInteger(config.inputs, 'inputs');
  assertPositiveInteger(config.outputs, 'outputs');
  config.hidden.forEach((h, i) => assertPositiveInteger(h, `hidden[${i}]`));
  const dropout = config.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${dropout}`);
  const model = tf.sequential({ name: config.name });
  const sizes = [...config.hidden, config.outputs];
  sizes.forEach((units, i) => {
    const last = i === sizes.length - 1;
    model.add(
      tf.layers.dense({
        units,
        inputShape: i === 0 ? [config.inputs] : undefined,
        activation: last ? 'linear' : config.activation ?? 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: config.rng.tfSeed() }),
        biasInitializer: 'zeros',
      }),
    );
    // A fresh mask at every training step, reproducible from the seed (tf.layers.dropout with a
    // seed repeats one mask: see lib/models/dropout.ts).
    if (!last && dropout > 0) model.add(new SeededDropout({ rate: dropout, seed: config.rng.tfSeed() }));
  });
  return model;
}

/** Number of trainable parameters. */
export function countParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** Floating-point multiply-adds of one forward pass for one example (dense layers only). */
export function denseMacs(model: tf.LayersModel): number {
  return model.layers
    .filter((l) => l.getClassName() === 'Dense')
    .reduce((s, l) => {
      const k = l.weights[0];
      return s + (k ? k.shape.reduce((a: number, b) => a * (b ?? 1), 1) : 0);
    }, 0);
}
