/**
 * What every attention layer of the course shares: the base class (model width, context length,
 * RoPE base, seeded weights, the context check) and the interface the tiny LM calls.
 */
import * as tf from '@tensorflow/tfjs';
import type { DisposeResult, LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import { assertPositiveInteger } from '../assert';
import { Rng } from '../random';
import type { AttentionSpec } from './config';
import type { LayerCache } from './kv-cache';

/** What one call of an attention layer returns: the output and the cache extended by the new tokens. */
export interface AttentionOutput {
  /** Output [b, t, dModel]. */
  y: tf.Tensor3D;
  /** The past tokens' entries followed by the new ones. */
  cache: LayerCache;
}

/** Options of {@link CausalAttention.forward}. */
export interface AttentionForwardOptions {
  /**
   * Left padding of a batch of sequences of different lengths, one entry per batch row: row r's
   * first `pad[r]` token indices (counted over the cached and the new tokens) are padding. They are
   * masked out as keys, and row r's RoPE positions count from its first real token
   * (index j has position j - pad[r]), so a padded row computes what it computes alone. Pass the
   * same array at every step of one decoding run. Default: no padding.
   */
  pad?: readonly number[];
}

/**
 * RoPE positions of `t` new tokens after `start` cached ones, row-major `[b, t]`: index
 * start + j of row r has position start + j - pad[r] (0 for the padding tokens themselves,
 * whose keys are masked anyway).
 */
export function paddedPositions(b: number, t: number, start: number, pad: readonly number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < b; r++) for (let j = 0; j < t; j++) out.push(Math.max(0, start + j - (pad[r] ?? 0)));
  return out;
}

/** The interface every attention variant implements. */
export interface CausalAttention {
  /** The variant and its sizes. */
  readonly spec: AttentionSpec;
  /** Longest sequence (cached tokens + new tokens) the layer accepts. */
  readonly maxContext: number;
  /**
   * Attends from the new tokens `x` [b, t, dModel] (at positions past.length .. past.length+t-1)
   * to the past tokens and to themselves, causally. Runs in `tf.tidy`; the returned tensors are
   * the caller's (hand the cache to a {@link KvCache}, which disposes the old one).
   * `options.pad` left-pads a batch of sequences of different lengths.
   * @throws Error when past.length + t exceeds maxContext, x's width is not dModel, or a pad is
   *   not an integer in [0, past.length + t) (one per batch row).
   */
  forward(x: tf.Tensor3D, past?: LayerCache, options?: AttentionForwardOptions): AttentionOutput;
  /** Elements this layer caches per token (DeepSeek-V2 Table 1, one layer). */
  cacheElementsPerToken(): number;
}

/** Arguments every attention layer takes. */
export interface AttentionBaseArgs extends LayerArgs {
  /** Model width d (input and output features). */
  dModel: number;
  /** Longest sequence the layer accepts (cached + new tokens). */
  maxContext: number;
  /** RoPE base (default 10000, as RoFormer). */
  ropeBase?: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/** x [b, t, din] · w [din, dout] -> [b, t, dout]. */
export function linear(x: tf.Tensor3D, w: tf.Tensor): tf.Tensor3D {
  const [b, t, din] = x.shape;
  const dout = w.shape[1] as number;
  return tf.reshape(tf.matMul(tf.reshape(x, [b * t, din]), w as tf.Tensor2D), [b, t, dout]); // [b·t, din] -> [b, t, dout]
}

/** [b, t, h·dh] -> [b, h, t, dh] */
export function splitHeads(x: tf.Tensor3D, heads: number): tf.Tensor4D {
  const [b, t, hd] = x.shape;
  return tf.transpose(tf.reshape(x, [b, t, heads, hd / heads]), [0, 2, 1, 3]);
}

/** [b, h, t, dh] -> [b, t, h·dh] */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [b, h, t, dh] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * dh]);
}

