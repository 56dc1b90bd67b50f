/**
 * A tiny decoder-only language model: token embedding, `nLayers` pre-norm blocks
 * (x + Attn(RMSNorm(x)), then x + FFN(RMSNorm(x))), a final RMSNorm and an output head.
 * Attention is any variant of lib/attention (MHA, GQA, MQA, MLA); the FFN is a dense SwiGLU or
 * any registered tfjs layer mapping [b, t, d] to [b, t, d] (for example an MoE layer).
 *
 * API summary (all tensor-returning methods run in tf.tidy; returned tensors are the caller's):
 *
 *   const lm = new TinyLM({ vocabSize, dModel, nLayers, attention, ffn, maxContext, seed });
 *   lm.logits(ids, { pad })      // ids int32 [b, t] -> logits [b, t, V] (full causal pass, no cache;
 *                                // pad: left padding per row, for rows of different lengths)
 *   lm.tokenLogProbs(ids)        // ids [b, t] -> [b, t-1]: log p(ids[:, i+1] | ids[:, ..i]); differentiable
 *   lm.loss(batch)               // batch [b, t+1] -> scalar mean next-token cross-entropy (nats) + aux losses
 *                                // (a training call: an MoE FFN gets { training: true })
 *   lm.crossEntropy(batch)       // the same without aux losses, not a training call (evaluation)
 *   lm.trainStep(opt, batch)     // one optimiser step on lm.loss; returns the loss as a number
 *   const cache = lm.newCache(); // a KvCache for incremental decoding (newCache(pad) for left-padded rows)
 *   lm.decodeStep(ids, cache)    // ids [b, tNew] -> logits [b, tNew, V]; appends to cache (prefill: tNew = prompt)
 *   lm.generate(prompts, { maxNewTokens, temperature, topK, seed, rowSeeds })
 *                                // batched seeded sampling; prompts number[][] of any lengths (left-padded,
 *                                // masked); returns { sequences, completions } as number[][]
 *   lm.trainableVariables()      // the tf.Variables, for optimizer.minimize / tf.variableGrads
 *   lm.countParams(), lm.countActiveParams(), lm.cacheElementsPerToken(), lm.setAbsorb(b), lm.dispose()
 *
 * Errors name the argument and value: an id outside [0, V) in a prompt ("unknown token: ..."),
 * an empty prompt, sequences longer than maxContext ("decoding past the context: ..."),
 * temperature < 0, topK outside [1, V]. Tensor ids passed to logits/decodeStep are not checked
 * (that would read them back); validate them yourself, or encode with CharTokenizer.
 *
 * Policy-gradient use: `tf.variableGrads(() => tf.neg(tf.sum(tf.mul(lm.tokenLogProbs(ids), adv))), lm.trainableVariables())`.
 */
