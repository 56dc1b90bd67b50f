/**
 * WASM's transpose of the last two axes of a tall matrix, done in 8 × 8 blocks.
 *
 * tfjs-backend-wasm 4.22's `Transpose` is slow on matrices with many more rows than columns:
 * measured 2026-12-02 (medians of 5 interleaved rounds, 20 calls each), `[1024, 64]` took 435 µs,
 * `[4096, 64]` 1824 µs and `[16, 512, 64]` 2619 µs. The same copy written as a transpose of the
 * blocked view `[N, R/8, 8, C/8, 8]` with the permutation `[0, 3, 4, 1, 2]` (which is
 * `[N, C/8, 8, R/8, 8]` = `[N, C, R]` in memory) took 68, 272 and 504 µs. It moves whole 8 × 8
 * blocks, so both its reads and its writes stay within a few cache lines. On wide or small
 * matrices the plain kernel wins (`[64, 1024]`: 42 against 180 µs; `[128, 64, 64]`: 179 against
 * 504 µs; `[64, 64]`: 10 against 15 µs), so the blocked form is used only when
 * {@link blockedTransposeWins}.
 *
 * Where it counts: every weight gradient `xᵀ @ dy` of a Dense layer with many rows (a batch of
 * tokens), which lib/ops/wasm-matmul.ts computes as an explicit transpose and a plain product
 * (`[1024, 64]ᵀ @ [1024, 64]`: 646 µs with tfjs-wasm's own `transposeA`, 277 µs with the blocked
 * transpose), and explicit `tf.transpose` calls (lib/ops/matmul.ts's `matMul2dExplicitGrad`).
 *
 * {@link installWasmTransposeFix} re-registers wasm's `Transpose` with a wrapper that takes the
 * blocked path for a swap of the last two axes when it wins, and the original kernel otherwise.
 * The result is the same copy (bit for bit), under the original kernel name and attributes.
 */
import type * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from './kernel-backend';
import { wrapBackendKernel } from './wrap-kernel';

/** Block side of the blocked transpose. */
export const TRANSPOSE_BLOCK = 8;

/** Matrices with fewer rows than this keep the plain kernel (measured: `[256, 64]` 60 → 22 µs). */
export const MIN_BLOCKED_ROWS = 256;

/**
 * Whether the blocked transpose of the last two axes of `shape` is the faster one: rank ≥ 2, at
 * least {@link MIN_BLOCKED_ROWS} rows, more rows than columns, both multiples of
 * {@link TRANSPOSE_BLOCK}.
 */
export function blockedTransposeWins(shape: readonly number[]): boolean {
  const r = shape.length;
  if (r < 2) return false;
  const R = shape[r - 2] as number;
  const C = shape[r - 1] as number;
  return R >= MIN_BLOCKED_ROWS && R > C && R % TRANSPOSE_BLOCK === 0 && C % TRANSPOSE_BLOCK === 0;
}

/** Whether `perm` keeps the leading axes and swaps the last two. */
export function swapsLastTwo(perm: readonly number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

/**
 * The blocked transpose of the last two axes of `x` (see the file header), by the original wasm
 * `Transpose` kernel on a blocked view of the same memory. The caller checks
 * {@link blockedTransposeWins}.
 */
export function blockedTranspose(original: KernelFunc, backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  const s = x.shape;
  const r = s.length;
  const R = s[r - 2] as number;
  const C = s[r - 1] as number;
  const b = TRANSPOSE_BLOCK;
  const N = s.slice(0, -2).reduce((p, d) => p * d, 1);
  const view: tf.TensorInfo = { dataId: x.dataId, shape: [N, R / b, b, C / b, b], dtype: x.dtype };
  const out = original({ inputs: { x: view }, backend, attrs: { perm: [0, 3, 4, 1, 2] } }) as tf.TensorInfo; // [N, C/b, b, R/b, b]
  return { dataId: out.dataId, shape: [...s.slice(0, -2), C, R], dtype: out.dtype };
}

/**
 * Wraps wasm's `Transpose` so that a swap of the last two axes of a tall matrix runs blocked.
 * Idempotent; a no-op where the wasm backend's kernel is not registered.
 * @returns true when the kernel is wrapped.
 */
export function installWasmTransposeFix(): boolean {
  return wrapBackendKernel('Transpose', 'wasm', (original) => (args) => {
    const x = args.inputs['x'];
    const perm = args.attrs?.['perm'];
    if (x !== undefined && Array.isArray(perm) && swapsLastTwo(perm as number[]) && blockedTransposeWins(x.shape)) {
      return blockedTranspose(original, args.backend, x);
    }
    return original(args);
  });
}
