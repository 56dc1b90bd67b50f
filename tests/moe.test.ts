/**
 * lib/moe: routers, sparse dispatch, capacity, balancing losses, the V3 bias update, the MoE layer
 * (equivalence with the dense gate-weighted sum, gradients, serialisation, leaks) and its errors.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { loadBalancingLoss, loadEntropy, routerZLoss, updateRoutingBias } from '../lib/moe/balance';
import { combineRows, defaultSparseMode, dispatchRows, expertCapacity, gatherRows, multiOutputEngine, padDispatch, planDispatch, scatterAddRows } from '../lib/moe/dispatch';
import { fineGrainedMoEArgs, MoE, moe, moeForward, type MoEArgs } from '../lib/moe/layer';
import { route } from '../lib/moe/router';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';
import { moeModesSuite } from './helpers/moe-modes-suite';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal(0, std)), shape);
}

/** The layer's weights by their short name (`expert_0_w1`, `router_kernel`, ...). */
function weightsByName(layer: MoE): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const w of layer.weights) out[w.originalName.split('/').pop() as string] = w.read() as tf.Variable;
  return out;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Reference: every expert on every token, weighted by the softmax probabilities (k = E, no normalisation). */
function denseReference(x: tf.Tensor2D, W: Record<string, tf.Tensor>, E: number): tf.Tensor2D {
  return tf.tidy(() => {
    const p = tf.softmax(tf.matMul(x, W.router_kernel as tf.Tensor2D)); // [n, E]
    let out: tf.Tensor = tf.zerosLike(x);
    for (let e = 0; e < E; e++) {
      const h = tf.relu(tf.add(tf.matMul(x, W[`expert_${e}_w1`] as tf.Tensor2D), W[`expert_${e}_b1`] as tf.Tensor));
      const y = tf.add(tf.matMul(h, W[`expert_${e}_w2`] as tf.Tensor2D), W[`expert_${e}_b2`] as tf.Tensor);
      out = tf.add(out, tf.mul(y, tf.slice(p, [0, e], [-1, 1])));
    }
    return out as tf.Tensor2D;
  });
}

