/**
 * lib/optim/lamb.ts: LAMB (You et al. 2019, Algorithm 2) against a hand computation and against the
 * PyTorch reference in scripts/golden/distill_golden.py; state save/restore; serialisation; leaks
 * of a whole distillation training step with LAMB and with Adam.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { distillationLoss } from '../lib/distill/loss';
import { lamb, LambOptimizer } from '../lib/optim/lamb';
import { Rng } from '../lib/random';
import { compareClose, loadGolden } from './helpers/golden';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

/** One optimizer step on `loss`, disposing the value and the gradients. */
function step(opt: tf.Optimizer, loss: () => tf.Scalar, vars: tf.Variable[]): void {
  const { value, grads } = tf.variableGrads(loss, vars);
  opt.applyGradients(grads);
  value.dispose();
  tf.dispose(grads);
}

describe('LAMB', () => {
  it('matches the update rule computed by hand on a 2-parameter case', () => {
    // w = [3, 4], loss = w0 + 2 w1, so g = [1, 2] at every step. lr 0.01, beta1 0.9, beta2 0.999,
    // epsilon 0, weightDecay 0.1.
    // With a constant gradient the bias-corrected moments are exact: m_hat = g, v_hat = g^2, so
    // r = g / |g| = [1, 1] at every step.
    // Step 1: u = r + 0.1 w = [1.3, 1.4]; ||w|| = 5; ||u|| = sqrt(1.69 + 1.96) = 1.91049731745428
    //         ratio = 5 / 1.91049731745428 = 2.6171196129510683
    //         w = [3, 4] - 0.01 * 2.6171196129510683 * [1.3, 1.4] = [2.965977445031636, 3.963360325418685]
    // Step 2: u = [1, 1] + 0.1 w = [1.2965977445031636, 1.3963360325418686]; ||w|| = 4.9502774945996;
    //         ||u|| = 1.90549731745428; ratio = 2.597892659966117
    //         w = w - 0.01 * ratio * u = [2.9322932273979023, 3.927085014120818]
    const w = tf.variable(tf.tensor1d([3, 4]));
    const coef = tf.tensor1d([1, 2]);
    const opt = new LambOptimizer({ learningRate: 0.01, epsilon: 0, weightDecay: 0.1, recordTrustRatios: true });
    const loss = () => tf.sum<tf.Scalar>(tf.mul(w, coef));
    step(opt, loss, [w]);
    expect(opt.lastTrustRatios.get(w.name)).toBeCloseTo(2.6171196129510683, 5);
    expect(compareClose(w.dataSync(), [2.965977445031636, 3.963360325418685])).toBeNull();
    step(opt, loss, [w]);
    expect(opt.lastTrustRatios.get(w.name)).toBeCloseTo(2.597892659966117, 5);
    expect(compareClose(w.dataSync(), [2.9322932273979023, 3.927085014120818])).toBeNull();
    expect(opt.iterations).toBe(2);
    opt.dispose();
    tf.dispose([w, coef]);
  });

  it('uses trust ratio 1 when the weights are 0', () => {
    // w = [0, 0], g = [1, 2]: r = [1, 1], u = r + wd * 0 = [1, 1]; ||w|| = 0 so ratio = 1:
    // w = -0.01 * [1, 1] = [-0.01, -0.01]
    const w = tf.variable(tf.zeros([2]));
    const coef = tf.tensor1d([1, 2]);
    const opt = lamb({ learningRate: 0.01, epsilon: 0, recordTrustRatios: true });
    step(opt, () => tf.sum<tf.Scalar>(tf.mul(w, coef)), [w]);
    expect(opt.lastTrustRatios.get(w.name)).toBe(1);
    expect(compareClose(w.dataSync(), [-0.01, -0.01])).toBeNull();
    opt.dispose();
    tf.dispose([w, coef]);
  });

  it('matches the PyTorch reference implementation for 5 steps (two tensors, one starting at 0)', () => {
    const g = loadGolden().lamb;
    const w1 = tf.variable(tf.tensor1d(g.w1_0));
    const w2 = tf.variable(tf.tensor1d(g.w2_0));
    const a = tf.tensor1d(g.a);
    const c = tf.tensor1d(g.c);
    const b = tf.tensor1d(g.b);
    const cfg = g.config;
    const opt = new LambOptimizer({
      learningRate: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.epsilon, weightDecay: cfg.weight_decay, recordTrustRatios: true,
    });
    // sum(a * (w1 - c)^2) + sum((w2 - b)^2) + w1[0] * w2[1]
    const loss = () => tf.tidy(() => tf.addN([
      tf.sum(tf.mul(a, tf.square(tf.sub(w1, c)))),
      tf.sum(tf.square(tf.sub(w2, b))),
      tf.mul(tf.slice(w1, [0], [1]), tf.slice(w2, [1], [1])).reshape([]),
    ]) as tf.Scalar);
    for (const h of g.history) {
      step(opt, loss, [w1, w2]);
      // Reference: PyTorch float64, scripts/golden/distill_golden.py lamb_reference(), step h.step
      expect(compareClose(w1.dataSync(), h.w1), `w1 at step ${h.step}`).toBeNull();
      expect(compareClose(w2.dataSync(), h.w2), `w2 at step ${h.step}`).toBeNull();
      expect(compareClose([opt.lastTrustRatios.get(w1.name) as number, opt.lastTrustRatios.get(w2.name) as number], h.trust_ratios),
        `trust ratios at step ${h.step}`).toBeNull();
    }
    // The first step of w2 (all zeros) used ratio 1.
    expect(g.history[0]?.trust_ratios[1]).toBe(1);
    opt.dispose();
    tf.dispose([w1, w2, a, b, c]);
  });

  it('getWeights/setWeights restore the state: a restored optimizer continues identically', async () => {
    const rng = new Rng(5);
    const init = Array.from({ length: 6 }, () => rng.normal());
    const target = tf.tensor2d(Array.from({ length: 6 }, () => rng.normal()), [2, 3]);
    const wA = tf.variable(tf.tensor2d(init, [2, 3]));
    const wB = tf.variable(tf.tensor2d(init, [2, 3]));
    const lossOf = (w: tf.Variable) => () => tf.sum<tf.Scalar>(tf.square(tf.sub(w, target)));
    const optA = lamb({ learningRate: 0.05 });
    step(optA, lossOf(wA), [wA]);
    step(optA, lossOf(wA), [wA]);
    // Move wB to where wA is, and give a fresh optimizer optA's state.
    wB.assign(wA);
    const saved = await optA.getWeights();
    expect(saved.map((s) => s.name)).toEqual(['iter', `${wA.name}/m`, `${wA.name}/v`]);
    const optB = lamb({ learningRate: 0.05 });
    // The state is keyed by variable name: rename the entries for wB.
    await optB.setWeights(saved.map((s) => ({ name: s.name.replace(wA.name, wB.name), tensor: s.tensor })));
    expect(optB.iterations).toBe(2);
    step(optA, lossOf(wA), [wA]);
    step(optB, lossOf(wB), [wB]);
    expect(Array.from(wB.dataSync())).toEqual(Array.from(wA.dataSync()));
    optA.dispose();
    optB.dispose();
    tf.dispose([wA, wB, target]);
  });

  it('serialises: className, getConfig and fromConfig through the tfjs registry', () => {
    const opt = new LambOptimizer({ learningRate: 0.002, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05 });
    expect(LambOptimizer.className).toBe('Lamb');
    expect(opt.getClassName()).toBe('Lamb');
    const registered = tf.serialization.SerializationMap.getMap().classNameMap['Lamb'];
    expect(registered?.[0]).toBe(LambOptimizer);
    const config = opt.getConfig();
    expect(config).toEqual({
      learningRate: 0.002, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05, excludeFromWeightDecay: 'none', weightNormBounds: [0, null],
    });
    const copy = LambOptimizer.fromConfig(LambOptimizer, config);
    expect(copy).toBeInstanceOf(LambOptimizer);
    expect(copy.getConfig()).toEqual(config);
  });

  it.each([
    [{ learningRate: 0 }, /^learningRate must be a finite number > 0, got 0$/],
    [{ learningRate: 0.1, beta1: 1 }, /^beta1 must be a number in \[0, 1\), got 1$/],
    [{ learningRate: 0.1, beta2: -0.5 }, /^beta2 must be a number in \[0, 1\), got -0\.5$/],
    [{ learningRate: 0.1, epsilon: -1 }, /^epsilon must be a finite number >= 0, got -1$/],
    [{ learningRate: 0.1, weightDecay: -0.1 }, /^weightDecay must be a finite number >= 0, got -0\.1$/],
  ])('rejects %o', (args, message) => {
    expect(() => new LambOptimizer(args)).toThrowError(message);
  });

  it('rejects a learning rate set to a bad value by a schedule, at the next step', () => {
    const w = tf.variable(tf.ones([2]));
    const opt = lamb({ learningRate: 0.1 });
    opt.learningRate = Number.NaN;
    expect(() => step(opt, () => tf.sum<tf.Scalar>(w), [w])).toThrowError(/^learningRate must be a finite number > 0, got NaN$/);
    opt.dispose();
    w.dispose();
  });
});

