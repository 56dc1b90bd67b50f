/**
 * Argument checks shared by the lib: each names the argument and the value it got, so that bad
 * input fails at the call with a clear message instead of a NaN later.
 */

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
