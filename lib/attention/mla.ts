/**
 * Multi-head latent attention (MLA), after DeepSeek-V2 (2024) §2.1, eqs. (9)-(19). For a token h_t:
 *
 *   c_t^Q  = W^DQ h_t                       query latent, d'_c            (12)
 *   q_t^C  = W^UQ c_t^Q                     n_h heads × d_h               (13)
 *   q_t^R  = RoPE(W^QR c_t^Q)               n_h heads × d_h^R             (14)
 *   c_t^KV = W^DKV h_t                      KV latent, d_c  (cached)      (9)
 *   k_t^C  = W^UK c_t^KV                    n_h heads × d_h               (10)
 *   k_t^R  = RoPE(W^KR h_t)                 one shared head × d_h^R (cached) (15)
 *   v_t^C  = W^UV c_t^KV                    n_h heads × d_h               (11)
 *   q_{t,i} = [q_{t,i}^C; q_{t,i}^R],  k_{t,i} = [k_{t,i}^C; k_t^R]                (16, 17)
 *   o_{t,i} = Σ_j softmax_j(q_{t,i}ᵀ k_{j,i} / √(d_h + d_h^R)) v_{j,i}^C          (18)
 *   u_t    = W^O [o_{t,1}; …; o_{t,n_h}]                                         (19)
 *
 * The cache holds only c^KV and k^R: (d_c + d_h^R) elements per token and layer, stored side by
 * side as one tensor `latent` [b, t, d_c + d_h^R] (features 0..d_c-1: c^KV, then k^R), so that one
 * matrix product scores all heads against both parts at once.
 *
 * Two decoding paths, selected by `absorb`:
 * - naive: up-project the whole cached latent to per-head keys and values at every step
 *   (k^C = c^KV W^UK, v^C = c^KV W^UV), then attend as in MHA;
 * - absorbed: with row vectors, q_i^C · k_{j,i}^C = (c^Q W^UQ_i W^UK_iᵀ) · c_j^KV, so the product
 *   W^UQ_i W^UK_iᵀ maps c^Q straight to a d_c-vector per head that is scored against the cached
 *   latents; likewise W^UV_i W^O_i maps each head's softmax-mixed latent to the output. No per-token
 *   key or value is ever built. (The paper: "W^UK can be absorbed into W^UQ, and W^UV can be
 *   absorbed into W^O".) One decoding step is then a few plain matrix products, for all heads at once:
 *     scores latent [T, d_c + d_h^R] × qᵀ [d_c + d_h^R, h] -> [T, h]  (content and RoPE parts together)
 *     mixed  p [h, T] × latent [T, d_c + d_h^R]          -> [h, d_c + d_h^R] (the k^R part is dropped)
 *     output mixed [1, h · d_c] × (W^UV W^O) [h · d_c, d]  -> [1, d]
 *   (The cache is the left operand of the first product and the right one of the second: tfjs's
 *   WASM backend streams a left operand but copies ("packs") a right one that changed since the last
 *   call, so one of the two products pays a copy of the cache per step whatever its layout; the
 *   other choice, a [d_c + d_h^R, T] layout, merely moves that copy to the scores.)
 *   The two absorbed products are computed once and kept until the weights change (checked at each
 *   call; see `absorbedWeights`), and used for calls that extend a cache; a call without a cache (a
 *   full pass, which training may differentiate) builds them inline so gradients reach the factors.
 *   Trade-off: the products hold more numbers than the factors they stand for (d'_c·n_h·d_c +
 *   n_h·d_c·d against (d'_c + 2 d_c)·n_h·d_h + n_h·d_h·d); at DeepSeek-V2's size (d'_c = 1536,
 *   d = 5120) that would be 436M instead of 126M per layer, which is why DeepSeek-V3's inference
 *   code applies W^UK to q^C and W^UV to the mixed latent head by head instead. Each step reads
 *   the products once: at `npm run bench`'s shape wOut is 4 MiB, more than the whole latent cache
 *   below about 3600 tokens, so PyTorch (whose per-head products are cheap) decodes short contexts
 *   faster with the factors; tfjs's WASM backend runs per-head (batched) products slowly, so the
 *   products win there.
 *
 * Differences from the released models, kept out for clarity: V2 also applies an RMSNorm to c^Q
 * and c^KV and uses YaRN to extend RoPE; the equations above do not.
 */
