/**
 * Post-training quantisation of weights: int8 (symmetric, one scale per output channel) and
 * float16, with the bytes each format takes.
 *
 * - int8: for column j of a Dense kernel, s_j = max_i |W_ij| / 127 and q_ij = round(W_ij / s_j)
 *   in [−127, 127]; the weight is read back as q_ij · s_j, within s_j / 2 of W_ij. The zero point is
 *   0 (symmetric), so a pruned zero stays exactly zero. This is the scheme of ONNX's
 *   DequantizeLinear with `axis` = 1 and of TensorRT / TFLite per-channel weight quantisation.
 * - float16: IEEE 754 binary16, round to nearest even; relative error ≤ 2⁻¹¹ in the normal range
 *   (|x| ≥ 2⁻¹⁴), absolute error ≤ 2⁻²⁵ below it.
 *
 * tfjs on WASM computes in float32, so `quantizeModel` returns a model whose weights are the
 * dequantised values: it predicts exactly what an int8/float16 model stored on disk would, and its
 * size is what `weightBytes` counts.
 */
import * as tf from '@tensorflow/tfjs';
import { denseKernels } from './prune';
import { isDropoutLayer } from '../models/dropout';

/** The storage formats of weights the course compares. */
export type WeightFormat = 'float32' | 'float16' | 'int8';
/** The formats, for validation. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['float32', 'float16', 'int8'];

/** An int8 per-channel quantised matrix (rows × cols, row-major), one scale per column. */
export interface Int8PerChannel {
  q: Int8Array;
  scales: Float32Array;
  rows: number;
  cols: number;
}

/**
 * Symmetric int8 quantisation of a row-major rows × cols matrix, one scale per column.
 * A column of zeros gets scale 1 (any scale represents it exactly).
 * @throws Error when the sizes disagree or a value is not finite.
 */
export function quantizeInt8PerChannel(w: ArrayLike<number>, rows: number, cols: number): Int8PerChannel {
  if (w.length !== rows * cols) throw new Error(`w must have rows*cols = ${rows * cols} entries, got ${w.length}`);
  const scales = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    let m = 0;
    for (let i = 0; i < rows; i++) {
      const x = w[i * cols + j] as number;
      if (!Number.isFinite(x)) throw new Error(`w[${i * cols + j}] must be finite, got ${x}`);
      m = Math.max(m, Math.abs(x));
    }
    scales[j] = m > 0 ? m / 127 : 1;
  }
  const q = new Int8Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = Math.round((w[i * cols + j] as number) / (scales[j] as number));
      q[i * cols + j] = Math.max(-127, Math.min(127, v));
    }
  }
  return { q, scales, rows, cols };
}

/** q · scale, column by column, as float32. */
export function dequantizeInt8PerChannel(x: Int8PerChannel): Float32Array {
  const out = new Float32Array(x.rows * x.cols);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < x.cols; j++) out[i * x.cols + j] = (x.q[i * x.cols + j] as number) * (x.scales[j] as number);
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of `x` (rounded to float32 first, then to nearest even binary16). */
export function float16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0] as number;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to Inf
  if (e <= 0) {
    // A subnormal binary16: value = h · 2⁻²⁴.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Inf).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** The number whose binary16 bits are `h`. */
export function float16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 values to binary16 bits. */
export function toFloat16(x: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = float16Bits(x[i] as number);
  return out;
}

/** binary16 bits to float32 values. */
export function fromFloat16(h: ArrayLike<number>): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = float16Value(h[i] as number);
  return out;
}

