/**
 * Lessons 03-05: the distillation step and its parts, an epoch, and the distilled student's
 * inference (also in onnxruntime-node). The step and the epoch run the lib's own training loop
 * (`train` of lib/train/loop.ts, as the lessons call it), so the bench measures what the
 * lessons run: a one-step epoch on 64 rows for a step, an epoch of 1259 rows for an epoch.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase, CaseInstance, OrtInstance } from '../case.js';
import { denseStack, hashFill, trainableVariables } from '../fill.js';

/**
 * Lessons 03 and 04's distillation step: the student 64-8-10, batch 64, Adam at 0.01 (the lib's
 * flatAdam, one fused kernel on wasm and cpu; the `-adam-composed` cases: its composed tf ops; the
 * `-tf` cases: tf.train.adam), loss =
 * distillationLoss({ alpha: 0.5, temperature: 4 }); the teacher 64-256-256-10 (without dropout:
 * the teacher runs in inference mode) either cached (its logits are an input) or live (its
 * forward pass runs inside the step, as in lesson 04).
 */
export const DISTILL = {
  /** Examples per step. */
  batch: 64,
  /** Input features: 8x8 pixels. */
  inputs: 64,
  /** The student's hidden width. */
  hidden: 8,
  /** The teacher's two hidden widths. */
  teacherHidden: 256,
  /** Output classes. */
  classes: 10,
  /** Weight of the hard-label cross-entropy. */
  alpha: 0.5,
  /** Distillation temperature. */
  temperature: 4,
  /** Adam's learning rate (betas 0.9, 0.999; epsilon 1e-7 on both sides). */
  lr: 0.01,
} as const;

/** Rows of the epoch cases (the digits training split's size). */
const EPOCH_ROWS = 1259;
/** Seed of the `Rng` whose permutation orders the rows; the order is sent to PyTorch. */
const SHUFFLE_SEED = 7;

/**
 * `flat`: 1 (default) the lib's flat-parameter `flatAdam` (lib/optim/flat.ts, as lessons 03-04
 * use); 0 `tf.train.adam`. `fusedAdam`: 1 (default) flatAdam's one-kernel update where the
 * backend has it (lib/optim/fused-adam.ts: wasm, cpu); 0 its composed tf ops (`fused: false`). `lamb`: 1 the lib's per-variable LAMB, 2 its flat `flatLamb` (weight
 * decay 0.01), instead of Adam. `fused`: 1 (default) the loss's one-kernel path where the
 * backend has it (lib/distill/fused-loss.ts: wasm, cpu); 0 the composed tf ops (`fused: false`).
 * `fusedDense`: 1 (default) the student's Dense layers through the fused Dense kernels where the
 * backend has them (lib/ops/fused-dense.ts, `train`'s default); 0 tfjs-layers' own ops (`fusedDense: false`).
 * `fusedGather`: 1 (default) each batch's rows in one FrugalGatherBatch kernel (lib/ops/gather-batch.ts);
 * 0 one `tf.gather` per tensor (`fusedGather: false`).
 */
type DistillParams = typeof DISTILL & { live: 0 | 1; examples?: number; flat?: 0 | 1; lamb?: 1 | 2; fused?: 0 | 1; fusedAdam?: 0 | 1; fusedDense?: 0 | 1; fusedGather?: 0 | 1 };

/**
 * The pieces of a distillation step: data, the student, the teacher (live) or its logits
 * (cached), Adam, the lib's distillation loss (`trusted`, as in the lessons: no read-back), and
 * `epoch()`, one pass of the lib's `train` over the rows in the order of a fresh
 * `Rng(SHUFFLE_SEED)` (so every call sees the same order, the one PyTorch replays), which
 * returns the mean batch loss.
 */
