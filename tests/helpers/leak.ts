/**
 * Leak checks: `tf.memory().numTensors` after a call equals the count before plus the tensors the
 * call returns (and which the caller owns).
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** Counts the tensors in a returned value (a tensor, an array or a plain object of tensors). */
export function countTensors(value: unknown): number {
  if (value instanceof tf.Tensor) return 1;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countTensors(v), 0);
  if (value !== null && typeof value === 'object') return Object.values(value).reduce((n: number, v) => n + countTensors(v), 0);
  return 0;
}

/** Runs `fn`, checks that it leaked nothing beyond what it returned, disposes that and returns it. */
export function expectNoLeak<T>(fn: () => T, label = 'call'): T {
  const before = tf.memory().numTensors;
  const out = fn();
  const returned = countTensors(out);
  expect(tf.memory().numTensors, `${label}: tensors after = before + returned (${returned})`).toBe(before + returned);
  tf.dispose(out as tf.TensorContainer);
  expect(tf.memory().numTensors, `${label}: tensors after disposing the result`).toBe(before);
  return out;
}

/** Async version of {@link expectNoLeak}. */
export async function expectNoLeakAsync<T>(fn: () => Promise<T>, label = 'call'): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const returned = countTensors(out);
  expect(tf.memory().numTensors, `${label}: tensors after = before + returned (${returned})`).toBe(before + returned);
  tf.dispose(out as tf.TensorContainer);
  expect(tf.memory().numTensors, `${label}: tensors after disposing the result`).toBe(before);
  return out;
}