function assertFormat(format: WeightFormat): void {
  if (!WEIGHT_FORMATS.includes(format)) throw new Error(`format must be one of ${WEIGHT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
}

/**
 * Bytes the model's weights take in `format`: float32 4 per weight, float16 2; int8 stores the
 * Dense kernels as 1 byte per weight plus one float32 scale per output unit, and the rest (biases)
 * as float32. Headers and topology are not counted.
 * @throws Error naming the format when it is unknown.
 */
export function weightBytes(model: tf.LayersModel, format: WeightFormat): number {
  assertFormat(format);
  const kernels = new Set(denseKernels(model).map((k) => k.variable));
  return model.weights.reduce((sum, w) => {
    const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    if (format === 'float32') return sum + 4 * n;
    if (format === 'float16') return sum + 2 * n;
    return sum + (kernels.has(w) ? n + 4 * (w.shape[w.shape.length - 1] ?? 1) : 4 * n);
  }, 0);
}

/** One quantised weight: its name and the largest |w − dequantised w|, with the bound it must respect. */
export interface QuantisedWeight {
  name: string;
  maxAbsError: number;
  /** The largest error the scheme allows for this tensor (s/2 for int8; the float16 bound). */
  bound: number;
}

/**
 * A copy of `model` whose weights are quantised to `format` and read back to float32 (float32: an
 * exact copy). int8 applies to Dense kernels (biases stay float32); float16 to every weight.
 * @throws Error naming the format when it is unknown.
 */
export function quantizeModel(model: tf.LayersModel, format: WeightFormat): { model: tf.LayersModel; weights: QuantisedWeight[] } {
  assertFormat(format);
  const clone = cloneModel(model);
  const kernels = new Set(denseKernels(model).map((k) => k.variable));
  const report: QuantisedWeight[] = [];
  const values = model.weights.map((w) => {
    const v = w.read().dataSync() as Float32Array;
    let out: Float32Array = Float32Array.from(v);
    let bound = 0;
    if (format === 'float16') {
      out = fromFloat16(toFloat16(v));
      bound = v.reduce((m, x) => Math.max(m, Math.abs(x) >= 2 ** -14 ? Math.abs(x) * 2 ** -11 : 2 ** -25), 0);
    } else if (format === 'int8' && kernels.has(w)) {
      const [rows, cols] = w.shape as [number, number];
      const q = quantizeInt8PerChannel(v, rows, cols);
      out = dequantizeInt8PerChannel(q);
      // s/2 from rounding, plus the float32 rounding of q · s.
      bound = q.scales.reduce((m, s) => Math.max(m, s / 2 + 127 * s * 2 ** -24), 0);
    }
    let err = 0;
    for (let i = 0; i < v.length; i++) err = Math.max(err, Math.abs((v[i] as number) - (out[i] as number)));
    report.push({ name: w.name, maxAbsError: err, bound });
    return tf.tensor(out, w.shape as number[]);
  });
  clone.setWeights(values);
  tf.dispose(values);
  return { model: clone, weights: report };
}

/**
 * A new model with the same topology and copies of the weights (training state is not copied).
 */
export function cloneModel<T extends tf.LayersModel>(model: T): T {
  const cls = model.constructor as unknown as {
    fromConfig: (cls: unknown, config: tf.serialization.ConfigDict) => T;
  };
  const clone = cls.fromConfig(model.constructor, model.getConfig());
  clone.setWeights(model.getWeights());
  return clone;
}

/**
 * Dynamic int8 quantisation of activations, simulated: symmetric and per tensor, with the scale
 * s = max |x| / 127 taken from this very tensor (hence "dynamic": no calibration data), and the
 * values read back as round(x / s) · s. Each value moves by at most s / 2. The scale depends on
 * the whole batch, so a row's result can change with the rows beside it.
 */
export function fakeQuantizeInt8(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // An all-zero tensor keeps a tiny positive scale, and stays zero.
    const s = tf.div(tf.maximum(tf.max(tf.abs(x)), 1e-30), 127);
    return tf.mul(tf.clipByValue(tf.round(tf.div(x, s)), -127, 127), s);
  });
}

/**
 * Logits of a Sequential MLP (Dense and Dropout layers) whose Dense layers see their inputs
 * quantised to int8 dynamically (`fakeQuantizeInt8`), as an integer matrix product with int8
 * activations would; the weights are used as the model holds them (pass an int8 `quantizeModel`
 * copy for int8 weights too).
 * @throws Error naming the layer when the model holds another kind of layer.
 */
export function predictDynamicInt8(model: tf.Sequential, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor = x;
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      if (isDropoutLayer(layer)) continue; // the identity at inference
      if (cls !== 'Dense') throw new Error(`predictDynamicInt8 handles Dense and Dropout layers, got ${cls} (${layer.name})`);
      h = layer.apply(fakeQuantizeInt8(h)) as tf.Tensor;
    }
    return h as tf.Tensor2D;
  });
}
