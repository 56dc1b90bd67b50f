/**
 * Scaled dot-product attention with a causal mask, the core shared by every attention variant:
 *
 *   softmax(q kᵀ · scale + M) v,   M_ij = 0 if key j is at or before query i's position, else -1e9.
 *
 * Queries are the last `tq` of the `tk` positions (`tq = tk` for a full forward pass, `tq = 1`
 * for one decoding step with a cache), so query i sits at position `tk - tq + i`. Checked against
 * PyTorch's `scaled_dot_product_attention` in tests/attention-golden.test.ts.
 */
import * as tf from '@tensorflow/tfjs';

/** Added to masked scores: large enough that exp underflows to 0, finite so gradients stay finite. */
export const MASK_VALUE = -1e9;

/**
 * The additive causal mask `[tq, tk]` for queries at the last `tq` of `tk` positions.
 * @throws Error when `tq > tk`.
 */
export function causalMask(tq: number, tk: number): tf.Tensor2D {
  if (!(Number.isInteger(tq) && Number.isInteger(tk) && tq >= 1 && tq <= tk)) {
    throw new Error(`causalMask needs integers 1 <= tq <= tk, got tq ${tq}, tk ${tk}`);
  }
  const offset = tk - tq;
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = offset + i + 1; j < tk; j++) m[i * tk + j] = MASK_VALUE;
  return tf.tensor2d(m, [tq, tk]);
}

/**
 * The additive mask of a left-padded batch, as flat row-major data `[b, tq, tk]`: query i of row r
 * (at index tk - tq + i) sees key j iff `pad[r] <= j <= tk - tq + i`; the first `pad[r]` indices of
 * row r are padding. Reshape it to `[b, 1, tq, tk]` for scores `[b, h, tq, tk]`. A query that is
 * itself padding sees no key: its scores are all masked, its softmax is uniform and finite, and its
 * output is never used.
 * @throws Error when a pad is not an integer in [0, tk).
 */
export function paddedCausalMask(tq: number, tk: number, pad: readonly number[]): Float32Array {
  if (!(Number.isInteger(tq) && Number.isInteger(tk) && tq >= 1 && tq <= tk)) {
    throw new Error(`paddedCausalMask needs integers 1 <= tq <= tk, got tq ${tq}, tk ${tk}`);
  }
  const offset = tk - tq;
  const m = new Float32Array(pad.length * tq * tk);
  pad.forEach((p, r) => {
    if (!(Number.isInteger(p) && p >= 0 && p < tk)) throw new Error(`pad[${r}] must be an integer in [0, ${tk}), got ${p}`);
    for (let i = 0; i < tq; i++) {
      const row = (r * tq + i) * tk;
      for (let j = 0; j < tk; j++) if (j < p || j > offset + i) m[row + j] = MASK_VALUE;
    }
  });
  return m;
}

/** Options of {@link scaledDotProductAttention}. */
export interface SdpaOptions {
  /** Mask keys after each query's position (default true). */
  causal?: boolean;
  /** Multiplies the scores (default 1/√(head dim of q)). */
  scale?: number;
  /** An additive mask broadcasting against the scores `[..., tq, tk]`; replaces the causal mask. */
  mask?: tf.Tensor;
}

/**
 * Attention over the last two axes: q [..., tq, dk], k [..., tk, dk], v [..., tk, dv] ->
 * [..., tq, dv]. Runs in `tf.tidy`.
 */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: SdpaOptions = {}): tf.Tensor {
  const dk = q.shape[q.rank - 1] as number;
  const tq = q.shape[q.rank - 2] as number;
  const tk = k.shape[k.rank - 2] as number;
  const scale = options.scale ?? 1 / Math.sqrt(dk);
  return tf.tidy(() => {
    let scores = tf.mul(tf.matMul(q, k, false, true), scale); // [..., tq, tk]
    if (options.mask) scores = tf.add(scores, options.mask);
    else if (options.causal ?? true) scores = tf.add(scores, causalMask(tq, tk));
    return tf.matMul(tf.softmax(scores, -1), v); // [..., tq, dv]
  });
}