import * as tf from '@tensorflow/tfjs';
import type { DisposeResult, LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import { assertPositiveInteger } from '../assert';
import { type CausalAttention, disposeLayerWeights } from '../attention/common';
import { type AttentionSpec, cacheElementsPerToken, resolveAttention } from '../attention/config';
import { KvCache } from '../attention/kv-cache';
import { attentionLayer } from '../attention/layer';
import { moeParams } from '../moe/flops';
import { MoE } from '../moe/layer';
import { Rng } from '../random';
import { Linear, RmsNorm, SwiGluFeedForward, TokenEmbedding } from './layers';
import { checkSamplingOptions, type SamplingOptions, sampleToken } from './sampling';

/** The feed-forward of each block. */
export type FfnSpec =
  | {
      /** Dense SwiGLU. */
      kind: 'dense';
      /** Hidden units (3 · d · hidden weights per block). */
      hidden: number;
    }
  | {
      /** Any tfjs layer registered with tf.serialization.registerClass, mapping [b, t, d] -> [b, t, d]. */
      kind: 'layer';
      /** Its registered class name, e.g. the MoE layer's. */
      className: string;
      /** Its config; a numeric `seed` field is offset by the block index so blocks differ. */
      config: tf.serialization.ConfigDict;
    };

/** The configuration of a {@link TinyLM}. */
export interface TinyLmConfig {
  /** Tokens in the vocabulary V (73 for Alice at character level). */
  vocabSize: number;
  /** Residual width d. */
  dModel: number;
  /** Decoder blocks l. */
  nLayers: number;
  /** Attention variant and its sizes (MHA, GQA, MQA or MLA; see lib/attention/config.ts). */
  attention: AttentionSpec;
  /** Feed-forward of each block: dense SwiGLU, or a registered layer such as the MoE layer. */
  ffn: FfnSpec;
  /** Context length: the most tokens one sequence may hold (prompt + generated). */
  maxContext: number;
  /** RoPE base (default 10000). */
  ropeBase?: number;
  /** RMSNorm epsilon (default 1e-6). */
  normEps?: number;
  /** Seed of all initial weights. */
  seed: number;
}

/** Options of {@link TinyLM.generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate per prompt. */
  maxNewTokens: number;
  /** Seed of the sampling draws (default 0); ignored when `rng` is given. */
  seed?: number;
  /** The generator to draw from (default `new Rng(seed)`). */
  rng?: Rng;
  /** Decode with the KV cache (default true); false recomputes the whole sequence at each step. */
  useCache?: boolean;
  /**
   * One seed per prompt: row r then draws from its own `new Rng(rowSeeds[r])`, so its tokens do not
   * depend on the other prompts of the batch (generating prompt r alone with `rowSeeds: [rowSeeds[r]]`
   * gives the same tokens). Without it, all rows share one stream (`rng` or `new Rng(seed)`), drawn
   * step by step, row by row: the same seed then gives the same batch, but a row's tokens depend
   * on its batch-mates (except at temperature 0, which draws nothing). Not together with `rng`.
   */
  rowSeeds?: readonly number[];
}

/** What {@link TinyLM.generate} returns. */
export interface GenerateResult {
  /** Prompt followed by the generated tokens, one row per prompt. */
  sequences: number[][];
  /** The generated tokens only. */
  completions: number[][];
}

/**
 * An FFN layer with its own forward pass that also returns an auxiliary loss, such as the MoE
 * layer of lib/moe (`forward(x, { training })` -> `{ output, auxLoss }`). The block calls it
 * instead of `apply` when present, and adds `auxLoss` to the training loss.
 */
interface FfnWithAux {
  forward(x: tf.Tensor, options: { training?: boolean }): { output: tf.Tensor; auxLoss?: tf.Scalar | null };
}

function hasAuxForward(layer: tf.layers.Layer): boolean {
  return typeof (layer as unknown as Partial<FfnWithAux>).forward === 'function';
}

/** One pre-norm decoder block: x + Attn(RMSNorm(x)), then x + FFN(RMSNorm(x)). */
export class DecoderBlock extends tf.layers.Layer {
  static className = 'DecoderBlock';
  readonly norm1: RmsNorm;
  readonly attention: CausalAttention & tf.layers.Layer;
  readonly norm2: RmsNorm;
  readonly ffn: tf.layers.Layer;
  private readonly blockConfig: { dModel: number; attention: AttentionSpec; ffn: FfnSpec; maxContext: number; ropeBase: number; normEps: number; seed: number };

  /** @param args the block's sizes (see {@link TinyLmConfig}) plus its own seed. */
  constructor(args: LayerArgs & { dModel: number; attention: AttentionSpec; ffn: FfnSpec; maxContext: number; ropeBase?: number; normEps?: number; seed: number }) {
    super(args);
    const rng = new Rng(args.seed);
    const ropeBase = args.ropeBase ?? 10000;
    const normEps = args.normEps ?? 1e-6;
    this.blockConfig = { dModel: args.dModel, attention: args.attention, ffn: args.ffn, maxContext: args.maxContext, ropeBase, normEps, seed: args.seed };
    this.norm1 = new RmsNorm({ dModel: args.dModel, epsilon: normEps });
    this.attention = attentionLayer(args.attention, { dModel: args.dModel, maxContext: args.maxContext, ropeBase, seed: rng.tfSeed() });
    this.norm2 = new RmsNorm({ dModel: args.dModel, epsilon: normEps });
    this.ffn = makeFfn(args.ffn, args.dModel, rng.tfSeed());
    for (const l of [this.norm1, this.attention, this.norm2, this.ffn]) {
      l.build([null, null, args.dModel]);
      l.built = true;
    }
    this.built = true;
  }