/**
 * Disposes a layer's weights, whether or not it was ever applied (the course's layers are often
 * called through their own methods, which tf.layers.Layer.dispose does not count as a use).
 */
export function disposeLayerWeights(layer: tf.layers.Layer): DisposeResult {
  const ws = layer.weights;
  for (const w of ws) if (!(w as unknown as { val: tf.Variable }).val.isDisposed) w.dispose(); // val: LayerVariable's tf.Variable
  return { refCountAfterDispose: 0, numDisposedVariables: ws.length };
}

/** Base class: sizes, seeded initialisers and checks shared by the attention layers. */
export abstract class AttentionBase extends tf.layers.Layer {
  readonly dModel: number;
  readonly maxContext: number;
  readonly ropeBase: number;
  readonly seed: number;

  constructor(args: AttentionBaseArgs) {
    super(args);
    assertPositiveInteger(args.dModel, 'dModel');
    assertPositiveInteger(args.maxContext, 'maxContext');
    const ropeBase = args.ropeBase ?? 10000;
    if (!(ropeBase > 1)) throw new Error(`ropeBase must be > 1, got ${ropeBase}`);
    const seed = args.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    this.dModel = args.dModel;
    this.maxContext = args.maxContext;
    this.ropeBase = ropeBase;
    this.seed = seed;
  }

  /** A weight [fanIn, fanOut] drawn from N(0, 1/fanIn), seeded by the layer's seed and the weight's name. */
  protected matrix(name: string, fanIn: number, fanOut: number): LayerVariable {
    const seed = new Rng(this.seed).fork(name).tfSeed();
    const init = tf.initializers.randomNormal({ mean: 0, stddev: 1 / Math.sqrt(fanIn), seed });
    return this.addWeight(name, [fanIn, fanOut], 'float32', init);
  }

  /** Builds the weights now if `apply` has not. */
  protected ensureBuilt(): void {
    if (!this.built) {
      this.build([null, null, this.dModel]);
      this.built = true;
    }
  }

  /**
   * Checks x's width and that the sequence fits the context.
   * @throws Error `decoding past the context: ...` or naming x's width.
   */
  protected checkInput(x: tf.Tensor3D, pastLength: number): void {
    if (x.rank !== 3 || x.shape[2] !== this.dModel) throw new Error(`x must be [batch, tokens, ${this.dModel}], got [${x.shape.join(', ')}]`);
    const end = pastLength + x.shape[1];
    if (end > this.maxContext) {
      throw new Error(`decoding past the context: ${pastLength} cached + ${x.shape[1]} new tokens = ${end} > maxContext ${this.maxContext}`);
    }
  }

  /**
   * Checks `pad` (one entry per batch row, each an integer in [0, end)) and returns it, or
   * undefined when there is no padding (absent or all zeros), so the unpadded path runs unchanged.
   * @throws Error naming pad and the value.
   */
  protected checkPad(pad: readonly number[] | undefined, batch: number, end: number): readonly number[] | undefined {
    if (pad === undefined) return undefined;
    if (pad.length !== batch) throw new Error(`pad must hold one entry per batch row (${batch}), got ${pad.length}`);
    pad.forEach((p, r) => {
      if (!(Number.isInteger(p) && p >= 0 && p < end)) throw new Error(`pad[${r}] must be an integer in [0, ${end}), got ${p}`);
    });
    return pad.some((p) => p > 0) ? pad : undefined;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  /** The full causal forward pass of x [b, t, dModel] without a cache. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    return tf.tidy(() => this.forward(x).y);
  }

  abstract forward(x: tf.Tensor3D, past?: LayerCache, options?: AttentionForwardOptions): AttentionOutput;

  /** Frees the weights (the layer need not have been applied, unlike tf.layers.Layer.dispose). */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dModel: this.dModel, maxContext: this.maxContext, ropeBase: this.ropeBase, seed: this.seed };
  }
}
