/**
 * lib/optim/fused-adam.ts: the one-kernel Adam update (`FrugalAdamUpdate`) against the composed
 * flat Adam of lib/optim/flat.ts (the reference: tests/optim-flat.test.ts checks it against
 * tf.train.adam, and the bench's distill cases against torch.optim.Adam). The two must be
 * bit-identical on cpu and wasm, over many steps and hyper-parameters; one kernel a step; a hand
 * computation of one step; bad inputs; leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { flatAdam, FlatAdamOptimizer, flatRmsprop, FlatRmspropOptimizer } from '../lib/optim/flat';
import { adamScalars, FUSED_ADAM, fusedAdamKernel, hasFusedAdam } from '../lib/optim/fused-adam';
import { FUSED_RMSPROP, fusedRmspropKernel, hasFusedRmsprop } from '../lib/optim/fused-rmsprop';
import { expectNoLeak } from './helpers/leak';
import { optimProblem, updateKernels } from './helpers/optim-problem';

const problem = optimProblem;

/** Trains `steps` steps and returns the weights, then the moments (tfjs's layout), as plain numbers. */
async function train(opt: tf.Optimizer, steps: number, seed = 3): Promise<{ weights: number[]; state: number[] }> {
  const p = problem(seed);
  for (let i = 0; i < steps; i++) tf.dispose(opt.minimize(p.loss, false, p.vars) ?? []);
  const weights = p.vars.flatMap((v) => Array.from(v.dataSync()));
  const saved = await opt.getWeights();
  const state = saved.flatMap((e) => Array.from(e.tensor.dataSync()));
  tf.dispose(saved.map((e) => e.tensor));
  opt.dispose();
  p.dispose();
  return { weights, state };
}

/** Indices where two arrays differ bit for bit (Object.is: -0 and NaN included), at most 5. */
function differences(a: number[], b: number[]): number[] {
  expect(a.length).toBe(b.length);
  return a.flatMap((x, i) => (Object.is(x, b[i]) ? [] : [i])).slice(0, 5);
}

const CONFIGS = [
  { learningRate: 0.01 }, // the lessons' Adam
  { learningRate: 0.1, epsilon: 1e-3 },
  { learningRate: 0.05, beta1: 0, beta2: 0.5, epsilon: 0 },
  { learningRate: 0.003, beta1: 0.95, beta2: 0.9999, epsilon: 1e-8 },
] as const;