function distillSetup(p: DistillParams) {
  const n = p.examples ?? p.batch;
  const x = hashFill(n, p.inputs, 11, 1); // [n, 64]
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % p.classes), 'int32'); // [n]
  const student = denseStack([p.inputs, p.hidden, p.classes], 20);
  const teacher = denseStack([p.inputs, p.teacherHidden, p.teacherHidden, p.classes], 30);
  const cached = teacher.predict(x) as tf.Tensor2D; // [n, classes]
  const optimizer =
    p.lamb === 1 ? lib.lamb({ learningRate: p.lr, weightDecay: 0.01 })
    : p.lamb === 2 ? lib.flatLamb({ learningRate: p.lr, weightDecay: 0.01 })
    : p.flat === 0 ? tf.train.adam(p.lr, 0.9, 0.999, 1e-7) : lib.flatAdam(p.lr, 0.9, 0.999, 1e-7, p.fusedAdam === 0 ? false : undefined);
  const vars = trainableVariables(student);
  const loss = lib.distillationLoss({ alpha: p.alpha, temperature: p.temperature, trusted: true, ...(p.fused === 0 ? { fused: false } : {}) });
  const live = p.live === 1;
  const data: lib.Dataset = live ? { x, y } : { x, y, teacherLogits: cached };
  const options: Omit<lib.TrainOptions, 'rng'> = {
    epochs: 1,
    batchSize: p.batch,
    optimizer,
    progress: false,
    ...(p.fusedDense === 0 ? { fusedDense: false } : {}),
    ...(p.fusedGather === 0 ? { fusedGather: false } : {}),
    loss: (batch, logits) => {
      const t = live ? (teacher.apply(batch.x, { training: false }) as tf.Tensor2D) : batch.teacherLogits;
      if (!t) throw new Error('the cached distillation case lost its teacher logits');
      return loss(batch.y, logits, t);
    },
  };
  const epoch = async (): Promise<number> => {
    const history = await lib.train(student, data, { ...options, rng: new lib.Rng(SHUFFLE_SEED) });
    return history.loss[0] ?? NaN;
  };
  const fusedStudent = p.fusedDense === 0 ? 'fusedDense: 0' : lib.fusedMlpForward(student);
  const studentForward = typeof fusedStudent === 'function' ? fusedStudent : (xx: tf.Tensor2D) => student.apply(xx, { training: true }) as tf.Tensor2D;
  /** The loss on all rows, from the stored teacher logits (with `train`'s forward pass: fused Dense where it can). */
  const forward = (): tf.Scalar => loss(y, studentForward(x), cached);
  const dispose = (): void => {
    optimizer.dispose();
    student.dispose();
    teacher.dispose();
    tf.dispose([x, y, cached]);
  };
  return { epoch, forward, vars, optimizer, dispose };
}

/** The rows' order in an epoch of `n` rows, as the lib's `train` draws it: sent to PyTorch. */
const order = (n: number): number[] => new lib.Rng(SHUFFLE_SEED).permutation(n);

const stepParams = (live: 0 | 1) => ({ ...DISTILL, live, order: order(DISTILL.batch) });
const epochParams = (live: 0 | 1) => ({ ...DISTILL, examples: EPOCH_ROWS, live, order: order(EPOCH_ROWS) });

/** The optimiser's update alone (distill-adam, distill-adam-composed, distill-adam-tf, distill-lamb, distill-lamb-flat): the first step's gradients, held fixed. */
function adamUpdate(p: DistillParams): CaseInstance {
  const d = distillSetup(p);
  const { value, grads } = tf.variableGrads(d.forward, d.vars);
  value.dispose();
  const named = Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
  const w2 = d.vars[2]; // the output layer's kernel [8, 10]
  if (!w2) throw new Error('the student has no output kernel');
  return {
    // -> [] (the sum of the output layer's kernel after the update: one extra Sum kernel)
    step: () => {
      d.optimizer.applyGradients(named);
      return tf.sum(w2);
    },
    dispose: () => {
      tf.dispose(Object.values(grads));
      d.dispose();
    },
  };
}

const family = 'distillation';
const kernelsWhy = 'about 0.23 MFLOP a step: the fixed cost of each small kernel';

/** Lesson 05: the student (denseStack seed 20, as in distillSetup) in inference mode. -> [b, 10] */
const STUDENT_INFER = { inputs: 64, hidden: 8, classes: 10 } as const;

