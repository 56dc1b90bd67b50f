/**
 * lib/lm: the tiny LM. Cached == uncached decoding for every attention variant, per-token
 * log-probabilities against the logits, seeded batched sampling, a training step, errors, the
 * serialisation round trip, and leaks over a long decode.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import type { AttentionSpec } from '../lib/attention/config';
import { Linear, RmsNorm, SwiGluFeedForward, TokenEmbedding } from '../lib/lm/layers';
import { sampleToken } from '../lib/lm/sampling';
import { TinyLM, type TinyLmConfig } from '../lib/lm/tiny-lm';
import { MoE } from '../lib/moe/layer';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

const ATTENTION: Record<string, AttentionSpec> = {
  mha: { kind: 'mha', nHeads: 4 },
  gqa: { kind: 'gqa', nHeads: 4, nKvHeads: 2 },
  mqa: { kind: 'mqa', nHeads: 4 },
  mla: { kind: 'mla', nHeads: 4, qLatent: 12, kvLatent: 8, ropeHeadDim: 4 },
  'mla absorbed': { kind: 'mla', nHeads: 4, qLatent: 12, kvLatent: 8, ropeHeadDim: 4, absorb: true },
};

function config(attention: AttentionSpec, over: Partial<TinyLmConfig> = {}): TinyLmConfig {
  return { vocabSize: 11, dModel: 16, nLayers: 2, attention, ffn: { kind: 'dense', hidden: 24 }, maxContext: 32, seed: 1, ...over };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

const IDS = [
  [1, 2, 3, 4, 5, 6, 7, 8],
  [8, 7, 6, 5, 4, 3, 2, 1],
];

describe.each(Object.entries(ATTENTION))('TinyLM with %s', (_name, attention) => {
  it('decodeStep with the cache (prefill 3, then one token at a time) equals logits() (max |diff| < 1e-5)', () => {
    const lm = new TinyLM(config(attention));
    const ids = tf.tensor2d(IDS, [2, 8], 'int32');
    const full = lm.logits(ids);
    expect(full.shape).toEqual([2, 8, 11]);
    const cache = lm.newCache();
    const parts = [lm.decodeStep(tf.slice(ids, [0, 0], [2, 3]), cache)];
    for (let i = 3; i < 8; i++) parts.push(lm.decodeStep(tf.slice(ids, [0, i], [2, 1]), cache));
    const inc = tf.concat(parts, 1);
    expect(maxAbsDiff(full, inc)).toBeLessThan(1e-5);
    expect(cache.length).toBe(8);
    // Reference: DeepSeek-V2 Table 1 per layer × 2 layers × 8 tokens × 2 sequences × 4 bytes
    expect(cache.bytes()).toBe(lm.cacheElementsPerToken() * 8 * 2 * 4);
    tf.dispose([ids, full, inc, ...parts]);
    cache.dispose();
    lm.dispose();
  });

  it('generate: the same tokens with and without the cache, and for the same seed', () => {
    const lm = new TinyLM(config(attention));
    const prompts = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
    const a = lm.generate(prompts, { maxNewTokens: 10, temperature: 1, topK: 5, seed: 4 });
    const b = lm.generate(prompts, { maxNewTokens: 10, temperature: 1, topK: 5, seed: 4, useCache: false });
    const c = lm.generate(prompts, { maxNewTokens: 10, temperature: 1, topK: 5, seed: 5 });
    expect(a.completions).toEqual(b.completions);
    expect(a.completions).not.toEqual(c.completions);
    expect(a.sequences[1]!.slice(0, 3)).toEqual([4, 5, 6]);
    expect(a.completions.every((r) => r.length === 10 && r.every((t) => t >= 0 && t < 11))).toBe(true);
    lm.dispose();
  });
});

describe.each(Object.entries(ATTENTION))('TinyLM with %s, a ragged batch (prompts of different lengths)', (_name, attention) => {
  const PROMPTS = [[1, 2, 3, 4, 5], [6], [7, 8, 9]];

  it('left-padded logits equal each prompt alone at its real positions (max |diff| < 1e-5)', () => {
    const lm = new TinyLM(config(attention));
    // Rows padded with 0 on the left to 5 tokens: pads 0, 4, 2.
    const padded = tf.tensor2d([[1, 2, 3, 4, 5], [0, 0, 0, 0, 6], [0, 0, 7, 8, 9]], [3, 5], 'int32');
    const all = lm.logits(padded, { pad: [0, 4, 2] });
    PROMPTS.forEach((p, r) => {
      const alone = lm.logits(tf.tensor2d([p], [1, p.length], 'int32'));
      const mine = tf.slice(all, [r, 5 - p.length, 0], [1, p.length, 11]);
      expect(maxAbsDiff(alone, mine), `row ${r}`).toBeLessThan(1e-5);
      tf.dispose([alone, mine]);
    });
    // Without the padding option the pads are attended to and shift the positions: row 1 differs.
    const unmasked = lm.logits(padded);
    const alone1 = lm.logits(tf.tensor2d([[6]], [1, 1], 'int32'));
    const row1 = tf.slice(unmasked, [1, 4, 0], [1, 1, 11]);
    expect(maxAbsDiff(alone1, row1)).toBeGreaterThan(1e-3);
    tf.dispose([padded, all, unmasked, alone1, row1]);
    lm.dispose();
  });

  it('generate: each row equals its prompt generated alone (per-row seeds, and greedy), with and without the cache', () => {
    const lm = new TinyLM(config(attention));
    const opts = { maxNewTokens: 8, temperature: 1, topK: 5 };
    // Per-row streams: row r draws from new Rng(rowSeeds[r]), whatever its batch-mates.
    const batch = lm.generate(PROMPTS, { ...opts, rowSeeds: [11, 12, 13] });
    const uncached = lm.generate(PROMPTS, { ...opts, rowSeeds: [11, 12, 13], useCache: false });
    expect(uncached.completions).toEqual(batch.completions);
    const greedy = lm.generate(PROMPTS, { maxNewTokens: 8, temperature: 0 });
    PROMPTS.forEach((p, r) => {
      const alone = lm.generate([p], { ...opts, rowSeeds: [11 + r] });
      expect(batch.completions[r], `row ${r}`).toEqual(alone.completions[0]);
      expect(batch.sequences[r]).toEqual([...p, ...(alone.completions[0] ?? [])]);
      expect(greedy.completions[r], `greedy row ${r}`).toEqual(lm.generate([p], { maxNewTokens: 8, temperature: 0 }).completions[0]);
    });
    // The rows do sample (not all the same token), so the comparison can fail.
    expect(new Set(batch.completions.flat()).size).toBeGreaterThan(2);
    lm.dispose();
  });

  it('leaks nothing over a ragged decode', () => {
    const lm = new TinyLM(config(attention));
    lm.generate(PROMPTS, { maxNewTokens: 2, seed: 1 }); // absorbed MLA keeps its two products per layer from the first cached step on
    const before = tf.memory().numTensors;
    lm.generate(PROMPTS, { maxNewTokens: 20, seed: 1 });
    lm.generate(PROMPTS, { maxNewTokens: 5, seed: 1, useCache: false });
    expect(tf.memory().numTensors).toBe(before);
    lm.dispose();
  });
});

describe('TinyLM', () => {
  it('tokenLogProbs [b, t-1] equals log-softmax of the logits at the next tokens, and has gradients', () => {
    const lm = new TinyLM(config(ATTENTION['mha']!));
    const ids = tf.tensor2d(IDS, [2, 8], 'int32');
    const lp = lm.tokenLogProbs(ids);
    expect(lp.shape).toEqual([2, 7]);
    const logits = lm.logits(tf.slice(ids, [0, 0], [2, 7]));
    const ls = tf.logSoftmax(logits, -1).arraySync();
    const got = lp.arraySync();
    for (let b = 0; b < 2; b++) for (let j = 0; j < 7; j++) expect(got[b]![j]).toBeCloseTo(ls[b]![j]![IDS[b]![j + 1]!]!, 5);
    // crossEntropy = -mean(tokenLogProbs)
    const ce = lm.crossEntropy(ids).dataSync()[0] as number;
    expect(ce).toBeCloseTo(-got.flat().reduce((s, v) => s + v, 0) / 14, 5);
    // Policy-gradient use: gradients of sum(logp · advantage) reach every weight.
    const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.mul(lm.tokenLogProbs(ids), tf.scalar(0.5))), lm.trainableVariables());
    expect(Object.keys(grads)).toHaveLength(lm.trainableVariables().length);
    expect(Object.values(grads).every((g) => (tf.max(tf.abs(g)).dataSync()[0] as number) > 0)).toBe(true);
    tf.dispose([ids, lp, logits, value, ...Object.values(grads)]);
    lm.dispose();
  });

  it('trainStep lowers the loss on a repeated batch, and leaks nothing', () => {
    const lm = new TinyLM(config(ATTENTION['mla']!));
    const batch = tf.tensor2d(IDS, [2, 8], 'int32');
    const opt = tf.train.adam(1e-2);
    const first = lm.trainStep(opt, batch);
    // Reference: a uniform model has loss ln 11 = 2.3979; the initial model is near it
    expect(first).toBeGreaterThan(1.5);
    expect(first).toBeLessThan(4);
    lm.trainStep(opt, batch); // Adam creates its slots on the first steps
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 20; i++) last = lm.trainStep(opt, batch);
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first * 0.7);
    batch.dispose();
    opt.dispose();
    lm.dispose();
  });

  it('leaks nothing over a long decode (200 tokens), and the cache holds exactly its bytes', () => {
    const lm = new TinyLM(config(ATTENTION['gqa']!, { maxContext: 256 }));
    const before = tf.memory().numTensors;
    lm.generate([[1], [2]], { maxNewTokens: 200, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const cache = lm.newCache();
    const bytes0 = tf.memory().numBytes;
    for (let i = 0; i < 200; i++) {
      const ids = tf.tensor2d([[i % 11], [(i * 3) % 11]], [2, 1], 'int32');
      const logits = lm.decodeStep(ids, cache);
      // Live: this step's ids and logits, and the cache's k and v of each of the 2 layers; nothing else.
      expect(tf.memory().numTensors, `step ${i}`).toBe(before + 2 + 4);
      tf.dispose([ids, logits]);
      // Reference: DeepSeek-V2 Table 1 (GQA: 2·n_g·d_h·l = 2·2·4·2 = 32 elements) × tokens × batch 2 × 4 bytes
      if (i % 50 === 49) expect(tf.memory().numBytes - bytes0).toBe(32 * (i + 1) * 2 * 4);
    }
    expect(lm.cacheElementsPerToken()).toBe(32);
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    lm.dispose();
  });

  it('rejects bad input with clear errors', () => {
    const lm = new TinyLM(config(ATTENTION['mha']!, { maxContext: 8 }));
    expect(() => lm.generate([[1, 2, 11]], { maxNewTokens: 2 })).toThrowError(/unknown token: prompts\[0\]\[2\] must be an integer in \[0, 11\), got 11/);
    expect(() => lm.generate([[1, 2], []], { maxNewTokens: 2 })).toThrowError(/prompts\[1\] is empty: every prompt needs at least one token/);
    expect(() => lm.generate([], { maxNewTokens: 2 })).toThrowError(/prompts must hold at least one prompt, got none/);
    expect(() => lm.generate([[1, 2, 3]], { maxNewTokens: 6 })).toThrowError(/decoding past the context: 3 prompt \+ 6 new tokens = 9 > maxContext 8/);
    // A ragged batch is limited by its longest prompt.
    expect(() => lm.generate([[1], [1, 2, 3]], { maxNewTokens: 6 })).toThrowError(/decoding past the context: 3 prompt \+ 6 new tokens = 9 > maxContext 8/);
    expect(() => lm.generate([[1], [2]], { maxNewTokens: 2, rowSeeds: [1] })).toThrowError(/rowSeeds must hold one seed per prompt \(2\), got 1/);
    expect(() => lm.generate([[1], [2]], { maxNewTokens: 2, rowSeeds: [1, 0.5] })).toThrowError(/rowSeeds\[1\] must be an integer, got 0.5/);
    expect(() => lm.generate([[1]], { maxNewTokens: 2, rowSeeds: [1], rng: new Rng(1) })).toThrowError(/give either rng or rowSeeds, not both/);
    tf.tidy(() => {
      expect(() => lm.logits(tf.tensor2d([[0, 1], [1, 2]], [2, 2], 'int32'), { pad: [2, 0] })).toThrowError(/pad\[0\] must be an integer in \[0, 2\), got 2/);
      expect(() => lm.logits(tf.tensor2d([[0, 1], [1, 2]], [2, 2], 'int32'), { pad: [1] })).toThrowError(/pad must hold one entry per batch row \(2\), got 1/);
    });
    expect(() => lm.generate([[1]], { maxNewTokens: 2, temperature: -1 })).toThrowError(/temperature must be a number >= 0, got -1/);
    expect(() => lm.generate([[1]], { maxNewTokens: 2, topK: 12 })).toThrowError(/topK must be an integer in \[1, 11\], got 12/);
    const cache = lm.newCache();
    tf.tidy(() => {
      lm.decodeStep(tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], 'int32'), cache);
      expect(() => lm.decodeStep(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), cache)).toThrowError(/decoding past the context: 6 cached \+ 3 new tokens = 9 > maxContext 8/);
    });
    cache.dispose();
    expect(() => new TinyLM(config({ kind: 'gqa', nHeads: 4, nKvHeads: 3 }))).toThrowError(/nKvHeads must divide nHeads/);
    expect(() => new TinyLM(config(ATTENTION['mha']!, { ffn: { kind: 'layer', className: 'NoSuchLayer', config: {} } }))).toThrowError(/ffn.className "NoSuchLayer" is not a registered tfjs class/);
    lm.dispose();
  });

  it('serialises its config and reloads to the same logits', () => {
    const lm = new TinyLM(config(ATTENTION['mla']!));
    const json = JSON.parse(JSON.stringify(lm.getConfig())) as ConstructorParameters<typeof TinyLM>[0];
    const copy = new TinyLM({ ...json, seed: 77, name: 'tiny_lm_copy' });
    const ids = tf.tensor2d(IDS, [2, 8], 'int32');
    const a = lm.logits(ids);
    const b0 = copy.logits(ids);
    expect(maxAbsDiff(a, b0)).toBeGreaterThan(1e-3); // another seed, other weights
    copy.setWeights(lm.getWeights());
    const b = copy.logits(ids);
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([ids, a, b0, b]);
    lm.dispose();
    copy.dispose();
  });

  it('countParams counts embedding, blocks, norms and head (hand count)', () => {
    const lm = new TinyLM(config(ATTENTION['mha']!));
    // Reference (hand): V·d + l·(2d + 4d² + 3·d·24) + d + d·V = 176 + 2·(32 + 1024 + 1152) + 16 + 176
    expect(lm.countParams()).toBe(11 * 16 + 2 * (2 * 16 + 4 * 16 * 16 + 3 * 16 * 24) + 16 + 16 * 11);
    lm.dispose();
  });
});

describe('TinyLM with an MoE FFN (lib/moe, DeepSeekMoE shared + routed experts)', () => {
  const moeFfn = {
    kind: 'layer',
    className: MoE.className,
    config: { experts: 4, topK: 2, expertHidden: 8, sharedExperts: 1, sharedHidden: 8, activation: 'silu', useBias: false, balanceLossWeight: 0.01, seed: 3 },
  } as const;

  it('decodes with the cache like the full pass, adds the balance loss to the training loss, trains', () => {
    const lm = new TinyLM(config(ATTENTION['mla']!, { ffn: moeFfn }));
    const ids = tf.tensor2d(IDS, [2, 8], 'int32');
    const full = lm.logits(ids);
    const cache = lm.newCache();
    const parts = [lm.decodeStep(tf.slice(ids, [0, 0], [2, 3]), cache)];
    for (let i = 3; i < 8; i++) parts.push(lm.decodeStep(tf.slice(ids, [0, i], [2, 1]), cache));
    const inc = tf.concat(parts, 1);
    expect(maxAbsDiff(full, inc)).toBeLessThan(1e-5);
    // loss = cross-entropy + Σ_blocks 0.01 · Switch loss, and the Switch loss is ≥ 1 - tiny (1 when balanced)
    const loss = lm.loss(ids).dataSync()[0] as number;
    const ce = lm.crossEntropy(ids).dataSync()[0] as number;
    expect(loss - ce).toBeGreaterThan(0.0199);
    expect(loss - ce).toBeLessThan(0.2);
    // Active parameters: the 2 unchosen routed experts of each block (2 · 2 · 16 · 8 weights) are left out.
    expect(lm.countParams() - lm.countActiveParams()).toBe(2 * 2 * (2 * 16 * 8));
    const opt = tf.train.adam(1e-2);
    const first = lm.trainStep(opt, ids);
    let last = first;
    for (let i = 0; i < 15; i++) last = lm.trainStep(opt, ids);
    expect(last).toBeLessThan(first * 0.8);
    tf.dispose([ids, full, inc, ...parts]);
    cache.dispose();
    opt.dispose();
    lm.dispose();
  });
});

describe('sampleToken', () => {
  it('is greedy at T = 0 and with topK = 1, and seeded otherwise', () => {
    const z = [0.1, 2, 1.9, -1];
    expect(sampleToken(z, { temperature: 0 }, new Rng(1))).toBe(1);
    expect(sampleToken(z, { topK: 1 }, new Rng(1))).toBe(1);
    const draw = (seed: number) => Array.from({ length: 20 }, (_, i) => sampleToken(z, { topK: 2 }, new Rng(seed * 100 + i)));
    expect(draw(1)).toEqual(draw(1));
    expect(new Set(draw(1))).toEqual(new Set([1, 2])); // top-2 keeps tokens 1 and 2 only
  });

  it('draws in proportion to softmax(z / T) (2000 draws, 4-sigma margin)', () => {
    const z = [0, Math.log(3)]; // p = [0.25, 0.75] at T = 1; at T = 2, [1/(1+√3), √3/(1+√3)] = [0.366, 0.634]
    const rng = new Rng(9);
    const n = 2000;
    let ones = 0;
    for (let i = 0; i < n; i++) ones += sampleToken(z, { temperature: 2 }, rng);
    const p = Math.sqrt(3) / (1 + Math.sqrt(3));
    expect(Math.abs(ones / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });
});

describe('the small layers of the LM (complete tfjs layers)', () => {
  const cases: [string, () => tf.layers.Layer, () => tf.Tensor][] = [
    ['TokenEmbedding', () => new TokenEmbedding({ vocabSize: 11, dModel: 8, seed: 2 }), () => tf.tensor2d([[1, 2, 10], [0, 5, 3]], [2, 3], 'int32')],
    ['RmsNorm', () => new RmsNorm({ dModel: 8, epsilon: 1e-5 }), () => tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1)],
    ['Linear', () => new Linear({ inputs: 8, outputs: 5, seed: 2 }), () => tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1)],
    ['SwiGluFeedForward', () => new SwiGluFeedForward({ dModel: 8, hidden: 12, seed: 2 }), () => tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1)],
  ];
  it.each(cases)('%s: serialises and reloads to the same output, and leaks nothing', (_name, make, input) => {
    const layer = make();
    const x = input();
    const y = layer.apply(x) as tf.Tensor;
    const cls = layer.constructor as unknown as { className: string };
    const json = JSON.parse(JSON.stringify(layer.getConfig())) as tf.serialization.ConfigDict & { name: string };
    const [ctor, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[cls.className]!;
    const copy = fromConfig(ctor, { ...json, name: `${json.name}_copy` }) as unknown as tf.layers.Layer;
    tf.dispose(copy.apply(x) as tf.Tensor);
    copy.setWeights(layer.getWeights());
    const y2 = copy.apply(x) as tf.Tensor;
    expect(maxAbsDiff(y, y2)).toBe(0);
    expectNoLeak(() => layer.apply(x), 'apply');
    tf.dispose([x, y, y2]);
    layer.dispose();
    copy.dispose();
  });

  it('RmsNorm gives x / rms(x) with unit gain (hand-computed)', () => {
    tf.tidy(() => {
      const y = new RmsNorm({ dModel: 2, epsilon: 1e-12 }).apply(tf.tensor3d([[[3, 4]]])) as tf.Tensor;
      // Reference (hand): rms([3, 4]) = √((9 + 16) / 2) = 3.5355339; [3, 4] / 3.5355339 = [0.8485281, 1.1313708]
      const v = y.dataSync();
      expect(v[0]).toBeCloseTo(0.8485281, 6);
      expect(v[1]).toBeCloseTo(1.1313708, 6);
    });
  });
});
