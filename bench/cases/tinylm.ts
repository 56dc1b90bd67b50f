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

function tinyLmSetup() {
  const { vocab: V, d, batch: B, context: T } = TINYLM;
  const lm = new lib.TinyLM({ vocabSize: V, dModel: d, nLayers: TINYLM.layers, attention: { kind: 'mha', nHeads: TINYLM.heads }, ffn: { kind: 'dense', hidden: TINYLM.hidden }, maxContext: T, seed: 0 });
  // getWeights order: embedding [V, d]; per block gain [d], wq wk wv wo, gain [d], w1 w3 [d, H], w2 [H, d]; final gain [d]; head [d, V]
  const weights = lm.getWeights().map((w, i) => (w.rank === 1 ? tf.ones(w.shape) : hashFill(w.shape[0] ?? 0, w.shape[1] ?? 0, 100 + i, i === 0 ? 1 : glorot(w.shape[0] ?? 0, w.shape[1] ?? 0))));
  lm.setWeights(weights);
  tf.dispose(weights);
  const ids = tf.tensor2d(Array.from({ length: B * (T + 1) }, (_, k) => (Math.floor(k / (T + 1)) * 7 + (k % (T + 1)) * 13 + Math.floor(k / 5)) % V), [B, T + 1], 'int32'); // [B, T + 1]
  const optimizer = tf.train.adam(TINYLM.lr, 0.9, 0.999, 1e-7);
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
    torch: 'tinylm-step',
    setup: tinyLmSetup,
  },
];
