// @ts-check
// npm run bench: the course's tfjs (on the backend the lib picks) against PyTorch on the CPU,
// case by case, side by side. See bench/README.md for what each case measures and how to read
// the ratios.
//
//   npm run bench                          the lib's backend (FRUGAL_BACKEND is honoured)
//   npm run bench -- --backend cpu         one backend: cpu, wasm or tensorflow
//   npm run bench -- --all-backends        tensorflow (when installed), wasm and cpu, one table each
//   npm run bench -- --json out/bench.json also write the results as JSON
//
// PyTorch runs in a child process (bench/torch_bench.py through /usr/bin/python3, or
// $FRUGAL_PYTHON), after the tfjs cases, so the two never compete for the cores.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from './lib/env.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
/** @type {typeof import('@tensorflow/tfjs')} */
const tf = require('@tensorflow/tfjs');
/** @type {typeof import('@frugal-ai/lib')} */
let lib;
try {
  lib = require('@frugal-ai/lib');
} catch (err) {
  console.error(`bench: cannot load @frugal-ai/lib (run npm run build first): ${/** @type {Error} */ (err).message}`);
  process.exit(1);
}

/** @typedef {import('@tensorflow/tfjs').Tensor} Tensor */
/** @typedef {{ run: () => Tensor, dispose: () => void }} TfjsCase */
/**
 * One benchmark case.
 * @typedef {object} BenchCase
 * @property {string} id        stable key, used by --cases and in the JSON
 * @property {string} title     the table's row label (short)
 * @property {string} kind      implementation: a key of TFJS_KINDS, and of CASES in torch_bench.py
 * @property {Record<string, number>} params  shapes and settings, passed to both sides
 * @property {number} [flops]   floating-point operations per iteration, for a GFLOP/s row
 */

// ---------------------------------------------------------------------------------------------
// Cases. The extension point: a new case is one entry in CASES, plus an implementation under its
// `kind` in TFJS_KINDS here and in CASES of bench/torch_bench.py (same inputs, same output).
// ---------------------------------------------------------------------------------------------

/** Largest relative difference allowed between the tfjs and PyTorch check values. */
const CHECK_TOLERANCE = 1e-3;

const KL = { batch: 4096, classes: 1000, temperature: 4 };

/**
 * Lessons 03 and 04's distillation step: the student 64-8-10 (STUDENT_CONFIG), batch 64, Adam at
 * 0.01, loss = distillationLoss({ alpha: 0.5, temperature: 4 }); the teacher 64-256-256-10
 * (TEACHER_CONFIG, without dropout: the teacher runs in inference mode) either cached (its
 * logits are an input) or live (its forward pass runs inside the step, as in lesson 04).
 */
const DISTILL = {
  batch: 64, // examples per step
  inputs: 64, // 8x8 pixels
  hidden: 8, // the student's hidden width
  teacherHidden: 256, // the teacher's two hidden widths
  classes: 10,
  alpha: 0.5, // weight of the hard-label cross-entropy
  temperature: 4,
  lr: 0.01, // Adam's learning rate (betas 0.9, 0.999; epsilon 1e-7 on both sides)
  flat: 1, // 1: the lib's flat-parameter flatAdam (lib/optim/flat.ts, as lessons 03-04); 0: tf.train.adam
};

/** Lesson 05's inference: the distilled student 64-8-10 predicting a batch of images. */
const STUDENT_INFER = { inputs: 64, hidden: 8, classes: 10 };
/**
 * Lessons 06-08's MoE layer (lib/moe/layer.ts), forward + backward: 4096 tokens of width d through
 * 8 experts d -> h -> d (relu, no biases), softmax router, top-2, gates = the chosen
 * probabilities, loss = mean(y^2), gradients of every weight. `dense: 0` is the sparse dispatch
 * (each expert gathers its own tokens); `dense: 1` runs all 8 experts on every token and
 * weights them by the same (zero for unchosen) gates. The flops field counts the FLOPs each
 * performs (x3 for the backward).
 */
const MOE = { tokens: 4096, d: 64, h: 128, experts: 8, topK: 2 };


/**
 * Lessons 09-10's decoding step (lib/attention): one new token through one attention layer whose
 * cache already holds `context` tokens, at width d = 512 with 8 heads of 64. MHA caches K and V
 * (2 · 8 · 64 = 1024 floats per token); MLA, with DeepSeek-V2's ratios d_c = 4 d_h = 256 and
 * d_h^R = d_h / 2 = 32 (d'_c = 192), caches 288. variant 0: MHA; 1: naive MLA (rebuilds every
 * cached token's keys and values); 2: absorbed MLA. Weights, the cache and the token are
 * hash-filled; the step appends to the cache by concatenation on both sides, as the lib does.
 * -> the output [1, 1, d].
 */
const ATTN = { d: 512, heads: 8, headDim: 64, qLatent: 192, kvLatent: 256, ropeDim: 32 };
/** @param {number} variant 0 MHA, else MLA  @param {number} context */
const attnCacheMiB = (variant, context) => ((variant === 0 ? 2 * ATTN.heads * ATTN.headDim : ATTN.kvLatent + ATTN.ropeDim) * context * 4) / 2 ** 20;
const ATTN_CASES = [256, 1024, 4096].flatMap((context) =>
  [['MHA', 0], ['MLA naive', 1], ['MLA absorbed', 2]].map(([name, variant]) => ({
    id: `decode-${String(name).toLowerCase().replace(' ', '-')}-${context}`,
    title: `decode @${context}, ${name} (${attnCacheMiB(Number(variant), context)} MiB)`,
    kind: 'attn-decode',
    params: { ...ATTN, context, variant: Number(variant) },
  })),
);

/**
 * Lesson 11's tiny LM (lib/lm/tiny-lm.ts), one training step: vocabulary 73, d = 64, 2 blocks of
 * MHA (8 heads of 8, RoPE, causal) and a SwiGLU FFN of 128, RMSNorm, batch 16 × 64 tokens,
 * next-token cross-entropy, Adam at 3e-3 (epsilon 1e-7 on both sides). -> the loss [].
 */
const TINYLM = { vocab: 73, d: 64, layers: 2, heads: 8, hidden: 128, batch: 16, context: 64, lr: 3e-3 };

