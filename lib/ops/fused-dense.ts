/**
 * A Dense layer's forward pass, `act(x @ kernel + bias)`, as one kernel, and its backward pass as
 * one more, for the `wasm` and `cpu` backends (issue 13: a small model's step on wasm costs per
 * kernel dispatched, about 10 to 15 µs each under load, not per FLOP).
 *
 * Under a gradient tape, tfjs-layers' Dense with ReLU dispatches `BatchMatMul`, `Add` and `Relu`
 * forward and, backward, `Step`, `Cast`, `Multiply`, a `Sum` and 2 `Reshape`s for the bias, and a
 * `BatchMatMul` per operand needing a gradient; the linear output layer goes through
 * `tf.fused.matMul` (3 `Reshape`s forward, `_FusedMatMul`, then 2 `BatchMatMul`s, a `Sum` and 4
 * `Reshape`s backward). The kernels here do the same arithmetic inside one dispatch each:
 *
 * - `FrugalDense` (linear) and `FrugalDenseRelu`: the product runs as the backend's own
 *   `_FusedMatMul` (linear, with the bias, on wasm) or `BatchMatMul` kernel function, called
 *   directly (no dispatch, no tape), then the bias add and the ReLU in place as the composed `Add`
 *   and `Relu` kernels do them (float32 `a + b`, `max(x, 0)`).
 * - `FrugalDenseGrad`: `g = dy` (linear) or `dy * step(y)` (ReLU; `y > 0` exactly where the
 *   pre-activation is), `dKernel = xᵀ @ g` and, where asked, `dx = g @ kernelᵀ` through the
 *   backend's `BatchMatMul` kernel function (on wasm the lib's wrapper of it, lib/ops/wasm-matmul.ts,
 *   as the composed path), and `dBias` = the column sums of `g`, summed row after row as the
 *   backends' `Sum` kernels do (float32 accumulation on wasm, float64 on cpu).
 *
 * So the values are the composed path's, bit for bit on both backends (tests/fused-dense-cpu and
 * -wasm, through tests/helpers/fused-dense-suite.ts, check `Object.is` equality of outputs,
 * gradients and trained weights), and lessons that train through it keep their figures. The gradient is registered with
 * `tf.registerGradient`; the tape saves `x`, `kernel` (and `y` for ReLU), as copies (`Identity`).
 * Other backends (webgl, tensorflow) have no such kernels ({@link hasFusedDense}).
 * The kernels are registered when this module loads (idempotent).
 */
import * as tf from '@tensorflow/tfjs';
import { shapeText, type KernelArgs, type WasmOrCpuBackendLike } from './kernel-backend';

/** The linear layer's kernel name in the tfjs registry. */
export const FUSED_DENSE = 'FrugalDense';
/** The ReLU layer's kernel name in the tfjs registry. */
export const FUSED_DENSE_RELU = 'FrugalDenseRelu';
/** The backward kernel's name in the tfjs registry. */
export const FUSED_DENSE_GRAD = 'FrugalDenseGrad';

/** Backends the fused kernels are registered for. */
export const FUSED_DENSE_BACKENDS = ['wasm', 'cpu'] as const;

/** The activations the fused layer supports. */
export type FusedDenseActivation = 'relu' | 'linear';

/** Options of {@link fusedDense}. */
export interface FusedDenseOptions {
  /** The activation after the bias add (default `'linear'`). */
  activation?: FusedDenseActivation;
  /**
   * Whether the backward pass computes the gradient with respect to `x` (default true). False
   * for a network's first layer, whose input is data: the backward kernel then skips that product,
   * and asking the tape for `x`'s gradient throws.
   */
  inputGrad?: boolean;
}

/** The wasm and cpu backends, as far as these kernels use them (tfjs-backend-wasm / -cpu 4.22). */
type BackendLike = WasmOrCpuBackendLike & { disposeData(dataId: tf.DataId): void };

