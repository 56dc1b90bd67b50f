/**
 * Loading tests/golden/distill.json (written by scripts/golden/distill_golden.py, PyTorch float64)
 * and comparing float32 tfjs results with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GoldenTemperature {
  T: number;
  softmax_student: number[];
  log_softmax_student: number[];
  entropy_teacher: number[];
  kl_batchmean: number;
  loss: Record<string, number>;
  grad_student: number[];
}

export interface GoldenCase {
  name: string;
  shape: [number, number];
  rows: number;
  student: number[];
  teacher: number[];
  labels: number[];
  temperatures: GoldenTemperature[];
}

export interface GoldenLambStep {
  step: number;
  w1: number[];
  w2: number[];
  trust_ratios: number[];
}

export interface GoldenFile {
  torch_version: string;
  grad_alpha: number;
  cases: GoldenCase[];
  lamb: {
    config: { lr: number; beta1: number; beta2: number; epsilon: number; weight_decay: number; steps: number };
    a: number[];
    c: number[];
    b: number[];
    w1_0: number[];
    w2_0: number[];
    history: GoldenLambStep[];
  };
}

export function loadGolden(): GoldenFile {
  const path = join(import.meta.dirname, '..', 'golden', 'distill.json');
  return JSON.parse(readFileSync(path, 'utf8')) as GoldenFile;
}

/**
 * Tolerance of every golden comparison: |actual - expected| <= RTOL * |expected| + ATOL.
 * RTOL = 1e-5 is the relative tolerance asked for (float32 has ~7 significant digits, PyTorch
 * computes in float64). ATOL only matters for entries near 0 (tiny probabilities, gradient entries
 * that nearly cancel), where a relative bound on a float32 result is meaningless.
 */
export const RTOL = 1e-5;
export const ATOL = 1e-7;

/**
 * Absolute tolerance for log-softmax entries. `log_softmax(z)_i = z_i - logsumexp(z)` subtracts
 * two numbers of size ~max|z|, so float32 loses absolute (not relative) precision there: with
 * |z/T| ~ 20, one float32 ulp of logsumexp is ~2e-6, larger than 1e-5 * |result| for a result
 * near 0 (the wasm backend shows errors ~2e-7 on entries ~1e-3). The bound becomes
 * RTOL * |expected| + 1e-7 * max|z/T| of the case (about one float32 ulp of the operands).
 */
export function logSoftmaxAtol(scaledLogits: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < scaledLogits.length; i++) m = Math.max(m, Math.abs(scaledLogits[i] as number));
  return Math.max(ATOL, 1e-7 * m);
}

/**
 * Absolute tolerance for an entropy over `classes` probabilities. When one probability is close
 * to 1, float32 rounds it to within one ulp (2^-23 ≈ 1.19e-7) and its `p log p` term carries an
 * absolute error of that size, whatever the entropy's own size; each of the `classes` terms can
 * add one such error. Native TensorFlow (oneDNN) shows 1.4e-7 on an entropy of 5.6e-4 at T = 0.5;
 * cpu and wasm happen to land closer.
 */
export function entropyAtol(classes: number): number {
  return Math.max(ATOL, classes * 2 ** -23);
}

/** Returns null when all close, else a message naming the worst element. */
export function compareClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = RTOL,
  atol = ATOL,
): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != expected ${expected.length}`;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const excess = Math.abs(a - e) - (rtol * Math.abs(e) + atol);
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return null;
  const a = actual[worst] as number;
  const e = expected[worst] as number;
  return `element ${worst}: got ${a}, expected ${e} (abs err ${Math.abs(a - e)}, rel ${Math.abs(a - e) / Math.abs(e)})`;
}
