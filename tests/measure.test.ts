import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { availableBackends, forwardKernels, forwardTime, matmulGflops, quantile, timeIt, withBackend } from '../lib/measure';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('timing', () => {
  it('computes quantiles by linear interpolation', () => {
    // Reference, by hand: positions (n-1)q over [1,2,3,4]: q=0.5 -> 2.5, q=0.1 -> 1.3.
    expect(quantile([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 12);
    expect(quantile([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3, 12);
    expect(() => quantile([], 0.5)).toThrow(/empty/);
  });

  it('runs warm-up then at least minIterations and at most maxIterations', async () => {
    let calls = 0;
    const s = await timeIt(() => void calls++, { warmup: 2, minIterations: 5, maxIterations: 5, minTimeMs: 0 });
    expect(calls).toBe(7);
    expect(s.iterations).toBe(5);
    expect(s.p10Ms).toBeLessThanOrEqual(s.medianMs);
    expect(s.medianMs).toBeLessThanOrEqual(s.p90Ms);
  });

  it('keeps warming up, untimed, until warmupMs have passed (a clock faked to advance 1 ms per call)', async () => {
    let now = 0;
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      let calls = 0;
      const s = await timeIt(() => { calls++; now += 1; }, { warmup: 2, warmupMs: 10, minIterations: 3, maxIterations: 3, minTimeMs: 0 });
      expect(calls).toBe(13); // 2 runs, then 8 more until 10 ms have passed; then 3 timed
      expect(s.iterations).toBe(3);
      expect(s.medianMs).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('rejects bad options, naming them', async () => {
    await expect(timeIt(() => 0, { warmupMs: -1 })).rejects.toThrow(/^warmupMs must be a finite number ≥ 0, got -1$/);
    await expect(timeIt(() => 0, { warmupMs: Infinity })).rejects.toThrow(/^warmupMs must be a finite number ≥ 0, got Infinity$/);
    await expect(timeIt(() => 0, { maxIterations: 0 })).rejects.toThrow(/^maxIterations must be an integer ≥ 3, got 0$/);
    await expect(matmulGflops(0)).rejects.toThrow(/^n must be an integer ≥ 1, got 0$/);
  });
});

describe('matmulGflops', () => {
  it('reports 2n³/time and leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const r = await matmulGflops(32, { warmup: 1, minIterations: 3, maxIterations: 3, minTimeMs: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.backend).toBe('cpu');
    expect(r.gflops).toBeCloseTo((2 * 32 ** 3) / (r.medianMs * 1e6), 9);
  });

  it('switches backend for a block and restores it', async () => {
    const names = await availableBackends();
    expect(names).toContain('cpu');
    expect(names).not.toContain('webgl');
    expect(await withBackend('cpu', () => Promise.resolve(tf.getBackend()))).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    await expect(withBackend('nope', () => Promise.resolve(1))).rejects.toThrow(/backend must be one that can run here, got "nope"/);
  });
});

describe('forwardTime and forwardKernels', () => {
  const dense = (layers: number) => {
    const m = tf.sequential();
    for (let i = 0; i < layers; i++) m.add(tf.layers.dense({ units: 4, inputShape: [4], activation: 'relu' }));
    return m;
  };
  it('count the kernels of one forward pass: more layers, more kernels; nothing leaks', async () => {
    const one = dense(1);
    const two = dense(2);
    const three = dense(3);
    const x = tf.ones([2, 4]);
    const before = tf.memory().numTensors;
    const [k1, k2, k3] = [await forwardKernels(one, x), await forwardKernels(two, x), await forwardKernels(three, x)];
    expect(k1).toBeGreaterThan(0);
    expect(k2 - k1).toBeGreaterThan(0);
    expect(k3 - k2).toBe(k2 - k1); // each identical layer adds the same kernels
    const t = await forwardTime(one, x, { warmup: 1, minTimeMs: 0, minIterations: 3, maxIterations: 3 });
    expect(t.iterations).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x]);
    for (const m of [one, two, three]) m.dispose();
  });
});
