/**
 * lib/plot's spreadFigure: runs over seeds per category as mean bars, ± SD error bars and one
 * dot per run, on a y axis from 0; and its validation messages.
 */
import { describe, expect, it } from 'vitest';
import { spreadFigure, type BarTrace, type ScatterTrace } from '../lib/plot';

describe('spreadFigure', () => {
  it('draws the mean, ± one sample SD and every run, from 0', () => {
    const fig = spreadFigure({ a: [0.3, 0.4], b: [0.1, 0.1, 0.4] }, { title: 't', yTitle: 'accuracy' });
    const [bars, dots] = fig.data as [BarTrace, ScatterTrace];
    expect(bars.type).toBe('bar');
    expect(bars.x).toEqual(['a', 'b']);
    // Hand computation: a: mean 0.35, SD sqrt(2 · 0.05² / 1) = 0.0707; b: mean 0.2, SD sqrt(0.06 / 2) = 0.1732.
    expect(bars.y[0]).toBeCloseTo(0.35, 12);
    expect(bars.y[1]).toBeCloseTo(0.2, 12);
    expect(bars.error_y?.array[0]).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    expect(bars.error_y?.array[1]).toBeCloseTo(Math.sqrt(0.03), 12);
    expect(dots.mode).toBe('markers');
    expect(dots.x).toEqual(['a', 'a', 'b', 'b', 'b']);
    expect(dots.y).toEqual([0.3, 0.4, 0.1, 0.1, 0.4]);
    expect(fig.layout.yaxis?.rangemode).toBe('tozero');
    expect(fig.layout.yaxis?.title?.text).toBe('accuracy');
  });
  it('gives one run an SD of 0', () => {
    const [bars] = spreadFigure({ only: [0.5] }).data as [BarTrace];
    expect(bars.error_y?.array).toEqual([0]);
  });
  it('rejects empty or non-finite runs, naming the category', () => {
    expect(() => spreadFigure({})).toThrow(/^runs must have at least one category, got none$/);
    expect(() => spreadFigure({ a: [] })).toThrow(/^runs of "a" must be non-empty, got an empty array$/);
    expect(() => spreadFigure({ a: [1, Number.NaN] })).toThrow(/^runs of "a" must hold finite numbers, got NaN at index 1$/);
    expect(() => spreadFigure([1, 2] as never)).toThrow(/^runs must be an object \{ category: values \}/);
  });
});
