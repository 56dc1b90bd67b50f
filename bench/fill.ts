/**
 * Inputs and weights that PyTorch can reproduce bit for bit: an integer hash of each element's
 * flat index (`hash_fill` in bench/torch_bench.py), Glorot-uniform bounds, dense stacks built by
 * the lib's `mlp` with those weights.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';

/**
 * A [rows, cols] tensor of values in [-scale, scale), bit-identical to hash_fill() in
 * bench/torch_bench.py: an integer hash of the flat index, so both sides get the same inputs.
 */
export function hashFill(rows: number, cols: number, seed: number, scale: number): tf.Tensor2D {
  const out = new Float32Array(rows * cols);
  for (let k = 0; k < out.length; k++) {
    let h = (k + seed * 0x1000000) >>> 0;
    h = Math.imul((h >>> 16) ^ h, 0x45d9f3b) >>> 0;
    h = Math.imul((h >>> 16) ^ h, 0x45d9f3b) >>> 0;
    h = ((h >>> 16) ^ h) >>> 0;
    out[k] = ((h / 2 ** 32) * 2 - 1) * scale; // float64, rounded to float32 on store
  }
  return tf.tensor2d(out, [rows, cols]);
}

/** Glorot-uniform bound of a [fanIn, fanOut] kernel; the same number in torch_bench.py. */
export function glorot(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}

/**
 * A dense stack `sizes[0] -> ... -> sizes.at(-1)` built by the lib's `mlp` (tfjs-layers, as in
 * the lessons), with hash-filled kernels and zero biases, identical to torch_bench.py's.
 * @param seed first hash seed; layer k uses seed + k
 */
export function denseStack(sizes: readonly number[], seed: number): tf.Sequential {
  const [inputs, ...rest] = sizes;
  const outputs = rest.at(-1);
  if (inputs === undefined || outputs === undefined) throw new Error(`sizes must list at least 2 widths, got ${JSON.stringify(sizes)}`);
  const model = lib.mlp({ inputs, hidden: rest.slice(0, -1), outputs, rng: new lib.Rng(seed) });
  const weights = rest.flatMap((out, k) => {
    const fanIn = sizes[k] ?? 0;
    return [hashFill(fanIn, out, seed + k, glorot(fanIn, out)), tf.zeros([out])]; // kernel [in, out], bias [out]
  });
  model.setWeights(weights); // copies the values into the model's variables
  tf.dispose(weights);
  return model;
}

/** The trainable variables of a layer or model, in getWeights order. */
export function trainableVariables(layer: tf.layers.Layer | tf.LayersModel): tf.Variable[] {
  return layer.trainableWeights.map((w) => w.read() as tf.Variable);
}
