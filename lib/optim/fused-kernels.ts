/**
 * The machinery shared by the lib's one-kernel optimiser updates (lib/optim/fused-adam.ts,
 * lib/optim/fused-rmsprop.ts): a kernel that takes n variables' weights `w0 … w{n-1}` and
 * gradients `g0 … g{n-1}` (float32, any shapes, `gj` of `wj`'s shape) and k flat state slots
 * (float32 `[total]`, the variables' elements concatenated in order), and in one pass writes
 * n + k outputs: the new weights (each of its variable's shape), then the new slots.
 *
 * An update supplies its element-wise loop; this file checks the inputs, allocates the outputs
 * and hands the loop the tensors' memory: on wasm, views of the heap (`typedArrayFromHeap`, no
 * copy, taken after every allocation, since an allocation can grow the heap and detach earlier
 * views), on cpu the backend's arrays. The kernels are registered for wasm and cpu only; other
 * backends keep the optimisers' composed tf ops. No gradient is registered: an optimiser's update
 * is not differentiated.
 */
import * as tf from '@tensorflow/tfjs';
import { shapeText, type CpuBackendLike, type KernelArgs, type WasmBackendLike } from '../ops/kernel-backend';

/** Backends the fused update kernels are registered for. */
export const FUSED_UPDATE_BACKENDS = ['wasm', 'cpu'] as const;

/**
 * One update's element-wise loop over one variable: reads `w`, `g` (the variable's own arrays,
 * from 0) and each slot (from `offset`), writes `wOut` (from 0) and each slot's output (from
 * `offset`), `size` elements.
 */
export type FlatUpdateRange<K> = (
  w: ArrayLike<number>,
  g: ArrayLike<number>,
  slotsIn: ReadonlyArray<ArrayLike<number>>,
  offset: number,
  size: number,
  k: K,
  wOut: Float32Array,
  slotsOut: readonly Float32Array[],
) => void;

/** What a fused update kernel is made of. */
export interface FlatUpdateSpec<K> {
  /** The kernel's name in the tfjs registry. */
  kernelName: string;
  /**
   * Checks the attributes and derives the loop's constants.
   * @throws Error naming a bad attribute and its value.
   */
  scalars(attrs: Record<string, unknown>): K;
  /** The slot inputs these constants need, in the order of the slot outputs. */
  slots(k: K): readonly string[];
  /** The loop. */
  range: FlatUpdateRange<K>;
}

/** The inputs, checked: n weights and gradients of equal shapes, slots of the total size. */
interface CheckedInputs {
  w: tf.TensorInfo[];
  g: tf.TensorInfo[];
  slots: tf.TensorInfo[];
  total: number;
}

const sizeOf = (info: tf.TensorInfo): number => info.shape.reduce((a, b) => a * b, 1);

/**
 * The inputs, checked.
 * @throws Error naming the input: `FrugalAdamUpdate needs inputs w0 … w{n-1}, g0 … g{n-1}, m and v
 *   (n >= 1), got w0, m`, `g1 must be float32 of w1's shape [8], got dtype float32 shape [3]`,
 *   `m must be float32 [106] (the weights' total size), got dtype float32 shape [100]`.
 */
function kernelInputs(kernelName: string, slotNames: readonly string[], args: KernelArgs): CheckedInputs {
  const names = Object.keys(args.inputs);
  const n = names.filter((k) => /^w\d+$/.test(k)).length;
  const expected = [...Array.from({ length: n }, (_, j) => `w${j}`), ...Array.from({ length: n }, (_, j) => `g${j}`), ...slotNames];
  if (n < 1 || names.length !== expected.length || expected.some((k) => args.inputs[k] === undefined)) {
    const slotText = slotNames.length === 1 ? (slotNames[0] as string) : `${slotNames.slice(0, -1).join(', ')} and ${slotNames[slotNames.length - 1] as string}`;
    throw new Error(`${kernelName} needs inputs w0 … w{n-1}, g0 … g{n-1}, ${slotText} (n >= 1), got ${names.join(', ') || 'none'}`);
  }
  const w: tf.TensorInfo[] = [];
  const g: tf.TensorInfo[] = [];
  let total = 0;
  for (let j = 0; j < n; j++) {
    const wj = args.inputs[`w${j}`] as tf.TensorInfo;
    const gj = args.inputs[`g${j}`] as tf.TensorInfo;
    if (wj.dtype !== 'float32') throw new Error(`w${j} must be float32, got dtype ${wj.dtype} shape ${shapeText(wj)}`);
    if (gj.dtype !== 'float32' || !tf.util.arraysEqual(gj.shape, wj.shape)) {
      throw new Error(`g${j} must be float32 of w${j}'s shape ${shapeText(wj)}, got dtype ${gj.dtype} shape ${shapeText(gj)}`);
    }
    w.push(wj);
    g.push(gj);
    total += sizeOf(wj);
  }
  const slots = slotNames.map((name) => {
    const s = args.inputs[name] as tf.TensorInfo;
    if (s.dtype !== 'float32' || s.shape.length !== 1 || s.shape[0] !== total) {
      throw new Error(`${name} must be float32 [${total}] (the weights' total size), got dtype ${s.dtype} shape ${shapeText(s)}`);
    }
    return s;
  });
  return { w, g, slots, total };
}

