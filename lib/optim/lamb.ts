/**
 * LAMB: Layer-wise Adaptive Moments for Batch training (You et al. 2019, "Large Batch Optimization
 * for Deep Learning: Training BERT in 76 minutes", Algorithm 2), as a tfjs optimizer.
 *
 * For each variable ("layer") w with gradient g, at step t = 1, 2, ...:
 *
 *     m = beta1 m + (1 - beta1) g                    v = beta2 v + (1 - beta2) g^2
 *     m_hat = m / (1 - beta1^t)                      v_hat = v / (1 - beta2^t)
 *     r = m_hat / (sqrt(v_hat) + epsilon)            (Adam's step direction)
 *     u = r + weightDecay * w                        (decoupled weight decay, as in AdamW)
 *     ratio = phi(||w||) / ||u||   (1 when either is 0)
 *     w = w - learningRate * ratio * u
 *
 * The trust ratio makes each layer's step proportional to the size of its weights, whatever the
 * scale of its gradients: that is what lets LAMB train with very large batches. It also makes
 * `learningRate` relative: a step moves a layer by about `learningRate * ||w||`, a fraction of
 * its weights' norm, where Adam's moves each weight by about `learningRate` itself.
 *
 * Two options, with what the paper says:
 *
 * - `weightNormBounds: [lower, upper]` is the scaling function
 *   `phi(z) = min(max(z, lower), upper)` that the paper (§3, for LARS and LAMB) gives as an
 *   example; it states no values for the bounds. Default `[0, Infinity]`: phi is the identity,
 *   Algorithm 2 as written (cybertronai/pytorch-lamb clamps at 10 instead).
 * - `excludeFromWeightDecay: 'vectors'` leaves every variable of rank <= 1 (biases, the gains and
 *   offsets of normalisation layers) out of the weight decay. Algorithm 2 decays every layer; the
 *   BERT recipe the paper trains with excludes biases and LayerNorm weights, as BERT's AdamW does
 *   (TensorFlow's LAMB: `exclude_from_weight_decay`). Default `'none'`, Algorithm 2 as written.
 *
 * `learningRate` is a public field: a schedule sets it before each step
 * (`opt.learningRate = schedule(step)`, see lib/optim/schedules.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { checkNumber } from '../assert';

/** Hyper-parameters of {@link LambOptimizer}. */
export interface LambArgs {
  /** Step size eta, > 0. LAMB's trust ratio makes it relative: ~1e-3..1e-2 is usual. */
  learningRate: number;
  /** Decay of the first moment (mean of gradients), in [0, 1). Default 0.9. */
  beta1?: number;
  /** Decay of the second moment (mean of squared gradients), in [0, 1). Default 0.999. */
  beta2?: number;
  /** Added to sqrt(v_hat) to avoid dividing by 0, >= 0. Default 1e-6 (the paper's value). */
  epsilon?: number;
  /** Decoupled weight decay lambda, >= 0. Default 0.01. */
  weightDecay?: number;
  /**
   * Which variables skip the weight decay: `'none'` (default; Algorithm 2 as written) or
   * `'vectors'`, every variable of rank <= 1 (biases, normalisation gains and offsets), as the
   * BERT recipe does.
   */
  excludeFromWeightDecay?: 'none' | 'vectors';
  /**
   * `[lower, upper]` of the scaling function phi(z) = min(max(z, lower), upper) applied to
   * ||w|| in the trust ratio, with 0 <= lower <= upper. Default `[0, Infinity]` (phi = identity;
   * the paper gives no values).
   */
  weightNormBounds?: readonly [number, number];
  /**
   * Read the trust ratios back after each step into `lastTrustRatios` (one sync per variable).
   * For lessons and tests; default false. Not part of the config.
   */
  recordTrustRatios?: boolean;
}

/** tfjs-core's NamedTensor `{ name, tensor }` (which @tensorflow/tfjs does not re-export). */
export interface OptimizerNamedTensor {
  name: string;
  tensor: tf.Tensor;
}

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

/** LAMB's hyper-parameters after their checks and defaults (shared with lib/optim/flat's flatLamb). */
export interface LambHyperParameters {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  excludeFromWeightDecay: 'none' | 'vectors';
  weightNormBounds: readonly [number, number];
}

/**
 * Checks LAMB's arguments and fills the defaults.
 * @throws Error naming the argument: `learningRate must be a finite number > 0, got 0`,
 *   `beta1 must be a number in [0, 1), got 1`, `epsilon must be a finite number >= 0, got -1`,
 *   `weightDecay must be a finite number >= 0, got -0.1`.
 */
