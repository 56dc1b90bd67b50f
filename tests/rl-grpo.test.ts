/**
 * lib/rl/grpo and lib/rl/policy: advantages, the k3 KL, the clipped objective, the loss's value
 * and gradient, a GRPO step on a stub policy of constant logits (direction, leaks, errors),
 * sampling and batching. Expected values are hand computations, stated at each.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { checkGrpoConfig, clippedSurrogate, groupAdvantages, grpoLoss, grpoStep, klK3, type GrpoStepOptions } from '../lib/rl/grpo';
import { buildBatch, sampleCompletions, stopGradient, tokenLogProbs } from '../lib/rl/policy';
import { kdLoss, sftLoss, sftStep } from '../lib/rl/sft';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';
import { ConstantPolicy } from './helpers/stub-policy';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

const nums = (t: tf.Tensor) => Array.from(t.dataSync());

describe('groupAdvantages', () => {
  it('rewards [1, 0, 0, 1] give ±0.866 with Bessel\'s std', () => {
    // Reference (hand): mean 0.5; std = sqrt((4 · 0.25) / 3) = 0.5774; 0.5 / 0.5774 = 0.8660254037844387
    const a = groupAdvantages([1, 0, 0, 1], 4);
    const e = 0.8660254037844387;
    [e, -e, -e, e].forEach((x, i) => expect(a[i]).toBeCloseTo(x, 12));
  });
  it('normalises each group on its own, and gives 0 (not NaN) to a group of equal rewards', () => {
    const a = groupAdvantages([1, 1, 1, 0.2, 0.2, 0.2, 3, 5, 4], 3);
    expect(a.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 0]);
    // Reference (hand): [3, 5, 4]: mean 4, std = sqrt((1 + 1 + 0) / 2) = 1 -> [-1, 1, 0]
    [-1, 1, 0].forEach((x, i) => expect(a[6 + i]).toBeCloseTo(x, 12));
    // Rewards equal up to rounding (0.1 + 0.2 vs 0.3) still count as equal.
    expect(groupAdvantages([0.1 + 0.2, 0.3], 2)).toEqual([0, 0]);
  });
  it('rejects G < 2 and rewards that do not split into groups', () => {
    expect(() => groupAdvantages([1], 1)).toThrowError(/^groupSize must be an integer ≥ 2, got 1$/);
    expect(() => groupAdvantages([1, 0, 1], 2)).toThrowError(/^rewards length 3 must be a positive multiple of groupSize 2$/);
    expect(() => groupAdvantages([1, Number.NaN], 2)).toThrowError(/^rewards\[1\] must be finite, got NaN$/);
  });
});

describe('k3 and the clipped objective', () => {
  it('k3 = π_ref/π − ln(π_ref/π) − 1 (hand-computed), ≥ 0, 0 at equality', () => {
    tf.tidy(() => {
      const k = nums(klK3(tf.tensor1d([Math.log(0.5), Math.log(0.5), Math.log(0.3)]), tf.tensor1d([Math.log(0.25), Math.log(0.5), Math.log(0.6)])));
      // Reference (hand): π = 0.5, π_ref = 0.25: 0.5 − ln 0.5 − 1 = 0.19314718055994531
      expect(k[0]).toBeCloseTo(0.19314718055994531, 6);
      expect(k[1]).toBe(0);
      // Reference (hand): π = 0.3, π_ref = 0.6: 2 − ln 2 − 1 = 0.30685281944005466
      expect(k[2]).toBeCloseTo(0.30685281944005466, 6);
    });
  });
  it('min(ρA, clip(ρ, 1 ± ε)A) at ratios 1.5 and 0.5, A = ±1, ε = 0.2 (hand-computed)', () => {
    tf.tidy(() => {
      const logp = tf.tensor1d([Math.log(1.5), Math.log(1.5), Math.log(0.5), Math.log(0.5)]);
      const s = nums(clippedSurrogate(logp, tf.zeros([4]), tf.tensor1d([1, -1, 1, -1]), 0.2));
      // Reference (hand): ρ=1.5,A=1: min(1.5, 1.2) = 1.2; A=-1: min(-1.5, -1.2) = -1.5;
      // ρ=0.5,A=1: min(0.5, 0.8) = 0.5; A=-1: min(-0.5, -0.8) = -0.8
      [1.2, -1.5, 0.5, -0.8].forEach((x, i) => expect(s[i]).toBeCloseTo(x, 6));
    });
  });
  it('the loss averages per token within a sequence, then over sequences (hand-computed)', () => {
    tf.tidy(() => {
      // Two sequences: 1 and 3 completion tokens; ratio 1 everywhere; advantages 2 and -1; β = 0.
      const logp = tf.tensor2d([[0, 0, 0], [0, 0, 0]]);
      const mask = tf.tensor2d([[1, 0, 0], [1, 1, 1]]);
      const t = grpoLoss(logp, logp, logp, tf.tensor1d([2, -1]), mask, { epsilon: 0.2, beta: 0 });
      // Reference (hand): −mean(2/1, (−1 −1 −1)/3) = −(2 − 1)/2 = −0.5 (a token-level mean would give −(2 − 3)/4 = 0.25)
      expect(t.loss.dataSync()[0]).toBeCloseTo(-0.5, 6);
      expect(t.kl.dataSync()[0]).toBe(0);
    });
  });
  it('rejects ε ≤ 0, β < 0 and G < 2, naming them', () => {
    expect(() => checkGrpoConfig({ groupSize: 1, epsilon: 0.2, beta: 0 })).toThrowError(/^groupSize must be an integer ≥ 2, got 1$/);
    expect(() => checkGrpoConfig({ groupSize: 4, epsilon: 0.2, beta: -0.1 })).toThrowError(/^beta must be a finite number >= 0, got -0.1$/);
    expect(() => checkGrpoConfig({ groupSize: 4, epsilon: 0, beta: 0 })).toThrowError(/^epsilon must be a finite number > 0, got 0$/);
    expect(() => checkGrpoConfig({ groupSize: 4, epsilon: -1, beta: 0 })).toThrowError(/^epsilon must be a finite number > 0, got -1$/);
    const x: tf.Tensor2D = tf.zeros([1, 1]);
    expect(() => grpoLoss(x, x, x, tf.zeros<tf.Rank.R1>([1]), x, { epsilon: 0.2, beta: -1 })).toThrowError(/^beta must be a finite number >= 0, got -1$/);
    tf.dispose(x);
  });
});

/** Vocabulary of the stub task: 0 pad, 1 eos, 2 'a', 3 'b'. */
const decode = (ids: readonly number[]) => ids.filter((i) => i >= 2).map((i) => (i === 2 ? 'a' : 'b')).join('');
/** Reward: 1 for a completion that is exactly 'a'. */
const rewardA = (c: string) => ({ total: c === 'a' ? 1 : 0, accuracy: c === 'a' ? 1 : 0, format: 1 });