  /** The sublayers' weights, in a fixed order. */
  override get trainableWeights(): LayerVariable[] {
    return [this.norm1, this.attention, this.norm2, this.ffn].flatMap((l) => l.trainableWeights);
  }
  override set trainableWeights(_w: LayerVariable[]) {
    // The weights live in the sublayers.
  }
  override get nonTrainableWeights(): LayerVariable[] {
    return [this.norm1, this.attention, this.norm2, this.ffn].flatMap((l) => l.nonTrainableWeights);
  }
  override set nonTrainableWeights(_w: LayerVariable[]) {
    // The weights live in the sublayers.
  }

  /**
   * x [b, t, d] with the layer's cache (or none) -> [b, t, d]; updates `cache` layer `index` when
   * given. `training` is passed to an FFN with its own forward pass (MoE: noise, bias updates).
   * `pad`: left padding per batch row (see AttentionForwardOptions.pad).
   */
  forward(x: tf.Tensor3D, cache?: KvCache, index = 0, training = false, pad?: readonly number[]): { y: tf.Tensor3D; aux?: tf.Scalar } {
    return tf.tidy((): { y: tf.Tensor3D; aux?: tf.Scalar } => {
      const a = this.attention.forward(this.norm1.apply(x) as tf.Tensor3D, cache?.get(index), pad ? { pad } : {});
      if (cache) cache.set(index, a.cache);
      const h: tf.Tensor3D = tf.add(x, a.y);
      const hn = this.norm2.apply(h) as tf.Tensor3D;
      if (hasAuxForward(this.ffn)) {
        const f = (this.ffn as unknown as FfnWithAux).forward(hn, { training });
        const y: tf.Tensor3D = tf.add(h, f.output);
        return f.auxLoss ? { y, aux: f.auxLoss } : { y };
      }
      return { y: tf.add<tf.Tensor3D>(h, this.ffn.apply(hn) as tf.Tensor3D) };
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    return tf.tidy(() => this.forward(x).y);
  }

  /** Frees the sublayers' weights. */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.blockConfig as unknown as tf.serialization.ConfigDict) };
  }
}
tf.serialization.registerClass(DecoderBlock);

/** Builds a block's FFN from its spec. */
function makeFfn(spec: FfnSpec, dModel: number, seed: number): tf.layers.Layer {
  if (spec.kind === 'dense') return new SwiGluFeedForward({ dModel, hidden: spec.hidden, seed });
  if (spec.kind === 'layer') {
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
    if (!entry) throw new Error(`ffn.className ${JSON.stringify(spec.className)} is not a registered tfjs class (import its module first)`);
    const [cls, fromConfig] = entry;
    const config = { ...spec.config };
    if (typeof config['seed'] === 'number') config['seed'] = config['seed'] + seed;
    return fromConfig(cls, config) as unknown as tf.layers.Layer;
  }
  throw new Error(`ffn.kind must be 'dense' or 'layer', got ${JSON.stringify((spec as { kind: unknown }).kind)}`);
}

/** Validates a {@link TinyLmConfig}, naming the field. */
function checkConfig(c: TinyLmConfig): void {
  assertPositiveInteger(c.vocabSize, 'vocabSize');
  assertPositiveInteger(c.dModel, 'dModel');
  assertPositiveInteger(c.nLayers, 'nLayers');
  assertPositiveInteger(c.maxContext, 'maxContext');
  if (!Number.isSafeInteger(c.seed)) throw new Error(`seed must be an integer, got ${c.seed}`);
  resolveAttention(c.attention, c.dModel);
  if (c.ffn.kind === 'dense') assertPositiveInteger(c.ffn.hidden, 'ffn.hidden');
}

/** The tiny decoder-only LM (see the file comment for the API). */
export class TinyLM extends tf.layers.Layer {
  static className = 'TinyLM';
  readonly config: TinyLmConfig;
  readonly embedding: TokenEmbedding;
  readonly blocks: DecoderBlock[];
  readonly finalNorm: RmsNorm;
  readonly head: Linear;