import * as tf from '@tensorflow/tfjs';
import type { DisposeResult } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import type { MlaSpec } from './config';
import { cacheElementsPerToken, resolveAttention } from './config';
import { AttentionBase, type AttentionBaseArgs, type AttentionForwardOptions, type AttentionOutput, type CausalAttention, linear, mergeHeads, paddedPositions, splitHeads } from './common';
import type { LayerCache } from './kv-cache';
import { applyRope, ropeTables, rotateHalf } from './rope';
import { causalMask, paddedCausalMask, scaledDotProductAttention } from './sdpa';

/**
 * Arguments of {@link MultiHeadLatentAttention}: the fields of {@link MlaSpec} (sizes documented
 * there, once) besides its `kind`, and those every attention layer takes.
 */
export type MultiHeadLatentAttentionArgs = AttentionBaseArgs & Omit<MlaSpec, 'kind'>;

export class MultiHeadLatentAttention extends AttentionBase implements CausalAttention {
  static className = 'MultiHeadLatentAttention';
  readonly nHeads: number;
  readonly headDim: number;
  readonly qLatent: number;
  readonly kvLatent: number;
  readonly ropeHeadDim: number;
  /** Decode through the absorbed path; may be switched at any time (the weights are the same). */
  absorb: boolean;
  private readonly headDimArg: number | undefined;
  private wDQ!: LayerVariable;
  private wUQ!: LayerVariable;
  private wQR!: LayerVariable;
  private wDKV!: LayerVariable;
  private wUK!: LayerVariable;
  private wUV!: LayerVariable;
  private wKR!: LayerVariable;
  private wO!: LayerVariable;
  /** The absorbed products and the data of the weights they were computed from (see absorbedWeights). */
  private absorbed: { from: object[]; wQ: tf.Tensor2D; wOut: tf.Tensor2D } | undefined;

  /**
   * @throws Error naming the argument when nHeads does not divide dModel (without headDim), a size
   *   is not a positive integer, or ropeHeadDim is odd.
   */
  constructor(args: MultiHeadLatentAttentionArgs) {
    super(args);
    const spec: MlaSpec = { kind: 'mla', nHeads: args.nHeads, headDim: args.headDim, qLatent: args.qLatent, kvLatent: args.kvLatent, ropeHeadDim: args.ropeHeadDim };
    const r = resolveAttention(spec, args.dModel);
    this.nHeads = r.nHeads;
    this.headDim = r.headDim;
    this.headDimArg = args.headDim;
    this.qLatent = args.qLatent;
    this.kvLatent = args.kvLatent;
    this.ropeHeadDim = args.ropeHeadDim;
    this.absorb = args.absorb ?? false;
  }

  get spec(): MlaSpec {
    return { kind: 'mla', nHeads: this.nHeads, headDim: this.headDimArg, qLatent: this.qLatent, kvLatent: this.kvLatent, ropeHeadDim: this.ropeHeadDim, absorb: this.absorb };
  }

  override build(): void {
    const d = this.dModel;
    const hd = this.nHeads * this.headDim;
    this.wDQ = this.matrix('wDQ', d, this.qLatent); // W^DQ: h -> c^Q
    this.wUQ = this.matrix('wUQ', this.qLatent, hd); // W^UQ: c^Q -> q^C
    this.wQR = this.matrix('wQR', this.qLatent, this.nHeads * this.ropeHeadDim); // W^QR: c^Q -> q^R
    this.wDKV = this.matrix('wDKV', d, this.kvLatent); // W^DKV: h -> c^KV
    this.wUK = this.matrix('wUK', this.kvLatent, hd); // W^UK: c^KV -> k^C
    this.wUV = this.matrix('wUV', this.kvLatent, hd); // W^UV: c^KV -> v^C
    this.wKR = this.matrix('wKR', d, this.ropeHeadDim); // W^KR: h -> k^R (shared by the heads)
    this.wO = this.matrix('wO', hd, d); // W^O
  }

