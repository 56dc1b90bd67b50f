/**
 * lib/rl/lm-policy and task-lm: the tiny LM as a policy. Cached sampling equals the sampler that
 * reruns the full pass; a GRPO step and an SFT step on the tiny LM leak nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { Rng } from '../lib/random';
import { grpoStep } from '../lib/rl/grpo';
import { copyWeights, sampleCompletions, type Policy } from '../lib/rl/policy';
import { weightedReward } from '../lib/rl/rewards';
import { sftStep } from '../lib/rl/sft';
import { generateProblems, TaskTokenizer } from '../lib/rl/task';
import { newTaskLm, TASK_CONTEXT } from '../lib/rl/task-lm';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

const tok = new TaskTokenizer();
const problems = generateProblems({ seed: 1, count: 6, split: 'train', levels: [1, 2, 3] });

describe('lmPolicy', () => {
  it('cached sampling draws the same tokens as the full-pass sampler, stopping at <eos>', () => {
    const { lm, policy } = newTaskLm('small', 3);
    const noCache: Policy = { vocabSize: policy.vocabSize, trainableVariables: policy.trainableVariables, logits: (t) => policy.logits(t) };
    const prompts = problems.map((p) => tok.encode(p.prompt));
    const opts = (seed: number) => ({ maxNewTokens: 12, temperature: 1, rng: new Rng(seed), eosId: tok.eosId });
    const a = sampleCompletions(policy, prompts, opts(4));
    expect(sampleCompletions(noCache, prompts, opts(4))).toEqual(a);
    for (const c of a) expect(c.slice(0, -1)).not.toContain(tok.eosId);
    expect(() => sampleCompletions(policy, prompts, { ...opts(1), maxNewTokens: TASK_CONTEXT })).toThrowError(/exceeds the model's maxContext 32$/);
    lm.dispose();
  });

  it('copyWeights makes an equal reference; a GRPO step and an SFT step leak nothing', () => {
    const a = newTaskLm('small', 1);
    const b = newTaskLm('small', 2);
    copyWeights(a.policy, b.policy);
    const ids = tf.tensor2d([tok.encode('12+3=<think>')], undefined, 'int32');
    const la = a.policy.logits(ids);
    const lb = b.policy.logits(ids);
    expect(Array.from(la.dataSync())).toEqual(Array.from(lb.dataSync()));
    tf.dispose([ids, la, lb]);
    const opt = tf.train.sgd(0.01);
    expectNoLeak(() => grpoStep(a.policy, b.policy, opt, problems.slice(0, 2).map((p) => ({ ids: tok.encode(p.prompt), answer: p.answer })), {
      groupSize: 4, epsilon: 0.2, beta: 0.04, reward: (c, ans) => weightedReward(c, ans), decode: (x) => tok.decode(x),
      maxNewTokens: 10, temperature: 1, eosId: tok.eosId, padId: tok.padId, rng: new Rng(1),
    }), 'grpoStep on the tiny LM');
    expectNoLeak(() => sftStep(a.policy, opt, [tok.encode('1+2=')], [[...tok.encode('<think>1+2=3</think><answer>3</answer>'), tok.eosId]], tok.padId), 'sftStep on the tiny LM');
    opt.dispose();
    a.lm.dispose();
    b.lm.dispose();
  });
});