  /** @throws Error naming the config field that is invalid. */
  constructor(config: TinyLmConfig & LayerArgs) {
    const { vocabSize, dModel, nLayers, attention, ffn, maxContext, ropeBase, normEps, seed, ...layerArgs } = config;
    super(layerArgs);
    this.config = { vocabSize, dModel, nLayers, attention, ffn, maxContext, ropeBase, normEps, seed };
    checkConfig(this.config);
    const rng = new Rng(seed);
    this.embedding = new TokenEmbedding({ vocabSize, dModel, seed: rng.tfSeed() });
    this.embedding.build();
    this.embedding.built = true;
    this.blocks = Array.from({ length: nLayers }, () => new DecoderBlock({ dModel, attention, ffn, maxContext, ropeBase, normEps, seed: rng.tfSeed() }));
    this.finalNorm = new RmsNorm({ dModel, epsilon: normEps });
    this.head = new Linear({ inputs: dModel, outputs: vocabSize, seed: rng.tfSeed() });
    for (const l of [this.finalNorm, this.head]) {
      l.build();
      l.built = true;
    }
    this.built = true;
  }

  private get sublayers(): tf.layers.Layer[] {
    return [this.embedding, ...this.blocks, this.finalNorm, this.head];
  }
  override get trainableWeights(): LayerVariable[] {
    return this.sublayers.flatMap((l) => l.trainableWeights);
  }
  override set trainableWeights(_w: LayerVariable[]) {
    // The weights live in the sublayers.
  }
  override get nonTrainableWeights(): LayerVariable[] {
    return this.sublayers.flatMap((l) => l.nonTrainableWeights);
  }
  override set nonTrainableWeights(_w: LayerVariable[]) {
    // The weights live in the sublayers.
  }

  /** The trainable tf.Variables, for `optimizer.minimize(f, true, lm.trainableVariables())`. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /**
   * Parameters one token uses: all of them for dense FFNs; for an MoE FFN (lib/moe), the routed
   * experts a token does not choose are left out (`moeParams(...).total - .active` per block).
   */
  countActiveParams(): number {
    let inactive = 0;
    for (const b of this.blocks) {
      const cfg = (b.ffn as unknown as { cfg?: { experts: number; topK: number; expertHidden: number; sharedExperts: number; sharedHidden: number; useBias: boolean } }).cfg;
      if (b.ffn instanceof MoE && cfg) {
        const p = moeParams({ units: this.config.dModel, experts: cfg.experts, topK: cfg.topK, expertHidden: cfg.expertHidden, sharedExperts: cfg.sharedExperts, sharedHidden: cfg.sharedHidden }, cfg.useBias);
        inactive += p.total - p.active;
      }
    }
    return this.countParams() - inactive;
  }

  /** Elements the KV cache holds per token for the whole model (DeepSeek-V2 Table 1). */
  cacheElementsPerToken(): number {
    return cacheElementsPerToken(this.config.attention, this.config.dModel, this.config.nLayers);
  }

  /** Switches MLA decoding between the naive and the absorbed path (no effect for other variants). */
  setAbsorb(absorb: boolean): void {
    for (const b of this.blocks) if ('absorb' in b.attention) (b.attention as { absorb: boolean }).absorb = absorb;
  }

  /**
   * A new, empty cache for incremental decoding. Dispose it when done. `pad`: left padding of each
   * batch row, for prompts of different lengths (row r's first pad[r] tokens are padding).
   */
  newCache(pad?: readonly number[]): KvCache {
    return new KvCache(this.config.nLayers, this.config.maxContext, pad);
  }

