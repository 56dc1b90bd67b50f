/**
 * The distillation loss as one kernel, for the `wasm` and `cpu` backends (issue 13: a small
 * model's step on wasm costs per kernel dispatched, about 10 µs each, not per FLOP).
 *
 * `FrugalDistillationLoss` takes the student's logits `s` [b, c], the teacher's `t` [b, c] and
 * the int32 labels `y` [b], and in one pass over the rows writes two outputs:
 *
 *     loss = (1 / b) sum_rows [ alpha (lse(s) - s_y) + (1 - alpha) T^2 (sum_i p_i (a_i - z_i) - lse(a) + lse(z)) ]
 *     grad = (1 / b) [ alpha (softmax(s) - onehot(y)) + (1 - alpha) T (softmax(z) - p) ]        [b, c]
 *
 * with `a = t / T`, `z = s / T`, `p = softmax(a)`: the value of
 * {@link distillationLoss} (Hinton et al. 2015, §2; `KL` in batchmean) and its gradient with
 * respect to `s` at `dy = 1`. Each log-sum-exp subtracts the row's maximum first; the sums run in
 * float64 (JavaScript numbers) and the outputs are float32.
 *
 * The gradient (registered with `tf.registerGradient`) is `dy * grad`: one Multiply kernel. The
 * teacher's logits and the labels get none: asking the tape for the teacher's gradient throws
 * (`Cannot backprop through input teacherLogits`), as the teacher is a constant here.
 *
 * The kernels are plain JavaScript loops over the tensors' memory: on wasm, views of the heap
 * (`typedArrayFromHeap`, no copy), on cpu the backend's arrays. Other backends (webgl,
 * tensorflow) have no such kernel and keep the composed tf ops ({@link hasFusedDistillationLoss}).
 * The kernels are registered when this module loads (idempotent).
 */
import * as tf from '@tensorflow/tfjs';
import type { CpuBackendLike, KernelArgs, WasmBackendLike } from '../ops/kernel-backend';

/** The kernel's name in the tfjs registry. */
export const FUSED_DISTILLATION_LOSS = 'FrugalDistillationLoss';

/** Backends the fused kernel is registered for. */
export const FUSED_DISTILLATION_LOSS_BACKENDS = ['wasm', 'cpu'] as const;

/** The kernel's attributes. */
interface FusedAttrs {
  /** Weight of the hard-label cross-entropy, in [0, 1]. */
  alpha: number;
  /** Softmax temperature of the soft term, > 0. */
  temperature: number;
}

/** The three inputs, checked: float32 [b, c] logits of equal shapes and int32 [b] labels. */
function kernelInputs(args: KernelArgs): { s: tf.TensorInfo; t: tf.TensorInfo; y: tf.TensorInfo; batch: number; classes: number } {
  const { logits: s, teacherLogits: t, labels: y } = args.inputs;
  if (s === undefined || t === undefined || y === undefined) {
    throw new Error(`${FUSED_DISTILLATION_LOSS} needs inputs logits, teacherLogits and labels, got ${Object.keys(args.inputs).join(', ')}`);
  }
  if (s.dtype !== 'float32' || s.shape.length !== 2) {
    throw new Error(`studentLogits must be float32 [batch, classes], got dtype ${s.dtype} shape [${s.shape.join(', ')}]`);
  }
  const [batch = 0, classes = 0] = s.shape;
  if (t.dtype !== 'float32' || t.shape.length !== 2 || t.shape[0] !== batch || t.shape[1] !== classes) {
    throw new Error(`teacherLogits must be float32 of studentLogits' shape [${s.shape.join(', ')}], got dtype ${t.dtype} shape [${t.shape.join(', ')}]`);
  }
  if (y.dtype !== 'int32' || y.shape.length !== 1 || y.shape[0] !== batch) {
    throw new Error(`labels must be int32 [${batch}] (one per row of studentLogits), got dtype ${y.dtype} shape [${y.shape.join(', ')}]`);
  }
  if (batch < 1 || classes < 1) throw new Error(`studentLogits must not be empty, got shape [${s.shape.join(', ')}]`);
  return { s, t, y, batch, classes };
}

/** The attributes, checked (the lib checks them before, this guards direct `runKernel` calls). */
function kernelAttrs(args: KernelArgs): FusedAttrs {
  const alpha = args.attrs?.['alpha'];
  const temperature = args.attrs?.['temperature'];
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) throw new Error(`alpha must be in [0, 1], got ${String(alpha)}`);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || !(temperature > 0)) {
    throw new Error(`temperature must be a finite number > 0, got ${String(temperature)}`);
  }
  return { alpha, temperature };
}

