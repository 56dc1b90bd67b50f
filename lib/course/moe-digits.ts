/**
 * The MoE lessons' shared experiment (06–08): a digits classifier whose middle block is either a
 * dense FFN or an MoE layer, trained with the course's loop, with the MoE's statistics recorded
 * at every step.
 *
 *     x [64] -> Dense(width, relu) = h -> h + block(h) -> Dense(10) logits
 *
 * The block sits in a residual connection, as an FFN does in a transformer: a token whose slots
 * are all dropped (capacity) passes through unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropy } from '../distill/loss';
import { moe, type MoE, type MoEArgs } from '../moe/layer';
import { Rng } from '../random';
import { train, type Dataset, type TrainHistory } from '../train/loop';
import { assert, assertPositiveInteger } from '../assert';

/** Defaults of the MoE digits experiment. */
export const MOE_DIGITS_CONFIG = {
  /** Token width d after the input projection. */
  width: 32,
  /** Passes over the 1259 training images. */
  epochs: 12,
  /** Examples per step. */
  batchSize: 64,
  /** Adam's learning rate. */
  learningRate: 3e-3,
} as const;

/** What the middle block is. */
export interface MoEClassifierOptions {
  /** The MoE layer's arguments; omit for a dense FFN of `ffnHidden` units. */
  moe?: MoEArgs;
  /** Hidden width of the dense FFN block (when `moe` is omitted). */
  ffnHidden?: number;
  /** Token width d (default MOE_DIGITS_CONFIG.width). */
  width?: number;
  /** Seed of the initial weights. */
  seed: number;
}

/** A classifier and, when it has one, its MoE layer. */
export interface MoEClassifier {
  model: tf.LayersModel;
  /** The MoE layer, or null for the dense baseline. */
  moe: MoE | null;
}

/**
 * Builds the classifier 64 → width → (width + block) → 10.
 * @throws Error when neither or both of `moe` and `ffnHidden` are given.
 */
export function moeClassifier(options: MoEClassifierOptions): MoEClassifier {
  assert((options.moe === undefined) !== (options.ffnHidden === undefined), 'give exactly one of moe and ffnHidden');
  const width = options.width ?? MOE_DIGITS_CONFIG.width;
  assertPositiveInteger(width, 'width');
  const rng = new Rng(options.seed);
  const init = () => tf.initializers.glorotUniform({ seed: rng.tfSeed() });
  const input = tf.input({ shape: [64] });
  const h = tf.layers.dense({ units: width, activation: 'relu', kernelInitializer: init() }).apply(input) as tf.SymbolicTensor;
  let block: tf.SymbolicTensor;
  let layer: MoE | null = null;
  if (options.moe) {
    layer = moe({ ...options.moe, units: width, seed: options.moe.seed ?? rng.int(1 << 30) });
    block = layer.apply(h) as tf.SymbolicTensor;
  } else {
    assertPositiveInteger(options.ffnHidden as number, 'ffnHidden');
    const mid = tf.layers.dense({ units: options.ffnHidden as number, activation: 'relu', kernelInitializer: init() }).apply(h);
    block = tf.layers.dense({ units: width, kernelInitializer: init() }).apply(mid) as tf.SymbolicTensor;
  }
  const sum = tf.layers.add().apply([h, block]) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, kernelInitializer: init() }).apply(sum) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: logits }), moe: layer };
}

/** Per-step MoE statistics of a training run (empty arrays for the dense baseline). */
export interface MoETrace {
  /** Slots routed to each expert, per step: `[steps][E]`. */
  load: number[][];
  /** Slots dropped by the capacity, per step. */
  droppedSlots: number[];
  /** Mean router entropy (nats), per step. */
  routerEntropy: number[];
  /** The unweighted Switch loss N Σ f_i P_i, per step (1 = balanced). */
  balanceLoss: number[];
  /** The DeepSeek-V3 selection bias after each step: `[steps][E]`. */
  bias: number[][];
}

/** A finished run. */
export interface MoERun {
  history: TrainHistory;
  trace: MoETrace;
  /** Seconds of training in all. */
  seconds: number;
}

/**
 * Trains a classifier with cross-entropy plus the MoE layer's auxiliary loss, recording the
 * layer's statistics at every step.
 */
