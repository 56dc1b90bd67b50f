/**
 * Plain statistics on arrays of numbers, for lessons that summarise runs over seeds or repeated
 * timings. One place, so that lessons import them instead of writing them again.
 */
import { quantile } from './measure';

function checked(xs: readonly number[], fn: string): readonly number[] {
  if (xs.length === 0) throw new Error(`${fn} needs at least one value, got none`);
  xs.forEach((x, i) => {
    if (!Number.isFinite(x)) throw new Error(`${fn}: values must be finite numbers, got ${x} at index ${i}`);
  });
  return xs;
}

/** The arithmetic mean. @throws Error on an empty array or a non-finite value. */
export function mean(xs: readonly number[]): number {
  return checked(xs, 'mean').reduce((s, v) => s + v, 0) / xs.length;
}

/** The sample standard deviation (Bessel's n − 1); 0 for one value. @throws as {@link mean}. */
export function std(xs: readonly number[]): number {
  const m = mean(xs);
  return xs.length > 1 ? Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1)) : 0;
}

/** The median (the mean of the two middle values for an even count). @throws as {@link mean}. */
export function median(xs: readonly number[]): number {
  return quantile([...checked(xs, 'median')].sort((a, b) => a - b), 0.5);
}

/** A fraction as a percentage with one decimal: `percent(0.9521)` is `'95.2 %'`. */
export function percent(fraction: number, digits = 1): string {
  return `${(100 * fraction).toFixed(digits)} %`;
}

/**
 * The mean and sample standard deviation of repeated runs as `'m ± s'`, both multiplied by
 * `scale` (100 for percentages) and written with `digits` decimals:
 * `meanStd([0.3, 0.4], 100)` is `'35.0 ± 7.1'`. @throws as {@link mean}.
 */
export function meanStd(xs: readonly number[], scale = 1, digits = 1): string {
  return `${(scale * mean(xs)).toFixed(digits)} ± ${(scale * std(xs)).toFixed(digits)}`;
}