describe('dispatch plan and capacity', () => {
  it('capacity is ceil(factor · n · k / E), unbounded without a factor', () => {
    // Reference (hand): ceil(1.25 · 8 · 2 / 4) = ceil(5) = 5; ceil(1.0 · 10 · 1 / 4) = ceil(2.5) = 3
    expect(expertCapacity(8, 2, 4, 1.25)).toBe(5);
    expect(expertCapacity(10, 1, 4, 1)).toBe(3);
    expect(expertCapacity(10, 1, 4)).toBe(Number.POSITIVE_INFINITY);
    expect(() => expertCapacity(10, 1, 4, 0)).toThrowError(/^capacityFactor must be > 0, got 0$/);
    expect(() => expertCapacity(10, 1, 4, -1)).toThrowError(/^capacityFactor must be > 0, got -1$/);
  });

  it('serves first choices before second choices, and drops slots past the capacity (hand example)', () => {
    // tokens' choices [[0, 1], [1, 0], [0, 1]], capacity 2:
    // slot 0: t0->0, t1->1, t2->0 (expert 0 full); slot 1: t0->1 (expert 1 full), t1->0 dropped, t2->1 dropped.
    const p = planDispatch([0, 1, 1, 0, 0, 1], 2, 2, 2);
    expect(Array.from(p.tokenIds[0] as Int32Array)).toEqual([0, 2]);
    expect(Array.from(p.tokenIds[1] as Int32Array)).toEqual([1, 0]);
    expect(Array.from(p.slotIds[1] as Int32Array)).toEqual([2, 1]);
    expect(p.routed).toEqual([3, 3]);
    expect(p.load).toEqual([2, 2]);
    expect(p.droppedSlots).toBe(2);
    expect(p.droppedTokens).toBe(0);
    expect(Array.from(p.assignment)).toEqual([0, 1, 1, -1, 0, -1]);
    // k = 1, capacity 1: tokens 1 and 2 lose their only slot
    const q = planDispatch([0, 0, 0, 1], 1, 2, 1);
    expect(q.droppedTokens).toBe(2);
    expect(Array.from(q.assignment)).toEqual([0, -1, -1, 1]);
  });

  it('padDispatch lays the served slots out as [E\', C] rows, C the largest load, padding at a zero row (hand example)', () => {
    // choices (k = 1) of 5 tokens among 3 experts: [0, 0, 2, 0, 2], unbounded: loads [3, 0, 2].
    // Active experts [0, 2], C = 3: rows 0..2 serve expert 0 (tokens 0, 1, 3), rows 3..5 expert 2
    // (tokens 2, 4, then one padding row pointing at token id n = 5 and slot id n·k = 5).
    const p = padDispatch(planDispatch([0, 0, 2, 0, 2], 1, 3, Number.POSITIVE_INFINITY));
    expect(p?.experts).toEqual([0, 2]);
    expect(p?.rowsPerExpert).toBe(3);
    expect(Array.from(p?.tokenIds ?? [])).toEqual([0, 1, 3, 2, 4, 5]);
    expect(Array.from(p?.slotIds ?? [])).toEqual([0, 1, 3, 2, 4, 5]);
    expect(p?.paddingRows).toBe(1);
    // k = 2 with a capacity of 2 (the hand example above): loads [2, 2], no padding, C = 2 ≤ capacity;
    // expert 1 serves t1's slot 0 (flat 2) then t0's slot 1 (flat 1)
    const q = padDispatch(planDispatch([0, 1, 1, 0, 0, 1], 2, 2, 2));
    expect(q?.rowsPerExpert).toBe(2);
    expect(Array.from(q?.tokenIds ?? [])).toEqual([0, 2, 1, 0]);
    expect(Array.from(q?.slotIds ?? [])).toEqual([0, 4, 2, 1]);
    expect(q?.paddingRows).toBe(0);
    expect(padDispatch(planDispatch([], 1, 2, 1))).toBeNull(); // no token: no expert runs
    expect(defaultSparseMode()).toBe('host'); // this file runs on cpu
  });

  for (const moves of ['host', 'kernels'] as const) {
    it(`gatherRows and scatterAddRows are each other's gradients, duplicates summed (${moves})`, () => {
      tf.tidy(() => {
        const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
        for (const ids of [tf.tensor1d([2, 0, 2], 'int32'), Int32Array.from([2, 0, 2])]) {
          expect(Array.from(gatherRows(x, ids, moves).dataSync())).toEqual([5, 6, 1, 2, 5, 6]);
          const g = tf.grad((t: tf.Tensor) => tf.sum(gatherRows(t as tf.Tensor2D, ids, moves)))(x);
          // row 2 gathered twice, row 0 once, row 1 never
          expect(Array.from(g.dataSync())).toEqual([1, 1, 0, 0, 2, 2]);
          const s = scatterAddRows(tf.tensor2d([[1, 1], [2, 2], [3, 3]]), ids, 3, moves);
          expect(Array.from(s.dataSync())).toEqual([2, 2, 0, 0, 4, 4]);
          const gs = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(scatterAddRows(t as tf.Tensor2D, ids, 3, moves), x)))(tf.ones([3, 2]));
          expect(Array.from(gs.dataSync())).toEqual([5, 6, 1, 2, 5, 6]);
        }
        expect(() => gatherRows(x, Int32Array.from([0, 3]), moves)).toThrow(/gatherRows row ids must be in \[0, 3\), got 3 at position 1/);
        expect(() => scatterAddRows(x, Int32Array.from([0, 1]), 3, moves)).toThrow(/scatterAddRows needs one id per row: 3 rows, got 2 ids/);
      });
    });
  }

  it('dispatchRows and combineRows: hand example, gradients of rows and gates, no leak', () => {
    // dispatchRows uses the engine's multi-output runKernelFunc (not in tfjs's public types): a tfjs
    // upgrade that drops it sends dispatchRows to its slower one-op-per-piece fallback
    expect(multiOutputEngine(), 'tf.engine().runKernelFunc').not.toBeNull();
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]); // n = 3 tokens, d = 2
      // k = 2: expert A serves token 0 (slot 0) and token 2 (slot 0); expert B serves token 0 (slot 1) and token 1 (slot 0)
      const tokenIds = [Int32Array.from([0, 2]), Int32Array.from([0, 1])];
      const slotIds = [Int32Array.from([0, 4]), Int32Array.from([1, 2])];
      const [a, b] = dispatchRows(x, tokenIds) as [tf.Tensor2D, tf.Tensor2D];
      expect(Array.from(a.dataSync())).toEqual([1, 2, 5, 6]);
      expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
      const gates = tf.tensor2d([[0.5, 0.25], [1, 0], [2, 0]]); // slot 3 (token 1, second choice) and 5 unused
      const out = combineRows(gates, [a, b], tokenIds, slotIds);
      // token 0: 0.5·[1,2] + 0.25·[1,2]; token 1: 1·[3,4]; token 2: 2·[5,6] (hand-computed)
      expect(Array.from(out.dataSync())).toEqual([0.75, 1.5, 3, 4, 10, 12]);
      // d/dx and d/dgates of sum(out · R), against the same maths written with dense ops
      const R = tf.tensor2d([[1, -1], [2, 0.5], [-3, 1]]);
      const f = (xx: tf.Tensor, gg: tf.Tensor) => {
        const pieces = dispatchRows(xx as tf.Tensor2D, tokenIds);
        return tf.sum(tf.mul(combineRows(gg as tf.Tensor2D, pieces, tokenIds, slotIds), R));
      };
      const [gx, gg] = tf.grads(f)([x, gates]) as [tf.Tensor, tf.Tensor];
      // out = M(g) x with M[0] = g00 + g01 on row 0, M[1] = g10 on row 1, M[2] = g20 on row 2:
      // d/dx row t = (Σ of token t's served gates) · R[t]; d/dg slot = ⟨R[t], x[t]⟩ (0 for unserved slots)
      expect(Array.from(gx.dataSync())).toEqual([0.75, -0.75, 2, 0.5, -6, 2]);
      expect(Array.from(gg.dataSync())).toEqual([-1, -1, 8, 0, -9, 0]);
      expect(() => combineRows(gates, [a], tokenIds, slotIds)).toThrow(/one token list and one slot list per piece, got 1 pieces, 2 token lists/);
      expect(() => dispatchRows(x, [Int32Array.from([3])])).toThrow(/dispatchRows \(piece 0\) row ids must be in \[0, 3\), got 3/);
    });
    expectNoLeak(() => tf.tidy(() => {
      const x = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
      const g = tf.grad((t: tf.Tensor) => tf.sum(combineRows(tf.ones<tf.Rank.R2>([2, 1]), dispatchRows(t as tf.Tensor2D, [Int32Array.from([1, 0])]), [Int32Array.from([1, 0])], [Int32Array.from([1, 0])])))(x);
      x.dispose();
      return g;
    }), 'dispatchRows + combineRows + gradient');
  });
});