function studentInfer(batch: number): CaseInstance {
  const model = denseStack([STUDENT_INFER.inputs, STUDENT_INFER.hidden, STUDENT_INFER.classes], 20);
  const x = hashFill(batch, STUDENT_INFER.inputs, 11, 1); // [b, 64]
  return { step: () => model.predict(x) as tf.Tensor, dispose: () => { model.dispose(); x.dispose(); } };
}

/** The same student exported by the lib's exportOnnx, in onnxruntime-node (one thread). */
async function studentInferOrt(batch: number): Promise<OrtInstance> {
  const model = denseStack([STUDENT_INFER.inputs, STUDENT_INFER.hidden, STUDENT_INFER.classes], 20);
  const bytes = lib.exportOnnx(model, { softmax: false });
  model.dispose();
  const x = hashFill(batch, STUDENT_INFER.inputs, 11, 1); // [b, 64]
  const data = x.dataSync() as Float32Array;
  x.dispose();
  const session = await lib.OnnxModel.load(bytes, { threads: 1 });
  return { step: () => session.logits(data, batch), dispose: () => session.dispose() };
}

function studentInferCase(batch: number): BenchCase {
  return {
    id: `student-infer-${batch}`,
    title: `student, batch ${batch}`,
    family,
    what: `lesson 05: the student 64-8-10 predicts ${batch === 1 ? 'one image' : `${batch} images`} (inference mode); also in onnxruntime-node`,
    bound: 'kernels',
    boundWhy: 'a handful of kernels on tiny tensors',
    params: { ...STUDENT_INFER, batch },
    torch: 'student-infer',
    setup: () => studentInfer(batch),
    ort: () => studentInferOrt(batch),
  };
}

/** The distillation family: the step's parts, the step and the epoch. */

/** What tells one `train` case from another: the optimiser and the fused paths (see DistillParams). */
type TrainVariant = Pick<DistillParams, 'flat' | 'fused' | 'fusedAdam' | 'fusedDense' | 'fusedGather'>;

/**
 * A case that times one call of the lib's `train`: one step (64 rows, `distill-step`'s twin) or
 * one epoch (EPOCH_ROWS rows, `distill-epoch`'s), with the teacher cached (`live` 0) or live (1).
 * The variant goes both into the params PyTorch receives and into the set-up, so the two agree.
 */
function trainCase(c: Pick<BenchCase, 'id' | 'title' | 'what'> & { boundWhy?: string }, rows: 'step' | 'epoch', live: 0 | 1, variant: TrainVariant = {}): BenchCase {
  return {
    ...c,
    family,
    bound: 'kernels',
    boundWhy: c.boundWhy ?? kernelsWhy,
    params: { ...(rows === 'step' ? stepParams(live) : epochParams(live)), ...variant },
    torch: `distill-${rows}`,
    setup: () => {
      const d = distillSetup({ ...DISTILL, ...(rows === 'epoch' ? { examples: EPOCH_ROWS } : {}), live, ...variant });
      return { step: d.epoch, dispose: d.dispose };
    },
  };
}

