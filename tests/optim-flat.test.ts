/**
 * lib/optim/flat.ts: flat-parameter Adam and RMSprop against tfjs's own `tf.train.adam` and
 * `tf.train.rmsprop` (the reference: the bench's distill-epoch case checks tfjs's Adam against
 * PyTorch's torch.optim.Adam to 3e-7 after 20 steps), on the CPU and WASM backends; fewer kernels
 * per step; state save/restore; serialisation; bad arguments; leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { flatAdam, FlatAdamOptimizer, flatLamb, FlatLambOptimizer, flatRmsprop, FlatRmspropOptimizer } from '../lib/optim/flat';
import { lamb, type LambArgs } from '../lib/optim/lamb';
import { expectNoLeak } from './helpers/leak';
import { optimProblem, updateKernels } from './helpers/optim-problem';

const problem = optimProblem;

/** Trains `steps` steps with `opt` and returns the flattened weights afterwards. */
function train(opt: tf.Optimizer, steps: number, seed = 3): number[] {
  const p = problem(seed);
  for (let i = 0; i < steps; i++) tf.dispose(opt.minimize(p.loss, false, p.vars) ?? []);
  const out = p.vars.flatMap((v) => Array.from(v.dataSync()));
  opt.dispose();
  p.dispose();
  return out;
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - (b[i] as number))));
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`flat optimizers on ${backend}`, () => {
    it('flatAdam follows tf.train.adam for 20 steps (lr 0.01 and 0.1, epsilon 1e-7 and 1e-3)', async () => {
      await initBackend({ force: backend });
      // tolerance: float32 rounding of a different but equal formula (bias corrections in
      // float64), grown over 20 steps; measured 1.4e-5 at lr 0.1, where the weights move by ~1.
      for (const [lr, eps, tol] of [[0.01, 1e-7, 1e-5], [0.1, 1e-3, 5e-5]] as const) {
        const ref = train(tf.train.adam(lr, 0.9, 0.999, eps), 20);
        const flat = train(flatAdam(lr, 0.9, 0.999, eps), 20);
        // Reference: tfjs's Adam from the same weights
        expect(maxAbsDiff(flat, ref), `lr ${lr}`).toBeLessThan(tol);
        // and training moved the weights (the comparison is not between two untouched copies)
        const start = problem(3);
        const w0 = start.vars.flatMap((v) => Array.from(v.dataSync()));
        start.dispose();
        expect(maxAbsDiff(flat, w0)).toBeGreaterThan(20 * lr * 0.5);
      }
    });

    it('flatRmsprop follows tf.train.rmsprop for 20 steps, without and with momentum', async () => {
      await initBackend({ force: backend });
      for (const momentum of [0, 0.9]) {
        const ref = train(tf.train.rmsprop(0.01, 0.9, momentum, 1e-7), 20);
        const flat = train(flatRmsprop(0.01, 0.9, momentum, 1e-7), 20);
        // Reference: tfjs's RMSprop (non-centred) on the same weights
        expect(maxAbsDiff(flat, ref), `momentum ${momentum}`).toBeLessThan(1e-5);
      }
    });

    it('flatLamb follows the lib\'s LambOptimizer for 20 steps: weight decay on all, on matrices only, bounded phi', async () => {
      await initBackend({ force: backend });
      const cases: LambArgs[] = [
        { learningRate: 0.01, weightDecay: 0 },
        { learningRate: 0.02, weightDecay: 0.1 },
        { learningRate: 0.02, weightDecay: 0.1, excludeFromWeightDecay: 'vectors' },
        { learningRate: 0.01, weightDecay: 0.01, weightNormBounds: [0.5, 1.5], epsilon: 1e-3 },
      ];
      for (const args of cases) {
        // Reference: the lib's per-variable LAMB (tests/optim-lamb.test.ts checks it against
        // Algorithm 2 by hand); the flat one takes the norms by segment sums, so float32 rounding differs.
        const ref = train(lamb(args), 20);
        const flat = train(flatLamb(args), 20);
        expect(maxAbsDiff(flat, ref), JSON.stringify(args)).toBeLessThan(1e-5);
        const start = problem(3);
        const w0 = start.vars.flatMap((v) => Array.from(v.dataSync()));
        start.dispose();
        expect(maxAbsDiff(flat, w0), 'training moved the weights').toBeGreaterThan(1e-2);
      }
    });

    it('flatLamb records the same trust ratios as LambOptimizer, and is 1 for a variable of zeros', async () => {
      await initBackend({ force: backend });
      const ratiosOf = (opt: FlatLambOptimizer | ReturnType<typeof lamb>): number[] => {
        const p = problem(11);
        const zero = tf.variable(tf.zeros([3])); // ||w|| = 0: ratio 1 by definition
        const loss = (): tf.Scalar => tf.add(p.loss(), tf.sum(tf.square(tf.sub(zero, 1))));
        for (let i = 0; i < 3; i++) tf.dispose(opt.minimize(loss, false, [...p.vars, zero]) ?? []);
        const names = [...p.vars, zero].map((v) => v.name);
        const out = names.map((nm) => opt.lastTrustRatios.get(nm) as number);
        opt.dispose();
        p.dispose();
        zero.dispose();
        return out;
      };
      const args: LambArgs = { learningRate: 0.01, weightDecay: 0.01, recordTrustRatios: true };
      const ref = ratiosOf(lamb(args));
      const flat = ratiosOf(flatLamb(args));
      expect(flat).toHaveLength(5);
      flat.forEach((r, i) => expect(r, `variable ${i}`).toBeCloseTo(ref[i] as number, 5));
      expect(ref[4]).not.toBe(1); // after three steps the zero vector has moved: a real ratio
      const first = flatLamb(args);
      const z = tf.variable(tf.zeros([2]));
      const gz = tf.ones([2]);
      first.applyGradients({ [z.name]: gz });
      expect(first.lastTrustRatios.get(z.name), 'a variable of zeros gets ratio 1').toBe(1);
      tf.dispose([z, gz]);
      first.dispose();
    });

    it('a step dispatches fewer kernels than tfjs\'s Adam: 12 + 1 + 4 per variable, against 14 per variable + 4', async () => {
      await initBackend({ force: backend });
      const count = async (opt: tf.Optimizer): Promise<number> => (await updateKernels(opt)).length;
      const tfAdam = await count(tf.train.adam(0.01));
      const flat = await count(flatAdam(0.01, 0.9, 0.999, 1e-7, false));
      // Hand count for 4 variables: tfjs 14 per variable + 2 Sub + 2 Mul for its accumulators;
      // flat, composed (fused: false; the default is 1 kernel, tests/optim-fused-adam.test.ts):
      // 4 Reshape + Concat, 12 on the flat vector, SplitV, then Reshape and Add per variable.
      expect(tfAdam).toBe(60);
      expect(flat).toBeLessThanOrEqual(12 + 1 + 4 * 4);
      expect(flat).toBeLessThan(tfAdam / 2);
      // LAMB: the lib's per-variable one against the flat one (segment sums for the norms)
      const perVariable = await count(lamb({ learningRate: 0.01 }));
      const flatL = await count(flatLamb({ learningRate: 0.01 }));
      // Hand count (lib/optim/flat.ts): 42 per variable; flat 36 + 4 per variable, on wasm
      // (no UnsortedSegmentSum kernel: a split and a sum per variable for each norm) 38 + 6.
      expect(perVariable).toBe(42 * 4);
      expect(flatL).toBe(backend === 'cpu' ? 36 + 4 * 4 : 38 + 6 * 4);
    });
  });
}