/** The backend's float32 memory of `info` (a heap view on wasm, taken fresh: allocations can detach views). */
function values(backend: BackendLike, info: tf.TensorInfo): Float32Array {
  if (backend.typedArrayFromHeap) return backend.typedArrayFromHeap(info) as Float32Array;
  if (backend.data) return backend.data.get(info.dataId).values as Float32Array;
  throw new Error('the fused Dense kernels need the wasm or the cpu backend');
}

/** A new float32 tensor on the backend, filled by `fill`. */
function makeOutput(backend: BackendLike, shape: number[], fill: (out: Float32Array) => void): tf.TensorInfo {
  if (backend.typedArrayFromHeap && backend.makeOutput) {
    // wasm (the cpu backend has a makeOutput too, with another signature)
    const out = backend.makeOutput(shape, 'float32');
    fill(values(backend, out));
    return out;
  }
  if (backend.makeTensorInfo) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    fill(data);
    return backend.makeTensorInfo(shape, 'float32', data);
  }
  throw new Error('the fused Dense kernels need the wasm or the cpu backend');
}

/** Calls another kernel of the same backend directly (no dispatch, no tape, no profile entry). */
function callKernel(name: string, backendName: string, args: KernelArgs): tf.TensorInfo {
  const k = tf.getKernel(name, backendName);
  if (k === undefined) throw new Error(`the fused Dense kernels need ${name} on backend ${backendName}`);
  return k.kernelFunc(args as never) as tf.TensorInfo;
}

/**
 * Checks a Dense layer's operands: float32 `x` [b, i], `kernel` [i, o], `bias` [o].
 * @throws Error naming the operand, its dtype and its shape.
 */
function checkOperands(x: tf.TensorInfo, kernel: tf.TensorInfo, bias: tf.TensorInfo | undefined): { b: number; i: number; o: number } {
  if (x.dtype !== 'float32' || x.shape.length !== 2) throw new Error(`x must be float32 [batch, inputs], got dtype ${x.dtype} shape ${shapeText(x)}`);
  const [b = 0, i = 0] = x.shape;
  if (kernel.dtype !== 'float32' || kernel.shape.length !== 2 || kernel.shape[0] !== i) {
    throw new Error(`kernel must be float32 [${i}, units] (x has ${i} columns), got dtype ${kernel.dtype} shape ${shapeText(kernel)}`);
  }
  const o = kernel.shape[1] ?? 0;
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== o)) {
    throw new Error(`bias must be float32 [${o}] (kernel's units), got dtype ${bias.dtype} shape ${shapeText(bias)}`);
  }
  if (b < 1 || i < 1 || o < 1) throw new Error(`x and kernel must not be empty, got x ${shapeText(x)} and kernel ${shapeText(kernel)}`);
  return { b, i, o };
}

/** The forward kernel of `activation` on `backendName`. */
function forwardKernel(activation: FusedDenseActivation, backendName: string) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { x, kernel, bias } = args.inputs;
    if (x === undefined || kernel === undefined || bias === undefined) {
      throw new Error(`the fused Dense kernel needs inputs x, kernel and bias, got ${Object.keys(args.inputs).join(', ')}`);
    }
    const { b, o } = checkOperands(x, kernel, bias);
    const backend = args.backend as BackendLike;
    if (activation === 'linear' && backendName === 'wasm') {
      // The composed path's own kernel (tf.fused.matMul under a tape): XNNPACK's product with the
      // bias, on [1, b, i] @ [1, i, o] views of the same memory (wasm's _FusedMatMul wants rank 3).
      const out = callKernel('_FusedMatMul', backendName, {
        inputs: { a: { ...x, shape: [1, ...x.shape] }, b: { ...kernel, shape: [1, ...kernel.shape] }, bias },
        backend,
        attrs: { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 },
      });
      return { dataId: out.dataId, shape: [b, o], dtype: 'float32' }; // [1, b, o] -> [b, o]
    }
    const out = callKernel('BatchMatMul', backendName, { inputs: { a: x, b: kernel }, backend, attrs: { transposeA: false, transposeB: false } });
    const y = values(backend, out);
    const bv = values(backend, bias);
    const relu = activation === 'relu';
    for (let r = 0; r < b; r++) {
      const off = r * o;
      for (let c = 0; c < o; c++) {
        const v = Math.fround((y[off + c] as number) + (bv[c] as number)); // Add's float32 sum
        y[off + c] = relu && !(v > 0) && !Number.isNaN(v) ? 0 : v; // Relu: max(v, 0), NaN stays NaN
      }
    }
    return out;
  };
}