/** @type {BenchCase[]} */
const CASES = [
  { id: 'matmul-256', title: 'matmul 256²', kind: 'matmul', params: { n: 256 }, flops: 2 * 256 ** 3 },
  { id: 'matmul-1024', title: 'matmul 1024²', kind: 'matmul', params: { n: 1024 }, flops: 2 * 1024 ** 3 },
  { id: 'kl-forward', title: 'KL fwd', kind: 'kl-forward', params: KL },
  { id: 'kl-forward-backward', title: 'KL fwd+bwd', kind: 'kl-forward-backward', params: KL },
  { id: 'op-overhead', title: '100 tiny adds', kind: 'op-chain', params: { ops: 100, rows: 64, cols: 8 } },
  { id: 'distill-forward', title: 'step: forward + loss', kind: 'distill-forward', params: { ...DISTILL, live: 0 } },
  { id: 'distill-backward', title: 'step: + gradients', kind: 'distill-backward', params: { ...DISTILL, live: 0 } },
  { id: 'distill-adam', title: 'step: Adam update', kind: 'distill-adam', params: { ...DISTILL, live: 0 } },
  { id: 'distill-adam-tf', title: 'step: tf.train.adam update', kind: 'distill-adam', params: { ...DISTILL, live: 0, flat: 0 } },
  { id: 'distill-step', title: 'distill step, cached', kind: 'distill-step', params: { ...DISTILL, live: 0 } },
  { id: 'distill-step-tf', title: 'step, tf.train.adam', kind: 'distill-step', params: { ...DISTILL, live: 0, flat: 0 } },
  { id: 'distill-step-live', title: 'distill step, live', kind: 'distill-step', params: { ...DISTILL, live: 1 } },
  { id: 'distill-epoch', title: 'epoch, cached', kind: 'distill-epoch', params: { ...DISTILL, examples: 1259, live: 0 } },
  { id: 'distill-epoch-live', title: 'epoch, live', kind: 'distill-epoch', params: { ...DISTILL, examples: 1259, live: 1 } },
  // Lesson 05: the student's inference, also run in onnxruntime-node (ORT_KINDS).
  { id: 'student-infer-1', title: 'student, batch 1', kind: 'student-infer', params: { ...STUDENT_INFER, batch: 1 } },
  { id: 'student-infer-256', title: 'student, batch 256', kind: 'student-infer', params: { ...STUDENT_INFER, batch: 256 } },
  { id: 'moe-sparse', title: 'MoE top-2 of 8, sparse', kind: 'moe', params: { ...MOE, dense: 0 }, flops: 3 * MOE.tokens * (2 * MOE.d * MOE.experts + MOE.topK * 4 * MOE.d * MOE.h) },
  { id: 'moe-dense', title: 'MoE, all 8 experts run', kind: 'moe', params: { ...MOE, dense: 1 }, flops: 3 * MOE.tokens * (2 * MOE.d * MOE.experts + MOE.experts * 4 * MOE.d * MOE.h) },
  ...ATTN_CASES,
  { id: 'tinylm-train-step', title: 'tiny LM train step (16 × 64 tokens)', kind: 'tinylm-step', params: TINYLM },
];

/**
 * A [rows, cols] array of values in [-scale, scale), bit-identical to hash_fill() in
 * bench/torch_bench.py: an integer hash of the flat index, so both sides get the same inputs.
 * @param {number} rows
 * @param {number} cols
 * @param {number} seed
 * @param {number} scale
 * @returns {import('@tensorflow/tfjs').Tensor2D}
 */
function hashFill(rows, cols, seed, scale) {
  const out = new Float32Array(rows * cols);
  for (let k = 0; k < out.length; k++) {
    let h = (k + seed * 0x1000000) >>> 0;
    h = Math.imul((h >>> 16) ^ h, 0x45d9f3b) >>> 0;
    h = Math.imul((h >>> 16) ^ h, 0x45d9f3b) >>> 0;
    h = ((h >>> 16) ^ h) >>> 0;
    out[k] = ((h / 2 ** 32) * 2 - 1) * scale; // float64, rounded to float32 on store
  }
  return tf.tensor2d(out, [rows, cols]);
}

/**
 * KL(softmax(teacher / T) || softmax(student / T)), batchmean, from logits: the lib's
 * `klDivergence` (lib/distill/kl.ts), as PyTorch's `F.kl_div(log_q, log_p,
 * reduction='batchmean', log_target=True)` in torch_bench.py. `checkFinite: false` skips the
 * lib's NaN/Inf read-back of both inputs, as a training loop over trusted tensors would.
 * @param {Tensor} teacher [b, c]
 * @param {Tensor} student [b, c]
 * @param {number} temperature
 * @returns {Tensor} []
 */
function kl(teacher, student, temperature) {
  return lib.klDivergence(
    /** @type {import('@tensorflow/tfjs').Tensor2D} */ (teacher),
    /** @type {import('@tensorflow/tfjs').Tensor2D} */ (student),
    temperature,
    { checkFinite: false },
  );
}

/** @param {Record<string, number>} p */
function klInputs(p) {
  const teacher = hashFill(p.batch ?? 0, p.classes ?? 0, 3, 8); // [b, c]
  const student = hashFill(p.batch ?? 0, p.classes ?? 0, 4, 6); // [b, c]
  return { teacher, student };
}

/**
 * Glorot-uniform bound of a [fanIn, fanOut] kernel; the same number in torch_bench.py.
 * @param {number} fanIn
 * @param {number} fanOut
 */
function glorot(fanIn, fanOut) {
  return Math.sqrt(6 / (fanIn + fanOut));
}

/**
 * A dense stack `sizes[0] -> ... -> sizes.at(-1)` built by the lib's `mlp` (tfjs-layers, as in
 * the lessons), with hash-filled kernels and zero biases, identical to torch_bench.py's.
 * @param {number[]} sizes
 * @param {number} seed first hash seed; layer k uses seed + k
 */
function denseStack(sizes, seed) {
  const model = lib.mlp({ inputs: sizes[0] ?? 0, hidden: sizes.slice(1, -1), outputs: sizes.at(-1) ?? 0, rng: new lib.Rng(seed) });
  const weights = sizes.slice(1).flatMap((out, k) => {
    const fanIn = sizes[k] ?? 0;
    return [hashFill(fanIn, out, seed + k, glorot(fanIn, out)), tf.zeros([out])]; // kernel [in, out], bias [out]
  });
  model.setWeights(weights); // copies the values into the model's variables
  tf.dispose(weights);
  return model;
}

