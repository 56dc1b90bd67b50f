/**
 * The small layers of the tiny LM: token embedding, RMSNorm, a linear map, and the dense SwiGLU
 * feed-forward. Each is a complete tfjs layer acting on [b, t, d] (embedding: [b, t] ids).
 */
import * as tf from '@tensorflow/tfjs';
import type { DisposeResult, LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Initializer } from '@tensorflow/tfjs-layers/dist/initializers';
import type { LayerVariable } from '@tensorflow/tfjs-layers/dist/variables';
import { assertPositiveInteger } from '../assert';
import { disposeLayerWeights, linear } from '../attention/common';
import { Rng } from '../random';

/** A seeded N(0, std²) initialiser. */
function normalInit(seed: number, label: string, std: number): Initializer {
  return tf.initializers.randomNormal({ mean: 0, stddev: std, seed: new Rng(seed).fork(label).tfSeed() });
}

function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  return seed;
}

/** Arguments of {@link TokenEmbedding}. */
export interface TokenEmbeddingArgs extends LayerArgs {
  /** Tokens V. */
  vocabSize: number;
  /** Embedding width d. */
  dModel: number;
  /** Seed of the initial table, N(0, 1) (default 0). */
  seed?: number;
}

/** Token ids [b, t] (int32) -> vectors [b, t, d]. */
export class TokenEmbedding extends tf.layers.Layer {
  static className = 'TokenEmbedding';
  readonly vocabSize: number;
  readonly dModel: number;
  readonly seed: number;
  private table!: LayerVariable;

  constructor(args: TokenEmbeddingArgs) {
    super(args);
    assertPositiveInteger(args.vocabSize, 'vocabSize');
    assertPositiveInteger(args.dModel, 'dModel');
    this.vocabSize = args.vocabSize;
    this.dModel = args.dModel;
    this.seed = checkSeed(args.seed ?? 0);
  }

  override build(): void {
    this.table = this.addWeight('table', [this.vocabSize, this.dModel], 'float32', normalInit(this.seed, 'table', 1));
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return [...(s as tf.Shape), this.dModel];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const ids = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
    if (!this.built) {
      this.build();
      this.built = true;
    }
    return tf.tidy(() => {
      const [b, t] = ids.shape;
      // A one-hot matmul rather than tf.gather: gather's gradient (UnsortedSegmentSum) has no WASM
      // kernel in tfjs 4.22, and with a vocabulary of ~100 the matmul costs little.
      const oneHot = tf.oneHot(tf.reshape(tf.cast(ids, 'int32'), [b * t]), this.vocabSize); // [b·t, V]
      return tf.reshape(tf.matMul(tf.cast(oneHot, 'float32'), this.table.read() as tf.Tensor2D), [b, t, this.dModel]); // [b·t, d] -> [b, t, d]
    });
  }

  /** Frees the weights (the layer need not have been applied). */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), vocabSize: this.vocabSize, dModel: this.dModel, seed: this.seed };
  }
}
tf.serialization.registerClass(TokenEmbedding);

/** Arguments of {@link RmsNorm}. */
export interface RmsNormArgs extends LayerArgs {
  /** Features d (the last axis). */
  dModel: number;
  /** Added to the mean square (default 1e-6). */
  epsilon?: number;
}

/** RMSNorm (Zhang & Sennrich 2019): x / √(mean(x²) + ε) · g, over the last axis; g starts at 1. */
export class RmsNorm extends tf.layers.Layer {
  static className = 'RmsNorm';
  readonly dModel: number;
  readonly epsilon: number;
  private gain!: LayerVariable;

  constructor(args: RmsNormArgs) {
    super(args);
    assertPositiveInteger(args.dModel, 'dModel');
    const eps = args.epsilon ?? 1e-6;
    if (!(eps > 0)) throw new Error(`epsilon must be > 0, got ${eps}`);
    this.dModel = args.dModel;
    this.epsilon = eps;
  }

  override build(): void {
    this.gain = this.addWeight('gain', [this.dModel], 'float32', tf.initializers.ones());
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    if (!this.built) {
      this.build();
      this.built = true;
    }
    return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), this.epsilon))), this.gain.read()));
  }

  /** Frees the weights (the layer need not have been applied). */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dModel: this.dModel, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(RmsNorm);

