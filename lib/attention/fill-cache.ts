/**
 * Filling an attention layer's cache with random tokens, to measure one decoding step at a given
 * context length (lessons 10 and 11, `npm run bench`).
 */
import * as tf from '@tensorflow/tfjs';
import { assertPositiveInteger } from '../assert';
import { Rng } from '../random';
import type { CausalAttention } from './common';
import type { LayerCache } from './kv-cache';

/**
 * Feeds `tokens` random inputs (N(0, 1), seeded) through `layer` in chunks of `chunk` tokens
 * (so that no [t, t] score matrix is larger than chunk × tokens) and returns the cache holding
 * them. The caller owns the cache's tensors.
 * @throws Error when `tokens` exceeds the layer's maxContext, or an argument is not a positive integer.
 */
export function fillCache(layer: CausalAttention & { dModel: number }, tokens: number, options: { batch?: number; chunk?: number; seed?: number } = {}): LayerCache {
  assertPositiveInteger(tokens, 'tokens');
  const batch = options.batch ?? 1;
  const chunk = options.chunk ?? 256;
  assertPositiveInteger(batch, 'batch');
  assertPositiveInteger(chunk, 'chunk');
  if (tokens > layer.maxContext) throw new Error(`decoding past the context: tokens ${tokens} > maxContext ${layer.maxContext}`);
  const rng = new Rng(options.seed ?? 0);
  let cache: LayerCache | undefined;
  for (let start = 0; start < tokens; start += chunk) {
    const n = Math.min(chunk, tokens - start);
    const x: tf.Tensor3D = tf.randomNormal([batch, n, layer.dModel], 0, 1, 'float32', rng.tfSeed());
    const out = layer.forward(x, cache);
    tf.dispose([x, out.y]);
    if (cache) for (const t of Object.values(cache.tensors)) t.dispose();
    cache = out.cache;
  }
  return cache as LayerCache;
}

/**
 * One decoding step of `layer` after `cache`: a random token in, the output and the extended
 * cache disposed; `cache` is left as it was. For timing.
 */
export function decodeOneStep(layer: CausalAttention & { dModel: number }, cache: LayerCache, x: tf.Tensor3D): void {
  const out = layer.forward(x, cache);
  tf.dispose([out.y, ...Object.values(out.cache.tensors).filter((t) => !Object.values(cache.tensors).includes(t))]);
}
