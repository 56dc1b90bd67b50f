/**
 * Flat-parameter ("multi-tensor", PyTorch's `foreach`) Adam, RMSprop and LAMB: the same updates as
 * `tf.train.adam`, `tf.train.rmsprop` and the lib's {@link LambOptimizer}, but on one flat vector holding every trained weight's
 * gradient, so a step dispatches a fixed handful of kernels instead of a dozen per weight tensor.
 *
 * Why: a small model's training step on the WASM backend costs per kernel dispatched, not per
 * FLOP (bench/README.md). `tf.train.adam` runs 14 kernels per variable (2 layers = 4 variables:
 * 60 kernels a step). Here a step is: the gradients flattened and concatenated (1 + n kernels),
 * the moments and the step on the flat vector (12 kernels), and the step split back and added to
 * each variable (3 per variable), whatever the sizes: 29 kernels for the same 4 variables.
 *
 * The moments live in one flat variable per kind (`m`, `v`), for one ordered group of variables:
 * a call with a different set of variables starts a second group with its own moments, as
 * `tf.train.adam` keeps moments per variable.
 *
 * Adam (Kingma & Ba 2015, Algorithm 1), at step t = 1, 2, ..., as tfjs writes it:
 *
 *     m = beta1 m + (1 - beta1) g        v = beta2 v + (1 - beta2) g^2
 *     w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
 *
 * RMSprop (Hinton's lecture 6e; tfjs's non-centred form):
 *
 *     ms = decay ms + (1 - decay) g^2    mom = momentum mom + lr g / sqrt(ms + epsilon)    w = w - mom
 *
 * The bias corrections are computed in float64 on the host (tfjs multiplies float32
 * accumulators), so the weights agree with tfjs's optimizers to float32 rounding, not bit for bit
 * (tests/optim-flat.test.ts).
 *
 * Adam and RMSprop go one step further on wasm and cpu: one registered kernel each,
 * `FrugalAdamUpdate` (lib/optim/fused-adam.ts) and `FrugalRmspropUpdate`
 * (lib/optim/fused-rmsprop.ts), reads every gradient, weight and state slot and writes the new
 * ones, so a step is 1 kernel whatever the number of variables, with weights and state
 * bit-identical to the composed path above (tests/optim-fused-adam.test.ts); `fused: false` keeps
 * the composed one.
 */
import * as tf from '@tensorflow/tfjs';
import { checkNumber, stringOf } from '../assert';
import { adamScalars, FUSED_ADAM, fusedAdamKernel } from './fused-adam';
import { FUSED_UPDATE_BACKENDS } from './fused-kernels';
import { FUSED_RMSPROP, fusedRmspropKernel, rmspropScalars } from './fused-rmsprop';
import { lambArgsFromConfig, lambConfig, lambHyperParameters, trustRatio, type LambArgs, type OptimizerNamedTensor } from './lamb';

/** One ordered group of variables and its flat state. */
interface FlatGroup {
  /** The variables, in the order their gradients are concatenated. */
  vars: tf.Variable[];
  /** Number of elements of each variable (the split sizes). */
  sizes: number[];
  /** State slot name (`m`, `v`, `rms`, `momentum`) -> flat variable [total]. */
  slots: Map<string, tf.Variable>;
  /** Constant tensors a subclass derives from the group once (e.g. segment ids), kept until dispose. */
  constants: Map<string, tf.Tensor>;
}

/** What {@link FlatOptimizer.flatStep} may read of the group it updates. */
export interface FlatGroupView {
  /** The variables, in the order of the flat vector. */
  readonly vars: readonly tf.Variable[];
  /** Number of elements of each variable. */
  readonly sizes: readonly number[];
  /** The current weights as one flat vector `[total]` (made on first call within the step). */
  flatWeights(): tf.Tensor1D;
  /** A constant of the group, made by `make` on first use and kept until the optimizer is disposed. */
  constant<T extends tf.Tensor>(key: string, make: () => T): T;
}

/**
 * The flat-parameter machinery: subclasses say which state slots they keep and how one step
 * turns the flat gradient into the flat change of the weights.
 */
