/**
 * The course's tiny language model (lib/lm/tiny-lm.ts) as a {@link Policy}: its logits for
 * training, and its KV cache for sampling, with each completion stopping at `<eos>`.
 *
 * The adapter is typed by the few members it uses (structurally), so any model with a cache of
 * the same shape fits.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';
import { sampleToken } from '../lm/sampling';
import { checkSampleOptions, type Policy, type SampleOptions } from './policy';

/** What the adapter needs from a language model with a KV cache. */
export interface CachedLanguageModel<C extends { dispose(): void }> {
  /** Vocabulary size and context length. */
  readonly config: { vocabSize: number; maxContext: number };
  /** ids int32 `[b, t]` → logits `[b, t, V]` (full causal pass). */
  logits(ids: tf.Tensor2D): tf.Tensor3D;
  /** The trainable variables. */
  trainableVariables(): tf.Variable[];
  /** An empty cache. */
  newCache(): C;
  /** Feeds ids `[b, tNew]` after the cached tokens; returns logits `[b, tNew, V]`. */
  decodeStep(ids: tf.Tensor2D, cache: C): tf.Tensor3D;
}

/**
 * Wraps a cached language model as a policy. Sampling groups the prompts by length, prefills
 * each group's cache, then feeds one token per step; it stops when every row has produced
 * `<eos>` (rows already finished are fed `<eos>` and their draws ignored).
 * @throws Error (when sampling) if a prompt plus `maxNewTokens` exceeds the model's context.
 */
export function lmPolicy<C extends { dispose(): void }>(lm: CachedLanguageModel<C>): Policy {
  const vocabSize = lm.config.vocabSize;
  const variables = lm.trainableVariables();
  return {
    vocabSize,
    trainableVariables: variables,
    logits: (tokens) => lm.logits(tokens),
    sample(prompts: readonly (readonly number[])[], options: SampleOptions): number[][] {
      checkSampleOptions(options, vocabSize);
      const out: number[][] = prompts.map(() => []);
      const byLength = new Map<number, number[]>();
      prompts.forEach((p, i) => byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]));
      for (const [len, rows] of byLength) {
        assert(len + options.maxNewTokens <= lm.config.maxContext,
          () => `prompt length ${len} + maxNewTokens ${options.maxNewTokens} = ${len + options.maxNewTokens} exceeds the model's maxContext ${lm.config.maxContext}`);
        const cache = lm.newCache();
        try {
          const done = rows.map(() => false);
          let feed: number[][] = rows.map((i) => [...(prompts[i] as number[])]);
          for (let step = 0; step < options.maxNewTokens && done.some((d) => !d); step++) {
            const t = (feed[0] as number[]).length;
            const last = tf.tidy(() => {
              const logits = lm.decodeStep(tf.tensor2d(feed.flat(), [rows.length, t], 'int32'), cache); // [n, t, v]
              return logits.slice([0, t - 1, 0], [rows.length, 1, vocabSize]).reshape([rows.length, vocabSize]); // [n, 1, v] -> [n, v]
            });
            const values = last.dataSync();
            last.dispose();
            feed = rows.map((row, r) => {
              if (done[r]) return [options.eosId];
              const id = sampleToken(values.subarray(r * vocabSize, (r + 1) * vocabSize), { temperature: options.temperature, topK: options.topK }, options.rng);
              (out[row] as number[]).push(id);
              if (id === options.eosId) done[r] = true;
              return [id];
            });
          }
        } finally {
          cache.dispose();
        }
      }
      return out;
    },
  };
}