/** Arguments of {@link Linear}. */
export interface LinearArgs extends LayerArgs {
  /** Input features. */
  inputs: number;
  /** Output features. */
  outputs: number;
  /** Standard deviation of the initial weights (default 1/√inputs). */
  initStd?: number;
  /** Seed (default 0). */
  seed?: number;
}

/** x [b, t, in] -> x W [b, t, out], no bias. */
export class Linear extends tf.layers.Layer {
  static className = 'Linear';
  readonly inputs: number;
  readonly outputs: number;
  readonly initStd: number;
  readonly seed: number;
  private kernel!: LayerVariable;

  constructor(args: LinearArgs) {
    super(args);
    assertPositiveInteger(args.inputs, 'inputs');
    assertPositiveInteger(args.outputs, 'outputs');
    this.inputs = args.inputs;
    this.outputs = args.outputs;
    this.initStd = args.initStd ?? 1 / Math.sqrt(args.inputs);
    this.seed = checkSeed(args.seed ?? 0);
  }

  override build(): void {
    this.kernel = this.addWeight('kernel', [this.inputs, this.outputs], 'float32', normalInit(this.seed, 'kernel', this.initStd));
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return [...(s as tf.Shape).slice(0, -1), this.outputs];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    if (!this.built) {
      this.build();
      this.built = true;
    }
    return tf.tidy(() => linear(x, this.kernel.read()));
  }

  /** Frees the weights (the layer need not have been applied). */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), inputs: this.inputs, outputs: this.outputs, initStd: this.initStd, seed: this.seed };
  }
}
tf.serialization.registerClass(Linear);

/** Arguments of {@link SwiGluFeedForward}. */
export interface SwiGluFeedForwardArgs extends LayerArgs {
  /** Model width d. */
  dModel: number;
  /** Hidden units (the SwiGLU has 3 · d · hidden weights). */
  hidden: number;
  /** Seed (default 0). */
  seed?: number;
}

/**
 * The dense feed-forward of Llama and of DeepSeek's experts (Shazeer 2020, "GLU variants"):
 * FFN(x) = (SiLU(x W1) ⊙ x W3) W2, [b, t, d] -> [b, t, d].
 */
export class SwiGluFeedForward extends tf.layers.Layer {
  static className = 'SwiGluFeedForward';
  readonly dModel: number;
  readonly hidden: number;
  readonly seed: number;
  private w1!: LayerVariable;
  private w3!: LayerVariable;
  private w2!: LayerVariable;

  constructor(args: SwiGluFeedForwardArgs) {
    super(args);
    assertPositiveInteger(args.dModel, 'dModel');
    assertPositiveInteger(args.hidden, 'hidden');
    this.dModel = args.dModel;
    this.hidden = args.hidden;
    this.seed = checkSeed(args.seed ?? 0);
  }

  override build(): void {
    this.w1 = this.addWeight('w1', [this.dModel, this.hidden], 'float32', normalInit(this.seed, 'w1', 1 / Math.sqrt(this.dModel)));
    this.w3 = this.addWeight('w3', [this.dModel, this.hidden], 'float32', normalInit(this.seed, 'w3', 1 / Math.sqrt(this.dModel)));
    this.w2 = this.addWeight('w2', [this.hidden, this.dModel], 'float32', normalInit(this.seed, 'w2', 1 / Math.sqrt(this.hidden)));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    if (!this.built) {
      this.build();
      this.built = true;
    }
    return tf.tidy(() => {
      const a = linear(x, this.w1.read()); // [b, t, hidden]
      return linear(tf.mul(tf.mul(a, tf.sigmoid(a)), linear(x, this.w3.read())), this.w2.read()); // [b, t, d]
    });
  }

  /** Frees the weights (the layer need not have been applied). */
  override dispose(): DisposeResult {
    return disposeLayerWeights(this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dModel: this.dModel, hidden: this.hidden, seed: this.seed };
  }
}
tf.serialization.registerClass(SwiGluFeedForward);
