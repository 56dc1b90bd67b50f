/**
 * lib/optim/schedules.ts: values at known steps (hand-computed) and validation messages.
 */
import { describe, expect, it } from 'vitest';
import { batchSizeSchedule, constantLr, warmupCosine } from '../lib/optim/schedules';

describe('learning-rate schedules', () => {
  it('constantLr gives the same rate at every step', () => {
    const s = constantLr(3e-4);
    expect([1, 2, 1000].map(s)).toEqual([3e-4, 3e-4, 3e-4]);
  });

  it('warmupCosine at known steps (W = 10, N = 110, peak 1e-3, floor 1e-5), counted from 1', () => {
    const s = warmupCosine({ peakLr: 1e-3, warmupSteps: 10, totalSteps: 110 });
    expect(s(1)).toBeCloseTo(1e-4, 15); // the first update already moves: 1e-3 * 1 / 10
    expect(s(5)).toBeCloseTo(5e-4, 15); // 1e-3 * 5 / 10
    expect(s(10)).toBeCloseTo(1e-3, 15); // peak at the last warm-up step
    // progress 1/4: 1e-5 + (1e-3 - 1e-5) * (1 + cos(pi/4)) / 2, cos(pi/4) = 0.7071067811865476
    expect(s(35)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) * (1 + Math.SQRT1_2) / 2, 15);
    expect(s(60)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) * 0.5, 15); // progress 1/2: (1 + cos(pi/2)) / 2 = 0.5
    expect(s(110)).toBe(1e-5); // the last step: the floor, peakLr / 100 by default
    expect(s(500)).toBe(1e-5); // after the end: stays at minLr
    for (let t = 11; t <= 110; t++) expect(s(t)).toBeLessThan(s(t - 1)); // decreasing after the peak
    for (let t = 1; t <= 500; t++) expect(s(t)).toBeGreaterThan(0); // never 0: train() can take it as it is
  });

  it('warmupCosine with a floor and without warm-up', () => {
    const s = warmupCosine({ peakLr: 1e-3, warmupSteps: 0, totalSteps: 100, minLr: 1e-4 });
    expect(s(1)).toBeCloseTo(1e-4 + 0.9e-3 * (1 + Math.cos(Math.PI / 100)) / 2, 15); // just below the peak
    expect(s(50)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 15); // 5.5e-4
    expect(s(100)).toBe(1e-4);
  });

  it.each([
    [() => constantLr(0), /^lr must be a finite number > 0, got 0$/],
    [() => constantLr(1)(0), /^step must be an integer >= 1, got 0$/],
    [() => warmupCosine({ peakLr: -1, warmupSteps: 0, totalSteps: 10 }), /^peakLr must be a finite number > 0, got -1$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 1.5, totalSteps: 10 }), /^warmupSteps must be an integer >= 0, got 1\.5$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 10, totalSteps: 10 }), /^totalSteps must be an integer > warmupSteps \(10\), got 10$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10, minLr: 2 }), /^minLr must be in \(0, peakLr\], got 2$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10, minLr: 0 }), /^minLr must be in \(0, peakLr\], got 0$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10 })(2.5), /^step must be an integer >= 1, got 2\.5$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10 })(0), /^step must be an integer >= 1, got 0$/],
  ])('rejects bad values (%#)', (fn, message) => {
    expect(fn).toThrowError(message);
  });
});