/** The wasm kernel of `spec`: every output allocated first, then views of the heap. */
function wasmKernel<K>(spec: FlatUpdateSpec<K>) {
  return (args: KernelArgs): tf.TensorInfo[] => {
    const k = spec.scalars(args.attrs ?? {});
    const { w, g, slots, total } = kernelInputs(spec.kernelName, spec.slots(k), args);
    const backend = args.backend as WasmBackendLike;
    const wOuts = w.map((wj) => backend.makeOutput([...wj.shape], 'float32'));
    const slotOuts = slots.map(() => backend.makeOutput([total], 'float32'));
    // Views taken after every allocation: growing the heap would detach earlier ones.
    const heap = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info) as Float32Array;
    const slotsIn = slots.map(heap);
    const slotsNew = slotOuts.map(heap);
    let offset = 0;
    w.forEach((wj, j) => {
      const size = sizeOf(wj);
      spec.range(heap(wj), heap(g[j] as tf.TensorInfo), slotsIn, offset, size, k, heap(wOuts[j] as tf.TensorInfo), slotsNew);
      offset += size;
    });
    return [...wOuts, ...slotOuts];
  };
}

/** The cpu kernel of `spec`: the backend's own arrays, outputs made from new ones. */
function cpuKernel<K>(spec: FlatUpdateSpec<K>) {
  return (args: KernelArgs): tf.TensorInfo[] => {
    const k = spec.scalars(args.attrs ?? {});
    const { w, g, slots, total } = kernelInputs(spec.kernelName, spec.slots(k), args);
    const backend = args.backend as CpuBackendLike;
    const values = (info: tf.TensorInfo) => backend.data.get(info.dataId).values as ArrayLike<number>;
    const slotsIn = slots.map(values);
    const slotsNew = slots.map(() => new Float32Array(total));
    let offset = 0;
    const wOuts = w.map((wj, j) => {
      const size = sizeOf(wj);
      const out = new Float32Array(size);
      spec.range(values(wj), values(g[j] as tf.TensorInfo), slotsIn, offset, size, k, out, slotsNew);
      offset += size;
      return backend.makeTensorInfo([...wj.shape], 'float32', out);
    });
    return [...wOuts, ...slotsNew.map((s) => backend.makeTensorInfo([total], 'float32', s))];
  };
}

/** Registers `spec`'s kernel for wasm and cpu. Idempotent (a second call, or a second copy of the lib, leaves the first). */
export function registerFlatUpdate<K>(spec: FlatUpdateSpec<K>): void {
  const kernels = { wasm: wasmKernel(spec), cpu: cpuKernel(spec) };
  for (const backendName of FUSED_UPDATE_BACKENDS) {
    if (tf.getKernel(spec.kernelName, backendName) !== undefined) continue;
    tf.registerKernel({ kernelName: spec.kernelName, backendName, kernelFunc: kernels[backendName] });
  }
}

/**
 * Runs a fused update kernel on the active backend.
 * @param slots the flat state tensors by input name (`m`, `v`; `rms`, `momentum`).
 * @returns the new weights, then the new slots in the kernel's order, owned by the caller.
 * @throws Error when the active backend has no such kernel (webgl, tensorflow), naming it; or on
 *   bad dtypes, shapes or attributes, naming the input and the value.
 */
export function runFlatUpdate(
  kernelName: string,
  weights: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  slots: Record<string, tf.Tensor>,
  attrs: object,
): tf.Tensor[] {
  const backend = tf.getBackend();
  if (tf.getKernel(kernelName, backend) === undefined) {
    throw new Error(`${kernelName} is registered for ${FUSED_UPDATE_BACKENDS.join(' and ')}, not for backend ${backend}`);
  }
  if (weights.length !== grads.length) throw new Error(`grads must hold one gradient per weight (${weights.length}), got ${grads.length}`);
  const inputs: Record<string, tf.Tensor> = { ...slots };
  weights.forEach((w, j) => {
    inputs[`w${j}`] = w;
    inputs[`g${j}`] = grads[j] as tf.Tensor;
  });
  return tf.engine().runKernel(kernelName, inputs, { ...attrs }) as unknown as tf.Tensor[];
}

/**
 * Reads one numeric attribute, checked.
 * @throws Error `learningRate must be a finite number > 0, got 0`.
 */
export function numberAttr(attrs: Record<string, unknown>, name: string, ok: (x: number) => boolean, what: string): number {
  const x = attrs[name];
  if (typeof x !== 'number' || !ok(x)) throw new Error(`${name} must be ${what}, got ${String(x)}`);
  return x;
}