/**
 * The pieces of a distillation step: data, the student, the teacher (live) or its logits
 * (cached), Adam, the lib's distillation loss, and `step(ix)`, which trains on the rows `ix`
 * of the data (all rows when omitted) and returns the loss, as lib/train/loop.ts does.
 * @param {Record<string, number>} p
 */
function distillSetup(p) {
  const n = p.examples ?? p.batch ?? 0;
  const inputs = p.inputs ?? 0;
  const classes = p.classes ?? 0;
  const x = hashFill(n, inputs, 11, 1); // [n, 64]
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % classes), 'int32'); // [n]
  const student = denseStack([inputs, p.hidden ?? 0, classes], 20);
  const teacher = denseStack([inputs, p.teacherHidden ?? 0, p.teacherHidden ?? 0, classes], 30);
  const cached = /** @type {import('@tensorflow/tfjs').Tensor2D} */ (teacher.predict(x)); // [n, classes]
  const optimizer = p.flat === 0 ? tf.train.adam(p.lr, 0.9, 0.999, 1e-7) : lib.flatAdam(p.lr ?? 0, 0.9, 0.999, 1e-7);
  const vars = student.trainableWeights.map((w) => /** @type {import('@tensorflow/tfjs').Variable} */ (w.read()));
  const loss = lib.distillationLoss({ alpha: p.alpha ?? 0, temperature: p.temperature ?? 1, checkFinite: false });
  const live = p.live === 1;
  /** @param {import('@tensorflow/tfjs').Tensor1D} [ix] rows of the batch */
  const step = (ix) =>
    tf.tidy(() => {
      const xb = /** @type {import('@tensorflow/tfjs').Tensor2D} */ (ix ? tf.gather(x, ix) : x); // [b, 64]
      const yb = /** @type {import('@tensorflow/tfjs').Tensor1D} */ (ix ? tf.gather(y, ix) : y); // [b]
      const cachedB = /** @type {import('@tensorflow/tfjs').Tensor2D} */ (ix && !live ? tf.gather(cached, ix) : cached);
      return /** @type {Tensor} */ (optimizer.minimize(() => {
        const s = /** @type {import('@tensorflow/tfjs').Tensor2D} */ (student.apply(xb, { training: true })); // [b, 10]
        const t = live ? /** @type {import('@tensorflow/tfjs').Tensor2D} */ (teacher.apply(xb, { training: false })) : cachedB;
        return loss(yb, s, t);
      }, true, vars));
    });
  /** The step's loss on all rows, from the stored teacher logits, without a gradient tape. */
  const forward = () => loss(y, /** @type {import('@tensorflow/tfjs').Tensor2D} */ (student.apply(x, { training: true })), cached);
  const dispose = () => {
    optimizer.dispose();
    student.dispose();
    teacher.dispose();
    tf.dispose([x, y, cached]);
  };
  return { n, step, forward, vars, optimizer, dispose };
}

/**
 * kind -> builder. A builder makes the inputs once; `run` does one iteration and returns the
 * tensor the timer waits for (and the value checked against PyTorch); `dispose` frees the inputs.
 * @type {Record<string, (p: Record<string, number>) => TfjsCase>}
 */
