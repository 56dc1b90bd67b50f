/**
 * lib/optim/schedules.ts: values at known steps (hand-computed) and validation messages.
 */
import { describe, expect, it } from 'vitest';
import { batchSizeSchedule, constantLr, warmupCosine } from '../lib/optim/schedules';

describe('learning-rate schedules', () => {
  it('constantLr gives the same rate at every step', () => {
    const s = constantLr(3e-4);
    expect([0, 1, 1000].map(s)).toEqual([3e-4, 3e-4, 3e-4]);
  });

  it('warmupCosine at known steps (W = 10, N = 110, peak 1e-3)', () => {
    const s = warmupCosine({ peakLr: 1e-3, warmupSteps: 10, totalSteps: 110 });
    expect(s(0)).toBe(0); // warm-up starts at 0
    expect(s(5)).toBeCloseTo(5e-4, 15); // 1e-3 * 5 / 10
    expect(s(10)).toBeCloseTo(1e-3, 15); // peak: cos(0) = 1
    expect(s(35)).toBeCloseTo(1e-3 * (1 + Math.SQRT1_2) / 2, 15); // progress 1/4: (1 + cos(pi/4)) / 2 = 0.8535533905932737
    expect(s(60)).toBeCloseTo(5e-4, 15); // progress 1/2: (1 + cos(pi/2)) / 2 = 0.5
    expect(s(110)).toBe(0); // end
    expect(s(500)).toBe(0); // after the end: stays at minLr
    for (let t = 11; t < 110; t++) expect(s(t)).toBeLessThan(s(t - 1)); // decreasing after the peak
  });

  it('warmupCosine with a floor and without warm-up', () => {
    const s = warmupCosine({ peakLr: 1e-3, warmupSteps: 0, totalSteps: 100, minLr: 1e-4 });
    expect(s(0)).toBeCloseTo(1e-3, 15);
    expect(s(50)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 15); // 5.5e-4
    expect(s(100)).toBe(1e-4);
  });

  it.each([
    [() => constantLr(0), /^lr must be a finite number > 0, got 0$/],
    [() => constantLr(1)(-1), /^step must be an integer >= 0, got -1$/],
    [() => warmupCosine({ peakLr: -1, warmupSteps: 0, totalSteps: 10 }), /^peakLr must be a finite number > 0, got -1$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 1.5, totalSteps: 10 }), /^warmupSteps must be an integer >= 0, got 1\.5$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 10, totalSteps: 10 }), /^totalSteps must be an integer > warmupSteps \(10\), got 10$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10, minLr: 2 }), /^minLr must be in \[0, peakLr\], got 2$/],
    [() => warmupCosine({ peakLr: 1, warmupSteps: 0, totalSteps: 10 })(2.5), /^step must be an integer >= 0, got 2\.5$/],
  ])('rejects bad values (%#)', (fn, message) => {
    expect(fn).toThrowError(message);
  });
});

describe('batchSizeSchedule', () => {
  it('doubles every 2 epochs from 32, capped at 256', () => {
    const s = batchSizeSchedule({ initial: 32, max: 256, everyEpochs: 2 });
    // epochs 0..9 -> 32, 32, 64, 64, 128, 128, 256, 256, 256, 256
    expect(Array.from({ length: 10 }, (_, e) => s(e))).toEqual([32, 32, 64, 64, 128, 128, 256, 256, 256, 256]);
    expect(s(1e9)).toBe(256);
  });

  it('floors a non-integer factor: 10 * 1.5^k -> 10, 15, 22, 33, 50 (max 50)', () => {
    const s = batchSizeSchedule({ initial: 10, max: 50, factor: 1.5 });
    expect([0, 1, 2, 3, 4, 5].map(s)).toEqual([10, 15, 22, 33, 50, 50]);
  });

  it.each([
    [{ initial: 0, max: 8 }, /^initial must be an integer >= 1, got 0$/],
    [{ initial: 32, max: 16 }, /^max must be an integer >= initial \(32\), got 16$/],
    [{ initial: 8, max: 16, factor: 1 }, /^factor must be a finite number > 1, got 1$/],
    [{ initial: 8, max: 16, everyEpochs: 0 }, /^everyEpochs must be an integer >= 1, got 0$/],
  ])('rejects %o', (config, message) => {
    expect(() => batchSizeSchedule(config)).toThrowError(message);
  });
});
