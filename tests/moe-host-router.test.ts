/**
 * lib/moe/host-router.ts (the router's per-token maths in one host op) against the tensor-op
 * router it replaces (chooseExperts + pickGates + loadBalancingLossFromCounts + routerZLoss +
 * routerEntropy): the choice, the gates, the three losses, the statistics and the gradient w.r.t.
 * the logits, for softmax and sigmoid routers, normalised or not, with a V3 selection bias; the
 * MoE layer with either router under capacity drops; no leak; bad input. On cpu and wasm, and on
 * native tensorflow where @tensorflow/tfjs-node is installed.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../lib/backend';
import { loadBalancingLossFromCounts, routerEntropy, routerZLoss } from '../lib/moe/balance';
import { defaultRouterMath, hostRoute, type HostRouteOptions } from '../lib/moe/host-router';
import { moe, moeForward, type MoE, type MoEStats } from '../lib/moe/layer';
import { chooseExperts, pickGates } from '../lib/moe/router';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';
import { nativeInstalled } from './helpers/native';

function randn(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()), shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** The tensor-op router with the same outputs as hostRoute (the layer's `routerMath: 'tensors'` path). */
function tensorRoute(logits: tf.Tensor2D, o: HostRouteOptions) {
  const normalize = o.normalize ?? o.kind === 'sigmoid';
  const bias = o.bias ? tf.tensor1d(Array.from(o.bias)) : undefined;
  const c = chooseExperts(logits, { kind: o.kind, topK: o.topK, bias });
  const gates = pickGates(c.scores, c.expertIndex, o.topK, normalize);
  const routed = new Array<number>(logits.shape[1]).fill(0);
  for (const e of c.expertIndex) routed[e] = (routed[e] as number) + 1;
  const balanceLoss = loadBalancingLossFromCounts(c.probs, routed, o.topK, 1);
  const zLoss = routerZLoss(logits);
  const auxLoss: tf.Scalar = tf.add(tf.mul(o.balanceLossWeight ?? 0, balanceLoss), tf.mul(o.zLossWeight ?? 0, zLoss));
  return { expertIndex: c.expertIndex, gates, balanceLoss, zLoss, auxLoss, routed, entropy: routerEntropy(c.probs).dataSync()[0] as number };
}

/** A scalar that uses every output with its own weight, so that each output's gradient is checked. */
function objective(r: { gates: tf.Tensor2D; auxLoss: tf.Scalar; balanceLoss: tf.Scalar; zLoss: tf.Scalar }, R: tf.Tensor): tf.Scalar {
  return tf.addN([tf.sum(tf.mul(r.gates, R)), tf.mul(3, r.auxLoss), tf.mul(0.5, r.balanceLoss), tf.mul(-0.7, r.zLoss)]) as tf.Scalar;
}

const CASES: Array<{ what: string; options: HostRouteOptions }> = [
  { what: 'softmax, top-2, unnormalised gates (Switch/GShard probabilities)', options: { kind: 'softmax', topK: 2, balanceLossWeight: 1e-2, zLossWeight: 1e-3 } },
  { what: 'softmax, top-3, normalised gates', options: { kind: 'softmax', topK: 3, normalize: true, balanceLossWeight: 0.5 } },
  { what: 'softmax, top-1 with a selection bias', options: { kind: 'softmax', topK: 1, bias: [0.3, -0.2, 0, 0.1, -0.4, 0.25], zLossWeight: 0.2 } },
  { what: 'sigmoid (DeepSeek-V3), top-2, normalised, with a selection bias', options: { kind: 'sigmoid', topK: 2, bias: [0.2, -0.1, 0, 0.15, -0.3, 0.05], balanceLossWeight: 1e-2, zLossWeight: 1e-3 } },
  { what: 'sigmoid, top-6 of 6 (every expert), unnormalised', options: { kind: 'sigmoid', topK: 6, normalize: false, balanceLossWeight: 1 } },
];