  cacheElementsPerToken(): number {
    return cacheElementsPerToken(this.spec, this.dModel, 1);
  }

  /** The softmax scale 1/√(d_h + d_h^R) (V2 eq. 18). */
  get softmaxScale(): number {
    return 1 / Math.sqrt(this.headDim + this.ropeHeadDim);
  }

  /**
   * The intermediate tensors of V2 eqs. (9)-(15) for x [b, t, d] at positions 0..t-1, for
   * teaching: c^Q [b, t, d'_c], q^C [b, h, t, d_h], q^R [b, h, t, d_h^R], c^KV [b, t, d_c],
   * k^C [b, h, t, d_h], k^R [b, t, d_h^R], v^C [b, h, t, d_h]. The caller disposes them.
   */
  intermediates(x: tf.Tensor3D): Record<'cQ' | 'qC' | 'qR' | 'cKV' | 'kC' | 'kR' | 'vC', tf.Tensor> {
    this.ensureBuilt();
    this.checkInput(x, 0);
    const h = this.nHeads;
    return tf.tidy(() => {
      const cQ = linear(x, this.wDQ.read());
      const cKV = linear(x, this.wDKV.read());
      return {
        cQ,
        qC: splitHeads(linear(cQ, this.wUQ.read()), h),
        qR: applyRope(splitHeads(linear(cQ, this.wQR.read()), h), 0, this.ropeBase),
        cKV,
        kC: splitHeads(linear(cKV, this.wUK.read()), h),
        kR: tf.squeeze(applyRope(tf.expandDims(linear(x, this.wKR.read()), 1), 0, this.ropeBase), [1]),
        vC: splitHeads(linear(cKV, this.wUV.read()), h),
      };
    });
  }

  /**
   * The absorbed products, computed from the current weights:
   * wQ [d'_c, n_h·d_c] = W^UQ_i W^UK_iᵀ side by side (column i·d_c + c), so c^Q wQ is every head's
   * query in latent space; wOut [n_h·d_c, d] = W^UV_i W^O_i stacked (row i·d_c + c), so the mixed
   * latents [n_h, d_c] of one token, flattened, times wOut is the layer's output.
   * `keep`: cache them until the weights change (a tf.Variable's data id changes on every assign);
   * otherwise build them inline (differentiable) in the caller's tidy.
   */
  private absorbedWeights(keep: boolean): { wQ: tf.Tensor2D; wOut: tf.Tensor2D } {
    const vars = [this.wUQ, this.wUK, this.wUV, this.wO].map((w) => w.read());
    const from = vars.map((v) => v.dataId);
    const cached = this.absorbed;
    if (keep && cached && cached.from.every((id, i) => id === from[i])) return cached;
    const [h, dh, dc, dq, d] = [this.nHeads, this.headDim, this.kvLatent, this.qLatent, this.dModel];
    const [wUQ, wUK, wUV, wO] = vars as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const build = (): { wQ: tf.Tensor2D; wOut: tf.Tensor2D } => ({
      // [d'_c, h·dh] -> [h, d'_c, dh] times [dc, h·dh] -> [h, dh, dc] = [h, d'_c, dc] -> [d'_c, h, dc] -> [d'_c, h·dc]
      wQ: tf.reshape(tf.transpose(tf.matMul(tf.transpose(tf.reshape(wUQ, [dq, h, dh]), [1, 0, 2]), tf.transpose(tf.reshape(wUK, [dc, h, dh]), [1, 2, 0])), [1, 0, 2]), [dq, h * dc]),
      // [dc, h·dh] -> [h, dc, dh] times [h·dh, d] -> [h, dh, d] = [h, dc, d] -> [h·dc, d]
      wOut: tf.reshape(tf.matMul(tf.transpose(tf.reshape(wUV, [dc, h, dh]), [1, 0, 2]), tf.reshape(wO, [h, dh, d])), [h * dc, d]),
    });
    if (!keep) return build();
    if (cached) tf.dispose([cached.wQ, cached.wOut]);
    const fresh = tf.tidy(build);
    tf.keep(fresh.wQ);
    tf.keep(fresh.wOut);
    this.absorbed = { from, ...fresh };
    return fresh;
  }

