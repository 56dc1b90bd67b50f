/**
 * Magnitude pruning (Han et al. 2015, "Learning both Weights and Connections"): zero the weights
 * of smallest absolute value, then fine-tune with the zeros held by a mask.
 *
 * Only the kernels of Dense layers are pruned; biases are few and stay dense. `scope: 'global'`
 * ranks all kernels' weights together (layers with many small weights lose more), `'layer'`
 * prunes each kernel to the same fraction. Either way exactly round(sparsity · n) weights are
 * zeroed per scope, ties broken by position, so the sparsity reached is the one asked for.
 */
import * as tf from '@tensorflow/tfjs';

/** How to prune. */
export interface PruneOptions {
  /** Fraction of kernel weights set to zero, in [0, 1). */
  sparsity: number;
  /** 'global': one threshold over all Dense kernels; 'layer': the same fraction in each (default 'global'). */
  scope?: 'global' | 'layer';
}

/** One pruned kernel and its mask (1 = kept, 0 = pruned). */
export interface PrunedKernel {
  /** The layer's name. */
  layer: string;
  /** The kernel variable (pruned in place). */
  variable: tf.LayerVariable;
  /** Same shape as the kernel; the caller owns it through `PruningMasks.dispose()`. */
  mask: tf.Tensor;
  /** Weights in the kernel. */
  size: number;
  /** Weights set to zero. */
  pruned: number;
}

/** Zeros per kernel and overall. */
export interface SparsityReport {
  /** Per Dense kernel: its layer's name, size and the number of exact zeros. */
  layers: { layer: string; size: number; zeros: number }[];
  /** Zeros over all kernels. */
  zeros: number;
  /** Weights in all kernels. */
  size: number;
  /** zeros / size. */
  sparsity: number;
}

/** The masks of one pruning: re-apply them after each fine-tuning step, dispose them at the end. */
export class PruningMasks {
  constructor(readonly kernels: PrunedKernel[]) {}

  /** Multiplies each kernel by its mask again (after an optimiser step moved pruned weights). */
  apply(): void {
    tf.tidy(() => {
      for (const k of this.kernels) k.variable.write(tf.mul(k.variable.read(), k.mask));
    });
  }

  /** Fraction of kernel weights the masks remove. */
  get sparsity(): number {
    const size = this.kernels.reduce((s, k) => s + k.size, 0);
    return size === 0 ? 0 : this.kernels.reduce((s, k) => s + k.pruned, 0) / size;
  }

  /** Frees the mask tensors. */
  dispose(): void {
    tf.dispose(this.kernels.map((k) => k.mask));
  }
}

/** The Dense layers of a model and their kernel variables. */
export function denseKernels(model: tf.LayersModel): { layer: string; variable: tf.LayerVariable }[] {
  return model.layers
    .filter((l) => l.getClassName() === 'Dense')
    .map((l) => {
      const v = l.weights.find((w) => w.originalName.endsWith('/kernel') || w.name.includes('kernel'));
      if (!v) throw new Error(`Dense layer ${l.name} has no kernel weight`);
      return { layer: l.name, variable: v };
    });
}

/**
 * Indices of the `k` entries of smallest |value| (ties: the earlier index first).
 */
function smallestIndices(values: ArrayLike<number>, k: number): Int32Array {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((i, j) => Math.abs(values[i] as number) - Math.abs(values[j] as number) || i - j);
  return Int32Array.from(idx.slice(0, k));
}

/**
 * Prunes the Dense kernels of `model` in place to the requested sparsity and returns the masks.
 * @throws Error naming the argument when sparsity is outside [0, 1) or scope is unknown, or when
 *   the model has no Dense layer.
 */
export function magnitudePrune(model: tf.LayersModel, options: PruneOptions): PruningMasks {
  const { sparsity } = options;
  const scope = options.scope ?? 'global';
  if (!(sparsity >= 0 && sparsity < 1)) throw new Error(`sparsity must be in [0, 1), got ${sparsity}`);
  if (scope !== 'global' && scope !== 'layer') throw new Error(`scope must be 'global' or 'layer', got ${JSON.stringify(scope)}`);
  const kernels = denseKernels(model);
  if (kernels.length === 0) throw new Error(`model ${model.name} has no Dense layer to prune`);
  const values = kernels.map((k) => k.variable.read().dataSync() as Float32Array);
  const masks = values.map((v) => new Float32Array(v.length).fill(1));
  if (scope === 'layer') {
    values.forEach((v, l) => {
      const m = masks[l] as Float32Array;
      for (const i of smallestIndices(v, Math.round(sparsity * v.length))) m[i] = 0;
    });
  } else {
    const offsets: number[] = [];
    let total = 0;
    for (const v of values) {
      offsets.push(total);
      total += v.length;
    }
    const all = new Float32Array(total);
    values.forEach((v, l) => all.set(v, offsets[l]));
    for (const g of smallestIndices(all, Math.round(sparsity * total))) {
      // The last layer whose offset is ≤ g holds the global index g.
      let l = offsets.length - 1;
      while ((offsets[l] as number) > g) l--;
      (masks[l] as Float32Array)[g - (offsets[l] as number)] = 0;
    }
  }
  const pruned = new PruningMasks(
    kernels.map((k, l) => {
      const m = masks[l] as Float32Array;
      return {
        layer: k.layer,
        variable: k.variable,
        mask: tf.tensor(m, k.variable.shape as number[]),
        size: m.length,
        pruned: m.reduce((s, x) => s + (x === 0 ? 1 : 0), 0),
      };
    }),
  );
  pruned.apply();
  return pruned;
}

/** Counts the exact zeros in the Dense kernels of `model`. */
export function kernelSparsity(model: tf.LayersModel): SparsityReport {
  const layers = denseKernels(model).map((k) => {
    const v = k.variable.read().dataSync();
    let zeros = 0;
    for (let i = 0; i < v.length; i++) if (v[i] === 0) zeros++;
    return { layer: k.layer, size: v.length, zeros };
  });
  const zeros = layers.reduce((s, l) => s + l.zeros, 0);
  const size = layers.reduce((s, l) => s + l.size, 0);
  return { layers, zeros, size, sparsity: size === 0 ? 0 : zeros / size };
}
