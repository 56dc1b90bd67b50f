/**
 * Adam's whole update as one kernel, for the `wasm` and `cpu` backends (issue 13: a small model's
 * step on wasm costs per kernel dispatched, not per FLOP; the composed flat Adam of
 * lib/optim/flat.ts dispatches 26 kernels for a 4-variable model, this one 1).
 *
 * `FrugalAdamUpdate` takes, for n variables, the weights `w0 … w{n-1}` and their gradients
 * `g0 … g{n-1}` (float32, any shapes, `gj` of `wj`'s shape), and the flat first and second moments
 * `m`, `v` (float32 `[total]`, the variables' elements concatenated in order), and in one pass
 * writes n + 2 outputs: the new weights (each of its variable's shape), then the new `m` and `v`.
 *
 * It computes exactly what {@link FlatAdamOptimizer}'s composed path computes, element by element
 * and in the same order, rounding to float32 (`Math.fround`) after every operation as each tf
 * kernel rounds its float32 output:
 *
 *     m' = b1 m + (1 - b1) g                 v' = b2 v + (1 - b2) g^2
 *     w' = w + (s m') / (sqrt(c v') + eps)    with s = -lr / (1 - beta1^t), c = 1 / (1 - beta2^t)
 *
 * where every scalar (`b1`, `1 - b1`, `b2`, `1 - b2`, `s`, `c`, `eps`) is computed in float64 and
 * rounded to float32 once, as tfjs does when it turns a number into a float32 scalar tensor
 * ({@link adamScalars}). A float32 product, sum, quotient or square root computed in float64 and
 * rounded once is the correctly rounded float32 result (float64 has more than 2 · 24 + 2 bits), so
 * the weights and moments are bit-identical to the composed path's on cpu (which computes in
 * float64 and stores float32) and on wasm (float32 arithmetic); tests/optim-fused-adam.test.ts
 * checks it.
 *
 * The kernels are plain JavaScript loops over the tensors' memory: on wasm, views of the heap
 * (`typedArrayFromHeap`, no copy), on cpu the backend's arrays. Other backends (webgl, tensorflow)
 * have no such kernel and keep the composed tf ops ({@link hasFusedAdam}). The kernels are
 * registered when this module loads (idempotent). No gradient is registered: an optimiser's update
 * is not differentiated.
 */
import * as tf from '@tensorflow/tfjs';

/** The kernel's name in the tfjs registry. */
export const FUSED_ADAM = 'FrugalAdamUpdate';

/** Backends the fused kernel is registered for. */
export const FUSED_ADAM_BACKENDS = ['wasm', 'cpu'] as const;

/** Adam's hyper-parameters and step number: the kernel's attributes. */
export interface FusedAdamAttrs {
  /** Step size, > 0. */
  learningRate: number;
  /** Decay of the first moment, in [0, 1). */
  beta1: number;
  /** Decay of the second moment, in [0, 1). */
  beta2: number;
  /** Added to sqrt(v_hat), >= 0. */
  epsilon: number;
  /** This step's number, an integer >= 1 (for the bias corrections). */
  step: number;
}

/**
 * The float32 scalars of one Adam step, as the composed path's scalar tensors hold them: each
 * computed in float64 from the hyper-parameters, then rounded to float32 once.
 */
export interface AdamScalars {
  /** beta1. */
  b1: number;
  /** 1 - beta1. */
  oneMinusB1: number;
  /** beta2. */
  b2: number;
  /** 1 - beta2. */
  oneMinusB2: number;
  /** -lr / (1 - beta1^t): the step's scale of m. */
  scale: number;
  /** 1 / (1 - beta2^t): the bias correction of v. */
  invBc2: number;
  /** epsilon. */
  epsilon: number;
}

/**
 * The scalars of step `t` (see {@link AdamScalars}), in float64 then rounded to float32: the one
 * place the composed and the fused paths take them from.
 */
export function adamScalars(a: FusedAdamAttrs): AdamScalars {
  const bc1 = 1 - a.beta1 ** a.step; // bias corrections, float64
  const bc2 = 1 - a.beta2 ** a.step;
  const f = Math.fround;
  return {
    b1: f(a.beta1),
    oneMinusB1: f(1 - a.beta1),
    b2: f(a.beta2),
    oneMinusB2: f(1 - a.beta2),
    scale: f(-a.learningRate / bc1),
    invBc2: f(1 / bc2),
    epsilon: f(a.epsilon),
  };
}

