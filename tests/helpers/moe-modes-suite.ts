/**
 * The sparse MoE layer's three modes (`rowMoves`: `host`, `kernels`, `batched`), each with both
 * router paths (`routerMath`: `tensors`, `host`), against the
 * dense reference (`dispatch: 'dense'`, every expert on every token weighted by the same gates),
 * on one backend: forward output, the three aux losses, and the gradients of every weight and of
 * the input, with and without capacity drops, with shared experts, with padding rows (uneven
 * loads) and with an expert no token chose; and no leak. Run by tests/moe.test.ts (cpu),
 * tests/moe-wasm.test.ts and tests/moe-tensorflow.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../lib/backend';
import { type SparseMode } from '../../lib/moe/dispatch';
import { type RouterMath } from '../../lib/moe/host-router';
import { moe, moeForward, type MoE, type MoEArgs, type MoEStats } from '../../lib/moe/layer';
import { Rng } from '../../lib/random';
import { expectNoLeak } from './leak';

const MODES: readonly SparseMode[] = ['host', 'kernels', 'batched'];
/** Router paths: tensor ops, and the one-op host router (lib/moe/host-router.ts). */
const ROUTERS: readonly RouterMath[] = ['tensors', 'host'];
/** Every sparse mode with every router path. */
const RUNS = MODES.flatMap((mode) => ROUTERS.map((router) => ({ mode, router, what: `${mode}/${router} router` })));

