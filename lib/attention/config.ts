/**
 * The attention variants of the course behind one config record, and what each must cache per
 * token (DeepSeek-V2, Table 1).
 *
 * | variant | heads of K and V | cached elements per token (l layers) |
 * | --- | --- | --- |
 * | MHA | n_h | 2 · n_h · d_h · l |
 * | GQA | n_g groups | 2 · n_g · d_h · l |
 * | MQA | 1 | 2 · d_h · l |
 * | MLA | latent | (d_c + d_h^R) · l |
 */
import { assertPositiveInteger } from '../assert';
import { assertRopeDim } from './rope';

/** Multi-head attention: every query head has its own key and value head. */
export interface MhaSpec {
  kind: 'mha';
  /** Query heads n_h (each also has its own K and V head). */
  nHeads: number;
  /** Per-head dimension d_h (default dModel / nHeads, which must then divide evenly). */
  headDim?: number;
}

/** Grouped-query attention (Ainslie et al. 2023): n_h query heads share n_g key/value heads. */
export interface GqaSpec {
  kind: 'gqa';
  /** Query heads n_h. */
  nHeads: number;
  /** Key/value heads n_g (groups); must divide nHeads. */
  nKvHeads: number;
  /** Per-head dimension d_h (default dModel / nHeads). */
  headDim?: number;
}

/** Multi-query attention (Shazeer 2019): all query heads share one key/value head. */
export interface MqaSpec {
  kind: 'mqa';
  /** Query heads n_h. */
  nHeads: number;
  /** Per-head dimension d_h (default dModel / nHeads). */
  headDim?: number;
}

/** Multi-head latent attention (DeepSeek-V2 §2.1). */
export interface MlaSpec {
  kind: 'mla';
  /** Heads n_h. */
  nHeads: number;
  /** Per-head dimension d_h of the compressed ("content") part of queries, keys and values (default dModel / nHeads). */
  headDim?: number;
  /** Query latent dimension d'_c (V2: 1536). */
  qLatent: number;
  /** KV latent dimension d_c, the cached compression of keys and values (V2: 512 = 4 d_h). */
  kvLatent: number;
  /** Per-head dimension d_h^R of the decoupled RoPE query and of the shared RoPE key (V2: 64 = d_h / 2); even. */
  ropeHeadDim: number;
  /** Decode with W^UK absorbed into the query path and W^UV into the output (default false: the naive path). */
  absorb?: boolean;
}

/** One of the attention variants. */
export type AttentionSpec = MhaSpec | GqaSpec | MqaSpec | MlaSpec;

/** The numbers every variant resolves to. */
export interface ResolvedAttention {
  kind: AttentionSpec['kind'];
  /** Query heads n_h. */
  nHeads: number;
  /** Key/value heads (n_h for MHA, n_g for GQA, 1 for MQA, n_h for MLA after up-projection). */
  nKvHeads: number;
  /** Per-head dimension d_h. */
  headDim: number;
}

/**
 * Fills the defaults of `spec` for a model of width `dModel` and checks the sizes.
 * @throws Error naming the field when heads don't divide the width (and no headDim is given),
 *   groups don't divide the heads, or a RoPE dimension is odd.
 */
export function resolveAttention(spec: AttentionSpec, dModel: number): ResolvedAttention {
  assertPositiveInteger(dModel, 'dModel');
  assertPositiveInteger(spec.nHeads, 'nHeads');
  let headDim = spec.headDim;
  if (headDim === undefined) {
    if (dModel % spec.nHeads !== 0) {
      throw new Error(`nHeads must divide dModel (or give headDim): dModel ${dModel} is not divisible by nHeads ${spec.nHeads}`);
    }
    headDim = dModel / spec.nHeads;
  }
  assertPositiveInteger(headDim, 'headDim');
  switch (spec.kind) {
    case 'mha':
      assertRopeDim(headDim, 'headDim');
      return { kind: 'mha', nHeads: spec.nHeads, nKvHeads: spec.nHeads, headDim };
    case 'gqa':
      assertRopeDim(headDim, 'headDim');
      assertPositiveInteger(spec.nKvHeads, 'nKvHeads');
      if (spec.nHeads % spec.nKvHeads !== 0) {
        throw new Error(`nKvHeads must divide nHeads: nHeads ${spec.nHeads} is not divisible by nKvHeads ${spec.nKvHeads}`);
      }
      return { kind: 'gqa', nHeads: spec.nHeads, nKvHeads: spec.nKvHeads, headDim };
    case 'mqa':
      assertRopeDim(headDim, 'headDim');
      return { kind: 'mqa', nHeads: spec.nHeads, nKvHeads: 1, headDim };
    case 'mla':
      assertPositiveInteger(spec.qLatent, 'qLatent');
      assertPositiveInteger(spec.kvLatent, 'kvLatent');
      assertRopeDim(spec.ropeHeadDim, 'ropeHeadDim');
      return { kind: 'mla', nHeads: spec.nHeads, nKvHeads: spec.nHeads, headDim };
    default: {
      const k: never = spec;
      throw new Error(`attention kind must be mha, gqa, mqa or mla, got ${JSON.stringify((k as { kind: unknown }).kind)}`);
    }
  }
}

