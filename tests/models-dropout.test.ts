/**
 * Dropout in lib/models/mlp.ts: a fresh mask at every training step, the same sequence of masks
 * for the same seed, no dropout at inference, and the layer's serialisation and leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlp } from '../lib/models/mlp';
import { Rng } from '../lib/random';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Outputs of `passes` training-mode forward passes of one model over the same input. */
function trainingPasses(seed: number, passes: number): number[][] {
  const model = mlp({ inputs: 16, hidden: [32], outputs: 4, dropout: 0.5, rng: new Rng(seed) });
  const x = tf.ones([2, 16]);
  const out = Array.from({ length: passes }, () => tf.tidy(() => Array.from((model.apply(x, { training: true }) as tf.Tensor).dataSync())));
  x.dispose();
  model.dispose();
  return out;
}

describe('mlp dropout', () => {
  it('draws a fresh mask at every training-mode pass', () => {
    const [a, b, c] = trainingPasses(5, 3) as [number[], number[], number[]];
    // With rate 0.5 over 32 units, two equal masks have probability 2^-32: equal outputs mean a fixed mask.
    expect(a).not.toEqual(b);
    expect(b).not.toEqual(c);
  });

  it('gives the same sequence of masks for the same seed (a rerun reproduces the numbers)', () => {
    expect(trainingPasses(5, 3)).toEqual(trainingPasses(5, 3));
    expect(trainingPasses(5, 2)).not.toEqual(trainingPasses(6, 2));
  });

  it('does nothing at inference: predict equals apply without training', () => {
    const model = mlp({ inputs: 16, hidden: [32], outputs: 4, dropout: 0.5, rng: new Rng(1) });
    tf.tidy(() => {
      const x = tf.randomNormal([3, 16], 0, 1, 'float32', 1);
      const p = (model.predict(x) as tf.Tensor).dataSync();
      const q = (model.apply(x, { training: false }) as tf.Tensor).dataSync();
      expect(Array.from(p)).toEqual(Array.from(q));
    });
    model.dispose();
  });

  it('scales kept units by 1 / (1 - rate): the mean activation is preserved on average', () => {
    // Reference (hand): a unit kept with probability 1 - r and scaled by 1 / (1 - r) has expectation x.
    const model = mlp({ inputs: 1, hidden: [4000], outputs: 1, dropout: 0.25, rng: new Rng(2) });
    const dropoutLayer = model.layers[1]!;
    const { mean, zeros } = tf.tidy(() => {
      const y = dropoutLayer.apply(tf.ones([1, 4000]), { training: true }) as tf.Tensor;
      const v = Array.from(y.dataSync() as Float32Array);
      return { mean: v.reduce((s, t) => s + t, 0) / v.length, zeros: v.filter((t) => t === 0).length / v.length };
    });
    expect(mean).toBeGreaterThan(0.95); // 1 ± 3 standard errors (sd of the mean ≈ 0.009)
    expect(mean).toBeLessThan(1.05);
    expect(zeros).toBeGreaterThan(0.2); // 0.25 ± 0.02
    expect(zeros).toBeLessThan(0.3);
    model.dispose();
  });

  it('leaks no tensor in a training step', () => {
    const model = mlp({ inputs: 8, hidden: [8], outputs: 2, dropout: 0.3, rng: new Rng(3) });
    const x = tf.ones([4, 8]);
    const opt = tf.train.sgd(0.1);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        opt.minimize(() => tf.mean<tf.Scalar>(tf.square(model.apply(x, { training: true }) as tf.Tensor)), false, vars);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    x.dispose();
    model.dispose();
  });
});

describe('SeededDropout layer', () => {
  it('serialises: className, getConfig and a model round trip through the tfjs registry', async () => {
    const { SeededDropout } = await import('../lib/models/dropout');
    const layer = new SeededDropout({ rate: 0.3, seed: 11, name: 'drop' });
    expect(SeededDropout.className).toBe('SeededDropout');
    expect(layer.getConfig()).toMatchObject({ rate: 0.3, seed: 11, name: 'drop' });
    const model = mlp({ inputs: 4, hidden: [6], outputs: 2, dropout: 0.3, rng: new Rng(4) });
    const json = model.toJSON(null, false) as unknown as tf.io.ModelJSON['modelTopology'];
    const copy = await tf.models.modelFromJSON({ modelTopology: json });
    expect(copy.layers[1]!.getClassName()).toBe('SeededDropout');
    expect(copy.layers[1]!.getConfig()).toMatchObject({ rate: 0.3, seed: model.layers[1]!.getConfig()['seed'] });
    model.dispose();
    copy.dispose();
  });

  it('rejects a bad rate or seed, naming it', async () => {
    const { SeededDropout } = await import('../lib/models/dropout');
    expect(() => new SeededDropout({ rate: 1, seed: 1 })).toThrowError(/^rate must be in \[0, 1\), got 1$/);
    expect(() => new SeededDropout({ rate: 0.5, seed: 0.5 })).toThrowError(/^seed must be an integer, got 0\.5$/);
  });
});