function randn(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Output, losses and gradients (weights in trainableWeights order, then the input) of `sum(y · R) + auxLoss`. */
function run(layer: MoE, x: tf.Tensor, R: tf.Tensor) {
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const f = (t: tf.Tensor) => {
    const r = moeForward(layer, t);
    return tf.add<tf.Scalar>(tf.sum(tf.mul(r.output, R)), r.auxLoss);
  };
  const r = moeForward(layer, x);
  const { grads } = tf.variableGrads(() => f(x), vars);
  const gx = tf.grad(f)(x);
  return { r, grads: vars.map((v) => grads[v.name]), gx };
}

interface Config {
  what: string;
  args: MoEArgs;
  tokens: number;
  /** Makes expert `idle` unreachable (router column set to −10 on positive inputs). */
  idle?: number;
  /** What the routing must show, so that the case tests what it says. */
  expect: (stats: MoEStats) => void;
}

const CONFIGS: Config[] = [
  {
    what: 'capacity drops, a shared expert, sigmoid router, V3-style normalised gates',
    args: { experts: 4, topK: 2, expertHidden: 6, seed: 7, capacityFactor: 0.75, sharedExperts: 1, sharedHidden: 3, router: 'sigmoid', zLossWeight: 1e-3, balanceLossWeight: 1e-2 },
    tokens: 12,
    expect: (s) => {
      expect(s.capacity).toBe(5); // ceil(0.75 · 12 · 2 / 4)
      expect(s.droppedSlots).toBeGreaterThan(0);
    },
  },
  {
    what: 'no capacity, uneven loads (padding rows), silu, no biases',
    args: { experts: 5, topK: 2, expertHidden: 4, seed: 3, activation: 'silu', useBias: false, balanceLossWeight: 1e-2 },
    tokens: 16,
    expect: (s) => {
      const load = s.load ?? [];
      const active = load.filter((c) => c > 0);
      expect(Math.max(...active) * active.length - active.reduce((a, b) => a + b, 0), 'padding rows').toBeGreaterThan(0);
      expect(s.droppedSlots).toBe(0);
    },
  },
  {
    what: 'top-1, an expert no token chose (no gradient at all), gelu, a shared expert',
    args: { experts: 4, topK: 1, expertHidden: 6, seed: 5, activation: 'gelu', sharedExperts: 2, sharedHidden: 2 },
    tokens: 16,
    idle: 3,
    expect: (s) => expect(s.load[3]).toBe(0),
  },
];

/**
 * Defines the suite on `backend`.
 * @param tol largest absolute difference allowed against the dense reference (values and gradients)
 */
export function moeModesSuite(backend: BackendName, tol: number): void {
  describe(`MoE sparse modes equal the dense reference (backend ${backend})`, () => {
    beforeAll(async () => {
      await initBackend({ force: backend });
      expect(tf.getBackend()).toBe(backend);
    });

    for (const c of CONFIGS) {
      it(c.what, () => {
        tf.tidy(() => {
          const rng = new Rng(c.tokens);
          const x = c.idle === undefined ? randn(rng, [c.tokens, 5]) : tf.abs(randn(rng, [c.tokens, 5]));
          const R = randn(rng, [c.tokens, 5]);
          const dense = moe({ ...c.args, dispatch: 'dense' });
          dense.routerMath = 'tensors'; // the reference: tensor ops throughout
          dense.build([null, 5]);
          if (c.idle !== undefined) {
            const rk = dense.trainableWeights[0]?.read() as tf.Variable; // router kernel [d, E]
            rk.assign(tf.concat([tf.slice(rk, [0, 0], [5, c.idle]), tf.fill([5, 1], -10), tf.slice(rk, [0, c.idle + 1], [5, -1])], 1));
          }
          const ref = run(dense, x, R);
          c.expect(ref.r.stats);
          for (const { mode, router, what } of RUNS) {
            const layer = moe(c.args);
            layer.rowMoves = mode;
            layer.routerMath = router;
            layer.build([null, 5]);
            layer.setWeights(dense.getWeights());
            const got = run(layer, x, R);
            c.expect(got.r.stats);
            expect(got.r.stats.assignment, `${what}: assignment`).toEqual(ref.r.stats.assignment);
            expect(maxAbsDiff(got.r.output, ref.r.output), `${what}: output`).toBeLessThan(tol);
            for (const k of ['auxLoss', 'balanceLoss', 'zLoss'] as const) expect(maxAbsDiff(got.r[k], ref.r[k]), `${what}: ${k}`).toBeLessThan(tol);
            layer.trainableWeights.forEach((w, i) => {
              const name = `${what}: gradient of ${w.originalName.split('/').pop()}`;
              const a = got.grads[i];
              const b = ref.grads[i] as tf.Tensor;
              const expert = /expert_(\d+)_/.exec(w.originalName)?.[1];
              if (expert !== undefined && got.r.stats.load[Number(expert)] === 0) {
                expect(a, `${name}: an expert no token chose is not in the graph`).toBeUndefined();
                expect(tf.max(tf.abs(b)).dataSync()[0], `${name} (dense reference)`).toBe(0);
              } else {
                expect(a, name).toBeDefined();
                expect(maxAbsDiff(a as tf.Tensor, b), name).toBeLessThan(tol);
              }
            });
            expect(maxAbsDiff(got.gx, ref.gx), `${what}: gradient of the input`).toBeLessThan(tol);
            layer.dispose();
          }
          dense.dispose();
        });
      });
    }

    it('leaks nothing in any mode: forward calls and training steps', () => {
      const rng = new Rng(9);
      const x = randn(rng, [2, 8, 5]);
      const target = randn(rng, [2, 8, 5]);
      const layer = moe({ ...(CONFIGS[0] as Config).args, biasUpdateRate: 0.01 });
      const opt = tf.train.sgd(1e-2);
      const step = () => {
        opt.minimize(() => {
          const r = moeForward(layer, x, { training: true });
          return tf.add<tf.Scalar>(tf.mean(tf.square(tf.sub(r.output, target))), r.auxLoss);
        })?.dispose();
      };
      tf.dispose(moeForward(layer, x).output); // builds the layer
      for (const { mode, router, what } of RUNS) {
        layer.rowMoves = mode;
        layer.routerMath = router;
        expectNoLeak(() => moeForward(layer, x, { training: true }), `${what}: moeForward`);
        step(); // the first step of a mode may create nothing: SGD keeps no slots
        const before = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) step();
        expect(tf.memory().numTensors, `${what}: tensors after 5 steps`).toBe(before);
      }
      tf.dispose([x, target]);
      opt.dispose();
      layer.dispose();
    });
  });
}