/**
 * Elements cached per token across `layers` layers, after DeepSeek-V2 Table 1:
 * MHA 2·n_h·d_h·l, GQA 2·n_g·d_h·l, MQA 2·d_h·l, MLA (d_c + d_h^R)·l.
 * Multiply by 4 for float32 bytes (V2 counts elements; its Table 1 leaves the precision out).
 * @throws Error as {@link resolveAttention}.
 */
export function cacheElementsPerToken(spec: AttentionSpec, dModel: number, layers = 1): number {
  assertPositiveInteger(layers, 'layers');
  const r = resolveAttention(spec, dModel);
  if (spec.kind === 'mla') return (spec.kvLatent + spec.ropeHeadDim) * layers;
  return 2 * r.nKvHeads * r.headDim * layers;
}

/** FLOPs of one decoding step of one attention layer, by part (2 per multiply-add). */
export interface DecodeStepFlops {
  /** The new token's projections: queries, its keys and values (or latent), and the output. */
  projections: number;
  /** Work that grows with the context: rebuilding keys and values (naive MLA), scores and mixing. */
  context: number;
  /** The sum. */
  total: number;
}

/**
 * Matrix-product FLOPs of one decoding step (batch 1, one new token) of one layer, after a cache
 * of `context − 1` tokens, counted as the lib's layers compute it (softmax, RoPE and masks, a few
 * per score, are left out; so is the product with a permutation matrix by which RoPE swaps the
 * halves of each rotated vector, a data move):
 *
 * - MHA, GQA, MQA: projections `2d(n_h + 2n_g)d_h + 2 n_h d_h d`; context `4 n_h T d_h`.
 * - MLA naive: projections `2d(d'_c + d_c + d_h^R) + 2d'_c n_h (d_h + d_h^R) + 2 n_h d_h d`;
 *   context `4 T d_c n_h d_h` (every cached latent's key and value rebuilt) `+ 2 n_h T (2d_h + d_h^R)`.
 * - MLA absorbed: projections `2d(d'_c + d_c + d_h^R) + 2d'_c n_h (d_c + d_h^R) + 2 n_h d_c d`;
 *   context `4 n_h T (d_c + d_h^R)` (scores and mixing against the latents as stored). The absorbed
 *   products `W^UQ W^UKᵀ` and `W^UV W^O` are computed once per weight update, not per step.
 *
 * `absorb` (MLA only) defaults to `spec.absorb`.
 * @throws Error as {@link resolveAttention}, or when `context` is not a positive integer.
 */
export function decodeStepFlops(spec: AttentionSpec, dModel: number, context: number, absorb?: boolean): DecodeStepFlops {
  assertPositiveInteger(context, 'context');
  const r = resolveAttention(spec, dModel);
  const [d, h, dh, T] = [dModel, r.nHeads, r.headDim, context];
  let projections: number;
  let ctx: number;
  if (spec.kind === 'mla') {
    const [dq, dc, dr] = [spec.qLatent, spec.kvLatent, spec.ropeHeadDim];
    const down = 2 * d * (dq + dc + dr); // c^Q, c^KV and k^R of the new token
    if (absorb ?? spec.absorb ?? false) {
      projections = down + 2 * dq * h * (dc + dr) + 2 * h * dc * d;
      ctx = 4 * h * T * (dc + dr);
    } else {
      projections = down + 2 * dq * h * (dh + dr) + 2 * h * dh * d;
      ctx = 4 * T * dc * h * dh + 2 * h * T * (2 * dh + dr);
    }
  } else {
    projections = 2 * d * (h + 2 * r.nKvHeads) * dh + 2 * h * dh * d;
    ctx = 4 * h * T * dh;
  }
  return { projections, context: ctx, total: projections + ctx };
}
