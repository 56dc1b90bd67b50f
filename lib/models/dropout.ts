/**
 * Dropout with a fresh mask at every training step, reproducible from a seed.
 *
 * tfjs's `tf.layers.dropout({ rate, seed })` rebuilds its random generator from `seed` on every
 * call, so with a fixed seed every training step drops the same units: the network trains a fixed
 * sub-network instead of the random ensemble of sub-networks dropout stands for (Srivastava et al.
 * 2014). Without a seed, it draws masks from an unseeded generator, and a rerun gives other numbers.
 *
 * `SeededDropout` keeps its own seeded {@link Rng}: each training-mode call draws the next seed
 * from it, so consecutive steps use different masks, and a model built from the same seed replays
 * the same sequence of masks. At inference (`training` false or absent) it is the identity.
 * Kept units are scaled by `1 / (1 - rate)` (inverted dropout), so the expected activation is
 * unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';

/** Arguments of {@link SeededDropout}. */
export interface SeededDropoutArgs {
  /** Fraction of units dropped at each training step, in [0, 1). */
  rate: number;
  /** Seed of the stream of masks (a safe integer): the same seed gives the same masks, step after step. */
  seed: number;
  /** Layer name (default: tfjs's automatic name). */
  name?: string;
  /** Input shape, when this is the first layer of a model. */
  inputShape?: number[];
}

/** A dropout layer whose mask changes at every training-mode call and is reproducible from `seed`. */
export class SeededDropout extends tf.layers.Layer {
  /** The name tfjs serialisation knows this class by. */
  static className = 'SeededDropout';
  /** Fraction of units dropped. */
  readonly rate: number;
  /** Seed of the stream of masks. */
  readonly seed: number;
  private readonly rng: Rng;

  /**
   * @throws Error `rate must be in [0, 1), got 1` or `seed must be an integer, got 0.5`.
   */
  constructor(args: SeededDropoutArgs) {
    super({ name: args.name, inputShape: args.inputShape });
    if (!(typeof args.rate === 'number' && args.rate >= 0 && args.rate < 1)) throw new Error(`rate must be in [0, 1), got ${args.rate}`);
    if (!Number.isSafeInteger(args.seed)) throw new Error(`seed must be an integer, got ${args.seed}`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.rng = new Rng(args.seed);
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
      if (!kwargs.training || this.rate === 0) return tf.clone(x);
      // A new seed per call: a new mask per step, the same sequence for the same `seed`.
      const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', this.rng.tfSeed()), this.rate); // [same as x]
      return tf.mul(x, tf.mul(tf.cast(keep, x.dtype), 1 / (1 - this.rate)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);

/**
 * Creates a {@link SeededDropout} layer, in the style of `tf.layers.dropout`.
 * @throws Error on a bad rate or seed (see the constructor).
 */
export function seededDropout(args: SeededDropoutArgs): SeededDropout {
  return new SeededDropout(args);
}

/** The class names of the dropout layers the course builds: tfjs's own and {@link SeededDropout}. */
export const DROPOUT_CLASS_NAMES: readonly string[] = ['Dropout', SeededDropout.className];

/**
 * True for a dropout layer (tfjs's `Dropout` or the course's `SeededDropout`): the identity at
 * inference, so export and compression skip it or copy it unchanged.
 */
export function isDropoutLayer(layer: tf.layers.Layer): boolean {
  return DROPOUT_CLASS_NAMES.includes(layer.getClassName());
}
