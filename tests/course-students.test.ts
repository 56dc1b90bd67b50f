/**
 * lib/course/students.ts: the helpers lessons 03 and 04 share. Tiny seeded runs: what is checked
 * is the plumbing (seeds, options, disposal, the few-label draw), not training luck.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digitsAugmentation, digitsExperiment, type DigitsExperiment } from '../lib/course/digits-experiment';
import { distillLoss, fewLabelSets, hardLabelLoss, overSeeds, sampleLabelled, summarise, summariseRuns, trainStudent } from '../lib/course/students';
import { Rng } from '../lib/random';

let exp: DigitsExperiment;
beforeAll(async () => {
  await tf.setBackend('cpu');
  exp = digitsExperiment(0);
});
afterAll(() => exp.dispose());

describe('summarise', () => {
  it('gives the mean, the sample standard deviation, min and max (hand computation)', () => {
    // Reference (hand): [1, 2, 3, 4] -> mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / 3 = 1.6667; sqrt = 1.2909944487358056
    const s = summarise([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(1.2909944487358056, 12);
    expect([s.min, s.max]).toEqual([1, 4]);
    expect(summarise([7]).std).toBe(0);
  });

  it('rejects an empty list and non-finite values', () => {
    expect(() => summarise([])).toThrowError(/^summarise needs at least one value, got none$/);
    expect(() => summarise([1, Number.NaN])).toThrowError(/^values must be finite numbers, got NaN at index 1$/);
  });
});

describe('sampleLabelled and fewLabelSets', () => {
  it('draws perClass examples of each class, reproducibly, and different draws for other seeds', () => {
    const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
    const a = sampleLabelled(labels, 3, 2, new Rng(5));
    expect(a).toHaveLength(6);
    expect(a.map((i) => labels[i])).toEqual([0, 0, 1, 1, 2, 2]);
    expect(new Set(a).size).toBe(6);
    expect(sampleLabelled(labels, 3, 2, new Rng(5))).toEqual(a);
    expect(() => sampleLabelled(labels, 3, 5, new Rng(5))).toThrowError(/^class 0 has 4 examples, fewer than perClass 5$/);
  });

  it('builds 100-image sets (10 per digit) with the teacher logits gathered alongside, and disposes them', () => {
    const before = tf.memory().numTensors;
    const fake = tf.tidy(() => tf.oneHot(exp.train.y, 10).toFloat()) as tf.Tensor2D; // [1259, 10]: logits that encode the label
    const sets = fewLabelSets(exp, [1, 2], 10, fake);
    const s1 = sets.get(1);
    expect(s1.x.shape).toEqual([100, 64]);
    const ys = Array.from(s1.y.dataSync());
    for (let c = 0; c < 10; c++) expect(ys.filter((y) => y === c)).toHaveLength(10);
    // The gathered logits belong to the same rows: their argmax is the label.
    expect(Array.from(tf.tidy(() => tf.argMax(s1.teacherLogits!, 1).dataSync()))).toEqual(ys);
    expect(Array.from(sets.get(2).y.dataSync())).toEqual(ys); // same labels per class, other images
    expect(Array.from(sets.get(2).x.dataSync())).not.toEqual(Array.from(s1.x.dataSync()));
    expect(() => sets.get(3)).toThrowError(/^no few-label set for seed 3; seeds are 1, 2$/);
    sets.dispose();
    fake.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('trainStudent and overSeeds', () => {
  it('is reproducible per seed, reports validation and test accuracy, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const a = await trainStudent(exp, 3, exp.train, hardLabelLoss, { epochs: 2, validate: false });
    const b = await trainStudent(exp, 3, exp.train, hardLabelLoss, { epochs: 2, validate: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.history.loss).toEqual(b.history.loss);
    expect(a.history.steps).toBe(2 * 20); // 1259 images in batches of 64: 20 steps an epoch
    expect(a.valAccuracy).toBeGreaterThan(0);
    expect(a.model).toBeUndefined();
  });

  it('overSeeds trains one student per seed with the given width and keeps models on request', async () => {
    const runs = await overSeeds(exp, 'test', [1, 2], () => exp.train, hardLabelLoss, { epochs: 1, hidden: [4], keep: true, progress: false });
    expect(runs.map((r) => r.seed)).toEqual([1, 2]);
    expect(runs[0]!.model!.layers[0]!.getWeights()[0]!.shape).toEqual([64, 4]);
    expect(runs[0]!.history.valAccuracy).toHaveLength(1);
    expect(summariseRuns(runs).mean).toBeCloseTo((runs[0]!.accuracy + runs[1]!.accuracy) / 2, 12);
    for (const r of runs) r.model!.dispose();
  });

  it('distillLoss checks the first batch and needs teacherLogits', async () => {
    await expect(trainStudent(exp, 1, exp.train, distillLoss({ alpha: 0, temperature: 4 }), { epochs: 1, validate: false }))
      .rejects.toThrowError(/^a distillation loss needs teacherLogits in the data set$/);
    const bad: tf.Tensor2D = tf.zeros([exp.train.x.shape[0], 10]);
    const y: tf.Tensor1D = tf.fill([exp.train.x.shape[0]], 12, 'int32');
    await expect(trainStudent(exp, 1, { x: exp.train.x, y, teacherLogits: bad }, distillLoss({ alpha: 0.5, temperature: 4 }), { epochs: 1, validate: false }))
      .rejects.toThrowError(/^labels must be class indices in \[0, 10\), got 12 at index 0$/);
    tf.dispose([bad, y]);
  });

  it('digitsAugmentation separates the shift from the noise', () => {
    const x: tf.Tensor2D = tf.tidy(() => tf.fill([1, 64], 0.5));
    const noiseOnly = digitsAugmentation({ maxShift: 0, noiseStd: 0.05 })(x, new Rng(1));
    const shiftOnly = digitsAugmentation({ maxShift: 1, noiseStd: 0 })(x, new Rng(1));
    // Noise only: every pixel moves a little, none is zero-filled. Shift only: values stay in {0, 0.5}.
    const n = Array.from(noiseOnly.dataSync());
    expect(n.every((v) => v > 0.2 && v < 0.8)).toBe(true);
    expect(n.some((v) => v !== 0.5)).toBe(true);
    expect(Array.from(shiftOnly.dataSync()).every((v) => v === 0 || v === 0.5)).toBe(true);
    tf.dispose([x, noiseOnly, shiftOnly]);
  });
});
