/**
 * WASM's matMul without its slow transposed path, for every product at once (layers, attention,
 * gradients).
 *
 * tfjs-backend-wasm 4.22's `BatchMatMul` (and `_FusedMatMul`) with `transposeA` or `transposeB`
 * leaves XNNPACK's fast kernel. Measured here (2 vCPUs, under load, `/tmp`-free micro-benchmark
 * described in bench/README.md): `[256, 256]` products took 60 ms with `transposeA` and 52 ms with
 * `transposeB` against 2.3 ms and 5.7 ms as an explicit transpose then a plain product; at 1024²,
 * 8.4 s against 0.65 s; even the distillation student's `[64, 64]ᵀ @ [64, 8]` took 47 µs against
 * 25 µs. Every Dense layer's backward pass uses both flags (tfjs's matMul gradient is
 * `dy @ bᵀ`, `aᵀ @ dy`), and attention's `q @ kᵀ` uses `transposeB` forward.
 *
 * {@link installWasmMatMulTransposeFix} re-registers the two wasm kernels with a wrapper that
 * transposes a flagged operand explicitly (wasm's `Transpose` kernel, a copy) and runs the
 * original kernel without the flag. Same products (an exact copy, then the same XNNPACK kernel),
 * and the engine, the tape and the gradients see the original kernel name and attributes.
 * Small operands in small products keep the flag ({@link explicitTransposePays}): there the copy
 * costs more than it saves.
 *
 * **Batched products.** The same kernel runs XNNPACK only for one matrix times one matrix
 * (`batch == 1`, no transpose flag); any batch (attention's per-head products, `[b, h, t, t] @
 * [b, h, t, d]`) goes to a scalar triple loop (tfjs-backend-wasm's `batch_mat_mul_impl.cc`,
 * `slow_batch_matmul`). Measured here, 2026-12-02: `[128, 64, 64] @ [128, 64, 8]` (lesson 11's
 * attention mixing) 4.4 ms, against 0.88 ms as 128 XNNPACK products; `[128, 128, 128] @ [128,
 * 128, 32]` 44 ms against 7.4 ms. The wrapper therefore runs a batched product whose matrices have
 * at least {@link MIN_XNN_BATCH_ROWS} rows as one XNNPACK product per batch
 * ({@link xnnPerBatch}): each batch's operands and output are registered with the C side as
 * views into the tensors' heap memory (no copy), multiplied by the kernel's fast path, and
 * unregistered. With one row (a decoding step's `[h, 1, d] @ [h, d, T]`) XNNPACK would pack each
 * batch's right operand for a single use, and was slower (1.3 ms against 1.2 ms for `[8, 1, 64] @
 * [8, 64, 1024]`; 1.4 ms against 0.4 ms for `[8, 1, 1024] @ [8, 1024, 64]`): those keep the loop.
 * XNNPACK sums in another order than the loop, so results differ by float32 rounding (relative
 * 1e-6 here).
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmInternalsLike } from './kernel-backend';
import { wrapBackendKernel } from './wrap-kernel';

/** Operands with fewer elements keep wasm's transposed path (measured: [8, 10]ᵀ was no slower). */
export const MIN_EXPLICIT_TRANSPOSE = 256;

/**
 * ... unless the product has at least this many multiply-adds: the transposed path's cost grows
 * with the whole product, not with the flagged operand. Measured 2026-12-02 (medians of 7
 * interleaved rounds), `[m, 8] @ [8, 8]ᵀ` with the flag against an explicit transpose of the
 * `[8, 8]`: m = 128, 16 µs against 19; m = 256, 24 against 19; m = 512, 42 against 21; m = 8192
 * (the gradient of RoPE's half swap in lesson 11's tiny LM), 538 against 71.
 */
export const MIN_EXPLICIT_TRANSPOSE_MACS = 2 ** 14;

/**
 * Whether a flagged operand of `flagged` elements, in a product of `macs` multiply-adds, is
 * transposed explicitly (see {@link MIN_EXPLICIT_TRANSPOSE}, {@link MIN_EXPLICIT_TRANSPOSE_MACS}).
 */
export function explicitTransposePays(flagged: number, macs: number): boolean {
  return flagged >= MIN_EXPLICIT_TRANSPOSE || macs >= MIN_EXPLICIT_TRANSPOSE_MACS;
}

/**
 * Whether `a @ bᵀ` (`a: [..., m, k]`, `b: [..., p, k]`, the same leading axes) runs as
 * `(b @ aᵀ)ᵀ`: when b is larger than a and the `[m, p]` product together, as when a few queries
 * score a whole cache (MLA's absorbed scores: `[1, 8, 288]` against `[1, T, 288]`), copying a and
 * the product costs less than copying b. Measured 2026-12-02 (medians of 9 interleaved rounds), at
 * T = 257, 1025 and 4097: 72, 149 and 513 µs this way against 246, 1403 and 5807 µs copying b.
 */