describe('routers', () => {
  it('softmax top-k: gates are the probabilities at the chosen experts; normalize divides by their sum', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[Math.log(6), Math.log(3), 0]]); // softmax = [0.6, 0.3, 0.1]
      const r = route(logits, { kind: 'softmax', topK: 2 });
      expect(Array.from(r.expertIndex)).toEqual([0, 1]);
      const g = r.gates.dataSync();
      expect(g[0]).toBeCloseTo(0.6, 6);
      expect(g[1]).toBeCloseTo(0.3, 6);
      const rn = route(logits, { kind: 'softmax', topK: 2, normalize: true }).gates.dataSync();
      // Reference (hand): 0.6 / 0.9 = 0.6667, 0.3 / 0.9 = 0.3333
      expect(rn[0]).toBeCloseTo(2 / 3, 6);
      expect(rn[1]).toBeCloseTo(1 / 3, 6);
    });
  });

  it('sigmoid (DeepSeek-V3): the bias changes the choice but never the gate value', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[2, 0, -1, 1]]);
      const s = [2, 0, -1, 1].map((u) => 1 / (1 + Math.exp(-u)));
      const plain = route(logits, { kind: 'sigmoid', topK: 2 });
      expect(Array.from(plain.expertIndex)).toEqual([0, 3]);
      // V3 eq. 13: g_i = s_i / Σ_{chosen} s_j
      expect(plain.gates.dataSync()[0]).toBeCloseTo((s[0] as number) / ((s[0] as number) + (s[3] as number)), 6);
      const biased = route(logits, { kind: 'sigmoid', topK: 2, bias: tf.tensor1d([0, 0, 5, 0]) });
      expect(Array.from(biased.expertIndex)).toEqual([2, 0]); // s_2 + 5 ranks first
      const g = biased.gates.dataSync();
      // the gate of expert 2 uses s_2, not s_2 + 5
      expect(g[0]).toBeCloseTo((s[2] as number) / ((s[2] as number) + (s[0] as number)), 6);
      expect(g[1]).toBeCloseTo((s[0] as number) / ((s[2] as number) + (s[0] as number)), 6);
    });
  });

  it('rejects k outside [1, E], naming it', () => {
    const logits: tf.Tensor2D = tf.zeros([2, 8]);
    expect(() => route(logits, { kind: 'softmax', topK: 9 })).toThrowError(/^topK must be in \[1, 8\], got 9$/);
    expect(() => route(logits, { kind: 'softmax', topK: 0 })).toThrowError(/^topK must be in \[1, 8\], got 0$/);
    logits.dispose();
  });
});