function stepOptions(overrides: Partial<GrpoStepOptions> = {}): GrpoStepOptions {
  return {
    groupSize: 8, epsilon: 0.2, beta: 0, reward: rewardA, decode, maxNewTokens: 1, temperature: 1, eosId: 1, padId: 0, rng: new Rng(3), ...overrides,
  };
}

describe('the GRPO gradient on a constant-logit policy', () => {
  it('equals the policy gradient −1/N Σ A_i (e_{o_i} − softmax(b)) when β = 0 (hand-derived)', () => {
    const policy = new ConstantPolicy([0, 0.5, -0.3, 0.2]);
    const prompts = [[2], [2], [2], [2]];
    const completions = [[2], [3], [3], [2]];
    const adv = groupAdvantages([1, 0, 0, 1], 4);
    const batch = buildBatch(prompts, completions, 0);
    const g = tf.tidy(() => {
      const grads = tf.variableGrads(() => {
        const logp = tokenLogProbs(policy, batch.tokens);
        return grpoLoss(logp, stopGradient(logp), logp, tf.tensor1d(adv), batch.mask, { epsilon: 0.2, beta: 0 }).loss;
      }, policy.trainableVariables);
      return nums(grads.grads[policy.bias.name] as tf.Tensor);
    });
    const b = policy.values();
    const z = b.reduce((s, x) => s + Math.exp(x), 0);
    const p = b.map((x) => Math.exp(x) / z);
    const expected = p.map((_, k) => -completions.reduce((s, c, i) => s + (adv[i] as number) * ((c[0] === k ? 1 : 0) - (p[k] as number)), 0) / 4);
    expected.forEach((x, k) => expect(g[k]).toBeCloseTo(x, 6));
    tf.dispose([batch.tokens, batch.mask]);
    policy.dispose();
  });

  it('a step raises the logit of the rewarded token and lowers the others', () => {
    const policy = new ConstantPolicy([0, 0, 0, 0]);
    const ref = new ConstantPolicy([0, 0, 0, 0], 'ref');
    const opt = tf.train.sgd(0.5);
    const r = grpoStep(policy, ref, opt, [{ ids: [2], answer: '' }, { ids: [3], answer: '' }], stepOptions());
    const b = policy.values();
    expect(r.metrics.zeroSpreadGroups).toBeLessThan(1); // the seed gives groups with spread
    expect(b[2]).toBeGreaterThan(0);
    expect(b[3]).toBeLessThan(0);
    expect(b[1]).toBeLessThan(0);
    // With μ = 1 the ratio is 1 and Σ_i A_i = 0 in each group: the loss's value is β · KL = 0 here.
    expect(Math.abs(r.metrics.loss)).toBeLessThan(1e-6);
    tf.dispose([policy.bias, ref.bias]);
    opt.dispose();
  });

  it('with zero advantages the KL term pulls the policy back to the reference; the loss is β · KL', () => {
    const policy = new ConstantPolicy([0, 0, 2, 0]);
    const ref = new ConstantPolicy([0, 0, 0, 0], 'ref');
    const opt = tf.train.sgd(0.5);
    const constant = () => ({ total: 1, accuracy: 1, format: 1 });
    const r = grpoStep(policy, ref, opt, [{ ids: [2], answer: '' }], stepOptions({ beta: 0.1, reward: constant }));
    expect(r.metrics.zeroSpreadGroups).toBe(1);
    expect(r.metrics.advantageStd).toBe(0);
    expect(r.metrics.kl).toBeGreaterThan(0);
    expect(r.metrics.loss).toBeCloseTo(0.1 * r.metrics.kl, 6);
    expect(policy.values()[2]).toBeLessThan(2);
    tf.dispose([policy.bias, ref.bias]);
    opt.dispose();
  });

  it('one GRPO step leaks no tensor (μ = 1 and μ = 2)', () => {
    const policy = new ConstantPolicy([0, 0, 0, 0]);
    const ref = new ConstantPolicy([0, 0, 0, 0], 'ref');
    const opt = tf.train.sgd(0.1);
    for (const innerSteps of [1, 2]) {
      const r = expectNoLeak(() => grpoStep(policy, ref, opt, [{ ids: [2, 3], answer: '' }, { ids: [2], answer: '' }], stepOptions({ innerSteps, maxNewTokens: 3, beta: 0.04 })), `grpoStep μ=${innerSteps}`);
      expect(r.completions).toHaveLength(16);
      expect(Number.isFinite(r.metrics.loss)).toBe(true);
    }
    tf.dispose([policy.bias, ref.bias]);
    opt.dispose();
  });

  it('rejects G < 2, β < 0, ε ≤ 0 before sampling', () => {
    const policy = new ConstantPolicy([0, 0, 0, 0]);
    const opt = tf.train.sgd(0.1);
    const p = [{ ids: [2], answer: '' }];
    expect(() => grpoStep(policy, policy, opt, p, stepOptions({ groupSize: 1 }))).toThrowError(/^groupSize must be an integer ≥ 2, got 1$/);
    expect(() => grpoStep(policy, policy, opt, p, stepOptions({ beta: -0.01 }))).toThrowError(/^beta must be a finite number >= 0, got -0.01$/);
    expect(() => grpoStep(policy, policy, opt, p, stepOptions({ epsilon: 0 }))).toThrowError(/^epsilon must be a finite number > 0, got 0$/);
    policy.dispose();
    opt.dispose();
  });
});