export async function trainMoEClassifier(
  c: MoEClassifier,
  data: Dataset,
  options: { seed: number; epochs?: number; batchSize?: number; learningRate?: number; validation?: { x: tf.Tensor2D; y: tf.Tensor1D }; progress?: boolean | string },
): Promise<MoERun> {
  const trace: MoETrace = { load: [], droppedSlots: [], routerEntropy: [], balanceLoss: [], bias: [] };
  const optimizer = tf.train.adam(options.learningRate ?? MOE_DIGITS_CONFIG.learningRate);
  const layer = c.moe;
  const t0 = performance.now();
  const history = await train(c.model, data, {
    epochs: options.epochs ?? MOE_DIGITS_CONFIG.epochs,
    batchSize: options.batchSize ?? MOE_DIGITS_CONFIG.batchSize,
    optimizer,
    rng: new Rng(options.seed),
    validation: options.validation,
    progress: options.progress ?? false,
    loss: (batch, logits) => {
      const ce = crossEntropy(batch.y, logits);
      if (!layer || !layer.lastAuxLoss || !layer.lastStats) return ce;
      // model.apply ran just before this loss, inside the same minimize: the aux loss is on the tape.
      const s = layer.lastStats;
      trace.load.push(s.routed);
      trace.droppedSlots.push(s.droppedSlots);
      trace.routerEntropy.push(s.routerEntropy);
      trace.bias.push(s.bias);
      trace.balanceLoss.push(layer.lastBalanceLoss?.dataSync()[0] ?? NaN);
      return tf.add<tf.Scalar>(ce, layer.lastAuxLoss);
    },
  });
  optimizer.dispose();
  return { history, trace, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Routes `x` through the model (one inference call) and counts, for each class, the tokens whose
 * first choice is each expert: `[classes][E]`.
 * @throws Error for a model without an MoE layer.
 */
export function classExpertCounts(c: MoEClassifier, x: tf.Tensor2D, y: tf.Tensor1D, classes = 10): number[][] {
  const layer = c.moe;
  assert(layer !== null, 'classExpertCounts needs a model with an MoE layer');
  tf.tidy(() => {
    c.model.predict(x, { batchSize: x.shape[0] });
  });
  const s = layer.lastStats;
  assert(s !== null && s.tokens === x.shape[0], 'the MoE layer did not see the whole batch in one call');
  const ys = y.dataSync();
  const counts = Array.from({ length: classes }, () => new Array<number>(layer.cfg.experts).fill(0));
  for (let t = 0; t < s.tokens; t++) {
    const e = s.assignment[t * s.topK] as number;
    const row = counts[ys[t] as number] as number[];
    if (e >= 0) row[e] = (row[e] as number) + 1;
  }
  return counts;
}

/**
 * Mutual information (nats) between the class and the first-choice expert, from a
 * `[classes][E]` count table: 0 when the routing ignores the class, up to min(ln C, ln E).
 */
export function mutualInformation(counts: readonly (readonly number[])[]): number {
  const total = counts.flat().reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rows = counts.map((r) => r.reduce((a, b) => a + b, 0) / total);
  const cols = (counts[0] ?? []).map((_, j) => counts.reduce((a, r) => a + (r[j] ?? 0), 0) / total);
  let mi = 0;
  counts.forEach((r, i) => r.forEach((v, j) => {
    const p = v / total;
    if (p > 0) mi += p * Math.log(p / ((rows[i] as number) * (cols[j] as number)));
  }));
  return mi;
}

/**
 * Each expert's share of the routed slots over training, averaged over windows of `window`
 * steps: one line per expert, for `lineFigure`.
 */
export function loadCurves(trace: MoETrace, window = 10): Array<{ name: string; x: number[]; y: number[] }> {
  assertPositiveInteger(window, 'window');
  const E = trace.load[0]?.length ?? 0;
  const curves = Array.from({ length: E }, (_, e) => ({ name: `expert ${e}`, x: [] as number[], y: [] as number[] }));
  for (let start = 0; start < trace.load.length; start += window) {
    const chunk = trace.load.slice(start, start + window);
    const total = chunk.reduce((s, l) => s + l.reduce((a, b) => a + b, 0), 0);
    curves.forEach((c, e) => {
      c.x.push(start + chunk.length / 2);
      c.y.push(chunk.reduce((s, l) => s + (l[e] ?? 0), 0) / Math.max(1, total));
    });
  }
  return curves;
}

/** Mean routed load per expert over the last `steps` steps of a run. */
export function finalLoad(trace: MoETrace, steps = 20): number[] {
  const last = trace.load.slice(-steps);
  assert(last.length > 0, 'the run recorded no MoE statistics');
  return (last[0] as number[]).map((_, e) => last.reduce((s, l) => s + (l[e] ?? 0), 0) / last.length);
}