/** Per-row scratch of the shifted exponentials (float64), grown to the widest row seen. */
let scratch = new Float64Array(0);

/**
 * The loss and its gradient at `dy = 1`, from the rows of `s`, `t` (float32, row-major [b, c]) and
 * `y` (int32 [b]), into `grad` [b, c]; returns the loss.
 * @throws Error `labels must be class indices in [0, 10), got 12 at index 3` (an out-of-range
 *   label would otherwise read another row; the kernels check them all before allocating).
 */
export function fusedDistillationLossRows(
  s: ArrayLike<number>,
  t: ArrayLike<number>,
  y: ArrayLike<number>,
  batch: number,
  classes: number,
  alpha: number,
  T: number,
  grad: Float32Array,
): number {
  const c2 = (1 - alpha) * T * T; // weight of the KL: (1 - alpha) T^2
  const c1 = (1 - alpha) * T; // its gradient's: (1 - alpha) T^2 / T
  const invT = 1 / T;
  const invB = 1 / batch;
  if (scratch.length < 3 * classes) scratch = new Float64Array(3 * classes);
  const ex = scratch; // [0, c): exp(s - ms); [c, 2c): exp((s - ms) / T); [2c, 3c): exp((t - mt) / T)
  const c2c = 2 * classes;
  let total = 0;
  for (let r = 0; r < batch; r++) {
    const o = r * classes;
    const label = y[r] as number;
    if (!(label >= 0 && label < classes)) throw new Error(`labels must be class indices in [0, ${classes}), got ${label} at index ${r}`);
    // Row maxima: s's (also that of s / T, since T > 0) and t's.
    let ms = -Infinity;
    let mt = -Infinity;
    for (let i = 0; i < classes; i++) {
      const si = s[o + i] as number;
      const ti = t[o + i] as number;
      if (si > ms) ms = si;
      if (ti > mt) mt = ti;
    }
    // The shifted exponentials and their sums.
    let sumS = 0;
    let sumZ = 0;
    let sumA = 0;
    for (let i = 0; i < classes; i++) {
      const d = (s[o + i] as number) - ms;
      const e1 = Math.exp(d);
      const eZ = Math.exp(d * invT);
      const eA = Math.exp(((t[o + i] as number) - mt) * invT);
      ex[i] = e1;
      ex[classes + i] = eZ;
      ex[c2c + i] = eA;
      sumS += e1;
      sumZ += eZ;
      sumA += eA;
    }
    const lseS = ms + Math.log(sumS); // lse(s)
    const lseZ = ms * invT + Math.log(sumZ); // lse(s / T)
    const lseA = mt * invT + Math.log(sumA); // lse(t / T)
    let cross = 0; // sum_i p_i (a_i - z_i), a = t / T, z = s / T
    for (let i = 0; i < classes; i++) {
      const p = (ex[c2c + i] as number) / sumA;
      cross += p * ((t[o + i] as number) - (s[o + i] as number)) * invT;
      const q = (ex[i] as number) / sumS; // softmax(s)_i
      const qT = (ex[classes + i] as number) / sumZ; // softmax(s / T)_i
      grad[o + i] = (alpha * (q - (i === label ? 1 : 0)) + c1 * (qT - p)) * invB;
    }
    const ce = lseS - (s[o + label] as number);
    total += alpha * ce + c2 * (cross - lseA + lseZ);
  }
  return total * invB;
}

/**
 * Checks every label against `classes` before a kernel allocates its outputs (a throw after the
 * allocation would leave them behind).
 * @throws Error `labels must be class indices in [0, 10), got 12 at index 3`.
 */
function checkLabelRange(y: ArrayLike<number>, classes: number): void {
  for (let r = 0; r < y.length; r++) {
    const label = y[r] as number;
    if (!(label >= 0 && label < classes)) throw new Error(`labels must be class indices in [0, ${classes}), got ${label} at index ${r}`);
  }
}

/** The wasm kernel: views of the heap, the two outputs allocated first (an allocation can grow the heap). */
function wasmKernel(args: KernelArgs): tf.TensorInfo[] {
  const { s, t, y, batch, classes } = kernelInputs(args);
  const { alpha, temperature } = kernelAttrs(args);
  const backend = args.backend as WasmBackendLike;
  checkLabelRange(backend.typedArrayFromHeap(y), classes);
  const lossOut = backend.makeOutput([], 'float32');
  const gradOut = backend.makeOutput([batch, classes], 'float32');
  // Views taken after both allocations: growing the heap would detach earlier ones.
  const grad = backend.typedArrayFromHeap(gradOut) as Float32Array;
  const total = fusedDistillationLossRows(backend.typedArrayFromHeap(s), backend.typedArrayFromHeap(t), backend.typedArrayFromHeap(y), batch, classes, alpha, temperature, grad);
  (backend.typedArrayFromHeap(lossOut) as Float32Array)[0] = total;
  return [lossOut, gradOut];
}