export function transposeBBySwap(aShape: readonly number[], bShape: readonly number[]): boolean {
  const r = aShape.length;
  if (r < 2 || bShape.length !== r || !aShape.slice(0, -2).every((d, i) => d === bShape[i])) return false;
  const size = (s: readonly number[]): number => s.reduce((x, d) => x * d, 1);
  const rowsOfA = size(aShape) / (aShape[r - 1] as number); // batch · m
  return size(bShape) > size(aShape) + rowsOfA * (bShape[r - 2] as number); // b > a + the product
}

/**
 * Batched products (after the explicit transposes) whose left matrices have at least this many
 * rows run as one XNNPACK product per batch. Measured 2026-12-02: 16 rows (`[64, 16, 16] @ [64,
 * 16, 16]`) 0.11 ms against 0.22 ms for the loop; 1 row slower (see the file header).
 */
export const MIN_XNN_BATCH_ROWS = 4;

/** The kernels wrapped (both take inputs `a`, `b` and attributes `transposeA`, `transposeB`). */
const KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;

/**
 * Wraps wasm's `BatchMatMul` and `_FusedMatMul` so that flagged operands are transposed
 * explicitly. Idempotent; a no-op where the wasm backend's kernels are not registered.
 * @returns the names of the kernels now wrapped (empty when wasm is absent).
 */