export function lambHyperParameters(args: LambArgs): LambHyperParameters {
  if (args === null || typeof args !== 'object') throw new Error(`args must be an object { learningRate, ... }, got ${String(args)}`);
  const learningRate = checkNumber('learningRate', args.learningRate, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
  const beta1 = checkNumber('beta1', args.beta1 ?? 0.9, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  const beta2 = checkNumber('beta2', args.beta2 ?? 0.999, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  const epsilon = checkNumber('epsilon', args.epsilon ?? 1e-6, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
  const weightDecay = checkNumber('weightDecay', args.weightDecay ?? 0.01, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
  const exclude = args.excludeFromWeightDecay ?? 'none';
  if (exclude !== 'none' && exclude !== 'vectors') {
    throw new Error(`excludeFromWeightDecay must be 'none' or 'vectors', got ${JSON.stringify(exclude)}`);
  }
  const bounds = args.weightNormBounds ?? [0, Number.POSITIVE_INFINITY];
  const [lo, hi] = Array.isArray(bounds) ? bounds : [];
  if (!(Array.isArray(bounds) && bounds.length === 2 && typeof lo === 'number' && typeof hi === 'number' && lo >= 0 && hi >= lo)) {
    throw new Error(`weightNormBounds must be [lower, upper] with 0 <= lower <= upper, got ${JSON.stringify(bounds)}`);
  }
  return { learningRate, beta1, beta2, epsilon, weightDecay, excludeFromWeightDecay: exclude, weightNormBounds: [lo, hi] };
}

/** LAMB's config (the hyper-parameters, not the state), for `getConfig`. */
export function lambConfig(h: LambHyperParameters): tf.serialization.ConfigDict {
  return {
    learningRate: h.learningRate,
    beta1: h.beta1,
    beta2: h.beta2,
    epsilon: h.epsilon,
    weightDecay: h.weightDecay,
    excludeFromWeightDecay: h.excludeFromWeightDecay,
    // JSON has no Infinity: an absent upper bound is written as null.
    weightNormBounds: [h.weightNormBounds[0], Number.isFinite(h.weightNormBounds[1]) ? h.weightNormBounds[1] : null],
  };
}

/** The arguments {@link lambConfig}'s output describes, for `fromConfig`. */
export function lambArgsFromConfig(config: tf.serialization.ConfigDict): LambArgs {
  return {
    learningRate: config['learningRate'] as number,
    beta1: config['beta1'] as number,
    beta2: config['beta2'] as number,
    epsilon: config['epsilon'] as number,
    weightDecay: config['weightDecay'] as number,
    excludeFromWeightDecay: (config['excludeFromWeightDecay'] ?? 'none') as 'none' | 'vectors',
    weightNormBounds: Array.isArray(config['weightNormBounds'])
      ? [config['weightNormBounds'][0] as number, (config['weightNormBounds'][1] ?? Number.POSITIVE_INFINITY) as number]
      : undefined,
  };
}

/**
 * LAMB's trust ratio phi(||w||) / ||u||, elementwise over any shape of norms (one per
 * variable), with phi(z) = min(max(z, lower), upper); 1 where either norm is 0.
 * @param wNorm ||w|| per variable
 * @param uNorm ||u|| per variable, the same shape
 */
export function trustRatio<T extends tf.Tensor>(wNorm: T, uNorm: T, bounds: readonly [number, number]): T {
  return tf.tidy(() => {
    const [lo, hi] = bounds;
    // phi(||w||); the identity with the default bounds
    const phi = lo === 0 && hi === Number.POSITIVE_INFINITY ? wNorm : tf.clipByValue(wNorm, lo, hi);
    const bothPositive = tf.logicalAnd(tf.greater(phi, 0), tf.greater(uNorm, 0));
    return tf.where(bothPositive, tf.div(phi, tf.maximum(uNorm, Number.MIN_VALUE)), tf.onesLike(phi)) as T;
  });
}

/** The LAMB optimizer. Create it with `new LambOptimizer({...})` or {@link lamb}. */
export class LambOptimizer extends tf.Optimizer {
  /** The name tfjs serialisation knows this class by. */
  static get className(): string {
    return 'Lamb';
  }

  /** Step size; may be changed between steps (learning-rate schedules). */
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Which variables skip the weight decay (see {@link LambArgs}). */
  readonly excludeFromWeightDecay: 'none' | 'vectors';
  /** Bounds of phi (see {@link LambArgs}). */
  readonly weightNormBounds: readonly [number, number];
  /** With `recordTrustRatios`: variable name -> trust ratio of the last step. */
  readonly lastTrustRatios = new Map<string, number>();
  private readonly recordTrustRatios: boolean;
  /** Moments per variable name, in the order variables were first seen. */
  private moments = new Map<string, Moments>();

  /**
   * @throws Error naming the argument: `learningRate must be a finite number > 0, got 0`,
   *   `beta1 must be a number in [0, 1), got 1`, `epsilon must be a finite number >= 0, got -1`,
   *   `weightDecay must be a finite number >= 0, got -0.1`.
   */
  constructor(args: LambArgs) {
    super();
    const h = lambHyperParameters(args);
    this.learningRate = h.learningRate;
    this.beta1 = h.beta1;
    this.beta2 = h.beta2;
    this.epsilon = h.epsilon;
    this.weightDecay = h.weightDecay;
    this.excludeFromWeightDecay = h.excludeFromWeightDecay;
    this.weightNormBounds = h.weightNormBounds;
    this.recordTrustRatios = args.recordTrustRatios ?? false;
  }

  /**
   * One LAMB step for each variable in `variableGradients` (name -> gradient); variables with a
   * null gradient are skipped. Does not dispose the gradients.
   * @throws Error when a name is not a registered variable, or the learning rate was set to a bad value.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | OptimizerNamedTensor[]): void {
    checkNumber('learningRate', this.learningRate, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
    const entries: Array<[string, tf.Tensor | null | undefined]> = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.entries(variableGradients);
    const t = this.iterations + 1; // this step's number, from 1
    const bc1 = 1 - this.beta1 ** t; // bias corrections, plain numbers
    const bc2 = 1 - this.beta2 ** t;
    const ratios: Array<[string, tf.Tensor]> = [];
    tf.tidy(() => {
      for (const [name, gradient] of entries) {
        if (gradient == null) continue;
        const value = tf.engine().registeredVariables[name];
        if (value === undefined) throw new Error(`variableGradients names ${JSON.stringify(name)}, which is not a registered tf.Variable`);
        let state = this.moments.get(name);
        if (state === undefined) {
          state = {
            // unnamed (auto-named) variables: two optimizers may train the same variable
            m: tf.keep(tf.zerosLike(value).variable(false)),
            v: tf.keep(tf.zerosLike(value).variable(false)),
          };
          this.moments.set(name, state);
        }
        const m = tf.add(tf.mul(state.m, this.beta1), tf.mul(gradient, 1 - this.beta1));
        const v = tf.add(tf.mul(state.v, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2));
        state.m.assign(m);
        state.v.assign(v);
        const r = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), this.epsilon)); // Adam direction
        const decays = this.weightDecay !== 0 && !(this.excludeFromWeightDecay === 'vectors' && value.rank <= 1);
        const u = decays ? tf.add(r, tf.mul(value, this.weightDecay)) : r;
        const ratio = trustRatio(tf.norm(value), tf.norm(u), this.weightNormBounds);
        value.assign(tf.sub(value, tf.mul(u, tf.mul(ratio, this.learningRate))));
        if (this.recordTrustRatios) ratios.push([name, tf.keep(ratio)]);
      }
    });
    if (this.recordTrustRatios) {
      this.lastTrustRatios.clear();
      for (const [name, ratio] of ratios) {
        this.lastTrustRatios.set(name, ratio.dataSync()[0] as number);
        ratio.dispose();
      }
    }
    this.incrementIterations();
  }

  /** Disposes the optimizer's moment variables. */
  override dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }

  /**
   * The optimizer's state, in tfjs's layout (as Adam): the iteration count, then the first moments
   * (`<variable>/m`), then the second moments (`<variable>/v`).
   */
  override async getWeights(): Promise<OptimizerNamedTensor[]> {
    const ms: OptimizerNamedTensor[] = [];
    const vs: OptimizerNamedTensor[] = [];
    for (const [name, { m, v }] of this.moments) {
      ms.push({ name: `${name}/m`, tensor: m });
      vs.push({ name: `${name}/v`, tensor: v });
    }
    return [await this.saveIterations(), ...ms, ...vs];
  }

  /**
   * Restores the state written by {@link getWeights} (the tensors are copied into new variables).
   * @throws Error when the list is not [iterations, k first moments, k matching second moments].
   */
  override async setWeights(weightValues: OptimizerNamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    if (rest.length % 2 !== 0) throw new Error(`weightValues must hold the iterations then pairs of moments, got ${rest.length} moment tensors`);
    const k = rest.length / 2;
    const next = new Map<string, Moments>();
    for (let i = 0; i < k; i++) {
      const m = rest[i] as OptimizerNamedTensor;
      const v = rest[i + k] as OptimizerNamedTensor;
      const name = m.name.replace(/\/m$/, '');
      if (!m.name.endsWith('/m') || v.name !== `${name}/v`) {
        throw new Error(`weightValues must pair '<variable>/m' with '<variable>/v', got ${JSON.stringify(m.name)} and ${JSON.stringify(v.name)}`);
      }
      next.set(name, { m: m.tensor.variable(false), v: v.tensor.variable(false) });
    }
    this.dispose();
    this.moments = next;
  }

  /** The hyper-parameters (not the state). */
  override getConfig(): tf.serialization.ConfigDict {
    return lambConfig(this);
  }

  /** Rebuilds an optimizer from {@link getConfig}'s output (used by tfjs serialisation). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(lambArgsFromConfig(config));
  }
}

tf.serialization.registerClass(LambOptimizer);

/**
 * Creates a {@link LambOptimizer}, in the style of `tf.train.adam`.
 * @throws Error naming a bad hyper-parameter (see the constructor).
 */
export function lamb(args: LambArgs): LambOptimizer {
  return new LambOptimizer(args);
}
