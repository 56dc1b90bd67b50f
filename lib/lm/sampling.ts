/**
 * Sampling the next token from logits, seeded by the course's `Rng` (on the CPU, so the same seed
 * gives the same tokens on every backend): temperature, top-k, and greedy decoding at T = 0.
 */
import type { Rng } from '../random';

/** How to pick the next token. */
export interface SamplingOptions {
  /** Divides the logits before the softmax; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (default: all). */
  topK?: number;
}

/**
 * Checks sampling options against a vocabulary of `vocabSize` tokens.
 * @throws Error `temperature must be a number >= 0, got -1` or `topK must be an integer in [1, V], got 0`.
 */
export function checkSamplingOptions(options: SamplingOptions, vocabSize: number): void {
  const T = options.temperature ?? 1;
  if (!(Number.isFinite(T) && T >= 0)) throw new Error(`temperature must be a number >= 0, got ${T}`);
  const k = options.topK;
  if (k !== undefined && !(Number.isInteger(k) && k >= 1 && k <= vocabSize)) throw new Error(`topK must be an integer in [1, ${vocabSize}], got ${k}`);
}

/**
 * Draws one token id from `logits` (one row of V numbers). Ties at the top-k boundary keep every
 * tied token. Greedy (T = 0) returns the first maximum.
 * @throws Error as {@link checkSamplingOptions}, or when a logit is NaN.
 */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const V = logits.length;
  checkSamplingOptions(options, V);
  const T = options.temperature ?? 1;
  let best = 0;
  for (let i = 0; i < V; i++) {
    const z = logits[i] as number;
    if (Number.isNaN(z)) throw new Error(`logits[${i}] is NaN`);
    if (z > (logits[best] as number)) best = i;
  }
  if (T === 0) return best;
  let cutoff = -Infinity;
  if (options.topK !== undefined && options.topK < V) {
    const sorted = Array.from(logits).sort((a, b) => b - a);
    cutoff = sorted[options.topK - 1] as number;
  }
  const max = logits[best] as number;
  const w = new Float64Array(V);
  let total = 0;
  for (let i = 0; i < V; i++) {
    const z = logits[i] as number;
    w[i] = z >= cutoff ? Math.exp((z - max) / T) : 0;
    total += w[i] as number;
  }
  let u = rng.next() * total;
  for (let i = 0; i < V; i++) {
    u -= w[i] as number;
    if (u < 0) return i;
  }
  return best;
}
