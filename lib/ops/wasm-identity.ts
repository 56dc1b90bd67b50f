/**
 * WASM's `Identity` without the copy.
 *
 * tfjs's engine clones every tensor that a gradient saves (`keep(clone(x))`), and a clone runs
 * the backend's `Identity` kernel. tfjs-backend-wasm 4.22's copies the whole buffer; its `Reshape`
 * and the `cpu` and `tensorflow` backends' `Identity` instead share the buffer and count one more
 * reference to it (`incRef`). The buffers are never written after their kernel made them (no
 * kernel of tfjs-wasm or of this lib writes into an input), so a shared buffer is as good as a
 * copy. In `tf.profile` of lesson 11's tiny LM step on wasm, the clones were 234 `Identity`
 * kernels and 2.9 ms of the step.
 *
 * {@link installWasmIdentityFix} re-registers wasm's `Identity` with a kernel that shares the
 * buffer (string tensors, which live outside the heap, keep the original kernel).
 */
import type * as tf from '@tensorflow/tfjs';
import { wrapBackendKernel } from './wrap-kernel';

/**
 * Wraps wasm's `Identity` so that it shares its input's buffer (see the file header). Idempotent;
 * a no-op where the wasm backend's kernel is not registered.
 * @returns true when the kernel is wrapped.
 */
export function installWasmIdentityFix(): boolean {
  return wrapBackendKernel('Identity', 'wasm', (original) => (args) => {
    const x = args.inputs['x'];
    const backend = args.backend as { incRef?: (dataId: tf.DataId) => void };
    if (x === undefined || x.dtype === 'string' || typeof backend.incRef !== 'function') return original(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  });
}
