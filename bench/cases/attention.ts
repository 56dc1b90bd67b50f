/**
 * Lessons 09-10's decoding step (lib/attention): one new token through one attention layer whose
 * cache already holds `context` tokens, with MHA, naive MLA and absorbed MLA.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase } from '../case.js';
import { glorot, hashFill } from '../fill.js';

/**
 * Width d = 512 with 8 heads of 64. MHA caches K and V (2 · 8 · 64 = 1024 floats per token); MLA,
 * with DeepSeek-V2's ratios d_c = 4 d_h = 256 and d_h^R = d_h / 2 = 32 (d'_c = 192), caches 288.
 */
const ATTN = { d: 512, heads: 8, headDim: 64, qLatent: 192, kvLatent: 256, ropeDim: 32 } as const;

/** 0: MHA; 1: naive MLA (rebuilds every cached token's keys and values); 2: absorbed MLA. */
type Variant = 0 | 1 | 2;

/** The cache's size in MiB (float32, one sequence, one layer). */
const cacheMiB = (variant: Variant, context: number): number =>
  ((variant === 0 ? 2 * ATTN.heads * ATTN.headDim : ATTN.kvLatent + ATTN.ropeDim) * context * 4) / 2 ** 20;

/**
 * Weights, the cache and the token are hash-filled; the step appends to the cache by
 * concatenation on both sides, as the lib does. -> the output [1, 1, d]
 */
function decodeSetup(variant: Variant, context: number) {
  const { d, heads: h, headDim: dh } = ATTN;
  const T = context;
  const mla = variant !== 0;
  const layer = mla
    ? new lib.MultiHeadLatentAttention({ dModel: d, nHeads: h, headDim: dh, qLatent: ATTN.qLatent, kvLatent: ATTN.kvLatent, ropeHeadDim: ATTN.ropeDim, maxContext: T + 1, absorb: variant === 2 })
    : new lib.GroupedQueryAttention({ dModel: d, nHeads: h, headDim: dh, maxContext: T + 1 });
  const x = tf.tidy(() => tf.reshape(hashFill(1, d, 84, 1), [1, 1, d])); // the new token [1, 1, d]
  tf.dispose(layer.apply(x) as tf.Tensor); // builds the weights
  // getWeights order, each [in, out]: GQA wq wk wv wo; MLA wDQ wUQ wQR wDKV wUK wUV wKR wO
  const weights = layer.getWeights().map((w, i) => hashFill(w.shape[0] ?? 0, w.shape[1] ?? 0, 70 + i, glorot(w.shape[0] ?? 0, w.shape[1] ?? 0)));
  layer.setWeights(weights);
  tf.dispose(weights);
  const tensors: Record<string, tf.Tensor> = tf.tidy((): Record<string, tf.Tensor> =>
    layer instanceof lib.MultiHeadLatentAttention // c^KV [1, T, d_c] and k^R [1, T, d_h^R], in the layer's cache layout
      ? layer.cacheFromLatents(tf.reshape(hashFill(T, ATTN.kvLatent, 82, 1), [1, T, ATTN.kvLatent]), tf.reshape(hashFill(T, ATTN.ropeDim, 83, 1), [1, T, ATTN.ropeDim])).tensors
      : { k: tf.transpose(tf.reshape(hashFill(T, h * dh, 80, 1), [1, T, h, dh]), [0, 2, 1, 3]), v: tf.transpose(tf.reshape(hashFill(T, h * dh, 81, 1), [1, T, h, dh]), [0, 2, 1, 3]) }, // [1, T, h, dh] -> [1, h, T, dh]
  );
  const cache = { length: T, tensors };
  const step = (): tf.Tensor => {
    const out = layer.forward(x as tf.Tensor3D, cache);
    tf.dispose(Object.values(out.cache.tensors)); // the extended cache (new tensors); the old one is kept
    return out.y;
  };
  return { step, dispose: () => { tf.dispose([x, ...Object.values(tensors)]); layer.dispose(); } };
}

const VARIANTS: ReadonlyArray<[string, Variant]> = [['MHA', 0], ['MLA naive', 1], ['MLA absorbed', 2]];

const WHAT: Record<Variant, string> = {
  0: 'one decoding step of one MHA layer (d = 512, 8 heads of 64, RoPE) after a cache of CONTEXT tokens: the new token\'s q, k, v, the cache extended by concatenation, attention, output',
  1: 'the same with MLA (d\'_c = 192, d_c = 256, d_h^R = 32): every cached latent is up-projected to keys and values at each step',
  2: 'the same MLA layer and weights, absorbed: the query is mapped into the latent space, scored against the cached latents, and the mixed latent is up-projected once',
};

/** Nine decoding steps: MHA, naive and absorbed MLA after 256, 1024 and 4096 cached tokens. */
export const attentionCases: BenchCase[] = [256, 1024, 4096].flatMap((context) =>
  VARIANTS.map(([name, variant]): BenchCase => ({
    id: `decode-${name.toLowerCase().replace(' ', '-')}-${context}`,
    title: `decode @${context}, ${name} (${cacheMiB(variant, context)} MiB)`,
    family: 'attention',
    what: WHAT[variant].replace('CONTEXT', String(context)),
    bound: 'FLOPs',
    boundWhy: variant === 1 ? 'rebuilds keys and values of every cached token' : "attention's products over the cache",
    params: { ...ATTN, context, variant },
    torch: 'attn-decode',
    setup: () => decodeSetup(variant, context),
  })),
);
