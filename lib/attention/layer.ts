/**
 * One entry point for every attention variant: `attentionLayer(spec, ...)` builds the layer that
 * implements {@link CausalAttention} for an {@link AttentionSpec}.
 */
import type { AttentionSpec } from './config';
import type { CausalAttention } from './common';
import { GroupedQueryAttention } from './gqa';
import { MultiHeadLatentAttention } from './mla';

/** Options of {@link attentionLayer} besides the spec. */
export interface AttentionLayerOptions {
  /** Model width d. */
  dModel: number;
  /** Longest sequence (cached + new tokens). */
  maxContext: number;
  /** RoPE base (default 10000). */
  ropeBase?: number;
  /** Seed of the initial weights. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * The attention layer of `spec`: a {@link GroupedQueryAttention} for MHA/GQA/MQA, a
 * {@link MultiHeadLatentAttention} for MLA.
 * @throws Error as the layers' constructors (sizes that don't divide, odd RoPE dimension).
 */
export function attentionLayer(spec: AttentionSpec, options: AttentionLayerOptions): GroupedQueryAttention | MultiHeadLatentAttention {
  const base = { dModel: options.dModel, maxContext: options.maxContext, ropeBase: options.ropeBase, seed: options.seed, name: options.name };
  switch (spec.kind) {
    case 'mha':
      return new GroupedQueryAttention({ ...base, nHeads: spec.nHeads, nKvHeads: spec.nHeads, headDim: spec.headDim });
    case 'gqa':
      return new GroupedQueryAttention({ ...base, nHeads: spec.nHeads, nKvHeads: spec.nKvHeads, headDim: spec.headDim });
    case 'mqa':
      return new GroupedQueryAttention({ ...base, nHeads: spec.nHeads, nKvHeads: 1, headDim: spec.headDim });
    case 'mla':
      return new MultiHeadLatentAttention({ ...base, ...spec });
    default: {
      const k: never = spec;
      throw new Error(`attention kind must be mha, gqa, mqa or mla, got ${JSON.stringify((k as { kind: unknown }).kind)}`);
    }
  }
}

export type { CausalAttention };
