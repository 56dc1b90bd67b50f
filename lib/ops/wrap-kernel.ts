/**
 * Re-registering a backend's kernel with a wrapper around it, once: how lib/ops/wasm-matmul,
 * wasm-transpose and wasm-identity change what wasm runs without changing the kernel's name,
 * attributes or gradient (the engine and the tape see the original).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from './kernel-backend';

/** The wrappers registered, so that installing twice wraps once. */
const WRAPPED = new WeakSet<object>();

/**
 * Registers `make(original)` in place of `backendName`'s kernel `name`, unless the registered
 * kernel is already such a wrapper.
 * @returns false when the backend has no such kernel (its package not loaded), else true.
 */
export function wrapBackendKernel(name: string, backendName: string, make: (original: KernelFunc) => KernelFunc): boolean {
  const config = tf.getKernel(name, backendName);
  if (config === undefined) return false;
  if (WRAPPED.has(config.kernelFunc)) return true;
  const kernelFunc = make(config.kernelFunc as unknown as KernelFunc);
  WRAPPED.add(kernelFunc);
  tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...config, kernelFunc });
  return true;
}
