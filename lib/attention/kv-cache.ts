/**
 * The cache of one decoding run: for each layer, the tensors that attention keeps for the tokens
 * seen so far (K and V for MHA/GQA/MQA; the latent c_KV and the RoPE key k^R for MLA, side by side
 * in one tensor), with the token axis second or third: [b, t, d_c + d_h^R] or [b, heads, t, dh].
 *
 * Each step concatenates the new tokens' entries to the old ones and disposes the old tensors, so
 * the live cache always holds exactly `length` tokens: its bytes can be measured, and equal
 * `cacheElementsPerToken · length · batch · 4` for float32.
 */
import * as tf from '@tensorflow/tfjs';

/** What one attention layer caches: named tensors, and the number of tokens they hold. */
export interface LayerCache {
  /** Tokens held. */
  length: number;
  /** The cached tensors, e.g. `{ k, v }` (MHA/GQA/MQA) or `{ latent }` (MLA: c_KV and k^R side by side). */
  tensors: Record<string, tf.Tensor>;
}

/** The caches of all layers of one model, for one batch of sequences. */
export class KvCache {
  private layerCaches: (LayerCache | undefined)[];
  private disposed = false;

  /**
   * @param layers number of attention layers.
   * @param maxContext the most tokens the cache may hold (the model's context length).
   * @param pad left padding of each batch row, for sequences of different lengths (see
   *   AttentionForwardOptions.pad): the cache holds the padding tokens' entries too, masked out.
   */
  constructor(readonly layers: number, readonly maxContext: number, readonly pad?: readonly number[]) {
    this.layerCaches = Array.from({ length: layers }, () => undefined);
  }

  /** The cache of layer `i` (undefined before the first step). */
  get(i: number): LayerCache | undefined {
    this.assertAlive();
    return this.layerCaches[i];
  }

  /** Replaces layer `i`'s cache, disposing the old tensors that the new cache does not reuse. */
  set(i: number, cache: LayerCache): void {
    this.assertAlive();
    const old = this.layerCaches[i];
    if (old) {
      const keep = new Set(Object.values(cache.tensors));
      for (const t of Object.values(old.tensors)) if (!keep.has(t)) t.dispose();
    }
    for (const t of Object.values(cache.tensors)) tf.keep(t);
    this.layerCaches[i] = cache;
  }

  /** Tokens held (those of layer 0; all layers hold the same count). */
  get length(): number {
    return this.layerCaches[0]?.length ?? 0;
  }

  /** Elements held by all layers' cached tensors. */
  elements(): number {
    let n = 0;
    for (const c of this.layerCaches) for (const t of Object.values(c?.tensors ?? {})) n += t.size;
    return n;
  }

  /** Bytes held by all layers' cached tensors (4 per float32 element). */
  bytes(): number {
    let n = 0;
    for (const c of this.layerCaches) for (const t of Object.values(c?.tensors ?? {})) n += t.size * bytesPerElement(t.dtype);
    return n;
  }

  /** Frees every cached tensor; the cache cannot be used afterwards. */
  dispose(): void {
    for (const c of this.layerCaches) for (const t of Object.values(c?.tensors ?? {})) t.dispose();
    this.layerCaches = [];
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('this KvCache was disposed');
  }
}

/** Bytes of one element of `dtype`. */
export function bytesPerElement(dtype: tf.DataType): number {
  return dtype === 'float32' || dtype === 'int32' ? 4 : dtype === 'bool' ? 1 : 8;
}