  /** Logits and summed auxiliary loss of ids [b, t], with or without a cache (whose padding applies). */
  private run(ids: tf.Tensor2D, cache?: KvCache, training = false, pad = cache?.pad): { logits: tf.Tensor3D; aux?: tf.Scalar } {
    if (ids.rank !== 2) throw new Error(`ids must be [batch, tokens], got shape [${ids.shape.join(', ')}]`);
    const past = cache?.length ?? 0;
    if (past + ids.shape[1] > this.config.maxContext) {
      throw new Error(`decoding past the context: ${past} cached + ${ids.shape[1]} new tokens = ${past + ids.shape[1]} > maxContext ${this.config.maxContext}`);
    }
    return tf.tidy((): { logits: tf.Tensor3D; aux?: tf.Scalar } => {
      let x = this.embedding.apply(ids) as tf.Tensor3D;
      let aux: tf.Scalar | undefined;
      this.blocks.forEach((b, i) => {
        const r = b.forward(x, cache, i, training, pad);
        x = r.y;
        if (r.aux) aux = aux ? tf.add<tf.Scalar>(aux, r.aux) : r.aux;
      });
      const logits = this.head.apply(this.finalNorm.apply(x)) as tf.Tensor3D;
      return aux ? { logits, aux } : { logits };
    });
  }