/**
 * One Adam step over `size` elements, from offset `offset` of the flat moments: reads `w`, `g`
 * (the variable's own arrays, from 0) and `m`, `v` (from `offset`), writes `wOut` (from 0) and
 * `mOut`, `vOut` (from `offset`). Every operation rounded to float32, in the composed path's order.
 */
export function fusedAdamRange(
  w: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  offset: number,
  size: number,
  k: AdamScalars,
  wOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
): void {
  const f = Math.fround;
  const { b1, oneMinusB1, b2, oneMinusB2, scale, invBc2, epsilon } = k;
  for (let i = 0; i < size; i++) {
    const j = offset + i;
    const gi = g[i] as number;
    const mi = f(f((m[j] as number) * b1) + f(gi * oneMinusB1)); // add(mul(m, b1), mul(g, 1 - b1))
    const vi = f(f((v[j] as number) * b2) + f(f(gi * gi) * oneMinusB2)); // add(mul(v, b2), mul(square(g), 1 - b2))
    const den = f(f(Math.sqrt(f(vi * invBc2))) + epsilon); // add(sqrt(mul(v, c)), eps)
    const delta = f(f(mi * scale) / den); // div(mul(m, s), den)
    mOut[j] = mi;
    vOut[j] = vi;
    wOut[i] = f((w[i] as number) + delta); // add(w, delta)
  }
}

/** What the kernel functions need of the wasm backend (tfjs-backend-wasm 4.22's BackendWasm). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** What the kernel functions need of the cpu backend (tfjs-backend-cpu 4.22's MathBackendCPU). */
interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** The inputs, checked: n weights and gradients of equal shapes, flat moments of the total size. */
interface CheckedInputs {
  w: tf.TensorInfo[];
  g: tf.TensorInfo[];
  m: tf.TensorInfo;
  v: tf.TensorInfo;
  total: number;
}

const sizeOf = (info: tf.TensorInfo): number => info.shape.reduce((a, b) => a * b, 1);
const shapeText = (info: tf.TensorInfo): string => `[${info.shape.join(', ')}]`;

/**
 * The inputs, checked.
 * @throws Error naming the input: `FrugalAdamUpdate needs inputs w0 … w{n-1}, g0 … g{n-1}, m and v
 *   (n >= 1), got w0, m`, `g1 must be float32 of w1's shape [8], got dtype float32 shape [3]`,
 *   `m must be float32 [106] (the weights' total size), got dtype float32 shape [100]`.
 */
