import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { countParams, denseMacs, mlp } from '../lib/models/mlp';
import { Rng } from '../lib/random';
import { accuracy, setLearningRate, train } from '../lib/train/loop';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Two well-separated blobs in 2-D: any working loop reaches 100 % quickly. */
function blobs(rng: Rng, n: number) {
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    xs.push([rng.normal(c ? 2 : -2, 0.3), rng.normal(c ? 2 : -2, 0.3)]);
    ys.push(c);
  }
  return { x: tf.tensor2d(xs), y: tf.tensor1d(ys, 'int32') };
}

const ce = (batch: { y: tf.Tensor1D }, logits: tf.Tensor2D) =>
  tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(tf.oneHot(batch.y, 2), logits);

describe('mlp', () => {
  it('has the expected parameter count and MACs', () => {
    const m = mlp({ inputs: 64, hidden: [16], outputs: 10, rng: new Rng(1) });
    // Reference, by hand: 64·16 + 16 + 16·10 + 10 = 1210 parameters; 64·16 + 16·10 = 1184 MACs.
    expect(countParams(m)).toBe(1210);
    expect(denseMacs(m)).toBe(1184);
    m.dispose();
  });

  it('gives the same weights for the same seed', async () => {
    const a = mlp({ inputs: 4, hidden: [3], outputs: 2, rng: new Rng(9) });
    const b = mlp({ inputs: 4, hidden: [3], outputs: 2, rng: new Rng(9) });
    expect(await a.getWeights()[0]!.array()).toEqual(await b.getWeights()[0]!.array());
    a.dispose();
    b.dispose();
  });

  it('rejects bad sizes, naming the field', () => {
    expect(() => mlp({ inputs: 4, hidden: [0], outputs: 2, rng: new Rng(1) })).toThrow(/^hidden\[0\] must be a positive integer, got 0$/);
    expect(() => mlp({ inputs: 4, hidden: [2], outputs: 2, dropout: 1, rng: new Rng(1) })).toThrow(/^dropout must be in \[0, 1\), got 1$/);
  });
});

describe('train', () => {
  it('fits separable data, trains only the model, and leaks no tensor', async () => {
    const rng = new Rng(3);
    const data = blobs(rng, 64);
    const model = mlp({ inputs: 2, hidden: [8], outputs: 2, rng });
    const other = tf.variable(tf.ones([2])); // must not be touched by the model's optimiser
    const opt = tf.train.adam(0.05);
    const before = tf.memory().numTensors;
    const h = await train(model, data, { epochs: 15, batchSize: 16, optimizer: opt, loss: ce, rng, validation: data, progress: false });
    // Adam adds two moment tensors per trained variable (4 variables); nothing else may remain.
    expect(tf.memory().numTensors).toBe(before + 2 * 4);
    expect(h.steps).toBe(15 * 4);
    expect(h.loss[14]!).toBeLessThan(h.loss[0]!);
    expect(h.valAccuracy.at(-1)).toBe(1);
    expect(await accuracy(model, data.x, data.y)).toBe(1);
    expect(Array.from(await other.data())).toEqual([1, 1]);
    tf.dispose([data.x, data.y, other]);
    opt.dispose();
    model.dispose();
  });

  it('is reproducible for a seed', async () => {
    const run = async () => {
      const rng = new Rng(5);
      const data = blobs(rng, 32);
      const model = mlp({ inputs: 2, hidden: [4], outputs: 2, rng });
      const h = await train(model, data, { epochs: 2, batchSize: 8, optimizer: tf.train.sgd(0.1), loss: ce, rng, progress: false });
      tf.dispose([data.x, data.y]);
      model.dispose();
      return h.loss;
    };
    expect(await run()).toEqual(await run());
  });

  it('applies the learning-rate schedule and rejects a bad one', async () => {
    const rng = new Rng(1);
    const data = blobs(rng, 8);
    const model = mlp({ inputs: 2, hidden: [2], outputs: 2, rng });
    const opt = tf.train.sgd(1);
    const seen: number[] = [];
    await train(model, data, {
      epochs: 1, batchSize: 4, optimizer: opt, loss: ce, rng, progress: false,
      lrSchedule: (s) => { seen.push(s); return 0.1 / s; },
    });
    expect(seen).toEqual([1, 2]); // steps count from 1 (lib/optim/schedules.ts)
    expect((opt as unknown as { learningRate: number }).learningRate).toBeCloseTo(0.05, 12);
    expect(() => setLearningRate(opt, -1)).toThrow(/^learning rate must be a finite number > 0, got -1$/);
    await expect(
      train(model, { x: data.x, y: tf.tensor1d([0], 'int32') }, { epochs: 1, batchSize: 4, optimizer: opt, loss: ce, rng }),
    ).rejects.toThrow(/data\.y has 1 labels, expected 8/);
    tf.dispose([data.x, data.y]);
    model.dispose();
  });

  it('stops with a clear error when the loss is not finite', async () => {
    const rng = new Rng(1);
    const data = blobs(rng, 8);
    const model = mlp({ inputs: 2, hidden: [2], outputs: 2, rng });
    const nanLoss = (_b: unknown, logits: tf.Tensor2D) => tf.mul<tf.Scalar>(tf.sum(logits), Number.NaN);
    await expect(
      train(model, data, { epochs: 1, batchSize: 4, optimizer: tf.train.sgd(0.1), loss: nanLoss, rng, progress: false }),
    ).rejects.toThrow(/^loss is NaN at epoch 1, step 1$/);
    tf.dispose([data.x, data.y]);
    model.dispose();
  });
});
