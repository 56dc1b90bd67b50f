/**
 * bench/grpo.ts, the GRPO case of the benchmark: it runs lesson 13's step at its sizes, leaves no
 * tensor behind (benchGrpo throws on a leak), and names a bad argument. No timing is asserted.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@frugal-ai/lib';
import { benchGrpo, GRPO_BENCH_CONFIG } from '../bench/grpo';

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
});

describe('benchGrpo', () => {
  it('times a smoke step of lesson 13 at its sizes and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const r = await benchGrpo({ iterations: 1, smoke: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.name).toBe('grpo-step');
    // smoke: 2 prompts × G = 8; a level-2 prompt `ab+c=` is 5 tokens; the base task model has 21 920 parameters
    expect([r.completions, r.promptTokens, r.parameters]).toEqual([2 * GRPO_BENCH_CONFIG.groupSize, 5, 21920]);
    // the longest level-2 completion, 99+9: <think>9+9=18;9+1=10</think><answer>108</answer><eos>, is 13 + 2 + 5 + 1 = 21 tokens
    expect(r.maxNewTokens).toBe(21);
    expect(r.kernels).toBeGreaterThan(0);
    for (const ms of [r.medianMs, r.sampleMs, r.updateMs]) expect(ms).toBeGreaterThan(0);
  });
  it('names a bad iteration count', async () => {
    await expect(benchGrpo({ iterations: 0 })).rejects.toThrow(/iterations must be a positive integer, got 0/);
  });
});
