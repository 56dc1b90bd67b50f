/**
 * A mini-batch's rows of several tensors in one kernel, for the `wasm` and `cpu` backends
 * (issue 13). `train` gathers each step's features, labels and teacher logits with the same
 * indices; tfjs dispatches one `GatherV2` per tensor, and wasm's `GatherV2` copies element by
 * element through generic strides: measured here under load, 168 µs for 64 rows of a [1259, 64]
 * matrix (4096 floats), 28 µs for the [1259, 10] teacher logits. `FrugalGatherBatch` copies whole
 * rows (`TypedArray.set` of a contiguous slice) of every input into its output, one output per
 * input, the indices given as an attribute (no index tensor to create). Same values as
 * `tf.gather(t, indices)` (a copy), for float32 and int32 tensors of any rank >= 1.
 *
 * No gradient is registered: the rows are data (a tape asking for one throws tfjs's
 * `gradient function not found`). Other backends (webgl, tensorflow) have no such kernel
 * ({@link hasGatherBatch}); `train` falls back to `tf.gather` there.
 * The kernel is registered when this module loads (idempotent).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs, WasmOrCpuBackendLike as BackendLike } from './kernel-backend';

/** The kernel's name in the tfjs registry. */
export const GATHER_BATCH = 'FrugalGatherBatch';

/** Backends the kernel is registered for. */
export const GATHER_BATCH_BACKENDS = ['wasm', 'cpu'] as const;

/**
 * The inputs `t0 … t{m-1}` and the indices, checked: float32 or int32 tensors of rank >= 1 with
 * the same number of rows, indices integers in [0, rows).
 * @throws Error naming the input or the index and the value.
 */
function checked(args: KernelArgs): { tensors: tf.TensorInfo[]; indices: readonly number[]; rows: number } {
  const names = Object.keys(args.inputs);
  const tensors = names.map((_, j) => args.inputs[`t${j}`]);
  if (names.length < 1 || tensors.some((t) => t === undefined)) throw new Error(`${GATHER_BATCH} needs inputs t0 … t{m-1} (m >= 1), got ${names.join(', ') || 'none'}`);
  const infos = tensors as tf.TensorInfo[];
  const rows = infos[0]?.shape[0] ?? 0;
  infos.forEach((t, j) => {
    if (t.shape.length < 1) throw new Error(`t${j} must have rank >= 1 (rows first), got dtype ${t.dtype} shape []`);
    if ((t.dtype !== 'float32' && t.dtype !== 'int32') || t.shape.length < 1 || t.shape[0] !== rows) {
      throw new Error(`t${j} must be float32 or int32 with ${rows} rows (as t0), got dtype ${t.dtype} shape [${t.shape.join(', ')}]`);
    }
  });
  const indices = args.attrs?.['indices'];
  if (!Array.isArray(indices) && !(indices instanceof Int32Array)) throw new Error(`indices must be an array of row indices, got ${String(indices)}`);
  const list = indices as ArrayLike<unknown>;
  for (let k = 0; k < list.length; k++) {
    const r = list[k];
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= rows) {
      throw new Error(`indices must be integers in [0, ${rows}), got ${String(r)} at position ${k}`);
    }
  }
  return { tensors: infos, indices: Array.from(list as ArrayLike<number>), rows };
}

/** Copies rows `indices` of `src` (row length `width`) into `out`. */
function copyRows(src: Float32Array | Int32Array, out: Float32Array | Int32Array, indices: readonly number[], width: number): void {
  indices.forEach((r, k) => out.set(src.subarray(r * width, (r + 1) * width), k * width));
}

function kernelFunc(args: KernelArgs): tf.TensorInfo[] {
  const { tensors, indices } = checked(args);
  const backend = args.backend as BackendLike;
  const width = (t: tf.TensorInfo): number => t.shape.slice(1).reduce((a, b) => a * b, 1);
  const outShape = (t: tf.TensorInfo): number[] => [indices.length, ...t.shape.slice(1)];
  if (backend.typedArrayFromHeap && backend.makeOutput) {
    const make = backend.makeOutput.bind(backend);
    const outs = tensors.map((t) => make(outShape(t), t.dtype));
    // Views taken after every allocation: growing the heap would detach earlier ones.
    const heap = (info: tf.TensorInfo) => (backend.typedArrayFromHeap as (i: tf.TensorInfo) => Float32Array | Int32Array)(info);
    tensors.forEach((t, j) => copyRows(heap(t), heap(outs[j] as tf.TensorInfo), indices, width(t)));
    return outs;
  }
  if (backend.makeTensorInfo && backend.data) {
    const data = backend.data;
    const make = backend.makeTensorInfo.bind(backend);
    return tensors.map((t) => {
      const src = data.get(t.dataId).values as Float32Array | Int32Array;
      const out = t.dtype === 'int32' ? new Int32Array(indices.length * width(t)) : new Float32Array(indices.length * width(t));
      copyRows(src, out, indices, width(t));
      return make(outShape(t), t.dtype, out);
    });
  }
  throw new Error(`${GATHER_BATCH} needs the wasm or the cpu backend`);
}

/** Registers the kernel for wasm and cpu. Idempotent. */
export function registerGatherBatch(): void {
  for (const backendName of GATHER_BATCH_BACKENDS) {
    if (tf.getKernel(GATHER_BATCH, backendName) === undefined) tf.registerKernel({ kernelName: GATHER_BATCH, backendName, kernelFunc });
  }
}

registerGatherBatch();

/**
 * Whether `backendName` (default: the active backend) has the kernel.
 * @returns true on wasm and cpu.
 */
export function hasGatherBatch(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(GATHER_BATCH, backendName) !== undefined;
}

/**
 * The rows `indices` of every tensor, in one kernel: `gatherBatch([x, y], idx)` equals
 * `[tf.gather(x, idx), tf.gather(y, idx)]`.
 * @param tensors float32 or int32, rank >= 1, all with the same number of rows.
 * @param indices row indices, integers in `[0, rows)` (repeats allowed).
 * @returns one tensor per input, `[indices.length, ...rest of its shape]`, owned by the caller.
 * @throws Error when the active backend has no such kernel (webgl, tensorflow), naming it; on an
 *   empty list, a bad dtype, unequal row counts or an index out of range, naming it and the value.
 */
export function gatherBatch(tensors: readonly tf.Tensor[], indices: readonly number[]): tf.Tensor[] {
  const backend = tf.getBackend();
  if (!hasGatherBatch(backend)) throw new Error(`${GATHER_BATCH} is registered for ${GATHER_BATCH_BACKENDS.join(' and ')}, not for backend ${backend}`);
  if (tensors.length < 1) throw new Error('tensors must hold at least 1 tensor, got 0');
  const inputs: Record<string, tf.Tensor> = {};
  tensors.forEach((t, j) => {
    inputs[`t${j}`] = t;
  });
  return tf.engine().runKernel<tf.Tensor[]>(GATHER_BATCH, inputs, { indices: [...indices] });
}