describe('LAMB options: weight decay exclusion and the scaling function phi', () => {
  // The setting of the hand computation above: g = [1, 2] at every step, so r = [1, 1];
  // lr 0.01, epsilon 0, weightDecay 0.1, w = [3, 4] (||w|| = 5).
  it("excludeFromWeightDecay: 'vectors' leaves biases (rank <= 1) undecayed and still decays matrices", () => {
    const bias = tf.variable(tf.tensor1d([3, 4]));
    const kernel = tf.variable(tf.tensor2d([[3, 4]]));
    const coef = tf.tensor1d([1, 2]);
    const opt = new LambOptimizer({ learningRate: 0.01, epsilon: 0, weightDecay: 0.1, excludeFromWeightDecay: 'vectors', recordTrustRatios: true });
    step(opt, () => tf.add<tf.Scalar>(tf.sum(tf.mul(bias, coef)), tf.sum(tf.mul(kernel, coef))), [bias, kernel]);
    // Bias, no decay (hand): u = r = [1, 1], ratio = 5 / sqrt(2) = 3.5355339059327373,
    // w = [3, 4] - 0.01 * 3.5355339059327373 * [1, 1] = [2.9646446609406727, 3.9646446609406727]
    expect(opt.lastTrustRatios.get(bias.name)).toBeCloseTo(3.5355339059327373, 5);
    expect(compareClose(bias.dataSync(), [2.9646446609406727, 3.9646446609406727])).toBeNull();
    // Kernel, decayed: the first step of the hand computation above.
    expect(opt.lastTrustRatios.get(kernel.name)).toBeCloseTo(2.6171196129510683, 5);
    expect(compareClose(kernel.dataSync(), [2.965977445031636, 3.963360325418685])).toBeNull();
    opt.dispose();
    tf.dispose([bias, kernel, coef]);
  });

  it('weightNormBounds clamps ||w|| in the trust ratio: phi(z) = min(max(z, lower), upper)', () => {
    const w = tf.variable(tf.tensor1d([3, 4]));
    const coef = tf.tensor1d([1, 2]);
    const opt = new LambOptimizer({ learningRate: 0.01, epsilon: 0, weightDecay: 0.1, weightNormBounds: [0, 1], recordTrustRatios: true });
    step(opt, () => tf.sum<tf.Scalar>(tf.mul(w, coef)), [w]);
    // Hand: phi(5) = 1; u = [1.3, 1.4], ||u|| = 1.91049731745428; ratio = 1 / 1.91049731745428 = 0.5234239225902136;
    // w = [3, 4] - 0.01 * 0.5234239225902136 * [1.3, 1.4] = [2.993195489006327, 3.992672065083737]
    expect(opt.lastTrustRatios.get(w.name)).toBeCloseTo(0.5234239225902136, 5);
    expect(compareClose(w.dataSync(), [2.993195489006327, 3.992672065083737])).toBeNull();
    opt.dispose();
    tf.dispose([w, coef]);
  });

  it('a lower bound > 0 gives zero weights a step of lower / ||u||, not ratio 1', () => {
    const w = tf.variable(tf.zeros([2]));
    const coef = tf.tensor1d([1, 2]);
    const opt = new LambOptimizer({ learningRate: 0.01, epsilon: 0, weightNormBounds: [0.5, 10], recordTrustRatios: true });
    step(opt, () => tf.sum<tf.Scalar>(tf.mul(w, coef)), [w]);
    // Hand: phi(0) = 0.5, u = [1, 1]: ratio = 0.5 / sqrt(2) = 0.35355339059327373; w = -0.01 * ratio * [1, 1]
    expect(opt.lastTrustRatios.get(w.name)).toBeCloseTo(0.35355339059327373, 5);
    expect(compareClose(w.dataSync(), [-0.0035355339059327372, -0.0035355339059327372])).toBeNull();
    opt.dispose();
    tf.dispose([w, coef]);
  });

  it('defaults follow Algorithm 2 as written: every variable decayed, phi the identity', () => {
    const opt = new LambOptimizer({ learningRate: 0.01 });
    expect(opt.excludeFromWeightDecay).toBe('none');
    expect(opt.weightNormBounds).toEqual([0, Number.POSITIVE_INFINITY]);
    const config = new LambOptimizer({ learningRate: 0.01, excludeFromWeightDecay: 'vectors', weightNormBounds: [0.1, 10] }).getConfig();
    expect(config['excludeFromWeightDecay']).toBe('vectors');
    expect(config['weightNormBounds']).toEqual([0.1, 10]);
    expect(LambOptimizer.fromConfig(LambOptimizer, config).getConfig()).toEqual(config);
  });

  it.each([
    [{ learningRate: 0.1, excludeFromWeightDecay: 'biases' }, /^excludeFromWeightDecay must be 'none' or 'vectors', got "biases"$/],
    [{ learningRate: 0.1, weightNormBounds: [2, 1] }, /^weightNormBounds must be \[lower, upper\] with 0 <= lower <= upper, got \[2,1\]$/],
    [{ learningRate: 0.1, weightNormBounds: [-1, 1] }, /^weightNormBounds must be \[lower, upper\] with 0 <= lower <= upper, got \[-1,1\]$/],
  ])('rejects %o', (args, message) => {
    expect(() => new LambOptimizer(args as unknown as ConstructorParameters<typeof LambOptimizer>[0])).toThrowError(message);
  });
});