describe('sampling and batching', () => {
  it('sampleCompletions is seeded, stops at <eos> and groups prompts of different lengths', () => {
    const policy = new ConstantPolicy([-5, 0, 0, 0]);
    const opts = (seed: number) => ({ maxNewTokens: 5, temperature: 1, rng: new Rng(seed), eosId: 1 });
    const prompts = [[2], [2, 3], [3], [2, 2, 2]];
    const a = sampleCompletions(policy, prompts, opts(5));
    expect(sampleCompletions(policy, prompts, opts(5))).toEqual(a);
    for (const c of a) {
      expect(c.length).toBeGreaterThan(0);
      expect(c.length).toBeLessThanOrEqual(5);
      expect(c.slice(0, -1)).not.toContain(1); // eos only last
    }
    expect(() => sampleCompletions(policy, [[7]], opts(1))).toThrowError(/^prompts\[0\] holds id 7, outside \[0, 4\)$/);
    policy.dispose();
  });

  it('buildBatch pads right and masks exactly the completion targets', () => {
    const b = buildBatch([[5, 6], [7]], [[8, 1], [9, 9, 1]], 0);
    expect(b.tokens.arraySync()).toEqual([[5, 6, 8, 1], [7, 9, 9, 1]]);
    // targets are tokens[:, 1:]: row 0 [6, 8, 1] -> completion at 8, 1; row 1 [9, 9, 1] all completion
    expect(b.mask.arraySync()).toEqual([[0, 1, 1], [1, 1, 1]]);
    expect(b.lengths).toEqual([2, 3]);
    tf.dispose([b.tokens, b.mask]);
    expect(() => buildBatch([[1]], [[]], 0)).toThrowError(/^completions\[0\] must not be empty/);
  });
});

