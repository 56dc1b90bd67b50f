/**
 * Low-rank factorisation of Dense layers by truncated SVD (Denton et al. 2014; Eckart–Young).
 *
 * A Dense kernel W (in × out) becomes two Dense layers without a nonlinearity between them:
 * in → r (no bias) and r → out (the original bias and activation), with W ≈ L R. The best rank-r
 * approximation in the Frobenius norm keeps the r largest singular values, and its error is
 * exactly √(Σ_{i>r} σᵢ²). Parameters drop from in·out to r·(in + out), and so do the
 * multiply-adds per example, when r < in·out / (in + out).
 */
import * as tf from '@tensorflow/tfjs';
import { discardedNorm, rankForEnergy, svd, truncate } from './svd';
import { isDropoutLayer, SeededDropout, type SeededDropoutArgs } from '../models/dropout';

/** How to choose each layer's rank. Give `rank` or `energy`. */
export interface LowRankOptions {
  /** The rank of every factorised layer, or per layer name. */
  rank?: number | Readonly<Record<string, number>>;
  /** Keep the smallest rank holding this fraction of Σσ² per layer, in (0, 1]. */
  energy?: number;
  /** Names of the Dense layers to factorise (default: every Dense layer whose factors are smaller). */
  layers?: readonly string[];
}

/** What happened to one Dense layer. */
export interface LowRankLayer {
  /** The original layer's name. */
  layer: string;
  /** Kernel rows (inputs) and columns (units). */
  inputs: number;
  units: number;
  /** The rank kept, or null when the layer stayed dense (factors would not be smaller). */
  rank: number | null;
  /** All singular values of the kernel, decreasing. */
  singularValues: number[];
  /** ‖W − L R‖_F predicted by the discarded singular values (0 when dense). */
  discardedNorm: number;
  /** Fraction of Σσ² kept. */
  energyKept: number;
  /** Weights (kernel + bias) before and after. */
  paramsBefore: number;
  paramsAfter: number;
  /** Multiply-adds per example before and after. */
  macsBefore: number;
  macsAfter: number;
}

/** The factorised model and its accounting. */
export interface LowRankResult {
  /** A new model; the original is untouched. */
  model: tf.Sequential;
  layers: LowRankLayer[];
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
}

function rankFor(options: LowRankOptions, name: string, s: Float64Array): number {
  if (options.energy !== undefined) return rankForEnergy(s, options.energy);
  const r = typeof options.rank === 'number' ? options.rank : options.rank?.[name];
  if (r === undefined) throw new Error(`no rank given for layer ${name}: pass rank (a number or a record with ${name}) or energy`);
  if (!Number.isInteger(r) || r < 1 || r > s.length) {
    throw new Error(`rank for layer ${name} must be an integer in [1, ${s.length}], got ${r}`);
  }
  return r;
}

/**
 * Factorises the Dense layers of a Sequential model (Dense and Dropout layers, as built by `mlp`).
 * @throws Error naming the argument when neither or both of rank and energy are given, a rank is
 *   out of range, a named layer is not a Dense layer of the model, or the model holds another
 *   kind of layer.
 */
export function lowRank(model: tf.Sequential, options: LowRankOptions): LowRankResult {
  if ((options.rank === undefined) === (options.energy === undefined)) {
    throw new Error('lowRank: give exactly one of rank and energy');
  }
  const denseNames = model.layers.filter((l) => l.getClassName() === 'Dense').map((l) => l.name);
  for (const n of options.layers ?? []) {
    if (!denseNames.includes(n)) throw new Error(`layers: ${JSON.stringify(n)} is not a Dense layer of ${model.name} (${denseNames.join(', ')})`);
  }
  const out = tf.sequential({ name: `${model.name}_lowrank` });
  const report: LowRankLayer[] = [];
  // getWeights() returns the model's own variables: copy them, never dispose them.
  const pending: { layer: tf.layers.Layer; weights: tf.Tensor[]; created: tf.Tensor[] }[] = [];
  model.layers.forEach((layer, li) => {
    const cls = layer.getClassName();
    if (cls !== 'Dense' && !isDropoutLayer(layer)) throw new Error(`lowRank handles Dense and Dropout layers, got ${cls} (${layer.name})`);
    const config = layer.getConfig();
    const [kernel, bias] = layer.getWeights();
    if (cls === 'Dense' && kernel) {
      const [inputs, units] = kernel.shape as [number, number];
      const d = svd(kernel.dataSync(), inputs, units);
      const total = d.s.reduce((a, x) => a + x * x, 0);
      const biasN = bias ? units : 0;
      const wanted = options.layers ? options.layers.includes(layer.name) : true;
      let r = wanted ? rankFor(options, layer.name, d.s) : null;
      // By default a layer stays dense when its factors would hold as many weights.
      if (r !== null && !options.layers && r * (inputs + units) >= inputs * units) r = null;
      const kept = r === null ? total : total - discardedNorm(d.s, r) ** 2;
      report.push({
        layer: layer.name,
        inputs,
        units,
        rank: r,
        singularValues: Array.from(d.s),
        discardedNorm: r === null ? 0 : discardedNorm(d.s, r),
        energyKept: total === 0 ? 1 : kept / total,
        paramsBefore: inputs * units + biasN,
        paramsAfter: (r === null ? inputs * units : r * (inputs + units)) + biasN,
        macsBefore: inputs * units,
        macsAfter: r === null ? inputs * units : r * (inputs + units),
      });
      if (r !== null) {
        const { left, right } = truncate(d, r);
        const first = tf.layers.dense({
          units: r,
          useBias: false,
          activation: 'linear',
          name: `${layer.name}_u`,
          ...(li === 0 ? { inputShape: [inputs] } : {}),
        });
        const second = tf.layers.dense({
          units,
          useBias: bias !== undefined,
          activation: (config.activation as string | undefined) as 'linear' | undefined,
          name: `${layer.name}_v`,
        });
        out.add(first);
        out.add(second);
        const l = tf.tensor2d(Float32Array.from(left), [inputs, r]); // [in, r]
        const rt = tf.tensor2d(Float32Array.from(right), [r, units]); // [r, units]
        pending.push({ layer: first, weights: [l], created: [l] });
        pending.push({ layer: second, weights: [rt, ...(bias ? [bias] : [])], created: [rt] });
        return;
      }
    }
    // The layer rebuilt from its own config (name, activation, input shape and all).
    const copy =
      cls === 'Dense'
        ? tf.layers.dense(config as unknown as Parameters<typeof tf.layers.dense>[0])
        : cls === SeededDropout.className
          ? new SeededDropout(config as unknown as SeededDropoutArgs)
          : tf.layers.dropout(config as unknown as Parameters<typeof tf.layers.dropout>[0]);
    out.add(copy);
    pending.push({ layer: copy, weights: layer.getWeights(), created: [] });
  });
  for (const p of pending) {
    if (p.weights.length > 0) p.layer.setWeights(p.weights);
    tf.dispose(p.created);
  }
  const sum = (f: (l: LowRankLayer) => number) => report.reduce((s, l) => s + f(l), 0);
  return {
    model: out,
    layers: report,
    paramsBefore: sum((l) => l.paramsBefore),
    paramsAfter: sum((l) => l.paramsAfter),
    macsBefore: sum((l) => l.macsBefore),
    macsAfter: sum((l) => l.macsAfter),
  };
}