/** The cpu kernel: the backend's own arrays, outputs made from new ones. */
function cpuKernel(args: KernelArgs): tf.TensorInfo[] {
  const { s, t, y, batch, classes } = kernelInputs(args);
  const { alpha, temperature } = kernelAttrs(args);
  const backend = args.backend as CpuBackendLike;
  const values = (info: tf.TensorInfo) => backend.data.get(info.dataId).values as ArrayLike<number>;
  checkLabelRange(values(y), classes);
  const grad = new Float32Array(batch * classes);
  const total = fusedDistillationLossRows(values(s), values(t), values(y), batch, classes, alpha, temperature, grad);
  return [backend.makeTensorInfo([], 'float32', Float32Array.of(total)), backend.makeTensorInfo([batch, classes], 'float32', grad)];
}

/**
 * Registers the kernel for wasm and cpu, and its gradient. Idempotent (a second call, or a second
 * copy of the lib in the process, leaves the first registration).
 */
export function registerFusedDistillationLoss(): void {
  const kernels = { wasm: wasmKernel, cpu: cpuKernel };
  for (const backendName of FUSED_DISTILLATION_LOSS_BACKENDS) {
    if (tf.getKernel(FUSED_DISTILLATION_LOSS, backendName) !== undefined) continue;
    tf.registerKernel({ kernelName: FUSED_DISTILLATION_LOSS, backendName, kernelFunc: kernels[backendName] });
  }
  if (tf.getGradient(FUSED_DISTILLATION_LOSS) === undefined) {
    tf.registerGradient({
      kernelName: FUSED_DISTILLATION_LOSS,
      outputsToSave: [false, true], // the gradient at dy = 1
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [dLoss] = Array.isArray(dy) ? dy : [dy];
        const [g] = saved;
        if (dLoss === undefined || g === undefined) throw new Error(`${FUSED_DISTILLATION_LOSS}'s gradient lost its saved tensors`);
        return { logits: () => tf.mul(g, dLoss) }; // [b, c]
      },
    });
  }
}

registerFusedDistillationLoss();

/**
 * Whether `backendName` (default: the active backend) has the fused kernel.
 * @returns true on wasm and cpu.
 */
export function hasFusedDistillationLoss(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel(FUSED_DISTILLATION_LOSS, backendName) !== undefined;
}

/**
 * Runs the fused kernel: the distillation loss and its gradient w.r.t. the student's logits at
 * `dy = 1`, in one kernel. No checks of the values (labels out of range throw inside the kernel);
 * the lib's {@link distillationLoss} checks its inputs and calls this on wasm and cpu.
 *
 * On a tape, the first output is differentiable w.r.t. `studentLogits` (the registered gradient);
 * the teacher's logits and the labels are constants. The second output is not differentiable:
 * a gradient flowing into it is ignored (no second derivatives).
 * @param labels int32 `[batch]`, class indices in `[0, classes)`.
 * @param studentLogits float32 `[batch, classes]`.
 * @param teacherLogits float32 `[batch, classes]`.
 * @param alpha weight of the hard-label term, in [0, 1].
 * @param temperature > 0.
 * @returns `[loss, grad]`: a float32 scalar and float32 `[batch, classes]`, both owned by the caller.
 * @throws Error when the active backend has no such kernel (webgl, tensorflow), naming it; or on
 *   bad dtypes, shapes, labels or attributes, naming the argument and the value.
 */
export function fusedDistillationLossKernel(
  labels: tf.Tensor1D,
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  alpha: number,
  temperature: number,
): [tf.Scalar, tf.Tensor2D] {
  const backend = tf.getBackend();
  if (!hasFusedDistillationLoss(backend)) {
    throw new Error(`${FUSED_DISTILLATION_LOSS} is registered for ${FUSED_DISTILLATION_LOSS_BACKENDS.join(' and ')}, not for backend ${backend}`);
  }
  const out = tf.engine().runKernel(
    FUSED_DISTILLATION_LOSS,
    { logits: studentLogits, teacherLogits, labels },
    { alpha, temperature },
  ) as unknown as tf.Tensor[];
  return [out[0] as tf.Scalar, out[1] as tf.Tensor2D];
}