export const distillCases: BenchCase[] = [
  {
    id: 'distill-forward',
    title: 'step: forward + loss',
    family,
    what: "the step's forward pass and loss alone, without a gradient tape",
    bound: 'kernels',
    boundWhy: kernelsWhy,
    params: { ...DISTILL, live: 0 },
    torch: 'distill-forward',
    setup: () => {
      const d = distillSetup({ ...DISTILL, live: 0 });
      return { step: () => tf.tidy(d.forward), dispose: d.dispose };
    },
  },
  {
    id: 'distill-backward',
    title: 'step: + gradients',
    family,
    what: 'forward, loss and the 4 gradients (tape and replay), no update',
    bound: 'kernels',
    boundWhy: kernelsWhy,
    params: { ...DISTILL, live: 0 },
    torch: 'distill-backward',
    setup: () => {
      const d = distillSetup({ ...DISTILL, live: 0 });
      // the gradients are computed, then disposed by the tidy. -> [] (the loss)
      return { step: () => tf.tidy(() => tf.variableGrads(d.forward, d.vars).value), dispose: d.dispose };
    },
  },
  {
    id: 'distill-backward-dense-composed',
    title: '+ gradients, tfjs-layers Dense',
    family,
    what: "forward, loss and gradients with tfjs-layers' Dense ops instead of the fused Dense kernels, for comparison",
    bound: 'kernels',
    boundWhy: kernelsWhy,
    params: { ...DISTILL, live: 0, fusedDense: 0 },
    torch: 'distill-backward',
    setup: () => {
      const d = distillSetup({ ...DISTILL, live: 0, fusedDense: 0 });
      return { step: () => tf.tidy(() => tf.variableGrads(d.forward, d.vars).value), dispose: d.dispose };
    },
  },
  {
    id: 'distill-forward-composed',
    title: 'forward + loss, composed',
    family,
    what: 'the same forward pass with the loss as composed tf ops (`fused: false`: 33 kernels) instead of the one-kernel FrugalDistillationLoss',
    bound: 'kernels',
    boundWhy: kernelsWhy,
    params: { ...DISTILL, live: 0, fused: 0 },
    torch: 'distill-forward',
    setup: () => {
      const d = distillSetup({ ...DISTILL, live: 0, fused: 0 });
      return { step: () => tf.tidy(d.forward), dispose: d.dispose };
    },
  },
  {
    id: 'distill-backward-composed',
    title: '+ gradients, composed',
    family,
    what: 'forward, loss and gradients with the composed loss (`fused: false`), for comparison',
    bound: 'kernels',
    boundWhy: kernelsWhy,
    params: { ...DISTILL, live: 0, fused: 0 },
    torch: 'distill-backward',
    setup: () => {
      const d = distillSetup({ ...DISTILL, live: 0, fused: 0 });
      return { step: () => tf.tidy(() => tf.variableGrads(d.forward, d.vars).value), dispose: d.dispose };
    },
  },
  {
    id: 'distill-adam',
    title: 'step: Adam update',
    family,
    what: "Adam's update alone, the gradients of the first step held fixed",
    bound: 'kernels',
    boundWhy: 'the lib\'s flatAdam: one FrugalAdamUpdate kernel reads every weight, gradient and moment and writes the new ones',
    params: { ...DISTILL, live: 0 },
    torch: 'distill-adam',
    setup: () => adamUpdate({ ...DISTILL, live: 0 }),
  },
  {
    id: 'distill-adam-composed',
    title: 'step: flat Adam, composed',
    family,
    what: "the same update by flatAdam's composed tf ops (`fused: false`) instead of the one-kernel FrugalAdamUpdate, for comparison",
    bound: 'kernels',
    boundWhy: '12 kernels on one flat vector, plus 1 + 4 per weight tensor to flatten and apply',
    params: { ...DISTILL, live: 0, fusedAdam: 0 },
    torch: 'distill-adam',
    setup: () => adamUpdate({ ...DISTILL, live: 0, fusedAdam: 0 }),
  },
  {
    id: 'distill-adam-tf',
    title: 'step: tf.train.adam update',
    family,
    what: "the same update by tf.train.adam (14 kernels per weight tensor), for comparison",
    bound: 'kernels',
    boundWhy: '15 small kernels per weight tensor',
    params: { ...DISTILL, live: 0, flat: 0 },
    torch: 'distill-adam',
    setup: () => adamUpdate({ ...DISTILL, live: 0, flat: 0 }),
  },
  {
    id: 'distill-lamb',
    title: 'step: LAMB update',
    family,
    what: "the lib's per-variable LAMB update alone (weight decay 0.01), the gradients of the first step held fixed; no PyTorch twin (PyTorch has no LAMB)",
    bound: 'kernels',
    boundWhy: '42 small kernels per weight tensor',
    params: { ...DISTILL, live: 0, lamb: 1 },
    setup: () => adamUpdate({ ...DISTILL, live: 0, lamb: 1 }),
  },
  {
    id: 'distill-lamb-flat',
    title: 'step: flat LAMB update',
    family,
    what: "the same update by the lib's flatLamb (one flat vector; per-variable norms by segment sums)",
    bound: 'kernels',
    boundWhy: 'the lib\'s flatLamb: 36 kernels (38 on wasm) plus 4 (6) per weight tensor',
    params: { ...DISTILL, live: 0, lamb: 2 },
    setup: () => adamUpdate({ ...DISTILL, live: 0, lamb: 2 }),
  },
  trainCase({ id: 'distill-step', title: 'distill step, cached', what: "one step of the lib's `train` (lessons 03-04): batch of 64 gathered, forward, loss, backward, Adam, loss read back; teacher logits given" }, 'step', 0),
  trainCase({ id: 'distill-step-tf', title: 'step, tf.train.adam', what: 'the same step with tf.train.adam instead of the lib\'s flatAdam, for comparison' }, 'step', 0, { flat: 0 }),
  trainCase({ id: 'distill-step-composed', title: 'step, composed loss', what: 'the same step with the loss as composed tf ops (`fused: false`) instead of the one-kernel FrugalDistillationLoss, for comparison' }, 'step', 0, { fused: 0 }),
  trainCase({ id: 'distill-step-adam-composed', title: 'step, composed Adam', what: "the same step with flatAdam's composed tf ops (`fused: false`: 26 kernels) instead of the one-kernel FrugalAdamUpdate, for comparison" }, 'step', 0, { fusedAdam: 0 }),
  trainCase({ id: 'distill-step-dense-composed', title: 'step, tfjs-layers Dense', what: "the same step with the student's Dense layers as tfjs-layers' own ops (`fusedDense: false`) instead of the fused Dense kernels, for comparison" }, 'step', 0, { fusedDense: 0 }),
  trainCase({ id: 'distill-step-gather-composed', title: 'step, 3 gathers', what: "the same step with one tf.gather per tensor (`fusedGather: false`) instead of the one FrugalGatherBatch kernel, for comparison" }, 'step', 0, { fusedGather: 0 }),
  trainCase({ id: 'distill-step-unfused', title: 'step, before fused Dense', what: "the same step as before the fused Dense and gather kernels (`fusedDense: false, fusedGather: false`): tfjs-layers' Dense and 3 tf.gather, for comparison" }, 'step', 0, { fusedDense: 0, fusedGather: 0 }),
  trainCase({ id: 'distill-step-live', title: 'distill step, live', what: "the same, with the teacher's forward pass inside the step", boundWhy: "the cached step's kernels, plus the teacher's 10.8 MFLOP (about 40 % of the step)" }, 'step', 1),
  trainCase({ id: 'distill-epoch', title: 'epoch, cached', what: `one epoch of the lib's \`train\`: ${EPOCH_ROWS} rows shuffled by the lib's Rng, 20 batches of 64 (the last of ${EPOCH_ROWS % 64}), each loss read back; the check is the mean loss` }, 'epoch', 0),
  trainCase({ id: 'distill-epoch-composed', title: 'epoch, composed loss', what: 'the same epoch with the composed loss (`fused: false`), for comparison' }, 'epoch', 0, { fused: 0 }),
  trainCase({ id: 'distill-epoch-adam-composed', title: 'epoch, composed Adam', what: "the same epoch with flatAdam's composed tf ops (`fused: false`), for comparison" }, 'epoch', 0, { fusedAdam: 0 }),
  trainCase({ id: 'distill-epoch-dense-composed', title: 'epoch, tfjs-layers Dense', what: "the same epoch with tfjs-layers' Dense ops (`fusedDense: false`), for comparison" }, 'epoch', 0, { fusedDense: 0 }),
  trainCase({ id: 'distill-epoch-unfused', title: 'epoch, before fused Dense', what: "the same epoch as before the fused Dense and gather kernels (`fusedDense: false, fusedGather: false`), for comparison" }, 'epoch', 0, { fusedDense: 0, fusedGather: 0 }),
  trainCase({ id: 'distill-epoch-live', title: 'epoch, live', what: 'the same epoch with the live teacher', boundWhy: "the cached epoch's kernels, plus the teacher's forward passes" }, 'epoch', 1),
];

/** Lesson 05: the distilled student's inference, in tfjs and onnxruntime-node. */
export const studentInferCases: BenchCase[] = [studentInferCase(1), studentInferCase(256)];