describe('a distillation training step leaks nothing (LAMB and Adam)', () => {
  it.each([
    ['LAMB', () => lamb({ learningRate: 0.01 })],
    ['Adam', () => tf.train.adam(0.01)],
  ] as Array<[string, () => tf.Optimizer]>)('%s', (_name, makeOpt) => {
    const rng = new Rng(9);
    // A linear student [8, 4] x [4, 3] -> [8, 3] against constant teacher logits.
    const x = tf.tensor2d(Array.from({ length: 32 }, () => rng.normal()), [8, 4]);
    const teacher = tf.tensor2d(Array.from({ length: 24 }, () => rng.normal(0, 3)), [8, 3]);
    const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');
    const W = tf.variable(tf.randomNormal([4, 3], 0, 0.1, 'float32', rng.tfSeed()));
    const bias = tf.variable(tf.zeros([3]));
    const loss = distillationLoss({ alpha: 0.5, temperature: 4 });
    const opt = makeOpt();
    const trainStep = (): number => {
      const { value, grads } = tf.variableGrads(() => loss(labels, tf.add<tf.Tensor2D>(tf.matMul(x, W), bias), teacher), [W, bias]);
      opt.applyGradients(grads);
      const v = value.dataSync()[0] as number;
      tf.dispose([value, grads]);
      return v;
    };
    const first = trainStep(); // creates the optimizer's state (moments)
    const before = tf.memory().numTensors;
    const losses = [first];
    for (let i = 0; i < 5; i++) losses.push(trainStep());
    expect(tf.memory().numTensors).toBe(before);
    // Not a training-luck check: a few small steps on a convex loss lower it.
    expect(losses[losses.length - 1]).toBeLessThan(first);
    const withState = tf.memory().numTensors;
    opt.dispose();
    // Both optimizers own 2 moment variables per trained variable (Adam also 2 beta accumulators).
    expect(withState - tf.memory().numTensors).toBeGreaterThanOrEqual(4);
    tf.dispose([x, teacher, labels, W, bias]);
  });
});