describe('flat optimizers: state, serialisation, errors, leaks', () => {
  afterAll(async () => {
    await initBackend({ force: 'cpu' });
  });

  it('getWeights / setWeights carry the state: a restored optimizer continues like the original', async () => {
    await initBackend({ force: 'cpu' });
    const a = problem(7);
    const opt = flatAdam(0.05);
    for (let i = 0; i < 3; i++) tf.dispose(opt.minimize(a.loss, false, a.vars) ?? []);
    const state = await opt.getWeights();
    // tfjs's layout: iterations, then <variable>/m for each variable, then <variable>/v
    expect(state.map((e) => e.name)).toEqual(['iter', ...a.vars.map((v) => `${v.name}/m`), ...a.vars.map((v) => `${v.name}/v`)]);
    expect(state[1]?.tensor.shape).toEqual([4, 8]);
    const copy = flatAdam(0.05);
    await copy.setWeights(state);
    tf.dispose(state.map((e) => e.tensor));
    const saved = a.vars.map((v) => tf.clone(v));
    tf.dispose(opt.minimize(a.loss, false, a.vars) ?? []);
    const afterOriginal = a.vars.flatMap((v) => Array.from(v.dataSync()));
    a.vars.forEach((v, i) => v.assign(saved[i] as tf.Tensor));
    tf.dispose(copy.minimize(a.loss, false, a.vars) ?? []);
    const afterCopy = a.vars.flatMap((v) => Array.from(v.dataSync()));
    // Reference: the original optimizer's 4th step, from the same weights and state
    expect(afterCopy).toEqual(afterOriginal);
    tf.dispose(saved);
    opt.dispose();
    copy.dispose();
    a.dispose();
  });

  it('round-trips through tfjs serialisation', () => {
    const registry = tf.serialization.SerializationMap.getMap().classNameMap;
    expect(registry['FlatAdam']?.[0]).toBe(FlatAdamOptimizer);
    expect(registry['FlatRMSProp']?.[0]).toBe(FlatRmspropOptimizer);
    expect(registry['FlatLamb']?.[0]).toBe(FlatLambOptimizer);
    const l = flatLamb({ learningRate: 0.02, weightDecay: 0.1, excludeFromWeightDecay: 'vectors', weightNormBounds: [0, 10] }).getConfig();
    expect(FlatLambOptimizer.fromConfig(FlatLambOptimizer, l).getConfig()).toEqual(l);
    expect(lamb({ learningRate: 0.02, weightDecay: 0.1, excludeFromWeightDecay: 'vectors', weightNormBounds: [0, 10] }).getConfig()).toEqual(l);
    const adam = flatAdam(0.02, 0.8, 0.99, 1e-6).getConfig();
    expect(FlatAdamOptimizer.fromConfig(FlatAdamOptimizer, adam).getConfig()).toEqual({ learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    const rms = flatRmsprop(0.02, 0.8, 0.5, 1e-6).getConfig();
    expect(FlatRmspropOptimizer.fromConfig(FlatRmspropOptimizer, rms).getConfig()).toEqual({ learningRate: 0.02, decay: 0.8, momentum: 0.5, epsilon: 1e-6 });
  });

  it('rejects bad hyper-parameters naming them, and a gradient of the wrong shape', () => {
    expect(() => flatAdam(0)).toThrowError(/^learningRate must be a finite number > 0, got 0$/);
    expect(() => flatAdam(0.1, 1)).toThrowError(/^beta1 must be a number in \[0, 1\), got 1$/);
    expect(() => flatAdam(0.1, 0.9, 0.999, -1)).toThrowError(/^epsilon must be a finite number >= 0, got -1$/);
    expect(() => flatRmsprop(0.1, 1)).toThrowError(/^decay must be a number in \[0, 1\), got 1$/);
    expect(() => flatLamb({ learningRate: 0.1, weightDecay: -1 })).toThrowError(/^weightDecay must be a finite number >= 0, got -1$/);
    const w = tf.variable(tf.zeros([2, 3]));
    const g = tf.zeros([3, 2]);
    const opt = flatAdam(0.1);
    expect(() => opt.applyGradients({ [w.name]: g })).toThrowError(/^the gradient of ".*" has shape \[3, 2\], the variable \[2, 3\]$/);
    expect(() => opt.applyGradients({ nope: g })).toThrowError(/^variableGradients names "nope", which is not a registered tf.Variable$/);
    opt.learningRate = Number.NaN;
    expect(() => opt.applyGradients({ [w.name]: tf.zeros([2, 3]) })).toThrowError(/^learningRate must be a finite number > 0, got NaN$/);
    tf.dispose([w, g]);
    opt.dispose();
  });

  it.each([
    ['flatAdam', () => flatAdam(0.01)],
    ['flatRmsprop with momentum', () => flatRmsprop(0.01, 0.9, 0.9)],
    ['flatLamb recording its ratios', () => flatLamb({ learningRate: 0.01, weightDecay: 0.1, excludeFromWeightDecay: 'vectors', recordTrustRatios: true })],
  ] as Array<[string, () => tf.Optimizer]>)('a training step with %s leaks nothing; dispose frees the state', async (name, make) => {
    // The state: one flat tensor per slot (Adam: m, v; RMSprop with momentum: rms, momentum);
    // LAMB also keeps two constants, the segment ids and the per-element weight decay.
    const stateTensors = name.startsWith('flatLamb') ? 4 : 2;
    await initBackend({ force: 'wasm' });
    const p = problem(9);
    const opt = make();
    const fresh = tf.memory().numTensors;
    tf.dispose(opt.minimize(p.loss, false, p.vars) ?? []); // creates the state
    const withState = tf.memory().numTensors;
    expectNoLeak(() => opt.minimize(p.loss, true, p.vars), `${name} step`);
    expect(tf.memory().numTensors).toBe(withState);
    opt.dispose();
    expect(withState - fresh, 'the flat state and constants, nothing else').toBe(stateTensors);
    expect(tf.memory().numTensors, 'dispose frees the whole state').toBe(fresh);
    p.dispose();
  });
});