/** The backward kernel on `backendName`. */
function gradKernel(backendName: string) {
  return (args: KernelArgs): tf.TensorInfo[] => {
    const { dy, x, kernel, y } = args.inputs;
    const activation = args.attrs?.['activation'];
    const inputGrad = args.attrs?.['inputGrad'];
    if (activation !== 'relu' && activation !== 'linear') throw new Error(`activation must be 'relu' or 'linear', got ${String(activation)}`);
    if (typeof inputGrad !== 'boolean') throw new Error(`inputGrad must be a boolean, got ${String(inputGrad)}`);
    if (dy === undefined || x === undefined || kernel === undefined || (activation === 'relu' && y === undefined)) {
      throw new Error(`${FUSED_DENSE_GRAD} needs inputs dy, x, kernel${activation === 'relu' ? ' and y' : ''}, got ${Object.keys(args.inputs).join(', ')}`);
    }
    const { b, o } = checkOperands(x, kernel, undefined);
    if (dy.dtype !== 'float32' || dy.shape[0] !== b || dy.shape[1] !== o || dy.shape.length !== 2) {
      throw new Error(`dy must be float32 [${b}, ${o}], got dtype ${dy.dtype} shape ${shapeText(dy)}`);
    }
    if (y !== undefined && (y.dtype !== 'float32' || y.shape[0] !== b || y.shape[1] !== o || y.shape.length !== 2)) {
      throw new Error(`y must be float32 [${b}, ${o}], got dtype ${y.dtype} shape ${shapeText(y)}`);
    }
    const backend = args.backend as BackendLike;
    const temps: tf.TensorInfo[] = [];
    try {
      // g = dy * step(y): Step gives 1 where y > 0, else 0 (NaN: 0), as the composed Relu gradient.
      let g = dy;
      if (activation === 'relu' && y !== undefined) {
        g = makeOutput(backend, [b, o], (out) => {
          const dv = values(backend, dy);
          const yv = values(backend, y);
          for (let k = 0; k < b * o; k++) out[k] = Math.fround((dv[k] as number) * ((yv[k] as number) > 0 ? 1 : 0));
        });
        temps.push(g);
      }
      const mm = (a: tf.TensorInfo, bb: tf.TensorInfo, transposeA: boolean, transposeB: boolean): tf.TensorInfo =>
        callKernel('BatchMatMul', backendName, { inputs: { a, b: bb }, backend, attrs: { transposeA, transposeB } });
      const outs: tf.TensorInfo[] = [];
      if (inputGrad) outs.push(mm(g, kernel, false, true)); // dx = g @ kernelᵀ: [b, o] x [i, o]ᵀ -> [b, i]
      outs.push(mm(x, g, true, false)); // dKernel = xᵀ @ g: [b, i]ᵀ x [b, o] -> [i, o]
      // dBias: column sums, row after row; float32 accumulation on wasm (its Sum), float64 on cpu.
      const f32 = backendName === 'wasm';
      outs.push(
        makeOutput(backend, [o], (out) => {
          const gv = values(backend, g);
          for (let c = 0; c < o; c++) {
            let s = 0;
            for (let r = 0; r < b; r++) s = f32 ? Math.fround(s + (gv[r * o + c] as number)) : s + (gv[r * o + c] as number);
            out[c] = s;
          }
        }),
      );
      return outs;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

/**
 * Registers the kernels for wasm and cpu, and their gradients. Idempotent (a second call, or a
 * second copy of the lib in the process, leaves the first registration).
 */
export function registerFusedDense(): void {
  for (const backendName of FUSED_DENSE_BACKENDS) {
    const reg = (kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): void => {
      if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc });
    };
    reg(FUSED_DENSE, forwardKernel('linear', backendName));
    reg(FUSED_DENSE_RELU, forwardKernel('relu', backendName));
    reg(FUSED_DENSE_GRAD, gradKernel(backendName));
  }
  const gradient = (activation: FusedDenseActivation) => (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [d] = Array.isArray(dy) ? dy : [dy];
    const [x, kernel, y] = saved;
    if (d === undefined || x === undefined || kernel === undefined || (activation === 'relu' && y === undefined)) {
      throw new Error(`the fused Dense gradient lost its saved tensors`);
    }
    const inputGrad = attrs['inputGrad'] !== false;
    const inputs: Record<string, tf.Tensor> = { dy: d, x, kernel };
    if (activation === 'relu' && y !== undefined) inputs['y'] = y;
    // One kernel for every operand's gradient; the thunks hand its outputs out (an output no thunk
    // asks for is disposed with the gradient's tidy).
    const outs = tf.engine().runKernel(FUSED_DENSE_GRAD, inputs, { activation, inputGrad }) as unknown as tf.Tensor[];
    const [dx, dKernel, dBias] = inputGrad ? outs : [undefined, ...outs];
    return {
      x: () => {
        if (dx === undefined) throw new Error('fusedDense was called with inputGrad: false, so it has no gradient with respect to x');
        return dx;
      },
      kernel: () => dKernel as tf.Tensor,
      bias: () => dBias as tf.Tensor,
    };
  };
  if (tf.getGradient(FUSED_DENSE) === undefined) {
    tf.registerGradient({ kernelName: FUSED_DENSE, inputsToSave: ['x', 'kernel'], gradFunc: gradient('linear') });
  }
  if (tf.getGradient(FUSED_DENSE_RELU) === undefined) {
    tf.registerGradient({ kernelName: FUSED_DENSE_RELU, inputsToSave: ['x', 'kernel'], outputsToSave: [true], gradFunc: gradient('relu') });
  }
}

registerFusedDense();

/**
 * Whether `backendName` (default: the active backend) has the fused Dense kernels.
 * @returns true on wasm and cpu.
 */
export function hasFusedDense(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(FUSED_DENSE_RELU, backendName) !== undefined && tf.getKernel(FUSED_DENSE_GRAD, backendName) !== undefined;
}

/**
 * A Dense layer, `act(x @ kernel + bias)`, as one kernel forward and one backward (see the file's
 * comment). Same values as tfjs-layers' Dense under a gradient tape, bit for bit.
 * @param x float32 `[batch, inputs]`.
 * @param kernel float32 `[inputs, units]`.
 * @param bias float32 `[units]`.
 * @returns float32 `[batch, units]`, owned by the caller.
 * @throws Error when the active backend has no such kernels (webgl, tensorflow), naming it; on a
 *   bad activation, dtype or shape, naming the argument and the value.
 */
export function fusedDense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, options: FusedDenseOptions = {}): tf.Tensor2D {
  const activation = options.activation ?? 'linear';
  if (activation !== 'relu' && activation !== 'linear') throw new Error(`activation must be 'relu' or 'linear', got ${String(activation)}`);
  const inputGrad = options.inputGrad ?? true;
  if (typeof inputGrad !== 'boolean') throw new Error(`inputGrad must be a boolean, got ${String(inputGrad)}`);
  const backend = tf.getBackend();
  if (!hasFusedDense(backend)) throw new Error(`the fused Dense kernels are registered for ${FUSED_DENSE_BACKENDS.join(' and ')}, not for backend ${backend}`);
  checkOperands(x, kernel, bias);
  return tf.engine().runKernel<tf.Tensor2D>(activation === 'relu' ? FUSED_DENSE_RELU : FUSED_DENSE, { x, kernel, bias }, { inputGrad });
}
