/**
 * Argument checks shared by the lib: each names the argument and the value it got, so that bad
 * input fails at the call with a clear message instead of a NaN later.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Throws `Error(message)` when `cond` is false; a function message is built only then.
 * @throws Error with `message`.
 */
export function assert(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new Error(typeof message === 'string' ? message : message());
}

/**
 * @throws Error `${name} must be a positive integer, got ${v}` unless `v` is an integer > 0.
 */
export function assertPositiveInteger(v: number, name: string): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}

/**
 * @throws Error `${name} must be an integer ≥ ${min}, got ${v}` unless `v` is an integer ≥ min.
 */
export function assertIntegerAtLeast(v: number, name: string, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${v}`);
}

/**
 * `value` when it is a number that passes `ok`.
 * @throws Error `${name} must be ${rule}, got ${value}` otherwise.
 */
export function checkNumber(name: string, value: unknown, ok: (x: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !ok(value)) throw new Error(`${name} must be ${rule}, got ${String(value)}`);
  return value;
}

/**
 * `v instanceof tf.Tensor` as a type guard: it narrows to `tf.Tensor`, where the bare `instanceof`
 * narrows an `unknown` to `tf.Tensor<any>` (whose shape is `any`).
 */
export function isTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

/**
 * `String(v)` for a value of unknown type: the same text, typed so that the linter sees which
 * `toString` runs (an object's own, a function's source, a primitive's).
 */
export function stringOf(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'symbol':
    case 'function':
      return v.toString();
    default:
      return v === null ? 'null' : (v as { toString(): string }).toString();
  }
}

/**
 * `Array.isArray(v)` as a type guard to `readonly unknown[]`: a typed array argument keeps its
 * element type, where the bare `Array.isArray` narrows it to `any[]`.
 */
export function isArray(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}