describe('balancing losses and the V3 bias update', () => {
  it('the Switch loss α·N·Σ f_i·P_i equals α exactly under uniform routing', () => {
    tf.tidy(() => {
      const probs: tf.Tensor2D = tf.fill([8, 4], 0.25);
      const idx = tf.tensor2d([0, 1, 2, 3, 0, 1, 2, 3], [8, 1], 'int32'); // each expert gets 2 of 8
      // Reference (Switch Transformer §2.2): f_i = P_i = 1/N, so α · N · N · (1/N)(1/N) = α
      expect(loadBalancingLoss(probs, idx, 0.01).dataSync()[0]).toBeCloseTo(0.01, 9);
      const idx2 = tf.tensor2d([0, 1, 2, 3, 1, 0, 3, 2], [4, 2], 'int32'); // top-2, each expert 2 of 8 slots
      expect(loadBalancingLoss(tf.fill<tf.Rank.R2>([4, 4], 0.25), idx2, 0.5).dataSync()[0]).toBeCloseTo(0.5, 7);
    });
  });

  it('the Switch loss on routings worked by hand', () => {
    tf.tidy(() => {
      // T = 2, N = 2, k = 1, both tokens to expert 0: f = [1, 0], P = [0.7, 0.3];
      // Reference (hand): α · 2 · (1 · 0.7 + 0 · 0.3) = 1.4 α
      const a = loadBalancingLoss(tf.tensor2d([[0.8, 0.2], [0.6, 0.4]]), tf.tensor2d([[0], [0]], [2, 1], 'int32'), 0.01);
      expect(a.dataSync()[0]).toBeCloseTo(0.014, 7);
      // T = 2, N = 3, k = 2: choices [[0, 1], [0, 2]] -> f = [2, 1, 1] / 4; P = [0.45, 0.2, 0.35]
      // Reference (hand): 3 · (0.5 · 0.45 + 0.25 · 0.2 + 0.25 · 0.35) = 3 · 0.3625 = 1.0875
      const b = loadBalancingLoss(tf.tensor2d([[0.5, 0.3, 0.2], [0.4, 0.1, 0.5]]), tf.tensor2d([[0, 1], [0, 2]], [2, 2], 'int32'), 1);
      expect(b.dataSync()[0]).toBeCloseTo(1.0875, 6);
      // the gradient w.r.t. the probabilities is α·N·f_i / T (f is a constant): 3 · [0.5, 0.25, 0.25] / 2
      const g = tf.grad((p: tf.Tensor) => loadBalancingLoss(p as tf.Tensor2D, tf.tensor2d([[0, 1], [0, 2]], [2, 2], 'int32'), 1))(
        tf.tensor2d([[0.5, 0.3, 0.2], [0.4, 0.1, 0.5]]),
      );
      const gv = Array.from(g.dataSync());
      [0.75, 0.375, 0.375, 0.75, 0.375, 0.375].forEach((v, i) => expect(gv[i]).toBeCloseTo(v, 6));
    });
  });

  it('the router z-loss (ST-MoE eq. 5) on logits worked by hand', () => {
    tf.tidy(() => {
      // Reference (hand): row 1 lse(0, 0) = ln 2, row 2 lse(ln 3, 0) = ln 4;
      // ((ln 2)^2 + (ln 4)^2) / 2 = (0.480453014 + 1.921812056) / 2 = 1.201132535
      const z = routerZLoss(tf.tensor2d([[0, 0], [Math.log(3), 0]]));
      expect(z.dataSync()[0]).toBeCloseTo(1.201132535, 6);
      expect(routerZLoss(tf.tensor2d([[-1000, -1000]])).dataSync()[0]).toBeCloseTo((-1000 + Math.log(2)) ** 2, 0);
    });
  });

  it('the V3 bias update: −γ when overloaded, +γ when underloaded, unchanged at the mean (hand example)', () => {
    // load [5, 1, 2, 0], mean 2: expert 0 over, 1 and 3 under, 2 at the mean
    const b = updateRoutingBias([0, 0.5, 0, -0.2], [5, 1, 2, 0], 0.1);
    [-0.1, 0.6, 0, -0.1].forEach((v, i) => expect(b[i]).toBeCloseTo(v, 12));
    expect(() => updateRoutingBias([0], [1, 2], 0.1)).toThrowError(/^bias and load must have the same length, got 1 and 2$/);
    expect(() => updateRoutingBias([0], [1], -1)).toThrowError(/^biasUpdateRate must be a finite number ≥ 0, got -1$/);
    // Reference (hand): uniform load over 4 experts has entropy ln 4
    expect(loadEntropy([3, 3, 3, 3])).toBeCloseTo(Math.log(4), 12);
    expect(loadEntropy([12, 0, 0, 0])).toBe(0);
  });
});