const TFJS_KINDS = {
  matmul: (p) => {
    const n = p.n ?? 0;
    const a = hashFill(n, n, 1, 1); // [n, n]
    const b = hashFill(n, n, 2, 1); // [n, n]
    return { run: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) }; // -> [n, n]
  },
  'kl-forward': (p) => {
    const { teacher, student } = klInputs(p);
    return {
      run: () => kl(teacher, student, p.temperature ?? 1), // -> []
      dispose: () => tf.dispose([teacher, student]),
    };
  },
  'kl-forward-backward': (p) => {
    const { teacher, student } = klInputs(p);
    // d KL / d student logits; tf.grad disposes the forward's intermediates.
    const grad = tf.grad((s) => kl(teacher, s, p.temperature ?? 1));
    return { run: () => grad(student), dispose: () => tf.dispose([teacher, student]) }; // -> [b, c]
  },
  // `ops` element-wise adds in a chain on a [64, 8] tensor: the fixed cost of one op, since the
  // arithmetic (512 additions) takes nanoseconds. -> [rows, cols]
  'op-chain': (p) => {
    const a = hashFill(p.rows ?? 0, p.cols ?? 0, 5, 1); // [64, 8]
    const b = hashFill(p.rows ?? 0, p.cols ?? 0, 6, 1); // [64, 8]
    const run = () =>
      tf.tidy(() => {
        let t = a;
        for (let i = 0; i < (p.ops ?? 0); i++) t = tf.add(t, b);
        return t;
      });
    return { run, dispose: () => tf.dispose([a, b]) };
  },
  // The parts of distill-step, to see where its kernels and time go.
  // Forward pass and loss, without a tape. -> [] (the loss)
  'distill-forward': (p) => {
    const d = distillSetup(p);
    return { run: () => tf.tidy(d.forward), dispose: d.dispose };
  },
  // Forward, loss and the gradients of the student's 4 weight tensors (the tape, then its
  // replay); the gradients are computed, then disposed. -> [] (the loss)
  'distill-backward': (p) => {
    const d = distillSetup(p);
    return { run: () => tf.tidy(() => tf.variableGrads(d.forward, d.vars).value), dispose: d.dispose };
  },
  // Adam's update alone, with the gradients of the first step held fixed. -> [] (the sum of
  // the output layer's kernel after the update: one extra Sum kernel)
  'distill-adam': (p) => {
    const d = distillSetup(p);
    const { value, grads } = tf.variableGrads(d.forward, d.vars);
    value.dispose();
    const w2 = d.vars[2]; // the output layer's kernel [8, 10]
    if (!w2) throw new Error('the student has no output kernel');
    return {
      run: () => {
        d.optimizer.applyGradients(/** @type {Record<string, import('@tensorflow/tfjs').Variable>} */ (grads));
        return tf.sum(w2);
      },
      dispose: () => {
        tf.dispose(Object.values(grads));
        d.dispose();
      },
    };
  },
  // One optimiser step on one batch of 64: forward, loss, backward, Adam. -> [] (the loss)
  'distill-step': (p) => {
    const d = distillSetup(p);
    return { run: () => d.step(), dispose: d.dispose };
  },
  // One epoch: the rows in a fixed order (row k of the order is (k * 7919) mod n), batches of 64,
  // the last one smaller; each step gathers its batch and reads its loss back, as
  // lib/train/loop.ts does. -> [] (the epoch's mean loss)
  'distill-epoch': (p) => {
    const d = distillSetup(p);
    const bs = p.batch ?? 1;
    const order = Array.from({ length: d.n }, (_, k) => (k * 7919) % d.n);
    /** @type {number[][]} */
    const batches = [];
    for (let start = 0; start < d.n; start += bs) batches.push(order.slice(start, start + bs));
    return {
      run: () => {
        let sum = 0;
        for (const rows of batches) {
          const ix = tf.tensor1d(rows, 'int32');
          const l = d.step(ix);
          sum += l.dataSync()[0] ?? NaN;
          tf.dispose([ix, l]);
        }
        return tf.scalar(sum / batches.length);
      },
      dispose: d.dispose,
    };
  },
  // The MoE layer's forward + backward (see MOE): hash-filled router and expert kernels, no
  // biases. -> [d, E] (the router kernel's gradient, which depends on every chosen expert)
  moe: (p) => {
    const [n, d, h, E] = [p.tokens ?? 0, p.d ?? 0, p.h ?? 0, p.experts ?? 0];
    const layer = lib.moe({ experts: E, topK: p.topK ?? 1, expertHidden: h, units: d, useBias: false, dispatch: p.dense === 1 ? 'dense' : 'sparse' });
    layer.build([null, d]);
    // getWeights order: the trainable weights as created, then the non-trainable routing bias
    const weights = [hashFill(d, E, 41, glorot(d, E))]; // router kernel [d, E]
    for (let e = 0; e < E; e++) weights.push(hashFill(d, h, 50 + e, glorot(d, h)), hashFill(h, d, 60 + e, glorot(h, d))); // w1 [d, h], w2 [h, d]
    weights.push(tf.zeros([E])); // routing bias [E]
    layer.setWeights(weights);
    tf.dispose(weights);
    const x = hashFill(n, d, 40, 1); // [n, d]
    const vars = layer.trainableWeights.map((w) => /** @type {import('@tensorflow/tfjs').Variable} */ (w.read()));
    const routerName = vars[0]?.name ?? '';
    const run = () => {
      const { value, grads } = tf.variableGrads(() => {
        const r = lib.moeForward(layer, x);
        tf.dispose([r.auxLoss, r.balanceLoss, r.zLoss]);
        return /** @type {import('@tensorflow/tfjs').Scalar} */ (tf.mean(tf.square(r.output)));
      }, vars);
      const router = /** @type {Tensor} */ (grads[routerName]);
      tf.dispose([value, ...Object.values(grads).filter((g) => g !== router)]);
      return router;
    };
    return { run, dispose: () => { x.dispose(); layer.dispose(); } };
  },
  // One decoding step after a hash-filled cache of `context` tokens (see ATTN). -> [1, 1, d]
  'attn-decode': (p) => {
    const [d, h, dh, T] = [p.d ?? 0, p.heads ?? 0, p.headDim ?? 0, p.context ?? 0];
    const mla = p.variant !== 0;
    const layer = mla
      ? new lib.MultiHeadLatentAttention({ dModel: d, nHeads: h, headDim: dh, qLatent: p.qLatent ?? 0, kvLatent: p.kvLatent ?? 0, ropeHeadDim: p.ropeDim ?? 0, maxContext: T + 1, absorb: p.variant === 2 })
      : new lib.GroupedQueryAttention({ dModel: d, nHeads: h, headDim: dh, maxContext: T + 1 });
    const x = /** @type {import('@tensorflow/tfjs').Tensor3D} */ (tf.tidy(() => tf.reshape(hashFill(1, d, 84, 1), [1, 1, d]))); // the new token [1, 1, d]
    tf.dispose(/** @type {Tensor} */ (layer.apply(x))); // builds the weights
    // getWeights order, each [in, out]: GQA wq wk wv wo; MLA wDQ wUQ wQR wDKV wUK wUV wKR wO
    const weights = layer.getWeights().map((w, i) => hashFill(w.shape[0] ?? 0, w.shape[1] ?? 0, 70 + i, glorot(w.shape[0] ?? 0, w.shape[1] ?? 0)));
    layer.setWeights(weights);
    tf.dispose(weights);
    /** @type {Record<string, Tensor>} */
    const tensors = tf.tidy(() => mla
      ? { cKV: tf.reshape(hashFill(T, p.kvLatent ?? 0, 82, 1), [1, T, p.kvLatent ?? 0]), kR: tf.reshape(hashFill(T, p.ropeDim ?? 0, 83, 1), [1, T, p.ropeDim ?? 0]) }
      : { k: tf.transpose(tf.reshape(hashFill(T, h * dh, 80, 1), [1, T, h, dh]), [0, 2, 1, 3]), v: tf.transpose(tf.reshape(hashFill(T, h * dh, 81, 1), [1, T, h, dh]), [0, 2, 1, 3]) }); // [1, h, T, dh]
    const cache = { length: T, tensors };
    const run = () => {
      const out = layer.forward(x, cache);
      tf.dispose(Object.values(out.cache.tensors)); // the extended cache (new tensors); the old one is kept
      return /** @type {Tensor} */ (out.y);
    };
    return { run, dispose: () => { tf.dispose([x, ...Object.values(tensors)]); layer.dispose(); } };
  },
  // One Adam step of the tiny LM on a fixed batch (see TINYLM). -> the loss []
  'tinylm-step': (p) => {
    const [V, d, B, T] = [p.vocab ?? 0, p.d ?? 0, p.batch ?? 0, p.context ?? 0];
    const lm = new lib.TinyLM({ vocabSize: V, dModel: d, nLayers: p.layers ?? 0, attention: { kind: 'mha', nHeads: p.heads ?? 0 }, ffn: { kind: 'dense', hidden: p.hidden ?? 0 }, maxContext: T, seed: 0 });
    // getWeights order: embedding [V, d]; per block gain [d], wq wk wv wo, gain [d], w1 w3 [d, H], w2 [H, d]; final gain [d]; head [d, V]
    const weights = lm.getWeights().map((w, i) => (w.rank === 1 ? tf.ones(w.shape) : hashFill(w.shape[0] ?? 0, w.shape[1] ?? 0, 100 + i, i === 0 ? 1 : glorot(w.shape[0] ?? 0, w.shape[1] ?? 0))));
    lm.setWeights(weights);
    tf.dispose(weights);
    const ids = tf.tensor2d(Array.from({ length: B * (T + 1) }, (_, k) => (Math.floor(k / (T + 1)) * 7 + (k % (T + 1)) * 13 + Math.floor(k / 5)) % V), [B, T + 1], 'int32'); // [B, T + 1]
    const optimizer = tf.train.adam(p.lr, 0.9, 0.999, 1e-7);
    const vars = lm.trainableVariables();
    const run = () => /** @type {Tensor} */ (optimizer.minimize(() => lm.loss(/** @type {import('@tensorflow/tfjs').Tensor2D} */ (ids)), true, vars));
    return { run, dispose: () => { ids.dispose(); optimizer.dispose(); lm.dispose(); } };
  },
};

