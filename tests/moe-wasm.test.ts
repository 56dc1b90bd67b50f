/**
 * lib/moe on the WASM backend (the lessons' backend): the default sparse mode is `batched` there
 * (its batched products run on XNNPACK per batch), its rows moved on the host (tfjs's own gather
 * gradient needs UnsortedSegmentSum, which WASM lacks), and sparse == dense in values and
 * gradients, in every sparse mode (host, kernels, batched). Vitest gives this file its own fork.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { defaultRowMoves, defaultSparseMode } from '../lib/moe/dispatch';
import { moe, type MoE } from '../lib/moe/layer';
import { Rng } from '../lib/random';
import { moeModesSuite } from './helpers/moe-modes-suite';

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
});

describe('MoE on wasm', () => {
  it('runs its sparse experts capacity-padded by default, the rows moved on the host', () => {
    expect(defaultSparseMode()).toBe('batched');
    expect(defaultRowMoves()).toBe('host');
  });

  it('runs forward and backward sparsely, equal to the dense path', () => {
    expect(tf.getBackend()).toBe('wasm');
    tf.tidy(() => {
      const rng = new Rng(1);
      const x = tf.tensor2d(Array.from({ length: 40 }, () => rng.normal()), [8, 5]);
      const R = tf.tensor2d(Array.from({ length: 40 }, () => rng.normal()), [8, 5]);
      const args = { experts: 4, topK: 2, expertHidden: 6, capacityFactor: 1, sharedExperts: 1 };
      const sparse = moe(args);
      const dense = moe({ ...args, dispatch: 'dense' });
      sparse.build([null, 5]);
      dense.build([null, 5]);
      dense.setWeights(sparse.getWeights());
      const loss = (l: MoE) => () => tf.sum<tf.Scalar>(tf.mul(l.apply(x) as tf.Tensor, R));
      const gs = tf.variableGrads(loss(sparse), sparse.trainableWeights.map((w) => w.read() as tf.Variable));
      const gd = tf.variableGrads(loss(dense), dense.trainableWeights.map((w) => w.read() as tf.Variable));
      expect(Math.abs((gs.value.dataSync()[0] as number) - (gd.value.dataSync()[0] as number))).toBeLessThan(1e-4);
      sparse.trainableWeights.forEach((w, i) => {
        const a = gs.grads[(w.read() as tf.Variable).name];
        const b = gd.grads[((dense.trainableWeights[i] as tf.LayerVariable).read() as tf.Variable).name] as tf.Tensor;
        const diff = a === undefined ? (tf.max(tf.abs(b)).dataSync()[0] as number) : (tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
        expect(diff, w.originalName).toBeLessThan(1e-4);
      });
      sparse.dispose();
      dense.dispose();
    });
  });
});

// The cpu file's tolerance: these small cases agree within 1e-5 on wasm too.
moeModesSuite('wasm', 1e-5);
