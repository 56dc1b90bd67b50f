/**
 * Boundary checks shared by the distillation files. Each message names the argument and the value
 * received, e.g. `temperature must be > 0, got -1`, and tests pin them by regex.
 *
 * Internal to lib/distill (not re-exported from the index).
 */
import * as tf from '@tensorflow/tfjs';
import { assert, isTensor, stringOf } from '../assert';

export { assert };

/** Formats a value for an error message: numbers as written, everything else as JSON. */
export function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? stringOf(v);
  } catch {
    return stringOf(v);
  }
}

/**
 * Checks a softmax temperature: a finite number > 0.
 * @throws Error `temperature must be > 0, got -1`.
 */
export function assertTemperature(T: unknown, name = 'temperature'): asserts T is number {
  assert(typeof T === 'number' && Number.isFinite(T) && T > 0, () => `${name} must be a finite number > 0, got ${show(T)}`);
}

/**
 * Checks that `x` is a float32 tensor of at least rank 1 (or exactly `rank` when given).
 * @throws Error naming the argument, its rank/shape and dtype.
 */
export function assertLogits(x: unknown, name: string, rank?: number): asserts x is tf.Tensor {
  assert(isTensor(x), () => `${name} must be a tf.Tensor, got ${x === null ? 'null' : typeof x}`);
  assert(x.dtype === 'float32', () => `${name} must have dtype float32, got ${x.dtype}`);
  if (rank !== undefined) {
    assert(x.rank === rank, () => `${name} must have rank ${rank} ([batch, classes]), got shape [${x.shape.join(', ')}]`);
  } else {
    assert(x.rank >= 1, () => `${name} must have rank >= 1 (classes on the last axis), got shape [${x.shape.join(', ')}]`);
  }
  const classes = x.shape[x.rank - 1] ?? 0;
  assert(classes >= 1 && x.size > 0, () => `${name} must not be empty, got shape [${x.shape.join(', ')}]`);
}

/**
 * Checks that every element of `x` is finite. Reads the tensor back (one sync of a boolean), so
 * loss functions let callers turn it off once their pipeline is trusted.
 * @throws Error `studentLogits contains NaN or Inf (3 non-finite values, first at flat index 7)`.
 */
export function assertFinite(x: tf.Tensor, name: string): void {
  const ok = tf.tidy(() => tf.all(tf.isFinite(x)).dataSync()[0] === 1);
  if (ok) return;
  const values = x.dataSync();
  let count = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      count++;
      if (first < 0) first = i;
    }
  }
  throw new Error(`${name} contains NaN or Inf (${count} non-finite value${count === 1 ? '' : 's'}, first at flat index ${first}: ${values[first]})`);
}

/**
 * Checks that two tensors have the same shape, naming both.
 * @throws Error `teacherLogits shape [4, 10] must equal studentLogits shape [4, 5]`.
 */
export function assertSameShape(a: tf.Tensor, aName: string, b: tf.Tensor, bName: string): void {
  const same = a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i]);
  assert(same, () => `${aName} shape [${a.shape.join(', ')}] must equal ${bName} shape [${b.shape.join(', ')}]`);
}
