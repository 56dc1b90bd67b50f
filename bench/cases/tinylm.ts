/**
 * Lesson 11's tiny LM (lib/lm/tiny-lm.ts), one training step on a fixed batch.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase } from '../case.js';
import { glorot, hashFill } from '../fill.js';

/**
 * Vocabulary 73, d = 64, 2 blocks of MHA (8 heads of 8, RoPE, causal) and a SwiGLU FFN of 128,
 * RMSNorm, batch 16 × 64 tokens, next-token cross-entropy, Adam at 3e-3 (epsilon 1e-7 on both
 * sides). -> the loss []
 */
const TINYLM = { vocab: 73, d: 64, layers: 2, heads: 8, hidden: 128, batch: 16, context: 64, lr: 3e-3 } as const;

/**
 * The same model four times wider and with twice the context: d = 256, 8 heads of 32, SwiGLU of
 * 512, batch 16 × 128 tokens. Its products (about 18 GFLOP a step, against 0.66 for the tiny LM)
 * outweigh its kernels' fixed cost: matmul-bound transformer training, the work that issue 13
 * wants at ≥ 1.0× PyTorch on native TensorFlow.
 */
const TINYLM_WIDE = { ...TINYLM, d: 256, hidden: 512, context: 128 } as const;

/** FLOPs of one training step (forward + backward ≈ 3 × forward; matrix products and attention only). */
function tinyLmFlops(p: typeof TINYLM | typeof TINYLM_WIDE): number {
  const tokens = p.batch * p.context;
  const perLayer = 2 * tokens * (4 * p.d * p.d + 3 * p.d * p.hidden) + 2 * 2 * p.batch * p.context * p.context * p.d; // QKVO, SwiGLU; scores and mixing
  return 3 * (p.layers * perLayer + 2 * tokens * p.d * p.vocab * 2); // + one-hot embedding and head
}

function tinyLmSetup(p: typeof TINYLM | typeof TINYLM_WIDE) {
  const { vocab: V, d, batch: B, context: T } = p;
  const lm = new lib.TinyLM({ vocabSize: V, dModel: d, nLayers: p.layers, attention: { kind: 'mha', nHeads: p.heads }, ffn: { kind: 'dense', hidden: p.hidden }, maxContext: T, seed: 0 });
  // getWeights order: embedding [V, d]; per block gain [d], wq wk wv wo, gain [d], w1 w3 [d, H], w2 [H, d]; final gain [d]; head [d, V]
  const weights = lm.getWeights().map((w, i) => (w.rank === 1 ? tf.ones(w.shape) : hashFill(w.shape[0] ?? 0, w.shape[1] ?? 0, 100 + i, i === 0 ? 1 : glorot(w.shape[0] ?? 0, w.shape[1] ?? 0))));
  lm.setWeights(weights);
  tf.dispose(weights);
  const ids = tf.tensor2d(Array.from({ length: B * (T + 1) }, (_, k) => (Math.floor(k / (T + 1)) * 7 + (k % (T + 1)) * 13 + Math.floor(k / 5)) % V), [B, T + 1], 'int32'); // [B, T + 1]
  const optimizer = tf.train.adam(p.lr, 0.9, 0.999, 1e-7);
  const vars = lm.trainableVariables();
  const step = (): tf.Tensor => {
    const loss = optimizer.minimize(() => lm.loss(ids), true, vars);
    if (!loss) throw new Error('the optimizer returned no loss');
    return loss;
  };
  return { step, dispose: () => { ids.dispose(); optimizer.dispose(); lm.dispose(); } };
}

/** The tiny LM's training step. */
export const tinyLmCases: BenchCase[] = [
  {
    id: 'tinylm-train-step',
    title: 'tiny LM train step (16 × 64 tokens)',
    family: 'tinylm',
    what: "one Adam step of lesson 11's tiny LM (vocabulary 73, d = 64, 2 blocks of MHA + SwiGLU 128, RMSNorm), batch 16 × 64 tokens",
    bound: 'kernels',
    boundWhy: 'about 1000 kernels per step, most of them small',
    params: TINYLM,
    flops: tinyLmFlops(TINYLM),
    torch: 'tinylm-step',
    setup: () => tinyLmSetup(TINYLM),
  },
  {
    id: 'tinylm-wide-train-step',
    title: 'tiny LM ×4 wide, train step (16 × 128)',
    family: 'tinylm',
    what: 'the same step with d = 256, 8 heads of 32, SwiGLU 512, batch 16 × 128 tokens: matmul-bound transformer training',
    bound: 'FLOPs',
    boundWhy: 'the products of 2048 tokens of width 256 and 512',
    params: TINYLM_WIDE,
    flops: tinyLmFlops(TINYLM_WIDE),
    torch: 'tinylm-step',
    setup: () => tinyLmSetup(TINYLM_WIDE),
  },
];
