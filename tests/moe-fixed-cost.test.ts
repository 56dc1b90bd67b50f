/**
 * The MoE layer's cheaper fixed path (issue 9, fourth pass): each shortcut against the tfjs ops it
 * replaces, in values and gradients, on cpu and (where @tensorflow/tfjs-node is installed) on the
 * native tensorflow backend: reluSignGrad against tf.relu, weightRows against two tf.mul, the
 * balance loss from host counts against the one-hot one, chooseExperts + pickGates against route,
 * and the batched layer with a non-zero routing bias (gates picked on the host) against the
 * host-moves and dense layers.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../lib/backend';
import { loadBalancingLoss, loadBalancingLossFromCounts } from '../lib/moe/balance';
import { weightRows } from '../lib/moe/dispatch';
import { moe, moeForward, type MoE } from '../lib/moe/layer';
import { chooseExperts, pickGates, route } from '../lib/moe/router';
import { reluSignGrad } from '../lib/ops/relu';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';
import { nativeInstalled } from './helpers/native';

function randn(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
}

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

function suite(backend: BackendName): void {
  describe(`MoE fixed-path shortcuts on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend({ force: backend });
    });

    it('reluSignGrad gives tf.relu\'s values and gradients, bit for bit (zeros and negatives included)', () => {
      const x = tf.tensor2d([[-2, -0.5, 0, 0.25], [3, 0, -1e-8, 7]]);
      const dy = tf.tensor2d([[1, -2, 3, -4], [0.5, -0.5, 2, -1]]);
      const mine = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reluSignGrad(t), dy)))(x);
      const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), dy)))(x); // tfjs's own relu gradient, dy · step(x)
      expect(values(reluSignGrad(x))).toEqual(values(tf.relu(x)));
      expect(values(mine)).toEqual(values(ref));
      expect(values(mine).map((v) => v + 0)).toEqual([0, 0, 0, -4, 0.5, 0, 0, -1]); // dy where x > 0, else 0 (hand; + 0 folds dy · 0's -0 into 0)
      expectNoLeak(() => tf.grad((t: tf.Tensor) => tf.sum(reluSignGrad(t)))(x), 'reluSignGrad');
      if (backend === 'tensorflow') {
        // where the layer uses it, a NaN input's gradient is NaN, as tfjs's (TensorFlow's Sign(NaN) is NaN)
        const nan = tf.tensor1d([Number.NaN]);
        expect(tf.grad((t: tf.Tensor) => tf.sum(reluSignGrad(t)))(nan).dataSync()[0]).toBeNaN();
      }
    });

    it('weightRows gives tf.mul(rows, tf.mul(gates, mask))\'s values and gradients, bit for bit', () => {
      const rng = new Rng(11);
      const rows = randn(rng, [5, 3]) as tf.Tensor2D;
      const gates = randn(rng, [5, 1]) as tf.Tensor2D;
      const dy = randn(rng, [5, 3]);
      const mask = Float32Array.from([1, 1, 0, 1, 0]);
      for (const m of [mask, null]) {
        const ref = (r: tf.Tensor, g: tf.Tensor) => tf.sum(tf.mul(tf.mul(r, m ? tf.mul(g, tf.tensor2d(m, [5, 1])) : g), dy)); // tfjs's products
        const mine = (r: tf.Tensor, g: tf.Tensor) => tf.sum(tf.mul(weightRows(r as tf.Tensor2D, g as tf.Tensor2D, m), dy));
        const [a, b] = [tf.grads(mine)([rows, gates]), tf.grads(ref)([rows, gates])];
        expect(values(mine(rows, gates))).toEqual(values(ref(rows, gates)));
        expect(values(a[0] as tf.Tensor)).toEqual(values(b[0] as tf.Tensor));
        expect(values(a[1] as tf.Tensor)).toEqual(values(b[1] as tf.Tensor));
      }
      // masked rows get gate 0: no output, no gate gradient (hand)
      const out = weightRows(rows, gates, mask).arraySync();
      expect(out[2]?.map((v) => v + 0)).toEqual([0, 0, 0]); // + 0 folds -0 into 0
      expect(values(tf.grads((g: tf.Tensor) => tf.sum(weightRows(rows, g as tf.Tensor2D, mask)))([gates])[0] as tf.Tensor)[4]).toBeCloseTo(0, 12);
      expectNoLeak(() => tf.grads((r: tf.Tensor, g: tf.Tensor) => tf.sum(weightRows(r as tf.Tensor2D, g as tf.Tensor2D, mask)))([rows, gates]), 'weightRows');
      expect(() => weightRows(rows, tf.zeros<tf.Rank.R2>([4, 1]))).toThrowError(/^weightRows needs rows \[m, d\] and gates \[m, 1\], got \[5, 3\] and \[4, 1\]$/);
      expect(() => weightRows(rows, gates, new Float32Array(2))).toThrowError(/^weightRows needs one mask value per row \(5\), got 2$/);
    });

    it('the balance loss from host counts equals the one-hot one, value and gradient', () => {
      const rng = new Rng(5);
      const probs = tf.softmax(randn(rng, [6, 4])) as tf.Tensor2D;
      const ids = [0, 1, 3, 1, 1, 2, 0, 3, 1, 0, 2, 1];
      const counts = [3, 5, 2, 2]; // ids counted by hand
      const idx = tf.tensor2d(ids, [6, 2], 'int32');
      expect(values(loadBalancingLossFromCounts(probs, counts, 2, 0.01))).toEqual(values(loadBalancingLoss(probs, idx, 0.01)));
      const g1 = tf.grad((p: tf.Tensor) => loadBalancingLossFromCounts(p as tf.Tensor2D, counts, 2))(probs);
      const g2 = tf.grad((p: tf.Tensor) => loadBalancingLoss(p as tf.Tensor2D, idx))(probs);
      expect(values(g1)).toEqual(values(g2));
      expect(() => loadBalancingLossFromCounts(probs, [1, 2], 2)).toThrowError(/^counts must have one entry per expert \(4\), got 2$/);
    });

    it('chooseExperts + pickGates is route; without a bias TopK\'s values are the gates', () => {
      const rng = new Rng(9);
      const logits = randn(rng, [7, 5]) as tf.Tensor2D;
      for (const kind of ['softmax', 'sigmoid'] as const) {
        const r = route(logits, { kind, topK: 2 });
        const c = chooseExperts(logits, { kind, topK: 2 });
        expect(Array.from(c.expertIndex)).toEqual(Array.from(r.expertIndex));
        expect(values(c.scores)).toEqual(values(r.scores));
        expect(values(c.probs)).toEqual(values(r.probs));
        expect(values(pickGates(c.scores, c.expertIndex, 2, kind === 'sigmoid'))).toEqual(values(r.gates));
        expect(values(c.topValues)).toEqual(values(pickGates(c.scores, c.expertIndex, 2, false)));
      }
      expect(() => pickGates(logits, new Int32Array(3), 2, false)).toThrowError(/^expertIndex must hold n·k = 14 ids, got 3$/);
    });

    it('the batched layer with a non-zero routing bias gives the host and dense layers\' output, gates and gradients', () => {
      const rng = new Rng(21);
      const x = randn(rng, [16, 6]);
      const layers: MoE[] = [];
      const runs = (['batched', 'host', 'dense'] as const).map((mode) => {
        const layer = moe({ experts: 4, topK: 2, expertHidden: 5, units: 6, seed: 3, dispatch: mode === 'dense' ? 'dense' : 'sparse' });
        if (mode !== 'dense') layer.rowMoves = mode;
        layer.build([null, 6]);
        const w = layer.getWeights();
        w[w.length - 1] = tf.tensor1d([0.3, -0.2, 0, 0.1]); // the routing bias, non-trainable, last
        layer.setWeights(w);
        layers.push(layer);
        const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const r = moeForward(layer, x);
        const { grads } = tf.variableGrads(() => tf.sum(tf.square(moeForward(layer, x).output)), vars);
        return { r, grads: vars.map((v) => grads[v.name]) };
      });
      const [batched, host, dense] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
      expect(batched.r.stats.bias).toEqual([Math.fround(0.3), Math.fround(-0.2), 0, Math.fround(0.1)]);
      expect(Array.from(batched.r.stats.gates)).toEqual(Array.from(host.r.stats.gates)); // the same floats, picked on the host or gathered
      expect(Array.from(batched.r.stats.gates)).toEqual(Array.from(dense.r.stats.gates));
      for (const other of [host, dense]) {
        expect(tf.max(tf.abs(tf.sub(batched.r.output, other.r.output))).dataSync()[0]).toBeLessThan(1e-5);
        batched.grads.forEach((g, i) => {
          const o = other.grads[i];
          expect(g === undefined ? 0 : tf.max(tf.abs(tf.sub(g, o ?? tf.zerosLike(g)))).dataSync()[0]).toBeLessThan(1e-5);
        });
      }
      layers.forEach((l) => l.dispose());
    });
  });
}

suite('cpu');
if (nativeInstalled()) suite('tensorflow');
