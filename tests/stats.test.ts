import { describe, expect, it } from 'vitest';
import { mean, meanStd, median, percent, std } from '../lib/stats';

describe('stats', () => {
  it('mean, Bessel std and median by hand', () => {
    // Reference: [2,4,4,4,5,5,7,9] has mean 5, sum of squared deviations 32, so std sqrt(32/7).
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(xs)).toBe(5);
    expect(std(xs)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(median(xs)).toBe(4.5); // the mean of the middle pair 4 and 5
    expect(median([3, 1, 2])).toBe(2);
    expect(std([7])).toBe(0);
  });
  it('rejects empty and non-finite input, naming the function and the value', () => {
    expect(() => mean([])).toThrow(/mean needs at least one value/);
    expect(() => median([1, Number.NaN])).toThrow(/median: values must be finite numbers, got NaN at index 1/);
  });
  it('formats a percentage', () => {
    expect(percent(0.9521)).toBe('95.2 %');
    expect(percent(0.5, 0)).toBe('50 %');
  });
  it('writes runs as mean ± SD', () => {
    // Hand computation: mean 0.35, SD sqrt(2 · 0.05² / 1) = 0.0707; times 100, one decimal.
    expect(meanStd([0.3, 0.4], 100)).toBe('35.0 ± 7.1');
    expect(meanStd([2, 4, 4, 4, 5, 5, 7, 9], 1, 3)).toBe('5.000 ± 2.138'); // sqrt(32 / 7) = 2.138
    expect(meanStd([7])).toBe('7.0 ± 0.0');
    expect(() => meanStd([])).toThrow(/mean needs at least one value/);
  });
});