// Lesson 05: the student (denseStack seed 20, as in distillSetup) in inference mode. -> [b, 10]
TFJS_KINDS['student-infer'] = (p) => {
  const model = denseStack([p.inputs ?? 0, p.hidden ?? 0, p.classes ?? 0], 20);
  const x = hashFill(p.batch ?? 0, p.inputs ?? 0, 11, 1); // [b, 64]
  return { run: () => /** @type {Tensor} */ (model.predict(x)), dispose: () => { model.dispose(); x.dispose(); } };
};

/**
 * Cases that also run in onnxruntime-node (CPU, 1 thread): the same model exported by the lib's
 * exportOnnx. `run` resolves to the logits.
 * @type {Record<string, (p: Record<string, number>) => Promise<{ run: () => Promise<Float32Array>, dispose: () => Promise<void> }>>}
 */
const ORT_KINDS = {
  'student-infer': async (p) => {
    const model = denseStack([p.inputs ?? 0, p.hidden ?? 0, p.classes ?? 0], 20);
    const bytes = lib.exportOnnx(model, { softmax: false });
    model.dispose();
    const x = hashFill(p.batch ?? 0, p.inputs ?? 0, 11, 1); // [b, 64]
    const data = /** @type {Float32Array} */ (x.dataSync());
    x.dispose();
    const session = await lib.OnnxModel.load(bytes, { threads: 1 });
    return { run: () => session.logits(data, p.batch ?? 0), dispose: () => session.dispose() };
  },
};

/**
 * Runs one case in onnxruntime-node, or returns null when it has no ONNX twin or onnxruntime is
 * not installed (then the reason is printed once).
 * @param {BenchCase} c
 * @param {Timing} timing
 */
async function runOrtCase(c, timing) {
  const build = ORT_KINDS[c.kind];
  if (!build) return null;
  try {
    require.resolve('onnxruntime-node');
  } catch {
    return { available: false, reason: 'onnxruntime-node is not installed' };
  }
  const impl = await build(c.params);
  try {
    const first = await impl.run();
    let sumSq = 0;
    for (const v of first) sumSq += v * v;
    const stats = await lib.timeIt(() => impl.run(), timing);
    return { available: true, check: Math.sqrt(sumSq), stats };
  } finally {
    await impl.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Timing: the lib's timeIt (lib/measure.ts), tinybench-like: `warmup` untimed runs, then timed
// runs until `minTimeMs` has passed and `minIterations` runs were made, at most `maxIterations`.
// torch_bench.py repeats the same loop, and both columns' statistics come from lib.quantile.
// ---------------------------------------------------------------------------------------------

/** @typedef {Required<import('@frugal-ai/lib').TimingOptions>} Timing */
/** @typedef {{ medianMs: number, p10Ms: number, p90Ms: number, meanMs: number, iterations: number }} Stats */

/**
 * Statistics of raw samples (PyTorch's), as timeIt computes them for tfjs.
 * @param {number[]} ms one duration per iteration, in milliseconds
 * @returns {Stats}
 */
function stats(ms) {
  const sorted = [...ms].sort((x, y) => x - y);
  return {
    iterations: sorted.length,
    medianMs: lib.quantile(sorted, 0.5),
    p10Ms: lib.quantile(sorted, 0.1),
    p90Ms: lib.quantile(sorted, 0.9),
    meanMs: sorted.reduce((x, y) => x + y, 0) / sorted.length,
  };
}

/**
 * The number compared with PyTorch: the value of a scalar, else the Frobenius norm, summed in
 * float64 here so that the check itself adds no float32 rounding.
 * @param {Tensor} out
 */
function checkValue(out) {
  const values = out.dataSync();
  if (values.length === 1) return values[0] ?? NaN;
  let sumSq = 0;
  for (const v of values) sumSq += v * v;
  return Math.sqrt(sumSq);
}

/** Profiled iterations per case; the time inside kernels is the median over them. */
const PROFILE_RUNS = 15;

/**
 * Where one iteration's time goes, from `tf.profile`: the kernels the engine dispatched (ops
 * named `*__op` are composites that contain kernels, and are left out), and the time inside
 * them: the backend's timer around each kernel call (on wasm: the kernel's JavaScript, which
 * allocates the output and calls into WebAssembly, and the WebAssembly itself). The rest of an
 * iteration's (unprofiled) median is the engine's own work: the gradient tape, tensor
 * bookkeeping, tidy scopes, tfjs-layers and the optimiser's JavaScript.
 * @param {() => Tensor} run one iteration
 * @returns {Promise<{ kernels: number, kernelMs: number, top: Array<[string, number]> }>}
 */
async function profileIteration(run) {
  /** @type {number[]} */
  const sums = [];
  /** @type {Record<string, number>} */
  let count = {};
  let kernels = 0;
  for (let i = 0; i < PROFILE_RUNS; i++) {
    const info = await tf.profile(() => {
      const out = run();
      out.dataSync();
      out.dispose();
    });
    const leaves = info.kernels.filter((k) => !k.name.endsWith('__op'));
    sums.push(leaves.reduce((sum, k) => sum + Number(k.kernelTimeMs), 0));
    kernels = leaves.length;
    count = {};
    for (const k of leaves) count[k.name] = (count[k.name] ?? 0) + 1;
  }
  const top = /** @type {Array<[string, number]>} */ (Object.entries(count).sort((a, b) => b[1] - a[1]).slice(0, 6));
  return { kernels, kernelMs: lib.quantile([...sums].sort((a, b) => a - b), 0.5), top };
}

/**
 * Runs one case on the active backend; throws if it leaks tensors.
 * @param {BenchCase} c
 * @param {Timing} timing
 * @param {boolean} [profile] also profile one iteration (see profileIteration)
 */
async function runTfjsCase(c, timing, profile = false) {
  const build = TFJS_KINDS[c.kind];
  if (!build) throw new Error(`case ${c.id}: no tfjs implementation for kind ${JSON.stringify(c.kind)}`);
  const before = tf.memory().numTensors;
  const impl = build(c.params);
  let check = NaN;
  /** @type {Stats} */
  let timed;
  /** @type {Awaited<ReturnType<typeof profileIteration>> | null} */
  let prof = null;
  try {
    const first = impl.run();
    check = checkValue(first);
    first.dispose();
    // One iteration, waited for: `await data()` downloads the result, so an asynchronous
    // backend cannot return before its kernels have run. Disposal is inside the timed region.
    timed = await lib.timeIt(async () => {
      const out = impl.run();
      await out.data();
      out.dispose();
    }, timing);
    if (profile) prof = await profileIteration(impl.run);
  } finally {
    impl.dispose();
  }
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`case ${c.id} on ${tf.getBackend()} leaked ${after - before} tensors (${before} -> ${after})`);
  }
  return { check, stats: timed, profile: prof };
}