  /**
   * A cache in this layer's layout from the latents in the teaching layout (as returned by
   * {@link intermediates}): c^KV [b, T, d_c] and k^R [b, T, d_h^R] (after RoPE) ->
   * `{ latent: [b, T, d_c + d_h^R] }`. The caller owns the result.
   */
  cacheFromLatents(cKV: tf.Tensor3D, kR: tf.Tensor3D): LayerCache {
    const [b, T, dc] = cKV.shape;
    if (dc !== this.kvLatent || kR.shape[2] !== this.ropeHeadDim || kR.shape[0] !== b || kR.shape[1] !== T) {
      throw new Error(`cKV must be [b, T, ${this.kvLatent}] and kR [b, T, ${this.ropeHeadDim}], got [${cKV.shape.join(', ')}] and [${kR.shape.join(', ')}]`);
    }
    return { length: T, tensors: { latent: tf.concat([cKV, kR], 2) } }; // [b, T, dc + dhR]
  }

  forward(x: tf.Tensor3D, past?: LayerCache, options: AttentionForwardOptions = {}): AttentionOutput {
    this.ensureBuilt();
    const start = past?.length ?? 0;
    this.checkInput(x, start);
    const [b, t] = x.shape;
    const T = start + t;
    const pad = this.checkPad(options.pad, b, T);
    const [h, dc, dr] = [this.nHeads, this.kvLatent, this.ropeHeadDim];
    const D = dc + dr;
    // The absorbed products, kept between decoding steps (before the tidy, so they outlive it).
    const absorbed = this.absorb && past ? this.absorbedWeights(true) : undefined;
    const out = tf.tidy(() => {
      // RoPE tables for the new tokens, [rows, t, half] with rows 1 (unpadded) or b (each row's positions).
      const ang = pad ? paddedPositions(b, t, start, pad) : Array.from({ length: t }, (_, j) => start + j);
      const rows = pad ? b : 1;
      const rope = (z: tf.Tensor, shape: number[]): tf.Tensor => {
        const { cos, sin } = ropeTables(ang, dr, this.ropeBase, shape);
        return rotateHalf(z, cos, sin);
      };
      const cQ = linear(x, this.wDQ.read()); // [b, t, d'_c]
      // [b, t, h·dhR] -> [b, t, h, dhR], rotated at each token's position
      const qR = rope(tf.reshape(linear(cQ, this.wQR.read()), [b, t, h, dr]), [rows, t, 1, dr / 2]) as tf.Tensor4D;
      const kR = rope(linear(x, this.wKR.read()), [rows, t, dr / 2]) as tf.Tensor3D; // [b, t, dhR], shared by the heads
      const fresh = tf.concat([linear(x, this.wDKV.read()), kR], 2); // the new tokens' entries [b, t, dc + dhR]
      const latent = past ? tf.concat<tf.Tensor3D>([past.tensors['latent'] as tf.Tensor3D, fresh], 1) : fresh; // [b, T, D]
      // Additive mask [rows, t, T] (none for one unpadded query, which sees every key).
      const maskData = pad ? paddedCausalMask(t, T, pad) : t > 1 ? (causalMask(t, T).dataSync() as Float32Array) : undefined;
      let y: tf.Tensor3D;
      if (!this.absorb) {
        const cKV = tf.slice(latent, [0, 0, 0], [b, T, dc]); // [b, T, dc]
        const kRAll = tf.slice(latent, [0, 0, dc], [b, T, dr]); // [b, T, dhR]
        const qC = splitHeads(linear(cQ, this.wUQ.read()), h); // [b, h, t, dh]
        const kC = splitHeads(linear(cKV, this.wUK.read()), h); // [b, T, h·dh] -> [b, h, T, dh]
        const vC = splitHeads(linear(cKV, this.wUV.read()), h); // [b, h, T, dh]
        const kRh = tf.tile(tf.expandDims(kRAll, 1), [1, h, 1, 1]); // [b, T, dhR] -> [b, h, T, dhR], shared by the heads
        const q = tf.concat([qC, tf.transpose(qR, [0, 2, 1, 3])], -1); // [b, h, t, dh + dhR]
        const k = tf.concat([kC, kRh], -1); // [b, h, T, dh + dhR]
        const mask = maskData ? tf.tensor4d(maskData, [rows, 1, t, T]) : undefined;
        const o = scaledDotProductAttention(q, k, vC, { scale: this.softmaxScale, causal: t > 1, ...(mask ? { mask } : {}) }) as tf.Tensor4D;
        y = linear(mergeHeads(o), this.wO.read()); // [b, h, t, dh] -> [b, t, h·dh] -> [b, t, d]
      } else {
        const { wQ, wOut } = absorbed ?? this.absorbedWeights(false);
        // Every head's query in latent space, next to its RoPE query: [b, t, h, dc + dhR] -> [b, t·h, D]
        const qAbs = tf.reshape(linear(cQ, wQ), [b, t, h, dc]); // [b, t, h·dc] -> [b, t, h, dc]
        const q = tf.reshape<tf.Rank.R3>(tf.concat([qAbs, qR], 3), [b, t * h, D]);
        // All heads' scores in one product against the cache as stored: [b, t·h, D] × [b, T, D]ᵀ -> [b, t·h, T]
        // (on wasm the product runs as (cache × qᵀ)ᵀ, copying q and the scores, not the cache:
        // lib/ops/wasm-matmul.ts, transposeBBySwap)
        let scores = tf.mul(tf.matMul(q, latent, false, true), this.softmaxScale);
        if (maskData) scores = tf.reshape(tf.add(tf.reshape(scores, [b, t, h, T]), tf.tensor4d(maskData, [rows, t, 1, T])), [b, t * h, T]);
        const p = tf.softmax(scores, -1); // [b, t·h, T]
        // The softmax mixes latents: [b, t·h, T] × [b, T, D] -> [b, t·h, D]; keep the c^KV part [b, t·h, dc]
        const mixed = tf.slice(tf.matMul(p, latent), [0, 0, 0], [b, t * h, dc]);
        // [b, t·h, dc] -> [b, t, h·dc]: row i·dc + c of wOut is W^UV_i W^O_i's row c
        y = linear(tf.reshape(mixed, [b, t, h * dc]), wOut);
      }
      return { y, latent };
    });
    return { y: out.y, cache: { length: T, tensors: { latent: out.latent } } };
  }

  /** Frees the weights and the kept absorbed products. */
  override dispose(): DisposeResult {
    if (this.absorbed) tf.dispose([this.absorbed.wQ, this.absorbed.wOut]);
    this.absorbed = undefined;
    return super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    const c: tf.serialization.ConfigDict = {
      ...super.getConfig(),
      nHeads: this.nHeads,
      qLatent: this.qLatent,
      kvLatent: this.kvLatent,
      ropeHeadDim: this.ropeHeadDim,
      absorb: this.absorb,
    };
    if (this.headDimArg !== undefined) c['headDim'] = this.headDimArg;
    return c;
  }
}
tf.serialization.registerClass(MultiHeadLatentAttention);