  /**
   * ids int32 [b, t] -> logits [b, t, V], the full causal pass without a cache. `options.pad`: row
   * r's first pad[r] ids are left padding (masked; positions count from the first real token).
   */
  logits(ids: tf.Tensor2D, options: { pad?: readonly number[] } = {}): tf.Tensor3D {
    return tf.tidy(() => this.run(ids, undefined, false, options.pad).logits);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.logits((Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D);
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return [...(s as tf.Shape), this.config.vocabSize];
  }

  /**
   * Per-token log-probabilities of the given sequences: ids [b, t] -> [b, t-1], entry [i, j] =
   * log p(ids[i, j+1] | ids[i, 0..j]). Differentiable in the weights (for policy gradients).
   * @throws Error when t < 2.
   */
  tokenLogProbs(ids: tf.Tensor2D): tf.Tensor2D {
    const [b, t] = ids.shape;
    if (!(t >= 2)) throw new Error(`ids must hold at least 2 tokens per row, got ${t}`);
    return tf.tidy(() => {
      const input = tf.slice(ids, [0, 0], [b, t - 1]);
      const target = tf.slice(ids, [0, 1], [b, t - 1]);
      const logp = tf.logSoftmax(this.logits(input), -1); // [b, t-1, V]
      return tf.sum<tf.Tensor2D>(tf.mul(logp, tf.oneHot(tf.cast(target, 'int32'), this.config.vocabSize)), -1); // [b, t-1]
    });
  }

  /**
   * Mean next-token cross-entropy (nats per token) of batch [b, t+1] (inputs are the first t
   * tokens, targets the last t), plus the FFN layers' auxiliary losses if any.
   */
  loss(batch: tf.Tensor2D): tf.Scalar {
    const [b, t1] = batch.shape;
    if (!(t1 >= 2)) throw new Error(`batch must hold at least 2 tokens per row, got ${t1}`);
    return tf.tidy(() => {
      const input = tf.slice(batch, [0, 0], [b, t1 - 1]);
      const target = tf.slice(batch, [0, 1], [b, t1 - 1]);
      const { logits, aux } = this.run(input, undefined, true);
      const logp = tf.logSoftmax(logits, -1);
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(tf.cast(target, 'int32'), this.config.vocabSize)), -1))) as tf.Scalar;
      return aux ? tf.add<tf.Scalar>(ce, aux) : ce;
    });
  }

  /** Cross-entropy only (no auxiliary losses), for evaluation: mean nats per token of batch [b, t+1]. */
  crossEntropy(batch: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(this.tokenLogProbs(batch))) as tf.Scalar);
  }

  /**
   * One optimiser step on {@link loss}; gradients are disposed. Returns the loss before the step.
   */
  trainStep(optimizer: tf.Optimizer, batch: tf.Tensor2D): number {
    const loss = optimizer.minimize(() => this.loss(batch), true, this.trainableVariables());
    const v = loss ? (loss.dataSync()[0] as number) : Number.NaN;
    loss?.dispose();
    return v;
  }

  /**
   * Feeds ids [b, tNew] after the tokens already in `cache`, appending their keys/values (or
   * latents); returns logits [b, tNew, V]. The first call (empty cache) is the prefill.
   * @throws Error `decoding past the context: ...` when the cache would exceed maxContext.
   */
  decodeStep(ids: tf.Tensor2D, cache: KvCache): tf.Tensor3D {
    return tf.tidy(() => this.run(ids, cache).logits);
  }

  /**
   * Samples `maxNewTokens` tokens after each prompt, seeded, with temperature and top-k, all rows
   * in one batch. Prompts may have different lengths: shorter ones are left-padded (with token 0)
   * to the longest, and the padding is masked out as keys and skipped by RoPE's positions, so each
   * row computes what it computes alone (up to float rounding). The padding's cache entries are
   * held too (the cache holds longest-prompt + new tokens per row). Seeds: see
   * {@link GenerateOptions.rowSeeds}. With an MoE FFN that drops tokens over capacity, padding
   * tokens compete for expert slots like any batch-mate.
   * @throws Error when there are no prompts, a prompt is empty, an id is outside [0, V), the
   *   longest sequence would exceed maxContext, a sampling option is invalid, or rowSeeds is not
   *   one integer per prompt.
   */
  generate(prompts: readonly (readonly number[])[], options: GenerateOptions): GenerateResult {
    const V = this.config.vocabSize;
    assertPositiveInteger(options.maxNewTokens, 'maxNewTokens');
    checkSamplingOptions(options, V);
    if (prompts.length === 0) throw new Error('prompts must hold at least one prompt, got none');
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new Error(`prompts[${i}] is empty: every prompt needs at least one token`);
      p.forEach((id, j) => {
        if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`unknown token: prompts[${i}][${j}] must be an integer in [0, ${V}), got ${id}`);
      });
    });
    const lengths = prompts.map((p) => p.length);
    const tMax = Math.max(...lengths);
    if (tMax + options.maxNewTokens > this.config.maxContext) {
      throw new Error(`decoding past the context: ${tMax} prompt + ${options.maxNewTokens} new tokens = ${tMax + options.maxNewTokens} > maxContext ${this.config.maxContext}`);
    }
    const b = prompts.length;
    const rowSeeds = options.rowSeeds;
    if (rowSeeds !== undefined) {
      if (options.rng) throw new Error('give either rng or rowSeeds, not both');
      if (rowSeeds.length !== b) throw new Error(`rowSeeds must hold one seed per prompt (${b}), got ${rowSeeds.length}`);
      rowSeeds.forEach((s, i) => {
        if (!Number.isSafeInteger(s)) throw new Error(`rowSeeds[${i}] must be an integer, got ${s}`);
      });
    }
    const shared = options.rng ?? new Rng(options.seed ?? 0);
    const rngs = rowSeeds ? rowSeeds.map((s) => new Rng(s)) : prompts.map(() => shared);
    // Left padding: row r starts with pad[r] tokens 0, masked out (undefined when all lengths agree).
    const padArr = lengths.map((n) => tMax - n);
    const pad = padArr.some((p) => p > 0) ? padArr : undefined;
    const rows = prompts.map((p, r) => [...Array<number>(padArr[r] ?? 0).fill(0), ...p]); // [b][tMax + generated]
    const useCache = options.useCache ?? true;
    const cache = useCache ? this.newCache(pad) : undefined;
    try {
      let feed: number[][] = rows.map((s) => [...s]);
      for (let step = 0; step < options.maxNewTokens; step++) {
        const tIn = feed[0]?.length ?? 0;
        const last = tf.tidy(() => {
          const ids = tf.tensor2d(feed.flat(), [b, tIn], 'int32');
          const logits = cache ? this.decodeStep(ids, cache) : this.logits(ids, pad ? { pad } : {});
          return tf.reshape(tf.slice(logits, [0, tIn - 1, 0], [b, 1, V]), [b, V]); // last position's logits
        });
        const vals = last.dataSync();
        last.dispose();
        for (let i = 0; i < b; i++) (rows[i] as number[]).push(sampleToken(vals.subarray(i * V, (i + 1) * V), options, rngs[i] as Rng));
        feed = cache ? rows.map((s) => [s[s.length - 1] as number]) : rows.map((s) => [...s]);
      }
    } finally {
      cache?.dispose();
    }
    const sequences = rows.map((s, r) => s.slice(padArr[r]));
    return { sequences, completions: sequences.map((s, r) => s.slice(lengths[r])) };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.config as unknown as tf.serialization.ConfigDict) };
  }

  /** Disposes every weight. */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }
}
tf.serialization.registerClass(TinyLM);