describe('MoE layer', () => {
  const base: MoEArgs = { experts: 4, topK: 2, expertHidden: 6, seed: 7 };

  it('k = E with unbounded capacity equals the dense gate-weighted sum of all experts, in values and gradients', () => {
    tf.tidy(() => {
      const rng = new Rng(1);
      const x = randn(rng, [10, 5]) as tf.Tensor2D;
      const R = randn(rng, [10, 5]);
      const layer = moe({ ...base, topK: 4 });
      const y = layer.apply(x) as tf.Tensor2D;
      const W = weightsByName(layer);
      const ref = denseReference(x, W, 4);
      expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
      // gradients w.r.t. the input and every weight, of sum(out · R)
      const names = Object.keys(W).filter((n) => n !== 'routing_bias');
      const vars = names.map((n) => W[n] as tf.Variable);
      const gLayer = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, R)), vars).grads;
      const gRef = tf.grads((...ts: tf.Tensor[]) => {
        const Wt: Record<string, tf.Tensor> = {};
        names.forEach((n, i) => (Wt[n] = ts[i] as tf.Tensor));
        return tf.sum(tf.mul(denseReference(ts[names.length] as tf.Tensor2D, Wt, 4), R));
      })([...vars, x]);
      names.forEach((n, i) => {
        const a = gLayer[(W[n] as tf.Variable).name] as tf.Tensor;
        expect(a, `gradient of ${n}`).toBeDefined();
        expect(maxAbsDiff(a, gRef[i] as tf.Tensor), `gradient of ${n}`).toBeLessThan(1e-5);
      });
      const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t) as tf.Tensor, R)))(x);
      expect(maxAbsDiff(gx, gRef[names.length] as tf.Tensor)).toBeLessThan(1e-5);
      layer.dispose();
    });
  });

  it('sparse dispatch equals dense dispatch (k < E, with a capacity), in values and gradients', () => {
    tf.tidy(() => {
      const rng = new Rng(2);
      const x = randn(rng, [12, 5]) as tf.Tensor2D;
      const R = randn(rng, [12, 5]);
      const args: MoEArgs = { ...base, capacityFactor: 0.75, sharedExperts: 1, sharedHidden: 3, router: 'sigmoid' };
      const sparse = moe(args);
      const dense = moe({ ...args, dispatch: 'dense' });
      sparse.build([null, 5]);
      dense.build([null, 5]);
      dense.setWeights(sparse.getWeights());
      const ys = sparse.apply(x) as tf.Tensor;
      const yd = dense.apply(x) as tf.Tensor;
      expect(sparse.lastStats?.droppedSlots).toBeGreaterThan(0); // capacity ceil(0.75 · 12 · 2 / 4) = 5 of 6 mean slots
      expect(sparse.lastStats?.capacity).toBe(5);
      expect(maxAbsDiff(ys, yd)).toBeLessThan(1e-5);
      const loss = (l: MoE) => () => tf.sum<tf.Scalar>(tf.mul(l.apply(x) as tf.Tensor, R));
      const gs = tf.variableGrads(loss(sparse), sparse.trainableWeights.map((w) => w.read() as tf.Variable)).grads;
      const gd = tf.variableGrads(loss(dense), dense.trainableWeights.map((w) => w.read() as tf.Variable)).grads;
      sparse.trainableWeights.forEach((w, i) => {
        const a = gs[(w.read() as tf.Variable).name];
        const b = gd[((dense.trainableWeights[i] as tf.LayerVariable).read() as tf.Variable).name] as tf.Tensor;
        if (a === undefined) expect(tf.max(tf.abs(b)).dataSync()[0], w.originalName).toBe(0);
        else expect(maxAbsDiff(a, b), w.originalName).toBeLessThan(1e-5);
      });
      sparse.dispose();
      dense.dispose();
    });
  });

  it('the host row moves and the gather/scatter kernels give the same values and gradients', () => {
    tf.tidy(() => {
      const rng = new Rng(3);
      const x = randn(rng, [12, 5]) as tf.Tensor2D;
      const R = randn(rng, [12, 5]);
      const args: MoEArgs = { ...base, capacityFactor: 0.75, sharedExperts: 1, sharedHidden: 3 };
      const host = moe(args);
      const kern = moe(args);
      host.rowMoves = 'host';
      kern.rowMoves = 'kernels';
      host.build([null, 5]);
      kern.build([null, 5]);
      kern.setWeights(host.getWeights());
      expect(maxAbsDiff(host.apply(x) as tf.Tensor, kern.apply(x) as tf.Tensor)).toBeLessThan(1e-6);
      expect(host.lastStats?.droppedSlots).toBeGreaterThan(0);
      const loss = (l: MoE) => () => tf.sum<tf.Scalar>(tf.mul(l.apply(x) as tf.Tensor, R));
      const gh = tf.variableGrads(loss(host), host.trainableWeights.map((w) => w.read() as tf.Variable)).grads;
      const gk = tf.variableGrads(loss(kern), kern.trainableWeights.map((w) => w.read() as tf.Variable)).grads;
      host.trainableWeights.forEach((w, i) => {
        const a = gh[(w.read() as tf.Variable).name];
        const b = gk[((kern.trainableWeights[i] as tf.LayerVariable).read() as tf.Variable).name];
        expect(a === undefined, w.originalName).toBe(b === undefined);
        if (a && b) expect(maxAbsDiff(a, b), w.originalName).toBeLessThan(1e-5);
      });
      host.dispose();
      kern.dispose();
    });
  });

  it('gradients reach only the router and the chosen experts: an unchosen expert gets exactly zero', () => {
    tf.tidy(() => {
      const rng = new Rng(3);
      const x = tf.abs(randn(rng, [16, 5])) as tf.Tensor2D; // positive inputs
      const layer = moe({ ...base, topK: 1 });
      layer.build([null, 5]);
      const W = weightsByName(layer);
      // router column 3 strongly negative on positive inputs: expert 3 is never chosen
      const rk = W.router_kernel as tf.Variable;
      rk.assign(tf.concat([tf.slice(rk, [0, 0], [5, 3]), tf.fill([5, 1], -10)], 1));
      const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(layer.apply(x) as tf.Tensor)), vars);
      expect(layer.lastStats?.load[3]).toBe(0);
      const nonZero = (n: string) => {
        const g = grads[(W[n] as tf.Variable).name];
        return g === undefined ? 0 : (tf.max(tf.abs(g)).dataSync()[0] as number);
      };
      for (const part of ['w1', 'b1', 'w2', 'b2']) expect(nonZero(`expert_3_${part}`), `expert_3_${part}`).toBe(0);
      expect(grads[(W.expert_3_w1 as tf.Variable).name]).toBeUndefined(); // it did not even run
      expect(nonZero('router_kernel')).toBeGreaterThan(0);
      for (let e = 0; e < 3; e++) {
        if ((layer.lastStats?.load[e] ?? 0) > 0) expect(nonZero(`expert_${e}_w2`), `expert_${e}`).toBeGreaterThan(0);
      }
      layer.dispose();
    });
  });

  it('accepts [b, t, d] and [n, d] with the same result, and reports per-call statistics', () => {
    tf.tidy(() => {
      const rng = new Rng(4);
      const x = randn(rng, [2, 3, 5]);
      const layer = moe(base);
      const y3 = layer.apply(x) as tf.Tensor;
      expect(y3.shape).toEqual([2, 3, 5]);
      const y2 = layer.apply(tf.reshape(x, [6, 5])) as tf.Tensor;
      expect(maxAbsDiff(tf.reshape(y3, [6, 5]), y2)).toBe(0);
      const s = layer.lastStats;
      expect(s?.tokens).toBe(6);
      expect(s?.routed.reduce((a, b) => a + b, 0)).toBe(12);
      expect(s?.assignment.length).toBe(12);
      expect(s?.droppedSlots).toBe(0);
      expect(s?.routerEntropy).toBeGreaterThan(0);
      expect(s?.routerEntropy).toBeLessThanOrEqual(Math.log(4) + 1e-6);
      layer.dispose();
    });
  });

  it('moeForward returns the weighted aux loss α·balance + β·z', () => {
    tf.tidy(() => {
      const layer = moe({ ...base, balanceLossWeight: 0.01, zLossWeight: 0.001 });
      const r = moeForward(layer, randn(new Rng(5), [8, 5]));
      const [aux, bal, z] = [r.auxLoss, r.balanceLoss, r.zLoss].map((t) => t.dataSync()[0] as number) as [number, number, number];
      expect(aux).toBeCloseTo(0.01 * bal + 0.001 * z, 7);
      expect(bal).toBeGreaterThanOrEqual(0.99); // N Σ f_i P_i ≥ ... ; ≈ 1 near uniform
      layer.dispose();
    });
  });

  it('the V3 bias: updated only in training calls, from the routed load; with k = E it changes nothing in the output', () => {
    tf.tidy(() => {
      const x = randn(new Rng(6), [16, 5]);
      const layer = moe({ ...base, router: 'sigmoid', biasUpdateRate: 0.05 });
      layer.apply(x);
      expect(layer.routingBiasValues()).toEqual([0, 0, 0, 0]); // not a training call
      const r = moeForward(layer, x, { training: true });
      const expected = updateRoutingBias([0, 0, 0, 0], r.stats.routed, 0.05);
      layer.routingBiasValues().forEach((b, i) => expect(b).toBeCloseTo(expected[i] as number, 7));
      // k = E: every expert is chosen whatever the bias, and the gates ignore it
      const all = moe({ ...base, topK: 4, router: 'sigmoid' });
      const y0 = all.apply(x) as tf.Tensor;
      const W = weightsByName(all);
      (W.routing_bias as tf.Variable).assign(tf.tensor1d([3, -2, 0.5, 7]));
      expect(maxAbsDiff(all.apply(x) as tf.Tensor, y0)).toBeLessThan(1e-6);
      // k = 1: a large bias on expert 2 sends every token there
      const one = moe({ ...base, topK: 1, router: 'sigmoid' });
      one.build([null, 5]);
      (weightsByName(one).routing_bias as tf.Variable).assign(tf.tensor1d([0, 0, 100, 0]));
      one.apply(x);
      expect(one.lastStats?.load).toEqual([0, 0, 16, 0]);
      [layer, all, one].forEach((l) => l.dispose());
    });
  });

  it('noisy gating changes the routing only in training calls', () => {
    tf.tidy(() => {
      const x = randn(new Rng(8), [32, 5]);
      const layer = moe({ ...base, noisyGating: true });
      layer.build([null, 5]);
      // softplus(x · W_noise) with W_noise = 1: noise std > 0.3 per logit
      (weightsByName(layer).router_noise_kernel as tf.Variable).assign(tf.ones([5, 4]));
      const a = moeForward(layer, x).output;
      const b = moeForward(layer, x).output;
      expect(maxAbsDiff(a, b)).toBe(0);
      const c = moeForward(layer, x, { training: true }).output;
      expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
      layer.dispose();
    });
  });

  it('serialises and reloads inside a tf.sequential with the same outputs', async () => {
    const model = tf.sequential();
    model.add(moe({ ...base, inputShape: [5], sharedExperts: 1, capacityFactor: 1.5, router: 'sigmoid', biasUpdateRate: 0.01, activation: 'gelu' }));
    model.add(tf.layers.dense({ units: 3 }));
    const x = randn(new Rng(9), [7, 5]);
    const y = model.predict(x) as tf.Tensor;
    let artifacts: tf.io.ModelArtifacts | null = null;
    await model.save(tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts as unknown as tf.io.ModelArtifacts));
    const l0 = loaded.layers[0] as MoE;
    expect(l0).toBeInstanceOf(MoE);
    expect(l0.getConfig()).toEqual((model.layers[0] as MoE).getConfig());
    const y2 = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(y, y2)).toBe(0);
    tf.dispose([x, y, y2]);
    model.dispose();
    loaded.dispose();
  });

  it('trains inside tf.sequential with model.fit, which adds the aux loss and passes training: true', async () => {
    const model = tf.sequential();
    const layer = moe({ ...base, inputShape: [5], balanceLossWeight: 1, biasUpdateRate: 0.01 });
    model.add(layer);
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = randn(new Rng(10), [16, 5]);
    const y = tf.zeros([16, 5]);
    const r = moeForward(layer, x);
    const mse = tf.tidy(() => tf.mean(tf.square(r.output)).dataSync()[0] as number);
    const bal = r.balanceLoss.dataSync()[0] as number;
    const h = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    // fit's first loss, before any update: mse + balanceLossWeight (1) · balanceLoss of the same batch
    expect(h.history.loss?.[0] as number).toBeCloseTo(mse + bal, 5);
    expect(bal).toBeGreaterThan(0.5);
    expect(Number.isFinite(h.history.loss?.[1] as number)).toBe(true);
    expect(layer.routingBiasValues().some((b) => b !== 0)).toBe(true); // fit's calls are training calls
    tf.dispose([x, y, r.output, r.auxLoss, r.balanceLoss, r.zLoss]);
    model.dispose();
  });

  it('leaks nothing over many training steps (minimize with the aux loss, V3 bias, noise, capacity)', () => {
    const layer = moe({ ...base, noisyGating: true, capacityFactor: 1, biasUpdateRate: 0.01, balanceLossWeight: 0.01, zLossWeight: 1e-3, sharedExperts: 1 });
    const rng = new Rng(11);
    const x = randn(rng, [2, 8, 5]);
    const target = randn(rng, [2, 8, 5]);
    const opt = tf.train.adam(1e-2);
    const step = () => {
      const cost = opt.minimize(() => {
        const r = moeForward(layer, x, { training: true });
        return tf.add<tf.Scalar>(tf.mean(tf.square(tf.sub(r.output, target))), r.auxLoss);
      }, true);
      cost?.dispose();
    };
    tf.dispose(moeForward(layer, x).output); // builds the layer (minimize collects the variables before calling f)
    step(); // creates the optimiser's slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    layer.rowMoves = 'kernels'; // the gather/scatter-kernel path too
    for (let i = 0; i < 10; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    layer.rowMoves = 'batched'; // and the capacity-padded one
    for (let i = 0; i < 10; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    layer.rowMoves = 'auto';
    expectNoLeak(() => moeForward(layer, x, { training: true }), 'moeForward');
    // apply keeps the last call's three loss tensors (replacing the previous ones): steady after one call
    tf.dispose(layer.apply(x) as tf.Tensor);
    expectNoLeak(() => tf.tidy(() => layer.apply(x) as tf.Tensor), 'apply');
    expect(layer.lastAuxLoss?.isDisposed).toBe(false);
    tf.dispose([x, target]);
    opt.dispose();
    layer.dispose();
  });

  it('rejects bad arguments with messages naming the argument and the value', () => {
    expect(() => moe({ ...base, topK: 5 })).toThrowError(/^topK must be in \[1, 4\], got 5$/);
    expect(() => moe({ ...base, topK: 0 })).toThrowError(/^topK must be in \[1, 4\], got 0$/);
    expect(() => moe({ ...base, capacityFactor: 0 })).toThrowError(/^capacityFactor must be > 0, got 0$/);
    expect(() => moe({ ...base, capacityFactor: -0.5 })).toThrowError(/^capacityFactor must be > 0, got -0.5$/);
    expect(() => moe({ ...base, experts: 0 })).toThrowError(/^experts must be a positive integer, got 0$/);
    expect(() => moe({ ...base, balanceLossWeight: -1 })).toThrowError(/^balanceLossWeight must be a finite number ≥ 0, got -1$/);
    const layer = moe({ ...base, units: 5 });
    const x = tf.zeros([3, 4]);
    expect(() => layer.apply(x)).toThrowError(/^input width must be units = 5, got 4 \(input shape \[3, 4\]\)$/);
    const built = moe(base);
    built.apply(tf.zeros([2, 5])); // built for d = 5
    expect(() => moeForward(built, x)).toThrowError(/^input width must be units = 5, got 4/);
    expect(() => moeForward(built, tf.zeros([5]))).toThrowError(/^MoE input must have rank ≥ 2/);
    x.dispose();
    built.dispose();
  });

  it('DeepSeekMoE fine-grained segmentation and shared experts: counts, widths and their errors', () => {
    // Dai et al. 2024: N = 4 experts of width 64, K = 1, m = 4, K_s = 1 -> 15 routed of width 16, top-3, 1 shared
    const a = fineGrainedMoEArgs({ baseExperts: 4, baseHidden: 64, baseTopK: 1, granularity: 4, sharedExperts: 1 });
    expect(a).toEqual({ experts: 15, topK: 3, expertHidden: 16, sharedExperts: 1, sharedHidden: 16 });
    expect(() => fineGrainedMoEArgs({ baseExperts: 4, baseHidden: 100, baseTopK: 1, granularity: 3, sharedExperts: 0 }))
      .toThrowError(/^baseHidden \(100\) must be divisible by granularity \(3\)$/);
    expect(() => fineGrainedMoEArgs({ baseExperts: 4, baseHidden: 64, baseTopK: 1, granularity: 4, sharedExperts: 4 }))
      .toThrowError(/^sharedExperts must be an integer in \[0, 3\] \(fewer than granularity · baseTopK = 4\), got 4$/);
    // total and active parameters equal the conventional MoE's (router aside)
    const fine = moe({ ...a, units: 8 });
    const coarse = moe({ experts: 4, topK: 1, expertHidden: 64, units: 8 });
    fine.build([null, 8]);
    coarse.build([null, 8]);
    const router = (l: MoE) => 8 * l.cfg.experts;
    const experts = (l: MoE) => l.totalParams() - router(l);
    // weights are equal; biases differ (each fine expert has its own output bias)
    const weightsOnly = (l: MoE) => l.trainableWeights.filter((w) => /w[12]$/.test(w.originalName)).reduce((s, w) => s + w.shape.reduce((p: number, q) => p * (q ?? 1), 1), 0);
    expect(weightsOnly(fine)).toBe(weightsOnly(coarse));
    expect(experts(fine)).toBeGreaterThan(0);
    fine.dispose();
    coarse.dispose();
  });
});