// ---------------------------------------------------------------------------------------------
// PyTorch
// ---------------------------------------------------------------------------------------------

/**
 * Runs bench/torch_bench.py. Returns its JSON, or { available: false, reason } when Python or
 * torch is missing.
 * @param {BenchCase[]} cases
 * @param {number[]} threads
 * @param {Timing} timing
 * @param {boolean} [profile] also count the aten ops of one iteration (1 thread)
 */
function runTorch(cases, threads, timing, profile = false) {
  const python = process.env.FRUGAL_PYTHON || '/usr/bin/python3';
  const spec = { threads, timing, profile, cases: cases.map(({ id, kind, params }) => ({ id, kind, params })) };
  const res = spawnSync(python, [join(ROOT, 'bench', 'torch_bench.py')], {
    input: JSON.stringify(spec),
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) {
    const why = /** @type {NodeJS.ErrnoException} */ (res.error).code === 'ENOENT' ? 'not found' : res.error.message;
    return { available: false, reason: `${python} ${why}` };
  }
  if (res.status !== 0) {
    throw new Error(`bench/torch_bench.py failed (${python}, exit ${res.status ?? res.signal})`);
  }
  return JSON.parse(res.stdout);
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/** Three significant digits, no exponent for the ranges seen here. @param {number} x */
function sig3(x) {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toFixed(digits);
}

/** A time unit chosen from a duration in ms: [name, ms per unit]. @param {number} ms */
function unitFor(ms) {
  if (ms < 1) return /** @type {const} */ (['µs', 1e-3]);
  if (ms < 1000) return /** @type {const} */ (['ms', 1]);
  return /** @type {const} */ (['s', 1000]);
}

/** @param {number} ms */
function fmtTime(ms) {
  const [name, scale] = unitFor(ms);
  return `${sig3(ms / scale)} ${name}`;
}

/** p10–p90 in the unit of the median. @param {Stats} s */
function fmtRange(s) {
  const [name, scale] = unitFor(s.medianMs);
  return `${sig3(s.p10Ms / scale)}–${sig3(s.p90Ms / scale)} ${name}`;
}

/** @param {number} ratio tfjs time / torch time */
function fmtRatio(ratio) {
  if (!Number.isFinite(ratio)) return '';
  const faster = ratio > 1 ? 'torch' : ratio < 1 ? 'tfjs' : 'tie';
  return `${sig3(ratio)} (${faster})`;
}

/**
 * Left-aligned first two columns, right-aligned numbers, two spaces between columns.
 * @param {string[][]} rows the first row is the header
 */
function alignTable(rows) {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (/** @type {string[]} */ r) =>
    r.map((s, c) => (c < 2 ? s.padEnd(widths[c] ?? 0) : s.padStart(widths[c] ?? 0))).join('  ').trimEnd();
  return rows.map(line).join('\n');
}

/**
 * @param {BenchCase[]} cases
 * @param {string} backend
 * @param {Record<string, any>} results by case id
 * @param {number[]} threads torch columns; empty when torch is missing
 */
function renderTable(cases, backend, results, threads) {
  const header = ['case', 'stat', `tfjs ${backend}`, ...threads.map((t) => `torch ${t} thr`)];
  header.push(...threads.map((t) => `ratio ${t} thr`));
  const rows = [header];
  for (const c of cases) {
    const r = results[c.id];
    const tfjsStats = r.tfjs[backend];
    const torchStats = threads.map((t) => r.torch?.[t]);
    const all = [tfjsStats, ...torchStats];
    rows.push([
      c.title,
      'median',
      ...all.map((s) => (s ? fmtTime(s.medianMs) : 'n/a')),
      ...threads.map((t) => fmtRatio(r.ratios?.[backend]?.[t] ?? NaN)),
    ]);
    rows.push(['', 'p10–p90', ...all.map((s) => (s ? fmtRange(s) : ''))]);
    if (c.flops) rows.push(['', 'GFLOP/s', ...all.map((s) => (s ? sig3(s.gflops) : ''))]);
  }
  return alignTable(rows);
}

/**
 * The --profile table: per case, the median time of one iteration, the kernels it dispatches,
 * the time inside them and the rest, for tfjs on `backend` and for torch on 1 thread.
 * @param {BenchCase[]} cases
 * @param {string} backend
 * @param {Record<string, any>} results by case id
 * @param {boolean} withTorch
 */
function renderProfile(cases, backend, results, withTorch) {
  const sides = [[`tfjs ${backend}`, (/** @type {any} */ r) => ({ med: r.tfjs[backend]?.medianMs, p: r.profile[backend] })]];
  if (withTorch) sides.push(['torch 1 thr', (/** @type {any} */ r) => ({ med: r.torch?.[1]?.medianMs, p: r.profile.torch })]);
  const rows = [['case', 'side', 'median', 'kernels', 'in kernels', 'rest', 'median / kernel']];
  /** @type {string[]} */
  const tops = [];
  for (const c of cases) {
    sides.forEach(([name, get], i) => {
      const { med, p } = /** @type {any} */ (get)(results[c.id]);
      if (!p || med === undefined) return;
      // torch's profiler costs more per op than an op does, so its time inside ops is not
      // shown (it is in the JSON); tf.profile's timer is light enough to split tfjs's time.
      const inside = Math.min(p.kernelMs, med);
      const split = i === 0 ? [fmtTime(inside), fmtTime(med - inside)] : ['', ''];
      rows.push([i === 0 ? c.title : '', String(name), fmtTime(med), String(p.kernels), ...split, fmtTime(med / p.kernels)]);
      tops.push(`${c.id}, ${name}: ${p.top.map((/** @type {[string, number]} */ [k, n]) => `${k} ${n}`).join(', ')}`);
    });
  }
  return [
    '--profile: kernels per iteration (tfjs: tf.profile\'s kernels, *__op composites left out; torch:',
    'every aten op the dispatcher ran, nested ones included); for tfjs, the time inside them (median',
    `of ${PROFILE_RUNS} profiled iterations, capped at the median) and the rest of the median, the engine's own`,
    'work; the median per kernel. "100 tiny adds" is the fixed cost of one op.',
    '',
    alignTable(rows),
    '',
    'most frequent kernels per iteration:',
    ...tops.map((t) => `  ${t}`),
  ].join('\n');
}

/**
 * Writes JSON atomically: a temporary file next to the target, then a rename.
 * @param {string} path
 * @param {unknown} value
 */
function writeJsonAtomic(path, value) {
  const target = resolve(path);
  writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
  return target;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const HELP = `usage: npm run bench -- [options]
  --backend NAME     cpu, wasm or tensorflow (default: the lib's choice, or $FRUGAL_BACKEND)
  --all-backends     run tensorflow (when npm run setup:native installed it), wasm and cpu
  --json PATH        also write the results as JSON (e.g. out/bench.json)
  --cases IDS        comma-separated case ids (${CASES.map((c) => c.id).join(', ')})
  --time S           time each case for at least S seconds (default 0.5)
  --iterations N     and at least N timed runs (default 5), after 2 warm-up runs
  --no-torch         skip PyTorch
  --smoke            one iteration per case, no warm-up, no PyTorch: checks that every case runs
                     and leaks nothing (a step of npm test); the times mean nothing
  --profile          also profile one iteration per case: kernels dispatched and time inside
                     them (tfjs: tf.profile; torch: its autograd profiler), vs the rest
  --help`;

/**
 * @param {string | undefined} raw
 * @param {string} name
 * @param {number} fallback
 * @throws Error naming the option and the value when it is not a positive number.
 */
function positive(raw, name, fallback) {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return v;
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      backend: { type: 'string' },
      'all-backends': { type: 'boolean', default: false },
      json: { type: 'string' },
      cases: { type: 'string' },
      time: { type: 'string' },
      iterations: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (opt.help) {
    console.log(HELP);
    return 0;
  }
  if (opt.backend !== undefined && opt['all-backends']) {
    throw new Error('--backend and --all-backends exclude each other');
  }
  /** @type {Timing} */
  const timing = opt.smoke
    ? { warmup: 0, minTimeMs: 0, minIterations: 1, maxIterations: 1 }
    : {
        warmup: 2,
        minTimeMs: positive(opt.time, 'time', 0.5) * 1000,
        minIterations: Math.ceil(positive(opt.iterations, 'iterations', 5)),
        maxIterations: 1000,
      };
  // --smoke (a step of npm test): every case runs once and is checked for leaks; no PyTorch, and
  // its times mean nothing.
  if (opt.smoke) opt['no-torch'] = true;
  let cases = CASES;
  if (opt.cases !== undefined) {
    const ids = opt.cases.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = ids.filter((id) => !CASES.some((c) => c.id === id));
    if (unknown.length || !ids.length) {
      throw new Error(`--cases must list ids among ${CASES.map((c) => c.id).join(', ')}, got ${JSON.stringify(opt.cases)}`);
    }
    cases = CASES.filter((c) => ids.includes(c.id));
  }

  /** @type {(string | undefined)[]} */
  /** True when the real @tensorflow/tfjs-node (npm run setup:native), not danfojs's alias, is installed. */
  const nativeInstalled = () => {
    try {
      return require('@tensorflow/tfjs-node/package.json').name === '@tensorflow/tfjs-node';
    } catch {
      return false;
    }
  };
  const forces = opt['all-backends']
    ? [...(nativeInstalled() ? ['tensorflow'] : []), 'wasm', 'cpu']
    : [opt.backend && lib.parseBackendName(opt.backend, '--backend')];

  // Other work on the machine skews timings: the load average goes in the header.
  const loadBefore = os.loadavg()[0] ?? NaN;
  /** @type {Record<string, any>} */
  const results = Object.fromEntries(cases.map((c) => [c.id, { tfjs: {}, torch: null, ratios: {}, check: {}, relDiff: {}, profile: {} }]));
  const reports = [];
  for (const force of forces) {
    const report = await lib.initBackend(force === undefined ? {} : { force });
    if (tf.getBackend() !== report.backend) {
      throw new Error(`the lib activated ${report.backend} but this script's tfjs runs ${tf.getBackend()}: two copies of tfjs?`);
    }
    reports.push(report);
    for (const c of cases) {
      process.stderr.write(`bench: tfjs ${report.backend} ${c.id}\n`);
      const { check, stats: s, profile } = await runTfjsCase(c, timing, opt.profile);
      results[c.id].tfjs[report.backend] = { ...s, ...(c.flops ? { gflops: c.flops / s.medianMs / 1e6 } : {}) };
      if (profile) results[c.id].profile[report.backend] = profile;
      results[c.id].check[report.backend] = check;
    }
  }

  // onnxruntime-node, for the cases that have an ONNX twin (one thread, like tfjs-wasm in Node).
  for (const c of cases) {
    if (!ORT_KINDS[c.kind]) continue;
    process.stderr.write(`bench: onnxruntime-node ${c.id}\n`);
    results[c.id].ort = await runOrtCase(c, timing);
    if (results[c.id].ort?.available) results[c.id].check.ort = results[c.id].ort.check;
  }

  const cpus = os.availableParallelism();
  const threads = [...new Set([cpus, 1])];
  /** @type {any} */
  const torch = opt['no-torch'] ? { available: false, reason: 'skipped by --no-torch' } : runTorch(cases, threads, timing, opt.profile);
  const torchThreads = torch.available ? threads : [];
  const mismatches = [];
  let worst = { rel: 0, where: '' };
  for (const c of cases) {
    const r = results[c.id];
    const t = torch.available ? torch.cases[c.id] : undefined;
    if (!t || t.error) continue;
    r.torch = {};
    r.check.torch = t.check;
    if (t.profile) r.profile.torch = t.profile;
    for (const th of threads) {
      const s = stats(t.runs[String(th)]);
      r.torch[th] = { ...s, ...(c.flops ? { gflops: c.flops / s.medianMs / 1e6 } : {}) };
    }
    for (const rep of reports) {
      const tfjsStats = r.tfjs[rep.backend];
      r.ratios[rep.backend] = Object.fromEntries(threads.map((th) => [th, tfjsStats.medianMs / r.torch[th].medianMs]));
      const rel = Math.abs(r.check[rep.backend] - t.check) / Math.max(Math.abs(t.check), 1e-12);
      r.relDiff[rep.backend] = rel;
      if (rel > worst.rel) worst = { rel, where: `${c.id} on ${rep.backend}` };
      if (!(rel <= CHECK_TOLERANCE)) mismatches.push(`${c.id} on ${rep.backend}: tfjs ${r.check[rep.backend]} vs torch ${t.check}`);
    }
  }

  for (const c of cases) {
    const r = results[c.id];
    if (!r.ort?.available) continue;
    for (const rep of reports) {
      const rel = Math.abs(r.check[rep.backend] - r.ort.check) / Math.max(Math.abs(r.ort.check), 1e-12);
      if (!(rel <= CHECK_TOLERANCE)) mismatches.push(`${c.id}: onnxruntime ${r.ort.check} vs tfjs ${rep.backend} ${r.check[rep.backend]}`);
    }
  }

  // The report: header lines, then one table per tfjs backend.
  const date = new Date().toISOString().replace(/:\d\d\.\d+Z$/, 'Z');
  const cpuModel = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const out = [
    `frugal-ai bench, ${date}: Node ${process.version}, tfjs ${tf.version.tfjs}`,
    `${cpus} CPUs (${cpuModel}), load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0]?.toFixed(1)} after`,
  ];
  if (torch.available) {
    out.push(
      `PyTorch ${torch.torch} (CPU, Python ${torch.python}): ${threads.map((t) => `${t} thr`).join(' and ')}` +
        ` (torch's default here: ${torch.default_threads})`,
    );
  } else {
    out.push(`PyTorch not run: ${torch.reason}; tfjs column only.`);
  }
  out.push('time per iteration: median, p10–p90; ratio = tfjs median / torch median, (faster side)');
  reports.forEach((rep, i) => {
    // The lib's reason reads "<why>; <engine note>"; a backend forced here was forced by a flag.
    const reason = rep.attempts.find((/** @type {any} */ a) => a.ok)?.reason ?? '';
    const note = reason.includes('; ') ? reason.slice(reason.indexOf('; ') + 2) : '';
    const flag = opt['all-backends'] ? '--all-backends' : `--backend ${forces[i]}`;
    const why = forces[i] === undefined ? reason : [note, `chosen by ${flag}`].filter(Boolean).join('; ');
    out.push('', `tfjs on ${rep.backend} (${rep.label}: ${why})`, '');
    out.push(renderTable(cases, rep.backend, results, torchThreads));
  });
  if (torch.available) {
    out.push('');
    out.push(
      mismatches.length
        ? `results DIFFER from PyTorch (relative > ${CHECK_TOLERANCE}): ${mismatches.join('; ')}`
        : `results agree with PyTorch within ${CHECK_TOLERANCE} relative` +
            ` (largest: ${worst.rel.toExponential(1)}, ${worst.where || 'none'})`,
    );
  }
  const ortCases = cases.filter((c) => results[c.id].ort);
  if (ortCases.length) {
    const rows = [['case', 'stat', ...reports.map((rep) => `tfjs ${rep.backend}`), 'onnxruntime 1 thr', ...torchThreads.map((t) => `torch ${t} thr`)]];
    for (const c of ortCases) {
      const r = results[c.id];
      const ort = r.ort.available ? fmtTime(r.ort.stats.medianMs) : 'n/a';
      rows.push([c.title, 'median', ...reports.map((rep) => fmtTime(r.tfjs[rep.backend].medianMs)), ort, ...torchThreads.map((t) => (r.torch?.[t] ? fmtTime(r.torch[t].medianMs) : 'n/a'))]);
    }
    const why = ortCases.map((c) => results[c.id].ort).find((o) => !o.available)?.reason;
    out.push('', `lesson 05, the student's inference side by side: tfjs, onnxruntime-node (the lib's ONNX export, CPU)${why ? ` (onnxruntime: ${why})` : ''}, PyTorch`, '');
    out.push(alignTable(rows));
  }
  // The MoE pair: the sparse layer's time over the all-experts layer's (issue 9's target: <= 0.35).
  const moeSparse = results['moe-sparse'];
  const moeDense = results['moe-dense'];
  if (moeSparse && moeDense) {
    /** @param {{ medianMs: number }} a @param {{ medianMs: number }} b */
    const ratio = (a, b) => (a.medianMs / b.medianMs).toFixed(2);
    const parts = reports.map((rep) => `tfjs ${rep.backend} ${ratio(moeSparse.tfjs[rep.backend], moeDense.tfjs[rep.backend])}`);
    if (moeSparse.torch && moeDense.torch) for (const th of threads) parts.push(`torch ${th} thr ${ratio(moeSparse.torch[th], moeDense.torch[th])}`);
    const flops = (/** @type {string} */ id) => CASES.find((c) => c.id === id)?.flops ?? NaN;
    out.push('', `MoE sparse ÷ all experts, median time: ${parts.join(', ')} (FLOPs: ${(flops('moe-sparse') / flops('moe-dense')).toFixed(2)})`);
  }
  if (opt.profile) {
    for (const rep of reports) out.push('', renderProfile(cases, rep.backend, results, torch.available));
  }
  console.log(out.join('\n'));

  if (opt.json !== undefined) {
    const doc = {
      date: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: { node: process.version, platform: `${process.platform} ${process.arch}`, cpus, cpuModel, loadBefore, loadAfter: os.loadavg()[0] },
      timing,
      tfjs: { version: tf.version.tfjs, backends: reports },
      torch: torch.available
        ? { available: true, version: torch.torch, python: torch.python, threads, defaultThreads: torch.default_threads }
        : { available: false, reason: torch.reason },
      cases: cases.map((c) => ({ id: c.id, title: c.title, kind: c.kind, params: c.params, flops: c.flops ?? null, ...results[c.id] })),
      mismatches,
    };
    const path = writeJsonAtomic(opt.json, doc);
    process.stderr.write(`bench: wrote ${path}\n`);
  }
  return mismatches.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
