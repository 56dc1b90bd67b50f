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
    // No run below 0: the axis runs from 0 to 8 % above the highest dot or whisker, a's
    // 0.35 + 0.0707 (above b's top dot 0.4 and b's 0.2 + 0.1732). No whisker reaches 0 here.
    expect(fig.layout.yaxis?.range?.[0]).toBe(0);
    expect(fig.layout.yaxis?.range?.[1]).toBeCloseTo(1.08 * (0.35 + Math.SQRT2 * 0.05), 12);
    expect(bars.error_y?.arrayminus?.[0]).toBeCloseTo(Math.SQRT2 * 0.05, 12);
    expect(bars.error_y?.arrayminus?.[1]).toBeCloseTo(Math.sqrt(0.03), 12);
    expect(fig.layout.yaxis?.title?.text).toBe('accuracy');
  });
  it('stops a whisker at 0 for non-negative runs, and keeps 0 in view for signed ones', () => {
    // Hand computation: [0, 0, 0.03] has mean 0.01 and SD 0.01732: the whisker below is 0.01.
    const [bars] = spreadFigure({ a: [0, 0, 0.03] }).data as [BarTrace];
    expect(bars.error_y?.arrayminus?.[0]).toBeCloseTo(0.01, 12);
    expect(bars.error_y?.array[0]).toBeCloseTo(Math.sqrt(0.0009 / 3), 12);
    const signed = spreadFigure({ gain: [-0.02, 0.01] });
    expect(signed.layout.yaxis?.rangemode).toBe('tozero');
    expect(signed.layout.yaxis?.range).toBeUndefined();
    expect((signed.data[0] as BarTrace).error_y?.arrayminus).toBeUndefined();
    expect(spreadFigure({ zero: [0, 0] }).layout.yaxis?.range).toEqual([0, 1]);
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