describe('MoE compute counts and helpers', () => {
  it('FLOPs and parameters per token (hand-computed)', async () => {
    const { moeFlopsPerToken, ffnFlopsPerToken, moeParams } = await import('../lib/moe/flops');
    // Reference (hand): d = h = 64, E = 8, k = 2: router 2·64·8 = 1024, experts 2·4·64·64 = 32768
    expect(moeFlopsPerToken({ units: 64, experts: 8, topK: 2, expertHidden: 64 })).toEqual({ router: 1024, routed: 32768, shared: 0, total: 33792 });
    expect(ffnFlopsPerToken(64, 512)).toBe(131072);
    // shared: one of width 32 adds 4·64·32 = 8192
    expect(moeFlopsPerToken({ units: 64, experts: 8, topK: 2, expertHidden: 64, sharedExperts: 1, sharedHidden: 32 }).shared).toBe(8192);
    // Reference (hand): d = 8, h = 16, E = 8, k = 2: expert 2·8·16 + 16 + 8 = 280; total 64 + 8·280 = 2304; active 64 + 2·280 = 624
    expect(moeParams({ units: 8, experts: 8, topK: 2, expertHidden: 16 })).toEqual({ total: 2304, active: 624 });
    const layer = moe({ experts: 8, topK: 2, expertHidden: 16, units: 8, sharedExperts: 2, sharedHidden: 4 });
    layer.build([null, 8]);
    const p = moeParams({ units: 8, experts: 8, topK: 2, expertHidden: 16, sharedExperts: 2, sharedHidden: 4 });
    expect(layer.totalParams()).toBe(p.total);
    expect(layer.activeParams()).toBe(p.active);
    layer.dispose();
  });

  it('gateMatrix puts each served slot\'s gate at its expert; setCapacityFactor changes later calls and checks its argument', async () => {
    const { gateMatrix } = await import('../lib/moe/layer');
    tf.tidy(() => {
      const layer = moe({ experts: 4, topK: 2, expertHidden: 4, units: 3, seed: 3 });
      const r = moeForward(layer, randn(new Rng(12), [8, 3]));
      const g = gateMatrix(r.stats, 4);
      expect(g.length).toBe(8);
      g.forEach((row, t) => {
        expect(row.filter((v) => v > 0).length).toBe(2);
        expect(row[r.stats.assignment[2 * t] as number]).toBeCloseTo(r.stats.gates[2 * t] as number, 7);
      });
      layer.setCapacityFactor(0.25); // capacity ceil(0.25 · 8 · 2 / 4) = 1
      const r2 = moeForward(layer, randn(new Rng(12), [8, 3]));
      expect(r2.stats.capacity).toBe(1);
      expect(r2.stats.droppedSlots).toBe(16 - r2.stats.load.reduce((a, b) => a + b, 0));
      expect(() => layer.setCapacityFactor(0)).toThrowError(/^capacityFactor must be > 0, got 0$/);
      layer.dispose();
    });
  });

  it('mutual information of class × expert counts (hand-computed)', async () => {
    const { mutualInformation } = await import('../lib/course/moe-digits');
    // each class to its own expert: MI = H(class) = ln 2; independent: 0
    expect(mutualInformation([[5, 0], [0, 5]])).toBeCloseTo(Math.log(2), 12);
    expect(mutualInformation([[3, 3], [2, 2]])).toBeCloseTo(0, 12);
  });
});