describe('SFT and KD on a policy', () => {
  it('the SFT loss of a uniform policy is ln V per token (hand-computed), and a step lowers it without leaking', () => {
    const policy = new ConstantPolicy([0, 0, 0, 0]);
    const prompts = [[2], [3]];
    const completions = [[2, 1], [3, 3, 1]];
    const l0 = tf.tidy(() => sftLoss(policy, prompts, completions, 0).dataSync()[0] as number);
    // Reference (hand): uniform over 4 tokens: −ln(1/4) = 1.3862943611198906
    expect(l0).toBeCloseTo(1.3862943611198906, 6);
    const opt = tf.train.sgd(0.5);
    expectNoLeak(() => sftStep(policy, opt, prompts, completions, 0), 'sftStep');
    const l1 = tf.tidy(() => sftLoss(policy, prompts, completions, 0).dataSync()[0] as number);
    expect(l1).toBeLessThan(l0);
    policy.dispose();
    opt.dispose();
  });

  it('KD with α = 1 equals the mean token cross-entropy; with α = 0 it is 0 when student = teacher', () => {
    const student = new ConstantPolicy([0, 1, 2, 0]);
    const teacher = new ConstantPolicy([0, 1, 2, 0], 't');
    const prompts = [[2], [3]];
    const completions = [[2, 1], [3, 3, 1]];
    const hard = tf.tidy(() => kdLoss(student, teacher, prompts, completions, 0, { alpha: 1, temperature: 2 }).dataSync()[0] as number);
    // Reference (hand): 5 completion tokens [2, 1, 3, 3, 1] under softmax([0,1,2,0]); mean of −ln p
    const z = 1 + Math.E + Math.E ** 2 + 1;
    const nll = (k: number) => -Math.log([1, Math.E, Math.E ** 2, 1][k]! / z);
    expect(hard).toBeCloseTo((nll(2) + nll(1) + nll(3) + nll(3) + nll(1)) / 5, 5);
    let soft = Number.NaN;
    expectNoLeak(() => {
      const l = kdLoss(student, teacher, prompts, completions, 0, { alpha: 0, temperature: 2 });
      soft = l.dataSync()[0] as number;
      return l;
    }, 'kdLoss');
    expect(Math.abs(soft)).toBeLessThan(1e-6);
    student.dispose();
    teacher.dispose();
  });
});