function suite(backend: BackendName): void {
  describe(`hostRoute equals the tensor-op router (backend ${backend})`, () => {
    beforeAll(async () => {
      await initBackend({ force: backend });
      expect(tf.getBackend()).toBe(backend);
    });

    for (const c of CASES) {
      it(c.what, () => {
        tf.tidy(() => {
          const rng = new Rng(21);
          const logits = randn(rng, [40, 6], 1.5) as tf.Tensor2D;
          const R = randn(rng, [40, c.options.topK]);
          const host = hostRoute(logits, c.options);
          const ref = tensorRoute(logits, c.options);
          expect(Array.from(host.expertIndex)).toEqual(Array.from(ref.expertIndex));
          expect(host.routed).toEqual(ref.routed);
          expect(host.routed.reduce((a, b) => a + b, 0)).toBe(40 * c.options.topK); // n·k slots
          expect(maxAbsDiff(host.gates, ref.gates), 'gates').toBeLessThan(1e-6);
          expect(Array.from(host.gateValues)).toEqual(Array.from(host.gates.dataSync()));
          for (const k of ['auxLoss', 'balanceLoss', 'zLoss'] as const) expect(maxAbsDiff(host[k], ref[k]), k).toBeLessThan(1e-5);
          expect(Math.abs(host.entropy - ref.entropy), 'entropy').toBeLessThan(1e-5);
          const gHost = tf.grad((l: tf.Tensor) => objective(hostRoute(l as tf.Tensor2D, c.options), R))(logits);
          const gRef = tf.grad((l: tf.Tensor) => objective(tensorRoute(l as tf.Tensor2D, c.options), R))(logits);
          expect(tf.max(tf.abs(gRef)).dataSync()[0], 'the reference gradient is not zero').toBeGreaterThan(1e-3);
          expect(maxAbsDiff(gHost, gRef), 'gradient w.r.t. the logits').toBeLessThan(1e-5);
        });
      });
    }

    it('the bias changes the choice but never a gate (DeepSeek-V3 §2.1.2)', () => {
      tf.tidy(() => {
        // hand example: scores sigmoid([2, 0, −1]) = [0.881, 0.5, 0.269]; bias +1 on expert 2 picks it over expert 1
        const logits = tf.tensor2d([[2, 0, -1]]);
        const r = hostRoute(logits, { kind: 'sigmoid', topK: 2, bias: [0, 0, 1], normalize: false });
        expect(Array.from(r.expertIndex)).toEqual([2, 0]); // 0.269 + 1 > 0.881 > 0.5
        const s = (u: number) => 1 / (1 + Math.exp(-u));
        expect(r.gateValues[0]).toBeCloseTo(s(-1), 6); // the unbiased score of expert 2
        expect(r.gateValues[1]).toBeCloseTo(s(2), 6);
      });
    });

    it('the layer with the host router equals the tensor-op router under capacity drops, in values and gradients', () => {
      tf.tidy(() => {
        const rng = new Rng(5);
        const x = randn(rng, [24, 5]);
        const R = randn(rng, [24, 5]);
        const make = (router: 'host' | 'tensors'): MoE => {
          const l = moe({ experts: 4, topK: 2, expertHidden: 6, seed: 3, capacityFactor: 0.5, balanceLossWeight: 0.1, zLossWeight: 0.01 });
          l.routerMath = router;
          l.build([null, 5]);
          return l;
        };
        const [a, b] = [make('host'), make('tensors')];
        b.setWeights(a.getWeights());
        const run = (layer: MoE) => {
          const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
          const f = () => {
            const r = moeForward(layer, x);
            return tf.add<tf.Scalar>(tf.sum(tf.mul(r.output, R)), r.auxLoss);
          };
          const r = moeForward(layer, x);
          const { grads } = tf.variableGrads(f, vars);
          return { r, grads: vars.map((v) => grads[v.name] as tf.Tensor) };
        };
        const [ga, gb] = [run(a), run(b)];
        expect(ga.r.stats.droppedSlots, 'the case drops slots').toBeGreaterThan(0);
        expect(ga.r.stats.assignment).toEqual(gb.r.stats.assignment);
        expect(ga.r.stats.routed).toEqual(gb.r.stats.routed);
        expect(Math.abs(ga.r.stats.routerEntropy - gb.r.stats.routerEntropy)).toBeLessThan(1e-5);
        expect(maxAbsDiff(ga.r.output, gb.r.output)).toBeLessThan(1e-5);
        expect(maxAbsDiff(ga.r.auxLoss, gb.r.auxLoss)).toBeLessThan(1e-6);
        ga.grads.forEach((g, i) => expect(maxAbsDiff(g, gb.grads[i] as tf.Tensor), `gradient ${i}`).toBeLessThan(1e-5));
        a.dispose();
        b.dispose();
      });
    });

    it('training calls with noisy gating and the V3 bias update: the same as the tensor-op router, and no leak', () => {
      const rng = new Rng(8);
      const x = randn(rng, [20, 5]);
      const target = randn(rng, [20, 5]);
      const make = (router: 'host' | 'tensors'): MoE => {
        const l = moe({ experts: 4, topK: 2, expertHidden: 6, seed: 9, noisyGating: true, biasUpdateRate: 0.05, balanceLossWeight: 0.1, router: 'sigmoid' });
        l.routerMath = router;
        l.build([null, 5]);
        return l;
      };
      const [a, b] = [make('host'), make('tensors')];
      b.setWeights(a.getWeights());
      const [oa, ob] = [tf.train.sgd(0.1), tf.train.sgd(0.1)];
      const step = (layer: MoE, opt: tf.Optimizer) => {
        let stats = null as MoEStats | null;
        opt.minimize(() => {
          const r = moeForward(layer, x, { training: true });
          stats = r.stats;
          return tf.add<tf.Scalar>(tf.mean(tf.square(tf.sub(r.output, target))), r.auxLoss);
        })?.dispose();
        return stats as unknown as MoEStats;
      };
      for (let i = 0; i < 4; i++) {
        const [sa, sb] = [step(a, oa), step(b, ob)]; // the same noise: both layers draw from seed 9's noise stream
        expect(sa.assignment, `step ${i}: assignment`).toEqual(sb.assignment);
        for (let e = 0; e < 4; e++) expect(Math.abs((sa.bias[e] as number) - (sb.bias[e] as number)), `step ${i}: bias ${e}`).toBeLessThan(1e-6);
      }
      expect(a.routingBiasValues().some((v) => v !== 0), 'the bias moved').toBe(true);
      a.getWeights().forEach((w, i) => expect(maxAbsDiff(w, b.getWeights()[i] as tf.Tensor), `weight ${i} after 4 steps`).toBeLessThan(1e-5));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step(a, oa);
      expect(tf.memory().numTensors, 'tensors after 3 more host-router steps').toBe(before);
      tf.dispose([x, target]);
      [oa, ob].forEach((o) => o.dispose());
      a.dispose();
      b.dispose();
    });

    it('leaks nothing, forward and backward', () => {
      const rng = new Rng(4);
      const logits = randn(rng, [16, 4]) as tf.Tensor2D;
      const o: HostRouteOptions = { kind: 'softmax', topK: 2, balanceLossWeight: 1, zLossWeight: 1 };
      expectNoLeak(() => hostRoute(logits, o), 'hostRoute');
      expectNoLeak(() => tf.grad((l: tf.Tensor) => hostRoute(l as tf.Tensor2D, o).auxLoss)(logits), 'its gradient');
      logits.dispose();
    });

    it('rejects bad input with a clear error, and leaks nothing when it throws', () => {
      const logits = tf.tensor2d([[0, 1, 2], [1, 0, Number.NaN]]);
      const ok = tf.tensor2d([[0, 1, 2]]);
      const inf = tf.tensor2d([[0, 1, 2], [1, 0, 3], [Number.NEGATIVE_INFINITY, 0, 1]]);
      const before = tf.memory().numTensors;
      expect(() => hostRoute(ok, { kind: 'softmax', topK: 4 })).toThrow(/topK must be in \[1, 3\], got 4/);
      expect(() => hostRoute(ok, { kind: 'softmax', topK: 0 })).toThrow(/topK must be in \[1, 3\], got 0/);
      expect(() => hostRoute(ok, { kind: 'relu' as 'softmax', topK: 1 })).toThrow(/router must be 'softmax' or 'sigmoid', got relu/);
      expect(() => hostRoute(ok, { kind: 'sigmoid', topK: 1, bias: [0, 1] })).toThrow(/bias must have 3 entries \(one per expert\), got 2/);
      expect(() => hostRoute(ok, { kind: 'sigmoid', topK: 1, bias: [0, Number.NaN, 0] })).toThrow(/bias must be finite, got NaN at expert 1/);
      expect(() => hostRoute(ok, { kind: 'softmax', topK: 1, zLossWeight: -1 })).toThrow(/zLossWeight must be a finite number ≥ 0, got -1/);
      expect(() => hostRoute(tf.zeros([1, 2, 3]) as unknown as tf.Tensor2D, { kind: 'softmax', topK: 1 })).toThrow(/router logits must have rank 2 \(\[tokens, experts\]\), got shape \[1, 2, 3\]/);
      expect(() => hostRoute(logits, { kind: 'softmax', topK: 1 })).toThrow(/router logits must be finite, got NaN at token 1, expert 2/);
      expect(() => hostRoute(inf, { kind: 'softmax', topK: 1 })).toThrow(/router logits must be finite, got -Infinity at token 2, expert 0/);
      expect(tf.memory().numTensors, 'tensors left after the throws (the rank-3 zeros is the test\'s own)').toBe(before + 1);
      tf.dispose([logits, ok, inf]);
    });

    it('chooses as tf.topk does: the highest first, exact ties to the lower expert id', () => {
      // Equal logits give bit-equal softmax scores: ties at the top, in the middle and at the cut.
      const rows = [[0, 1, 1, 0.5], [2, 2, 2, 2], [0, 0.5, 3, 3], [3, -1, 3, 2], [-2, 5, 1, 5]];
      const logits = tf.tensor2d(rows);
      for (const k of [1, 2, 3]) {
        const r = hostRoute(logits, { kind: 'softmax', topK: k });
        const ref = tf.tidy(() => tf.topk(tf.softmax(logits), k).indices.dataSync());
        expect(Array.from(r.expertIndex), `top-${k}`).toEqual(Array.from(ref));
        tf.dispose([r.gates, r.auxLoss, r.balanceLoss, r.zLoss]);
      }
      const two = hostRoute(logits, { kind: 'softmax', topK: 2 });
      expect(Array.from(two.expertIndex)).toEqual([1, 2, 0, 1, 2, 3, 0, 2, 1, 3]); // by hand
      tf.dispose([logits, two.gates, two.auxLoss, two.balanceLoss, two.zLoss]);
    });
  });
}

suite('cpu');
suite('wasm');
if (nativeInstalled()) {
  suite('tensorflow');
  describe('the router path by backend', () => {
    it('is the host router on tensorflow by default', async () => {
      await initBackend({ force: 'tensorflow' });
      expect(defaultRouterMath()).toBe('host');
    });
  });
}
describe('the router path on cpu and wasm', () => {
  it('stays the tensor-op router by default on wasm and cpu', async () => {
    await initBackend({ force: 'wasm' });
    expect(defaultRouterMath()).toBe('tensors');
    await initBackend({ force: 'cpu' });
    expect(defaultRouterMath()).toBe('tensors');
  });
});