export function installWasmMatMulTransposeFix(): string[] {
  const transposeKernel = tf.getKernel('Transpose', 'wasm');
  if (transposeKernel === undefined) return [];
  const wrapped: string[] = [];
  for (const name of KERNELS) {
    const ok = wrapBackendKernel(name, 'wasm', (original) => (args) => {
      const attrs = args.attrs ?? {};
      const { a, b } = args.inputs;
      let transposeA = attrs['transposeA'] === true;
      let transposeB = attrs['transposeB'] === true;
      if (a === undefined || b === undefined) return original(args);
      if (name === 'BatchMatMul' && !transposeA) {
        // a plain batched product, or one row times a transposed matrix (a decoding step's scores)
        const perBatch = xnnPerBatch(args.backend, a, b, transposeB);
        if (perBatch !== null) return perBatch;
      }
      if (!transposeA && !transposeB) return original(args);
      const backend = args.backend as tf.KernelBackend;
      const temps: tf.TensorInfo[] = [];
      // [..., r, c] -> [..., c, r], as a copy in wasm memory (disposed below)
      const flip = (x: tf.TensorInfo): tf.TensorInfo => {
        const r = x.shape.length;
        const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
        const out = transposeKernel.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
        temps.push(out);
        return out;
      };
      const size = (x: tf.TensorInfo): number => x.shape.reduce((p, d) => p * d, 1);
      // multiply-adds: a's elements (batch · m · k) times b's columns n
      const macs = size(a) * (b.shape[b.shape.length - (transposeB ? 2 : 1)] as number);
      if (name === 'BatchMatMul' && transposeB && !transposeA && transposeBBySwap(a.shape, b.shape)) {
        try {
          const aT = flip(a); // [..., k, m]
          const product = xnnPerBatch(backend, b, aT, false) ?? (original({ ...args, inputs: { a: b, b: aT }, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo); // [..., p, m]
          temps.push(product);
          const r = product.shape.length;
          return transposeKernel.kernelFunc({ inputs: { x: product }, backend, attrs: { perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2] } }); // [..., m, p]
        } finally {
          for (const t of temps) backend.disposeData(t.dataId);
        }
      }
      const inputs = { ...args.inputs };
      if (transposeA && explicitTransposePays(size(a), macs)) {
        inputs['a'] = flip(a);
        transposeA = false;
      }
      if (transposeB && explicitTransposePays(size(b), macs)) {
        inputs['b'] = flip(b);
        transposeB = false;
      }
      try {
        if (name === 'BatchMatMul' && !transposeA && !transposeB) {
          const perBatch = xnnPerBatch(args.backend, inputs['a'] as tf.TensorInfo, inputs['b'] as tf.TensorInfo, false);
          if (perBatch !== null) return perBatch;
        }
        return original({ ...args, inputs, attrs: { ...attrs, transposeA, transposeB } });
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    });
    if (ok) wrapped.push(name);
  }
  return wrapped;
}

/** The C function behind wasm's `BatchMatMul` kernel, wrapped once per backend object. */
const BATCH_MAT_MUL = new WeakMap<object, (...args: unknown[]) => void>();

/** The product of the batch dimensions (all but the last two). */
function batchSize(shape: readonly number[]): number {
  return shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

/**
 * `a @ b` (or `a @ bᵀ`) for float32 `a: [...batch, m, k]`, `b: [...batch, k, n]` (`[...batch, n,
 * k]` with `transposeB`), as one XNNPACK product per batch (see the file header), from views into
 * the operands' heap memory. One operand may have a batch of one (shared by every batch).
 *
 * - Without `transposeB`: `m ≥` {@link MIN_XNN_BATCH_ROWS}; XNNPACK's input is `a_i`, its
 *   weights `b_i`.
 * - With `transposeB` and one row (`m = 1`, a decoding step's `q @ Kᵀ`): `a_i bᵢᵀ = (b_i a_iᵀ)ᵀ`,
 *   so XNNPACK's input is `b_i` (`n ≥` {@link MIN_XNN_BATCH_ROWS} rows), its weights `a_i` read
 *   as a `[k, 1]` column, and its `[n, 1]` output is, in memory, the `[1, n]` row wanted: no
 *   transpose is copied.
 *
 * Returns null, for the original kernel to run, in every other case: not batched, too few rows,
 * other broadcasts of the batch dimensions, or a backend without the internals this relies on
 * (tfjs-backend-wasm 4.22).
 */
export function xnnPerBatch(backend: unknown, a: tf.TensorInfo, b: tf.TensorInfo, transposeB: boolean): tf.TensorInfo | null {
  const be = backend as Partial<WasmInternalsLike> | null;
  if (be?.wasm?.tfjs === undefined || typeof be.wasm.cwrap !== 'function' || be.dataIdMap === undefined || typeof be.dataIdNextNumber !== 'number' || typeof be.makeOutput !== 'function') return null;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 3 || b.shape.length < 3) return null;
  const m = a.shape[a.shape.length - 2] as number;
  const k = a.shape[a.shape.length - 1] as number;
  const n = b.shape[b.shape.length - (transposeB ? 2 : 1)] as number;
  if (b.shape[b.shape.length - (transposeB ? 1 : 2)] !== k) return null;
  // XNNPACK's view of each batch: input [rows, k] @ weights [k, cols]
  const swap = transposeB; // input b_i [n, k], weights a_i as [k, 1]
  if (swap ? m !== 1 || n < MIN_XNN_BATCH_ROWS : m < MIN_XNN_BATCH_ROWS) return null;
  const aBatch = batchSize(a.shape);
  const bBatch = batchSize(b.shape);
  const sameBatch = a.shape.length === b.shape.length && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
  if (!sameBatch && aBatch !== 1 && bBatch !== 1) return null; // other broadcasts: the original kernel
  const batch = Math.max(aBatch, bBatch);
  if (batch === 1 || k === 0 || m * n === 0) return null;
  const aData = be.dataIdMap.get(a.dataId);
  const bData = be.dataIdMap.get(b.dataId);
  if (aData === undefined || bData === undefined) return null;
  const batchShape = (aBatch >= bBatch ? a : b).shape.slice(0, -2);
  const out = be.makeOutput([...batchShape, m, n], 'float32');
  const outData = be.dataIdMap.get(out.dataId) as { memoryOffset: number };
  let call = BATCH_MAT_MUL.get(be);
  if (call === undefined) {
    call = be.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    BATCH_MAT_MUL.set(be, call);
  }
  const { tfjs } = be.wasm;
  const rows = swap ? n : m;
  const cols = swap ? 1 : n;
  const inputShape = new Uint8Array(Int32Array.from([1, rows, k]).buffer);
  const weightShape = new Uint8Array(Int32Array.from([1, k, cols]).buffer);
  // Views into the heap, registered with the C side under fresh ids and unregistered after the
  // product (which also frees the XNNPACK operator cached on a view). The JavaScript side never
  // sees them: the memory stays owned by a, b and out.
  const view = (offset: number, size: number): number => {
    const id = be.dataIdNextNumber as number;
    be.dataIdNextNumber = id + 1;
    tfjs.registerTensor(id, size, offset);
    return id;
  };
  const aSize = m * k;
  const bSize = k * n;
  for (let i = 0; i < batch; i++) {
    // With the swap, a is XNNPACK's weights: always a view, so that no operator stays cached on
    // a's own id (tfjs-wasm's cache key is the id, not the shape: a later product using a as
    // weights of another shape would find the [k, 1] operator).
    const ia = aBatch === 1 && !swap ? aData.id : view(aData.memoryOffset + (aBatch === 1 ? 0 : i) * aSize * 4, aSize);
    const ib = bBatch === 1 ? bData.id : view(bData.memoryOffset + i * bSize * 4, bSize);
    const io = view(outData.memoryOffset + i * m * n * 4, m * n);
    if (swap) call(ib, inputShape, 3, ia, weightShape, 3, 0, 0, io);
    else call(ia, inputShape, 3, ib, weightShape, 3, 0, 0, io);
    if (ia !== aData.id) tfjs.disposeData(ia);
    if (ib !== bData.id) tfjs.disposeData(ib);
    tfjs.disposeData(io);
  }
  return out;
}
