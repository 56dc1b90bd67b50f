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
 * The cache holds only c^KV and k^R: (d_c + d_h^R) elements per token and layer.
 *
 * Two decoding paths, selected by `absorb`:
 * - naive: up-project the whole cached latent to per-head keys and values at every step
 *   (k^C = c^KV W^UK, v^C = c^KV W^UV), then attend as in MHA;
 * - absorbed: since q^Cᵀ k^C = (W^UK_iᵀ q_i^C)ᵀ c^KV, multiply each head's query by W^UK_iᵀ once
 *   (a d_c-vector per head) and score it against the cached latents directly; likewise attend over
 *   the latents and apply W^UV_i (and then W^O) to the d_c-vector the softmax mixes. No per-token
 *   keys or values are ever built. (The paper: "W^UK can be absorbed into W^UQ, and W^UV can be
 *   absorbed into W^O"; we apply W^UK to q^C and W^UV to the mixed latent, as DeepSeek-V3's
 *   inference code does, rather than multiplying the matrices together beforehand.)
 *
 * Differences from the released models, kept out for clarity: V2 also applies an RMSNorm to c^Q
 * and c^KV and uses YaRN to extend RoPE; the equations above do not.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import type { MlaSpec } from './config';
import { cacheElementsPerToken, resolveAttention } from './config';
import { AttentionBase, type AttentionBaseArgs, type AttentionOutput, type CausalAttention, linear, mergeHeads, splitHeads } from './common';
import type { LayerCache } from './kv-cache';
import { applyRope } from './rope';
import { causalMask, scaledDotProductAttention } from './sdpa';

/** Arguments of {@link MultiHeadLatentAttention}. */
export interface MultiHeadLatentAttentionArgs extends AttentionBaseArgs {
  /** Heads n_h. */
  nHeads: number;
  /** Per-head dimension d_h of the content part (default dModel / nHeads, which must divide evenly). */
  headDim?: number;
  /** Query latent dimension d'_c. */
  qLatent: number;
  /** KV latent dimension d_c (cached). */
  kvLatent: number;
  /** Decoupled RoPE dimension d_h^R per head (the shared cached key has d_h^R elements); even. */
  ropeHeadDim: number;
  /** Use weight absorption (default false: the naive path). Same result within float32 rounding. */
  absorb?: boolean;
}

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

  forward(x: tf.Tensor3D, past?: LayerCache): AttentionOutput {
    this.ensureBuilt();
    const start = past?.length ?? 0;
    this.checkInput(x, start);
    const [b, t] = x.shape;
    const h = this.nHeads;
    const dh = this.headDim;
    const dc = this.kvLatent;
    const out = tf.tidy(() => {
      const cQ = linear(x, this.wDQ.read()); // [b, t, d'_c]
      const qC = splitHeads(linear(cQ, this.wUQ.read()), h); // [b, h, t, dh]
      const qR = applyRope(splitHeads(linear(cQ, this.wQR.read()), h), start, this.ropeBase); // [b, h, t, dhR]
      let cKV = linear(x, this.wDKV.read()); // [b, t, dc]
      // [b, t, dhR] -> [b, 1, t, dhR] for RoPE at positions start.., stored back as [b, t, dhR]
      let kR: tf.Tensor3D = tf.squeeze(applyRope(tf.expandDims(linear(x, this.wKR.read()), 1), start, this.ropeBase), [1]);
      if (past) {
        cKV = tf.concat([past.tensors['cKV'] as tf.Tensor3D, cKV], 1); // [b, T, dc], T = start + t
        kR = tf.concat([past.tensors['kR'] as tf.Tensor3D, kR], 1); // [b, T, dhR]
      }
      const T = start + t;
      let o: tf.Tensor4D; // [b, h, t, dh]
      if (!this.absorb) {
        const kC = splitHeads(linear(cKV, this.wUK.read()), h); // [b, T, h·dh] -> [b, h, T, dh]
        const vC = splitHeads(linear(cKV, this.wUV.read()), h); // [b, h, T, dh]
        const kRh = tf.tile(tf.expandDims(kR, 1), [1, h, 1, 1]); // [b, T, dhR] -> [b, h, T, dhR], shared by the heads
        const q = tf.concat([qC, qR], -1); // [b, h, t, dh + dhR]
        const k = tf.concat([kC, kRh], -1); // [b, h, T, dh + dhR]
        o = scaledDotProductAttention(q, k, vC, { scale: this.softmaxScale }) as tf.Tensor4D;
      } else {
        // W^UK as [dc, h, dh] -> [h, dh, dc]; absorbed query q̃_i = W^UK_iᵀ q_i^C, a dc-vector per head.
        const wUK = tf.transpose(tf.reshape(this.wUK.read(), [dc, h, dh]), [1, 2, 0]); // [h, dh, dc]
        const qCh = tf.reshape(tf.transpose(qC, [1, 0, 2, 3]), [h, b * t, dh]); // [b, h, t, dh] -> [h, b·t, dh]
        const qAbs = tf.transpose(tf.reshape(tf.matMul(qCh, wUK), [h, b, t, dc]), [1, 0, 2, 3]); // [h, b·t, dc] -> [b, h, t, dc]
        // Scores against the cached latents and the shared RoPE key, all heads at once.
        const sC = tf.matMul(tf.reshape(qAbs, [b, h * t, dc]), cKV, false, true); // [b, h·t, T]
        const sR = tf.matMul(tf.reshape(qR, [b, h * t, this.ropeHeadDim]), kR, false, true); // [b, h·t, T]
        const scores = tf.add(tf.mul(tf.reshape(tf.add(sC, sR), [b, h, t, T]), this.softmaxScale), causalMask(t, T)); // [b, h, t, T]
        const p = tf.softmax(scores, -1);
        const mixed = tf.matMul(tf.reshape(p, [b, h * t, T]), cKV); // [b, h·t, dc]: the softmax mixes latents
        // W^UV as [dc, h, dh] -> [h, dc, dh]; o_i = W^UV_i (mixed latent of head i).
        const wUV = tf.transpose(tf.reshape(this.wUV.read(), [dc, h, dh]), [1, 0, 2]); // [h, dc, dh]
        const mixedH = tf.reshape(tf.transpose(tf.reshape(mixed, [b, h, t, dc]), [1, 0, 2, 3]), [h, b * t, dc]); // [h, b·t, dc]
        o = tf.transpose(tf.reshape(tf.matMul(mixedH, wUV), [h, b, t, dh]), [1, 0, 2, 3]); // [h, b·t, dh] -> [b, h, t, dh]
      }
      return { y: linear(mergeHeads(o), this.wO.read()), cKV, kR };
    });
    return { y: out.y, cache: { length: start + t, tensors: { cKV: out.cKV, kR: out.kR } } };
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
