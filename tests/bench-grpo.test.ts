/**
 * bench/grpo.ts, the `grpo-step` case of the benchmark: the bench's own runner runs its smoke
 * step (leak-checked), the set-up has lesson 13's sizes and matches what PyTorch is sent, the
 * standalone split timer leaves no tensor behind, and bad arguments are named. No timing is
 * asserted.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@frugal-ai/lib';
import { CASES } from '../bench/cases';
import { benchGrpo, GRPO_BENCH_CONFIG, GRPO_PARAMS, grpoCases, setupGrpo } from '../bench/grpo';
import { runTfjsCase, type Timing } from '../bench/timing';

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
});

/** `npm run bench -- --smoke`'s timing: one iteration, no warm-up. */
const SMOKE: Timing = { warmup: 0, warmupMs: 0, minTimeMs: 0, minIterations: 1, maxIterations: 1 };

describe('grpo-step case', () => {
  it('is listed in npm run bench, with a PyTorch twin and no value comparison', () => {
    const c = CASES.find((x) => x.id === 'grpo-step');
    expect(c).toBe(grpoCases[0]);
    expect([c?.family, c?.torch, c?.compare, c?.bound]).toEqual(['rl', 'grpo-step', false, 'kernels']);
  });

  it("runs one step through the bench's runner (leak-checked) and counts its kernels", async () => {
    const c = grpoCases[0];
    if (!c) throw new Error('no grpo case');
    const before = tf.memory().numTensors;
    // runTfjsCase throws if setup ... dispose leaves a tensor behind
    const r = await runTfjsCase(c, SMOKE, 1);
    expect(tf.memory().numTensors).toBe(before);
    // the check value is the mean reward: accuracy (0 or 1) + 0.1 format, so within [0, 1.1]
    expect(r.check).toBeGreaterThanOrEqual(0);
    expect(r.check).toBeLessThanOrEqual(1.1);
    // bench/README.md: 21 decoding steps plus the update dispatch thousands of kernels (4 573 measured)
    expect(r.profile?.kernels).toBeGreaterThan(1000);
  });

  it("has lesson 13's sizes, the ones sent to PyTorch", () => {
    const before = tf.memory().numTensors;
    const g = setupGrpo(2);
    try {
      // 2 prompts × G = 8; a level-2 prompt `ab+c=` is 5 tokens; the base task model has 21 920 parameters
      expect([g.completions, g.promptTokens, g.parameters]).toEqual([2 * GRPO_BENCH_CONFIG.groupSize, 5, 21920]);
      // the longest level-2 completion, 99+9: <think>9+9=18;9+1=10</think><answer>108</answer><eos>, is 13 + 2 + 5 + 1 = 21 tokens
      expect(g.maxNewTokens).toBe(GRPO_PARAMS.maxNewTokens);
      expect(g.last()).toBeNull();
      g.step();
      expect(g.last()?.sampleSeconds).toBeGreaterThan(0);
    } finally {
      g.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the standalone timer reports the sample/update split and leaves no tensor behind', async () => {
    // smoke: 1 warm-up step first (it creates Adam's slots, which the per-step leak check would count)
    const before = tf.memory().numTensors;
    const r = await benchGrpo({ iterations: 1, smoke: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.name).toBe('grpo-step');
    expect(r.completions).toBe(2 * GRPO_BENCH_CONFIG.groupSize);
    for (const ms of [r.medianMs, r.sampleMs, r.updateMs]) expect(ms).toBeGreaterThan(0);
  });

  it('names a bad iteration count or number of prompts', async () => {
    await expect(benchGrpo({ iterations: 0 })).rejects.toThrow(/iterations must be a positive integer, got 0/);
    expect(() => setupGrpo(0)).toThrow(/prompts must be a positive integer, got 0/);
  });
});
