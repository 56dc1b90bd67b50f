/**
 * Multi-head, grouped-query and multi-query attention in one layer: n_h query heads share n_g
 * key/value heads (MHA: n_g = n_h; GQA: 1 < n_g < n_h; MQA: n_g = 1). RoPE on queries and keys,
 * causal mask, and a KV cache holding K and V ([b, n_g, t, d_h] each) after RoPE.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import type { AttentionSpec } from './config';
import { cacheElementsPerToken, resolveAttention } from './config';
import { AttentionBase, type AttentionBaseArgs, type AttentionForwardOptions, type AttentionOutput, type CausalAttention, linear, mergeHeads, paddedPositions, splitHeads } from './common';
import type { LayerCache } from './kv-cache';
import { applyRope, ropeTables, rotateHalf } from './rope';
import { paddedCausalMask, scaledDotProductAttention } from './sdpa';

/** Arguments of {@link GroupedQueryAttention}. */
export interface GroupedQueryAttentionArgs extends AttentionBaseArgs {
  /** Query heads n_h. */
  nHeads: number;
  /** Key/value heads n_g; must divide nHeads (default nHeads: MHA). */
  nKvHeads?: number;
  /** Per-head dimension d_h, even (default dModel / nHeads, which must divide evenly). */
  headDim?: number;
}

/** [b, g, t, dh] -> [b, g·r, t, dh]: each key/value head serves r consecutive query heads. */
function repeatKv(x: tf.Tensor4D, r: number): tf.Tensor4D {
  if (r === 1) return x;
  const [b, g, t, dh] = x.shape;
  // [b, g, t, dh] -> [b, g, 1, t·dh] -> tile [b, g, r, t·dh] -> [b, g·r, t, dh] (rank 4: tfjs has no rank-5 tile gradient)
  return tf.reshape(tf.tile(tf.reshape(x, [b, g, 1, t * dh]), [1, 1, r, 1]), [b, g * r, t, dh]);
}

export class GroupedQueryAttention extends AttentionBase implements CausalAttention {
  static className = 'GroupedQueryAttention';
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** The explicit headDim argument (undefined: dModel / nHeads). */
  private readonly headDimArg: number | undefined;
  private wq!: LayerVariable;
  private wk!: LayerVariable;
  private wv!: LayerVariable;
  private wo!: LayerVariable;

  /**
   * @throws Error naming the argument when nHeads does not divide dModel (without headDim),
   *   nKvHeads does not divide nHeads, or headDim is odd (RoPE).
   */
  constructor(args: GroupedQueryAttentionArgs) {
    super(args);
    const nKv = args.nKvHeads ?? args.nHeads;
    const r = resolveAttention({ kind: 'gqa', nHeads: args.nHeads, nKvHeads: nKv, headDim: args.headDim }, args.dModel);
    this.nHeads = r.nHeads;
    this.nKvHeads = r.nKvHeads;
    this.headDim = r.headDim;
    this.headDimArg = args.headDim;
  }

  /** MHA when n_g = n_h, MQA when n_g = 1, else GQA. */
  get spec(): AttentionSpec {
    const headDim = this.headDimArg;
    if (this.nKvHeads === this.nHeads) return { kind: 'mha', nHeads: this.nHeads, headDim };
    if (this.nKvHeads === 1) return { kind: 'mqa', nHeads: this.nHeads, headDim };
    return { kind: 'gqa', nHeads: this.nHeads, nKvHeads: this.nKvHeads, headDim };
  }

  override build(): void {
    const d = this.dModel;
    const hd = this.nHeads * this.headDim;
    const kvd = this.nKvHeads * this.headDim;
    this.wq = this.matrix('wq', d, hd);
    this.wk = this.matrix('wk', d, kvd);
    this.wv = this.matrix('wv', d, kvd);
    this.wo = this.matrix('wo', hd, d);
  }

  cacheElementsPerToken(): number {
    return cacheElementsPerToken(this.spec, this.dModel, 1);
  }

  forward(x: tf.Tensor3D, past?: LayerCache, options: AttentionForwardOptions = {}): AttentionOutput {
    this.ensureBuilt();
    const start = past?.length ?? 0;
    this.checkInput(x, start);
    const [b, t] = x.shape;
    const pad = this.checkPad(options.pad, b, start + t);
    const out = tf.tidy(() => {
      // Unpadded: positions start.. for every row; padded: each row's own positions (see AttentionForwardOptions).
      const rope = (z: tf.Tensor4D): tf.Tensor4D => {
        if (!pad) return applyRope(z, start, this.ropeBase);
        const { cos, sin } = ropeTables(paddedPositions(b, t, start, pad), this.headDim, this.ropeBase, [b, 1, t, this.headDim / 2]);
        return rotateHalf(z, cos, sin);
      };
      const q = rope(splitHeads(linear(x, this.wq.read()), this.nHeads)); // [b, h, t, dh]
      let k = rope(splitHeads(linear(x, this.wk.read()), this.nKvHeads)); // [b, g, t, dh]
      let v = splitHeads(linear(x, this.wv.read()), this.nKvHeads); // [b, g, t, dh]
      if (past) {
        k = tf.concat([past.tensors['k'] as tf.Tensor4D, k], 2); // [b, g, start + t, dh]
        v = tf.concat([past.tensors['v'] as tf.Tensor4D, v], 2);
      }
      const r = this.nHeads / this.nKvHeads;
      const mask = pad ? tf.tensor4d(paddedCausalMask(t, start + t, pad), [b, 1, t, start + t]) : undefined; // [b, 1, t, T]
      const o = scaledDotProductAttention(q, repeatKv(k, r), repeatKv(v, r), mask ? { mask } : {}) as tf.Tensor4D; // [b, h, t, dh]
      return { y: linear(mergeHeads(o), this.wo.read()), k, v };
    });
    return { y: out.y, cache: { length: start + t, tensors: { k: out.k, v: out.v } } };
  }

  override getConfig(): tf.serialization.ConfigDict {
    const c: tf.serialization.ConfigDict = { ...super.getConfig(), nHeads: this.nHeads, nKvHeads: this.nKvHeads };
    if (this.headDimArg !== undefined) c['headDim'] = this.headDimArg;
    return c;
  }
}
tf.serialization.registerClass(GroupedQueryAttention);