export abstract class FlatOptimizer extends tf.Optimizer {
  /** Step size; may be changed between steps (learning-rate schedules). */
  learningRate: number;
  /** Group key (the variables' names joined) -> its variables and flat state. */
  private groups = new Map<string, FlatGroup>();

  protected constructor(learningRate: number) {
    super();
    this.learningRate = checkNumber('learningRate', learningRate, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
  }

  /** The state slots this optimizer keeps per weight (each a flat vector). */
  protected abstract slotNames(): string[];

  /**
   * One step on the flat vector: updates the slots (`assign`) and returns the change to add to
   * the weights, `[total]`. Runs inside a tidy.
   * @param g the flat gradient `[total]`
   * @param slots the group's state, by slot name
   * @param t this step's number, from 1
   * @param group the variables being updated, their flat weights and the group's constants
   */
  protected abstract flatStep(g: tf.Tensor1D, slots: Map<string, tf.Variable>, t: number, group: FlatGroupView): tf.Tensor1D;

  /**
   * A whole step in one fused kernel, where the subclass has one for the active backend: updates
   * the variables and the slots (`assign`) and returns true; false (the default) runs the composed
   * path ({@link flatStep} on the flat vector); so does a subclass without it. Runs inside a tidy.
   * @param grads the gradients, in the order of `vars`, each of its variable's shape
   * @param slots the group's state, by slot name
   * @param t this step's number, from 1
   * @param vars the variables being updated
   */
  protected fusedStep?(grads: readonly tf.Tensor[], slots: Map<string, tf.Variable>, t: number, vars: readonly tf.Variable[]): boolean;

  /**
   * One step for every variable in `variableGradients` (name -> gradient); variables with a null
   * gradient are skipped. Does not dispose the gradients.
   * @throws Error when a name is not a registered variable, a gradient's shape differs from its
   *   variable's, or the learning rate was set to a bad value.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | OptimizerNamedTensor[]): void {
    checkNumber('learningRate', this.learningRate, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
    const entries: Array<[string, tf.Tensor]> = [];
    const all: Array<[string, tf.Tensor | null | undefined]> = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor])
      : Object.entries(variableGradients);
    for (const [name, gradient] of all) if (gradient != null) entries.push([name, gradient]);
    if (entries.length === 0) return;
    const group = this.group(entries);
    const t = this.iterations + 1;
    tf.tidy(() => {
      if (this.fusedStep?.(entries.map(([, gr]) => gr), group.slots, t, group.vars) === true) return;
      const flat = entries.map(([, gr]) => tf.reshape(gr, [-1])); // each [size]
      const g = (flat.length === 1 ? flat[0] : tf.concat(flat)) as tf.Tensor1D; // [total]
      let w: tf.Tensor1D | null = null;
      const view: FlatGroupView = {
        vars: group.vars,
        sizes: group.sizes,
        flatWeights: () => {
          if (w === null) {
            const ws = group.vars.map((v) => tf.reshape(v, [-1])); // each [size]
            w = (ws.length === 1 ? ws[0] : tf.concat(ws)) as tf.Tensor1D; // [total]
          }
          return w;
        },
        constant: <T extends tf.Tensor>(key: string, make: () => T): T => {
          let c = group.constants.get(key);
          if (c === undefined) {
            c = tf.keep(make());
            group.constants.set(key, c);
          }
          return c as T;
        },
      };
      const delta = this.flatStep(g, group.slots, t, view); // [total]
      const parts = group.vars.length === 1 ? [delta] : tf.split(delta, group.sizes);
      group.vars.forEach((w, i) => {
        w.assign(tf.add(w, tf.reshape(parts[i] as tf.Tensor, w.shape))); // [size] -> w's shape
      });
    });
    this.incrementIterations();
  }

  /** The group of these variables (in this order), made with zero state on first use. */
  private group(entries: Array<[string, tf.Tensor]>): FlatGroup {
    const key = entries.map(([name]) => name).join('\u0000');
    const known = this.groups.get(key);
    if (known !== undefined) return known;
    const vars = entries.map(([name, gradient]) => {
      const value = tf.engine().registeredVariables[name];
      if (value === undefined) throw new Error(`variableGradients names ${JSON.stringify(name)}, which is not a registered tf.Variable`);
      if (!tf.util.arraysEqual(value.shape, gradient.shape)) {
        throw new Error(`the gradient of ${JSON.stringify(name)} has shape [${gradient.shape.join(', ')}], the variable [${value.shape.join(', ')}]`);
      }
      return value;
    });
    const sizes = vars.map((w) => w.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const slots = new Map(this.slotNames().map((s) => [s, tf.tidy(() => tf.keep(tf.zeros([total]).variable(false)))] as const));
    const group = { vars, sizes, slots, constants: new Map<string, tf.Tensor>() };
    this.groups.set(key, group);
    return group;
  }

  /** Disposes the optimizer's state. */
  override dispose(): void {
    for (const g of this.groups.values()) {
      for (const s of g.slots.values()) s.dispose();
      for (const c of g.constants.values()) c.dispose();
    }
    this.groups.clear();
  }

  /**
   * The state in tfjs's per-variable layout: the iteration count, then for each slot (in
   * {@link slotNames}' order) one tensor per variable named `<variable>/<slot>`.
   */
  override async getWeights(): Promise<OptimizerNamedTensor[]> {
    const out: OptimizerNamedTensor[] = [await this.saveIterations()];
    for (const slot of this.slotNames()) {
      for (const g of this.groups.values()) {
        const flat = g.slots.get(slot) as tf.Variable;
        const parts = tf.tidy(() => (g.vars.length === 1 ? [tf.clone(flat)] : tf.split(flat, g.sizes)));
        g.vars.forEach((w, i) => {
          const part = parts[i] as tf.Tensor;
          out.push({ name: `${w.name}/${slot}`, tensor: tf.tidy(() => tf.reshape(part, w.shape)) });
          part.dispose();
        });
      }
    }
    return out;
  }

  /**
   * Restores the state written by {@link getWeights}: one group, in the order of the first
   * slot's entries (the tensors are copied).
   * @throws Error when the entries are not [iterations, then k per slot with matching names].
   */
  override async setWeights(weightValues: OptimizerNamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const slots = this.slotNames();
    if (rest.length % slots.length !== 0) throw new Error(`weightValues must hold the iterations then ${slots.length} tensors per variable, got ${rest.length}`);
    const k = rest.length / slots.length;
    const names = rest.slice(0, k).map((e) => e.name.slice(0, e.name.length - `/${slots[0] as string}`.length));
    const vars = names.map((name) => {
      const value = tf.engine().registeredVariables[name];
      if (value === undefined) throw new Error(`weightValues names ${JSON.stringify(name)}, which is not a registered tf.Variable`);
      return value;
    });
    const state = new Map<string, tf.Variable>();
    slots.forEach((slot, s) => {
      const part = rest.slice(s * k, (s + 1) * k);
      part.forEach((e, i) => {
        if (e.name !== `${names[i] as string}/${slot}`) throw new Error(`weightValues entry ${s * k + i} must be ${JSON.stringify(`${names[i] as string}/${slot}`)}, got ${JSON.stringify(e.name)}`);
      });
      state.set(slot, tf.tidy(() => tf.concat(part.map((e) => tf.reshape(e.tensor, [-1]))).variable(false)));
    });
    this.dispose();
    this.groups.set(names.join('\u0000'), { vars, sizes: vars.map((w) => w.size), slots: state, constants: new Map() });
  }
}

/** Hyper-parameters of {@link FlatAdamOptimizer}, as `tf.train.adam` takes them. */
export interface FlatAdamArgs {
  /** Step size, > 0. */
  learningRate: number;
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  beta1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.999. */
  beta2?: number;
  /** Added to sqrt(v_hat), >= 0. Default 1e-7 (tfjs's float32 epsilon, `tf.train.adam`'s default). */
  epsilon?: number;
  /**
   * Which implementation runs a step. Default (undefined): the one-kernel `FrugalAdamUpdate`
   * (lib/optim/fused-adam.ts) where the active backend has it (wasm, cpu), else the composed tf
   * ops on the flat vector. `true`: the fused kernel, or an error on a backend without it.
   * `false`: the composed ops anywhere (for comparison). Both give bit-identical weights on cpu
   * and wasm. Not a hyper-parameter: {@link FlatAdamOptimizer.getConfig} leaves it out.
   */
  fused?: boolean;
}

/**
 * Adam on one flat vector: `tf.train.adam`'s update. On wasm and cpu one kernel
 * (`FrugalAdamUpdate`, lib/optim/fused-adam.ts) reads every gradient, weight and moment and writes
 * the new ones; elsewhere (or with `fused: false`) 12 kernels on the flat vector plus 1 + 4 per
 * variable to flatten and to apply the step.
 */
export class FlatAdamOptimizer extends FlatOptimizer {
  /** The name tfjs serialisation knows this class by. */
  static get className(): string {
    return 'FlatAdam';
  }

  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** The `fused` choice (see {@link FlatAdamArgs}); may be changed between steps. */
  fused: boolean | undefined;

  /**
   * @throws Error naming the argument: `learningRate must be a finite number > 0, got 0`,
   *   `beta1 must be a number in [0, 1), got 1`, `epsilon must be a finite number >= 0, got -1`,
   *   `fused must be a boolean or undefined, got 1`.
   */
  constructor(args: FlatAdamArgs) {
    if (args === null || typeof args !== 'object') throw new Error(`args must be an object { learningRate, ... }, got ${String(args)}`);
    super(args.learningRate);
    this.beta1 = checkNumber('beta1', args.beta1 ?? 0.9, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    this.beta2 = checkNumber('beta2', args.beta2 ?? 0.999, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    this.epsilon = checkNumber('epsilon', args.epsilon ?? 1e-7, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
    this.fused = checkFused(args.fused);
  }

  protected slotNames(): string[] {
    return ['m', 'v'];
  }

  /** The kernel's attributes for step `t`. */
  private attrs(t: number) {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, step: t };
  }

  protected flatStep(g: tf.Tensor1D, slots: Map<string, tf.Variable>, t: number): tf.Tensor1D {
    const mVar = slots.get('m') as tf.Variable;
    const vVar = slots.get('v') as tf.Variable;
    // The float32 scalars, shared with the fused kernel (bias corrections in float64, then rounded).
    const k = adamScalars(this.attrs(t));
    const m = tf.add(tf.mul(mVar, k.b1), tf.mul(g, k.oneMinusB1)); // [total]
    const v = tf.add(tf.mul(vVar, k.b2), tf.mul(tf.square(g), k.oneMinusB2)); // [total]
    mVar.assign(m);
    vVar.assign(v);
    // -lr * (m / bc1) / (sqrt(v / bc2) + epsilon), with -lr / bc1 folded into one scalar
    return tf.div<tf.Tensor1D>(tf.mul(m, k.scale), tf.add(tf.sqrt(tf.mul(v, k.invBc2)), k.epsilon));
  }

  /** The whole step as `FrugalAdamUpdate` (1 kernel), on the backends that have it unless `fused: false`. */
  protected override fusedStep(grads: readonly tf.Tensor[], slots: Map<string, tf.Variable>, t: number, vars: readonly tf.Variable[]): boolean {
    if (!useFusedKernel(FUSED_ADAM, this.fused)) return false;
    const mVar = slots.get('m') as tf.Variable;
    const vVar = slots.get('v') as tf.Variable;
    const out = fusedAdamKernel(vars, grads, mVar as tf.Tensor1D, vVar as tf.Tensor1D, this.attrs(t)); // [w0', ..., m', v']
    vars.forEach((w, j) => w.assign(out[j] as tf.Tensor));
    mVar.assign(out[vars.length] as tf.Tensor);
    vVar.assign(out[vars.length + 1] as tf.Tensor);
    return true;
  }

  /** The hyper-parameters (not the state). */
  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  /** Rebuilds an optimizer from {@link getConfig}'s output (used by tfjs serialisation). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({ learningRate: config['learningRate'], beta1: config['beta1'], beta2: config['beta2'], epsilon: config['epsilon'] });
  }
}

tf.serialization.registerClass(FlatAdamOptimizer);

/**
 * The `fused` option, checked.
 * @throws Error `fused must be a boolean or undefined, got 1`.
 */
function checkFused(fused: unknown): boolean | undefined {
  if (fused !== undefined && typeof fused !== 'boolean') throw new Error(`fused must be a boolean or undefined, got ${stringOf(fused)}`);
  return fused;
}

/**
 * Whether a step runs the one-kernel update `kernelName`, from the `fused` choice and the active backend.
 * @throws Error `fused: true needs the FrugalAdamUpdate kernel (wasm, cpu), but the backend is webgl`.
 */
function useFusedKernel(kernelName: string, fused: boolean | undefined): boolean {
  if (checkFused(fused) === false) return false;
  const available = tf.getKernel(kernelName, tf.getBackend()) !== undefined;
  if (!available && fused === true) {
    throw new Error(`fused: true needs the ${kernelName} kernel (${FUSED_UPDATE_BACKENDS.join(', ')}), but the backend is ${tf.getBackend()}`);
  }
  return available;
}

/** Hyper-parameters of {@link FlatRmspropOptimizer}, as `tf.train.rmsprop` takes them. */
export interface FlatRmspropArgs {
  /** Step size, > 0. */
  learningRate: number;
  /** Decay of the mean square, in [0, 1). Default 0.9. */
  decay?: number;
  /** Momentum, in [0, 1). Default 0 (no momentum state is kept then). */
  momentum?: number;
  /** Added to the mean square under the root, >= 0. Default 1e-7 (`tf.train.rmsprop`'s default). */
  epsilon?: number;
  /**
   * Which implementation runs a step, as {@link FlatAdamArgs}' `fused`: default the one-kernel
   * `FrugalRmspropUpdate` (lib/optim/fused-rmsprop.ts) on wasm and cpu, `false` the composed ops.
   */
  fused?: boolean;
}

/**
 * RMSprop (non-centred) on one flat vector: `tf.train.rmsprop`'s update. On wasm and cpu one
 * kernel (`FrugalRmspropUpdate`, lib/optim/fused-rmsprop.ts); elsewhere (or with `fused: false`)
 * a few kernels on the flat vector plus 1 + 4 per variable.
 */
export class FlatRmspropOptimizer extends FlatOptimizer {
  /** The name tfjs serialisation knows this class by. */
  static get className(): string {
    return 'FlatRMSProp';
  }

  readonly decay: number;
  readonly momentum: number;
  readonly epsilon: number;
  /** The `fused` choice (see {@link FlatRmspropArgs}); may be changed between steps. */
  fused: boolean | undefined;

  /**
   * @throws Error naming the argument: `decay must be a number in [0, 1), got 1`, and as
   *   {@link FlatAdamOptimizer} for the others.
   */
  constructor(args: FlatRmspropArgs) {
    if (args === null || typeof args !== 'object') throw new Error(`args must be an object { learningRate, ... }, got ${String(args)}`);
    super(args.learningRate);
    this.decay = checkNumber('decay', args.decay ?? 0.9, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    this.momentum = checkNumber('momentum', args.momentum ?? 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
    this.epsilon = checkNumber('epsilon', args.epsilon ?? 1e-7, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
    this.fused = checkFused(args.fused);
  }

  protected slotNames(): string[] {
    return this.momentum > 0 ? ['rms', 'momentum'] : ['rms'];
  }

  /** The kernel's attributes. */
  private attrs() {
    return { learningRate: this.learningRate, decay: this.decay, momentum: this.momentum, epsilon: this.epsilon };
  }

  protected flatStep(g: tf.Tensor1D, slots: Map<string, tf.Variable>): tf.Tensor1D {
    const msVar = slots.get('rms') as tf.Variable;
    const k = rmspropScalars(this.attrs()); // the float32 scalars, shared with the fused kernel
    const ms = tf.add(tf.mul(msVar, k.decay), tf.mul(tf.square(g), k.oneMinusDecay)); // [total]
    msVar.assign(ms);
    const momVar = slots.get('momentum');
    const rootMs = tf.sqrt(tf.add(ms, k.epsilon)); // [total]
    // momentum 0: the change is -lr g / sqrt(ms + epsilon), with -lr as one scalar
    if (momVar === undefined) return tf.div<tf.Tensor1D>(tf.mul(g, k.negLr), rootMs);
    const mom = tf.add(tf.mul(momVar, k.momentum), tf.div(tf.mul(g, k.lr), rootMs));
    momVar.assign(mom);
    return tf.neg(mom) as tf.Tensor1D;
  }

  /** The whole step as `FrugalRmspropUpdate` (1 kernel), on the backends that have it unless `fused: false`. */
  protected override fusedStep(grads: readonly tf.Tensor[], slots: Map<string, tf.Variable>, _t: number, vars: readonly tf.Variable[]): boolean {
    if (!useFusedKernel(FUSED_RMSPROP, this.fused)) return false;
    const msVar = slots.get('rms') as tf.Variable;
    const momVar = slots.get('momentum');
    const out = fusedRmspropKernel(vars, grads, msVar as tf.Tensor1D, momVar as tf.Tensor1D | undefined, this.attrs()); // [w0', ..., rms', momentum']
    vars.forEach((w, j) => w.assign(out[j] as tf.Tensor));
    msVar.assign(out[vars.length] as tf.Tensor);
    momVar?.assign(out[vars.length + 1] as tf.Tensor);
    return true;
  }

  /** The hyper-parameters (not the state). */
  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, decay: this.decay, momentum: this.momentum, epsilon: this.epsilon };
  }

  /** Rebuilds an optimizer from {@link getConfig}'s output (used by tfjs serialisation). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({ learningRate: config['learningRate'], decay: config['decay'], momentum: config['momentum'], epsilon: config['epsilon'] });
  }
}

tf.serialization.registerClass(FlatRmspropOptimizer);

/**
 * Creates a {@link FlatAdamOptimizer}, with `tf.train.adam`'s arguments and defaults, and the
 * `fused` choice of {@link FlatAdamArgs} (default: the one-kernel update on wasm and cpu).
 * @throws Error naming a bad hyper-parameter.
 */
export function flatAdam(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, fused?: boolean): FlatAdamOptimizer {
  return new FlatAdamOptimizer({ learningRate, beta1, beta2, epsilon, ...(fused === undefined ? {} : { fused }) });
}

/**
 * Creates a {@link FlatRmspropOptimizer}, with `tf.train.rmsprop`'s arguments and defaults
 * (non-centred only), and the `fused` choice of {@link FlatRmspropArgs}.
 * @throws Error naming a bad hyper-parameter.
 */
export function flatRmsprop(learningRate: number, decay = 0.9, momentum = 0, epsilon = 1e-7, fused?: boolean): FlatRmspropOptimizer {
  return new FlatRmspropOptimizer({ learningRate, decay, momentum, epsilon, ...(fused === undefined ? {} : { fused }) });
}

/**
 * LAMB (lib/optim/lamb.ts, You et al. 2019, Algorithm 2) on one flat vector. The update is
 * {@link LambOptimizer}'s; what changes is how the per-variable ("per-layer") norms are taken:
 * one `UnsortedSegmentSum` over the flat squares gives every variable's ‖w‖² at once (and one
 * more every ‖u‖²), and one `Gather` spreads each variable's trust ratio back over its
 * elements. A step is then 36 kernels plus 4 per variable (to flatten and to write back),
 * where {@link LambOptimizer} dispatches 42 per variable. tfjs-wasm has no
 * `UnsortedSegmentSum`: there each norm takes a split and one sum per variable, 38 kernels plus
 * 6 per variable. For a 2-layer MLP's 4 variables: 52 (cpu) and 62 (wasm) against 168
 * (tests/optim-flat.test.ts counts them).
 */
export class FlatLambOptimizer extends FlatOptimizer {
  /** The name tfjs serialisation knows this class by. */
  static get className(): string {
    return 'FlatLamb';
  }

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
  /** The last step's ratios `[variables]`, kept to be read after the step. */
  private pendingRatios: { names: string[]; ratios: tf.Tensor1D } | null = null;

  /**
   * @throws Error naming the argument, with {@link LambOptimizer}'s messages and defaults.
   */
  constructor(args: LambArgs) {
    const h = lambHyperParameters(args); // LambOptimizer's checks and defaults
    super(h.learningRate);
    this.beta1 = h.beta1;
    this.beta2 = h.beta2;
    this.epsilon = h.epsilon;
    this.weightDecay = h.weightDecay;
    this.excludeFromWeightDecay = h.excludeFromWeightDecay;
    this.weightNormBounds = h.weightNormBounds;
    this.recordTrustRatios = args.recordTrustRatios ?? false;
  }

  protected slotNames(): string[] {
    return ['m', 'v'];
  }

  protected flatStep(g: tf.Tensor1D, slots: Map<string, tf.Variable>, t: number, group: FlatGroupView): tf.Tensor1D {
    const mVar = slots.get('m') as tf.Variable;
    const vVar = slots.get('v') as tf.Variable;
    const n = group.vars.length;
    // segment[i] = the variable element i belongs to, [total]
    const segment = group.constant('segment', () =>
      tf.tensor1d(Int32Array.from(group.sizes.flatMap((size, j) => new Array<number>(size).fill(j))), 'int32'),
    );
    const m = tf.add(tf.mul(mVar, this.beta1), tf.mul(g, 1 - this.beta1)); // [total]
    const v = tf.add(tf.mul(vVar, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)); // [total]
    mVar.assign(m);
    vVar.assign(v);
    const bc1 = 1 - this.beta1 ** t; // bias corrections, plain numbers
    const bc2 = 1 - this.beta2 ** t;
    const r = tf.div<tf.Tensor1D>(tf.mul(m, 1 / bc1), tf.add(tf.sqrt(tf.mul(v, 1 / bc2)), this.epsilon)); // Adam direction, [total]
    const w = group.flatWeights(); // [total]
    let u = r;
    if (this.weightDecay !== 0) {
      const vectorsExcluded = this.excludeFromWeightDecay === 'vectors' && group.vars.some((x) => x.rank <= 1);
      // lambda per element: 0 on the excluded variables (rank <= 1), [total]
      const decay = vectorsExcluded
        ? group.constant('decay', () => tf.tensor1d(Float32Array.from(group.vars.flatMap((x) => new Array<number>(x.size).fill(x.rank <= 1 ? 0 : this.weightDecay)))))
        : this.weightDecay;
      u = tf.add(r, tf.mul(w, decay));
    }
    // Sum of each variable's squares, [total] -> [n]: one segment sum where the backend has the
    // kernel (cpu, tensorflow, webgl); tfjs-wasm 4.22 has none, so there a split and one sum per variable.
    const hasSegmentSum = tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined;
    const segmentSums = (x: tf.Tensor1D): tf.Tensor1D =>
      hasSegmentSum ? tf.unsortedSegmentSum(x, segment, n) : tf.stack(tf.split(x, [...group.sizes]).map((part) => tf.sum(part))) as tf.Tensor1D;
    const wNorm = tf.sqrt(segmentSums(tf.square(w))); // ||w|| per variable, [n]
    const uNorm = tf.sqrt(segmentSums(tf.square(u))); // ||u|| per variable, [n]
    const ratio = trustRatio(wNorm, uNorm, this.weightNormBounds); // [n]
    if (this.recordTrustRatios) {
      this.pendingRatios?.ratios.dispose();
      this.pendingRatios = { names: group.vars.map((x) => x.name), ratios: tf.keep(ratio) };
    }
    // -lr * ratio, spread over each variable's elements, times u
    return tf.mul<tf.Tensor1D>(tf.gather(tf.mul(ratio, -this.learningRate), segment), u);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | OptimizerNamedTensor[]): void {
    super.applyGradients(variableGradients);
    if (this.pendingRatios !== null) {
      const { names, ratios } = this.pendingRatios;
      const values = ratios.dataSync();
      this.lastTrustRatios.clear();
      names.forEach((name, j) => this.lastTrustRatios.set(name, values[j] as number));
      ratios.dispose();
      this.pendingRatios = null;
    }
  }

  /** The hyper-parameters (not the state), as {@link LambOptimizer} writes them. */
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

tf.serialization.registerClass(FlatLambOptimizer);

/**
 * Creates a {@link FlatLambOptimizer}, with {@link lamb}'s arguments and defaults.
 * @throws Error naming a bad hyper-parameter.
 */
export function flatLamb(args: LambArgs): FlatLambOptimizer {
  return new FlatLambOptimizer(args);
}