function kernelInputs(args: KernelArgs): CheckedInputs {
  const names = Object.keys(args.inputs);
  const n = names.filter((k) => /^w\d+$/.test(k)).length;
  const expected = [...Array.from({ length: n }, (_, j) => `w${j}`), ...Array.from({ length: n }, (_, j) => `g${j}`), 'm', 'v'];
  if (n < 1 || names.length !== expected.length || expected.some((k) => args.inputs[k] === undefined)) {
    throw new Error(`${FUSED_ADAM} needs inputs w0 … w{n-1}, g0 … g{n-1}, m and v (n >= 1), got ${names.join(', ') || 'none'}`);
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
  const m = args.inputs['m'] as tf.TensorInfo;
  const v = args.inputs['v'] as tf.TensorInfo;
  for (const [name, s] of [['m', m], ['v', v]] as const) {
    if (s.dtype !== 'float32' || s.shape.length !== 1 || s.shape[0] !== total) {
      throw new Error(`${name} must be float32 [${total}] (the weights' total size), got dtype ${s.dtype} shape ${shapeText(s)}`);
    }
  }
  return { w, g, m, v, total };
}

/**
 * The attributes, checked (the optimiser checks them before; this guards direct `runKernel` calls).
 * @throws Error `learningRate must be a finite number > 0, got 0`, `step must be an integer >= 1, got 0`, ...
 */
function kernelAttrs(args: KernelArgs): FusedAdamAttrs {
  const at = args.attrs ?? {};
  const num = (name: string, ok: (x: number) => boolean, what: string): number => {
    const x = at[name];
    if (typeof x !== 'number' || !ok(x)) throw new Error(`${name} must be ${what}, got ${String(x)}`);
    return x;
  };
  return {
    learningRate: num('learningRate', (x) => Number.isFinite(x) && x > 0, 'a finite number > 0'),
    beta1: num('beta1', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    beta2: num('beta2', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    epsilon: num('epsilon', (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0'),
    step: num('step', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
  };
}

/** The wasm kernel: every output allocated first (an allocation can grow the heap), then views of the heap. */
function wasmKernel(args: KernelArgs): tf.TensorInfo[] {
  const { w, g, m, v, total } = kernelInputs(args);
  const k = adamScalars(kernelAttrs(args));
  const backend = args.backend as WasmBackendLike;
  const wOuts = w.map((wj) => backend.makeOutput([...wj.shape], 'float32'));
  const mOut = backend.makeOutput([total], 'float32');
  const vOut = backend.makeOutput([total], 'float32');
  // Views taken after every allocation: growing the heap would detach earlier ones.
  const heap = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info) as Float32Array;
  const mIn = heap(m);
  const vIn = heap(v);
  const mNew = heap(mOut);
  const vNew = heap(vOut);
  let offset = 0;
  w.forEach((wj, j) => {
    const size = sizeOf(wj);
    fusedAdamRange(heap(wj), heap(g[j] as tf.TensorInfo), mIn, vIn, offset, size, k, heap(wOuts[j] as tf.TensorInfo), mNew, vNew);
    offset += size;
  });
  return [...wOuts, mOut, vOut];
}

/** The cpu kernel: the backend's own arrays, outputs made from new ones. */
function cpuKernel(args: KernelArgs): tf.TensorInfo[] {
  const { w, g, m, v, total } = kernelInputs(args);
  const k = adamScalars(kernelAttrs(args));
  const backend = args.backend as CpuBackendLike;
  const values = (info: tf.TensorInfo) => backend.data.get(info.dataId).values as ArrayLike<number>;
  const mNew = new Float32Array(total);
  const vNew = new Float32Array(total);
  let offset = 0;
  const wOuts = w.map((wj, j) => {
    const size = sizeOf(wj);
    const out = new Float32Array(size);
    fusedAdamRange(values(wj), values(g[j] as tf.TensorInfo), values(m), values(v), offset, size, k, out, mNew, vNew);
    offset += size;
    return backend.makeTensorInfo([...wj.shape], 'float32', out);
  });
  return [...wOuts, backend.makeTensorInfo([total], 'float32', mNew), backend.makeTensorInfo([total], 'float32', vNew)];
}

/** Registers the kernel for wasm and cpu. Idempotent (a second call, or a second copy of the lib, leaves the first). */
export function registerFusedAdam(): void {
  const kernels = { wasm: wasmKernel, cpu: cpuKernel };
  for (const backendName of FUSED_ADAM_BACKENDS) {
    if (tf.getKernel(FUSED_ADAM, backendName) !== undefined) continue;
    tf.registerKernel({ kernelName: FUSED_ADAM, backendName, kernelFunc: kernels[backendName] });
  }
}

registerFusedAdam();

/**
 * Whether `backendName` (default: the active backend) has the fused kernel.
 * @returns true on wasm and cpu.
 */
export function hasFusedAdam(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(FUSED_ADAM, backendName) !== undefined;
}

/**
 * Runs the fused kernel: one Adam step for every variable, in one kernel. The caller assigns the
 * results (the lib's {@link FlatAdamOptimizer} does, on wasm and cpu).
 * @param weights the variables' values, float32, in the order of the flat moments.
 * @param grads their gradients, each of its weight's shape.
 * @param m the flat first moment, float32 `[total]`.
 * @param v the flat second moment, float32 `[total]`.
 * @param attrs the hyper-parameters and the step number `t` >= 1.
 * @returns `[w0', …, w{n-1}', m', v']`, owned by the caller.
 * @throws Error when the active backend has no such kernel (webgl, tensorflow), naming it; or on
 *   bad dtypes, shapes or attributes, naming the input and the value.
 */
export function fusedAdamKernel(
  weights: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  m: tf.Tensor1D,
  v: tf.Tensor1D,
  attrs: FusedAdamAttrs,
): tf.Tensor[] {
  const backend = tf.getBackend();
  if (!hasFusedAdam(backend)) {
    throw new Error(`${FUSED_ADAM} is registered for ${FUSED_ADAM_BACKENDS.join(' and ')}, not for backend ${backend}`);
  }
  if (weights.length !== grads.length) throw new Error(`grads must hold one gradient per weight (${weights.length}), got ${grads.length}`);
  const inputs: Record<string, tf.Tensor> = { m, v };
  weights.forEach((w, j) => {
    inputs[`w${j}`] = w;
    inputs[`g${j}`] = grads[j] as tf.Tensor;
  });
  return tf.engine().runKernel(FUSED_ADAM, inputs, { ...attrs }) as unknown as tf.Tensor[];
}