describe('batchSizeSchedule', () => {
  it('doubles every 2 epochs from 32, capped at 256', () => {
    const s = batchSizeSchedule({ initial: 32, max: 256, everyEpochs: 2 });
    // epochs 1..10 -> 32, 32, 64, 64, 128, 128, 256, 256, 256, 256
    expect(Array.from({ length: 10 }, (_, e) => s(e + 1))).toEqual([32, 32, 64, 64, 128, 128, 256, 256, 256, 256]);
    expect(() => s(0)).toThrowError(/^epoch must be an integer >= 1, got 0$/);
    expect(s(1e9)).toBe(256);
  });

  it('floors a non-integer factor: 10 * 1.5^k -> 10, 15, 22, 33, 50 (max 50)', () => {
    const s = batchSizeSchedule({ initial: 10, max: 50, factor: 1.5 });
    expect([1, 2, 3, 4, 5, 6].map(s)).toEqual([10, 15, 22, 33, 50, 50]);
  });

  it.each([
    [{ initial: 0, max: 8 }, /^initial must be an integer >= 1, got 0$/],
    [{ initial: 32, max: 16 }, /^max must be an integer >= initial \(32\), got 16$/],
    [{ initial: 8, max: 16, factor: 1 }, /^factor must be a finite number > 1, got 1$/],
    [{ initial: 8, max: 16, everyEpochs: 0 }, /^everyEpochs must be an integer >= 1, got 0$/],
  ])('rejects %o', (config, message) => {
    expect(() => batchSizeSchedule(config)).toThrowError(message);
  });
});

describe('schedules passed straight to train() (one numbering: steps and epochs from 1)', () => {
  // Eight rows of 2 features, two classes; the loss is a plain cross-entropy.
  const setup = async () => {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const { mlp } = await import('../lib/models/mlp');
    const { Rng } = await import('../lib/random');
    const { train } = await import('../lib/train/loop');
    const data = { x: tf.tensor2d(Array.from({ length: 16 }, (_, i) => (i % 5) - 2), [8, 2]), y: tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1], 'int32') };
    const model = mlp({ inputs: 2, hidden: [3], outputs: 2, rng: new Rng(1) });
    const loss = (b: { y: import('@tensorflow/tfjs').Tensor1D }, logits: import('@tensorflow/tfjs').Tensor2D) =>
      tf.losses.softmaxCrossEntropy<import('@tensorflow/tfjs').Tensor, import('@tensorflow/tfjs').Scalar>(tf.oneHot(b.y, 2), logits);
    const done = () => {
      model.dispose();
      tf.dispose([data.x, data.y]);
    };
    return { tf, train, data, model, loss, Rng, done };
  };

  it('warmupCosine: train() calls it from step 1, and the first step has a rate > 0', async () => {
    const { tf, train, data, model, loss, Rng, done } = await setup();
    const s = warmupCosine({ peakLr: 0.1, warmupSteps: 2, totalSteps: 8 });
    const seen: number[] = [];
    const opt = tf.train.sgd(1);
    const h = await train(model, data, {
      epochs: 2, batchSize: 2, optimizer: opt, loss, rng: new Rng(1), progress: false,
      lrSchedule: (step) => { seen.push(step); return s(step); },
    });
    expect(h.steps).toBe(8);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s(1)).toBeCloseTo(0.05, 15); // warm-up: 0.1 * 1 / 2
    opt.dispose();
    done();
  });

  it('warmupCosine and constantLr run in train() as they are, without an offset', async () => {
    const { tf, train, data, model, loss, Rng, done } = await setup();
    for (const lrSchedule of [warmupCosine({ peakLr: 0.1, warmupSteps: 3, totalSteps: 10 }), constantLr(0.05)]) {
      const opt = tf.train.sgd(1);
      const h = await train(model, data, { epochs: 3, batchSize: 4, optimizer: opt, loss, rng: new Rng(2), progress: false, lrSchedule });
      expect(h.steps).toBe(6);
      opt.dispose();
    }
    done();
  });

  it('batchSizeSchedule: epoch 1 gets the initial batch size', async () => {
    const { tf, train, data, model, loss, Rng, done } = await setup();
    const b = batchSizeSchedule({ initial: 2, max: 8 });
    const opt = tf.train.sgd(0.1);
    const h = await train(model, data, { epochs: 3, batchSize: 99, batchSchedule: b, optimizer: opt, loss, rng: new Rng(3), progress: false });
    // Reference (hand): epochs 1, 2, 3 use batches of 2, 4, 8 over 8 rows: 4 + 2 + 1 = 7 steps.
    expect(h.steps).toBe(7);
    opt.dispose();
    done();
  });
});