const RMSPROP_CONFIGS = [
  { learningRate: 0.01 }, // tf.train.rmsprop's defaults: decay 0.9, no momentum
  { learningRate: 0.01, momentum: 0.9 },
  { learningRate: 0.05, decay: 0.5, momentum: 0.5, epsilon: 0 },
  { learningRate: 0.003, decay: 0.99, epsilon: 1e-3 },
] as const;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`FrugalAdamUpdate on ${backend}`, () => {
    it('is registered, and flatAdam uses it by default', async () => {
      await initBackend({ force: backend });
      expect(hasFusedAdam()).toBe(true);
      expect(tf.getKernel(FUSED_ADAM, backend)).toBeDefined();
    });

    it('gives bit-identical weights and moments to the composed flat Adam over 30 steps, for 4 hyper-parameter sets', async () => {
      await initBackend({ force: backend });
      for (const args of CONFIGS) {
        const fused = await train(new FlatAdamOptimizer({ ...args, fused: true }), 30);
        // Reference: the composed path (12 tf kernels on the flat vector), same weights and data
        const composed = await train(new FlatAdamOptimizer({ ...args, fused: false }), 30);
        expect(differences(fused.weights, composed.weights), `weights differ at, ${JSON.stringify(args)}`).toEqual([]);
        expect(differences(fused.state, composed.state), `moments differ at, ${JSON.stringify(args)}`).toEqual([]);
        // and the steps moved the weights (not two untouched copies)
        const start = problem(3);
        const w0 = start.vars.flatMap((v) => Array.from(v.dataSync()));
        start.dispose();
        expect(Math.max(...fused.weights.map((x, i) => Math.abs(x - (w0[i] as number))))).toBeGreaterThan(args.learningRate);
      }
    });

    it('flatRmsprop: FrugalRmspropUpdate gives bit-identical weights and state to its composed path over 30 steps, with and without momentum', async () => {
      await initBackend({ force: backend });
      expect(hasFusedRmsprop()).toBe(true);
      for (const args of RMSPROP_CONFIGS) {
        const fused = await train(new FlatRmspropOptimizer({ ...args, fused: true }), 30);
        // Reference: the composed path on the flat vector, same weights and data
        const composed = await train(new FlatRmspropOptimizer({ ...args, fused: false }), 30);
        expect(differences(fused.weights, composed.weights), `weights differ at, ${JSON.stringify(args)}`).toEqual([]);
        expect(differences(fused.state, composed.state), `state differs at, ${JSON.stringify(args)}`).toEqual([]);
        expect(fused.state.length, 'rms (and momentum) for 67 weights').toBe(1 + 67 * ('momentum' in args ? 2 : 1));
        const start = problem(3);
        const w0 = start.vars.flatMap((v) => Array.from(v.dataSync()));
        start.dispose();
        expect(Math.max(...fused.weights.map((x, i) => Math.abs(x - (w0[i] as number))))).toBeGreaterThan(args.learningRate);
      }
    });

    it('flatRmsprop: one step by hand, and bad inputs named', async () => {
      await initBackend({ force: backend });
      const w = tf.tensor1d([1, -2]);
      const g = tf.tensor1d([0.5, -4]);
      const zeros = tf.zeros<tf.Rank.R1>([2]);
      // Hand: ms = 0.1 g^2 (decay 0.9), w' = w - lr g / sqrt(ms) = w - 0.01 sign(g) / sqrt(0.1)
      const [w1, ms1] = fusedRmspropKernel([w], [g], zeros, undefined, { learningRate: 0.01, decay: 0.9, momentum: 0, epsilon: 0 });
      expect(Array.from((w1 as tf.Tensor).dataSync())).toEqual([1 - 0.01 / Math.sqrt(0.1), -2 + 0.01 / Math.sqrt(0.1)].map((x) => expect.closeTo(x, 6) as number));
      expect(Array.from((ms1 as tf.Tensor).dataSync())).toEqual([0.025, 1.6].map((x) => expect.closeTo(x, 6) as number));
      expect(() => fusedRmspropKernel([w], [g], zeros, undefined, { learningRate: 0.01, decay: 0.9, momentum: 0.5, epsilon: 0 }))
        .toThrowError(/^FrugalRmspropUpdate needs inputs w0 … w\{n-1\}, g0 … g\{n-1\}, rms and momentum \(n >= 1\), got rms, w0, g0$/);
      expect(() => fusedRmspropKernel([w], [g], zeros, undefined, { learningRate: 0.01, decay: 1, momentum: 0, epsilon: 0 })).toThrowError(/^decay must be a number in \[0, 1\), got 1$/);
      expect(() => new FlatRmspropOptimizer({ learningRate: 0.1, fused: 'yes' as unknown as boolean })).toThrowError(/^fused must be a boolean or undefined, got yes$/);
      tf.dispose([w, g, zeros, w1, ms1]);
    });

    it('a step is 1 kernel, against 26 composed for 4 variables', async () => {
      await initBackend({ force: backend });
      const count = updateKernels;
      expect(await count(flatAdam(0.01))).toEqual([FUSED_ADAM]);
      // Hand count (lib/optim/flat.ts): 4 Reshape + Concat, 12 on the flat vector, SplitV,
      // then Reshape and Add per variable.
      const composed = await count(flatAdam(0.01, 0.9, 0.999, 1e-7, false));
      expect(composed).toHaveLength(4 + 1 + 12 + 1 + 4 * 2);
      expect(await count(flatRmsprop(0.01, 0.9, 0.9))).toEqual([FUSED_RMSPROP]);
    });

    it('one step by hand: t = 1 moves each weight by -lr g / (|g| + eps)', async () => {
      await initBackend({ force: backend });
      const w = tf.tensor1d([1, -2, 0.5]);
      const g = tf.tensor1d([0.5, -4, 0]);
      const zeros = tf.zeros<tf.Rank.R1>([3]);
      const [w1, m1, v1] = fusedAdamKernel([w], [g], zeros, zeros, { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 1 });
      // Hand: m = 0.1 g, v = 0.001 g^2; bias-corrected m_hat = g, v_hat = g^2 (Kingma & Ba, Alg. 1)
      expect(Array.from((w1 as tf.Tensor).dataSync())).toEqual([1 - 0.1, -2 + 0.1, 0.5].map((x, i) => expect.closeTo(x, i === 2 ? 7 : 6) as number));
      expect(Array.from((m1 as tf.Tensor).dataSync())).toEqual([0.05, -0.4, 0].map((x) => expect.closeTo(x, 7) as number));
      expect(Array.from((v1 as tf.Tensor).dataSync())).toEqual([0.00025, 0.016, 0].map((x) => expect.closeTo(x, 8) as number));
      expect((w1 as tf.Tensor).shape).toEqual([3]);
      tf.dispose([w, g, zeros, w1, m1, v1]);
    });

    it('rejects bad inputs and attributes naming them, before allocating anything', async () => {
      await initBackend({ force: backend });
      const w = tf.zeros([2, 3]);
      const b = tf.zeros([3]);
      const m = tf.zeros<tf.Rank.R1>([9]);
      const attrs = { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 1 };
      const bad = tf.zeros([4]);
      const before = tf.memory().numTensors;
      expect(() => fusedAdamKernel([w, b], [w, bad], m, m, attrs)).toThrowError(/^g1 must be float32 of w1's shape \[3\], got dtype float32 shape \[4\]$/);
      expect(tf.memory().numTensors, 'no output allocated').toBe(before);
      const wrongM = tf.zeros<tf.Rank.R1>([8]);
      expect(() => fusedAdamKernel([w, b], [w, b], wrongM, m, attrs)).toThrowError(/^m must be float32 \[9\] \(the weights' total size\), got dtype float32 shape \[8\]$/);
      const intW = tf.zeros([3], 'int32');
      expect(() => fusedAdamKernel([intW], [b], b as tf.Tensor1D, b as tf.Tensor1D, attrs)).toThrowError(/^w0 must be float32, got dtype int32 shape \[3\]$/);
      expect(() => fusedAdamKernel([w], [], m, m, attrs)).toThrowError(/^grads must hold one gradient per weight \(1\), got 0$/);
      expect(() => tf.engine().runKernel(FUSED_ADAM, { w0: w, m, v: m }, attrs)).toThrowError(/^FrugalAdamUpdate needs inputs w0 … w\{n-1\}, g0 … g\{n-1\}, m and v \(n >= 1\), got w0, m, v$/);
      expect(() => fusedAdamKernel([w, b], [w, b], m, m, { ...attrs, step: 0 })).toThrowError(/^step must be an integer >= 1, got 0$/);
      expect(() => fusedAdamKernel([w, b], [w, b], m, m, { ...attrs, beta1: 1 })).toThrowError(/^beta1 must be a number in \[0, 1\), got 1$/);
      expect(() => fusedAdamKernel([w, b], [w, b], m, m, { ...attrs, learningRate: Number.NaN })).toThrowError(/^learningRate must be a finite number > 0, got NaN$/);
      expect(() => new FlatAdamOptimizer({ learningRate: 0.1, fused: 1 as unknown as boolean })).toThrowError(/^fused must be a boolean or undefined, got 1$/);
      tf.dispose([w, b, m, bad, wrongM, intW]);
    });

    it.each([
      ['flatAdam', () => flatAdam(0.01)],
      ['flatRmsprop with momentum', () => flatRmsprop(0.01, 0.9, 0.9)],
    ] as Array<[string, () => tf.Optimizer]>)('%s: many steps leak nothing; the state stays two flat tensors', async (_name, make) => {
      await initBackend({ force: backend });
      const p = problem(9);
      const opt = make();
      const fresh = tf.memory().numTensors;
      tf.dispose(opt.minimize(p.loss, false, p.vars) ?? []); // creates the state (m, v)
      const withState = tf.memory().numTensors;
      expect(withState - fresh).toBe(2);
      for (let i = 0; i < 50; i++) expectNoLeak(() => opt.minimize(p.loss, true, p.vars), `step ${i}`);
      const { value, grads } = tf.variableGrads(p.loss, p.vars);
      expectNoLeak(() => opt.applyGradients(grads), 'applyGradients');
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(withState);
      opt.dispose();
      expect(tf.memory().numTensors, 'dispose frees the state').toBe(fresh);
      p.dispose();
    });
  });
}

describe('FrugalAdamUpdate: scalars and backends without it', () => {
  afterAll(async () => {
    await initBackend({ force: 'cpu' });
  });

  it('adamScalars rounds each scalar to float32 once, bias corrections in float64', () => {
    const k = adamScalars({ learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 3 });
    // Hand: -0.01 / (1 - 0.9^3) = -0.01 / 0.271, 1 / (1 - 0.999^3) = 1 / 0.002997001
    expect(k.scale).toBe(Math.fround(-0.01 / 0.271));
    expect(k.invBc2).toBe(Math.fround(1 / (1 - 0.999 ** 3)));
    expect(k.oneMinusB1).toBe(Math.fround(0.09999999999999998)); // 1 - 0.9 in float64
    expect(k.b2).toBe(Math.fround(0.999));
    expect(k.epsilon).toBe(Math.fround(1e-7));
  });

  it('a backend without the kernel: flatAdam composes (default) or, with fused: true, names the kernel and the backend', async () => {
    await initBackend({ force: 'cpu' });
    const cpu = tf.findBackend('cpu');
    const Cpu = cpu.constructor as new () => tf.KernelBackend;
    tf.registerBackend('frugal-no-adam', () => new Cpu(), -1);
    expect(hasFusedAdam('frugal-no-adam')).toBe(false);
    const w = tf.variable(tf.zeros([2]));
    const g = tf.ones([2]);
    const opt = flatAdam(0.1, 0.9, 0.999, 1e-7, true);
    opt.applyGradients({ [w.name]: g }); // on cpu: creates the state
    await tf.setBackend('frugal-no-adam');
    try {
      expect(() => opt.applyGradients({ [w.name]: g })).toThrowError(/^fused: true needs the FrugalAdamUpdate kernel \(wasm, cpu\), but the backend is frugal-no-adam$/);
      expect(() => fusedAdamKernel([w], [g], w as tf.Tensor1D, w as tf.Tensor1D, { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 1 }))
        .toThrowError(/^FrugalAdamUpdate is registered for wasm and cpu, not for backend frugal-no-adam$/);
    } finally {
      await tf.setBackend('cpu');
      tf.removeBackend('frugal-no-adam');
    }
    tf.dispose([w, g]);
    opt.dispose();
  });
});
