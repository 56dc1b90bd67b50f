/**
 * The golden-value suite of lib/attention, run once per backend by
 * tests/attention-golden-cpu.test.ts and tests/attention-golden-wasm.test.ts.
 *
 * Reference: tests/golden/attention.json, written by scripts/golden/attention_golden.py (PyTorch
 * 1.13's scaled_dot_product_attention in float64, from float32-exact inputs and weights).
 * Tolerance: absolute 2e-5 on outputs of magnitude ~1 (float32 accumulation over a few hundred
 * terms, with exp and trigonometry in float32).
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/backend';
import { GroupedQueryAttention } from '../../lib/attention/gqa';
import { MultiHeadLatentAttention } from '../../lib/attention/mla';
import { scaledDotProductAttention } from '../../lib/attention/sdpa';

const ATOL = 2e-5;

interface SdpaCase {
  q: number[];
  k: number[];
  v: number[];
  shape_q: number[];
  shape_kv: number[];
  y: number[];
}
interface LayerCase {
  dModel: number;
  nHeads: number;
  nKvHeads?: number;
  qLatent?: number;
  kvLatent?: number;
  ropeHeadDim?: number;
  x: number[];
  shape_x: [number, number, number];
  weights: number[][];
  weight_shapes: [number, number][];
  y: number[];
}
interface Golden {
  torch_version: string;
  rope_base: number;
  sdpa_causal: SdpaCase;
  sdpa_decode: SdpaCase;
  mha: LayerCase;
  gqa: LayerCase;
  mqa: LayerCase;
  mla: LayerCase;
}

function loadAttentionGolden(): Golden {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'golden', 'attention.json'), 'utf8')) as Golden;
}

function expectClose(got: ArrayLike<number>, want: number[], label: string): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)));
  expect(worst, `${label}: max |tfjs - torch|`).toBeLessThan(ATOL);
}

export function attentionGoldenSuite(backend: 'cpu' | 'wasm'): void {
  const golden = loadAttentionGolden();

  describe(`attention golden values vs PyTorch ${golden.torch_version} (backend ${backend})`, () => {
    beforeAll(async () => {
      const report = await initBackend({ force: backend });
      expect(report.backend).toBe(backend);
    });

    for (const name of ['sdpa_causal', 'sdpa_decode'] as const) {
      it(`${name}: scaledDotProductAttention == F._scaled_dot_product_attention`, () => {
        const c = golden[name];
        tf.tidy(() => {
          const q = tf.tensor(c.q, c.shape_q);
          const k = tf.tensor(c.k, c.shape_kv);
          const v = tf.tensor(c.v, c.shape_kv);
          expectClose(scaledDotProductAttention(q, k, v, { causal: true }).dataSync(), c.y, name);
        });
      });
    }

    for (const name of ['mha', 'gqa', 'mqa'] as const) {
      it(`${name}: GroupedQueryAttention with RoPE == the PyTorch layer`, () => {
        const c = golden[name];
        const layer = new GroupedQueryAttention({ dModel: c.dModel, nHeads: c.nHeads, nKvHeads: c.nKvHeads, maxContext: 8, ropeBase: golden.rope_base });
        tf.tidy(() => {
          const x = tf.tensor3d(c.x, c.shape_x);
          tf.dispose(layer.apply(x) as tf.Tensor);
          layer.setWeights(c.weights.map((w, i) => tf.tensor2d(w, c.weight_shapes[i])));
          expectClose((layer.apply(x) as tf.Tensor).dataSync(), c.y, name);
        });
        layer.dispose();
      });
    }

    for (const absorb of [false, true]) {
      it(`mla (${absorb ? 'absorbed' : 'naive'}): MultiHeadLatentAttention == DeepSeek-V2 eqs. (9)-(19) in PyTorch`, () => {
        const c = golden.mla;
        const layer = new MultiHeadLatentAttention({
          dModel: c.dModel,
          nHeads: c.nHeads,
          qLatent: c.qLatent!,
          kvLatent: c.kvLatent!,
          ropeHeadDim: c.ropeHeadDim!,
          maxContext: 8,
          ropeBase: golden.rope_base,
          absorb,
        });
        tf.tidy(() => {
          const x = tf.tensor3d(c.x, c.shape_x);
          tf.dispose(layer.apply(x) as tf.Tensor);
          layer.setWeights(c.weights.map((w, i) => tf.tensor2d(w, c.weight_shapes[i])));
          expectClose((layer.apply(x) as tf.Tensor).dataSync(), c.y, 'mla');
        });
        layer.dispose();
      });
    }
  });
}