describe('matMul2d', () => {
  it('the explicit-transpose product equals tf.matMul in value and in both gradients; matMul2d picks it on wasm only', async () => {
    const { matMul2d, matMul2dExplicitGrad } = await import('../lib/ops/matmul');
    tf.tidy(() => {
      const rng = new Rng(13);
      const a = randn(rng, [5, 3]) as tf.Tensor2D;
      const b = randn(rng, [3, 4]) as tf.Tensor2D;
      const R = randn(rng, [5, 4]);
      expect(maxAbsDiff(matMul2dExplicitGrad(a, b), tf.matMul(a, b))).toBeLessThan(1e-6);
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul2dExplicitGrad(x as tf.Tensor2D, y as tf.Tensor2D), R)))([a, b]);
      const [ra, rb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), R)))([a, b]);
      expect(maxAbsDiff(ga as tf.Tensor, ra as tf.Tensor)).toBeLessThan(1e-6);
      expect(maxAbsDiff(gb as tf.Tensor, rb as tf.Tensor)).toBeLessThan(1e-6);
      for (const f of [matMul2d, matMul2dExplicitGrad]) {
        expect(() => f(a, a)).toThrowError(/^matMul2d needs \[m, n\] @ \[n, p\], got \[5, 3\] @ \[5, 3\]$/);
      }
    });
  });

  it('on cpu matMul2d runs no explicit transpose in its backward pass; the explicit product does', async () => {
    const { matMul2d, matMul2dExplicitGrad } = await import('../lib/ops/matmul');
    const a = tf.ones<tf.Rank.R2>([5, 3]);
    const b = tf.ones<tf.Rank.R2>([3, 4]);
    const kernels = async (f: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) =>
      (await tf.profile(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(f(x as tf.Tensor2D, y as tf.Tensor2D)))([a, b]))).kernelNames;
    expect(await kernels(matMul2d)).not.toContain('Transpose');
    expect(await kernels(matMul2dExplicitGrad)).toContain('Transpose');
    tf.dispose([a, b]);
  });
});

moeModesSuite('cpu', 1e-5);
