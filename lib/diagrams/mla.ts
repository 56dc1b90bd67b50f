/**
 * Multi-head Latent Attention's compression path (DeepSeek-V2, §2.1): the hidden state is
 * projected down to a small latent c_KV, which is all the KV cache keeps; keys and values are
 * projected back up from it per head. A decoupled RoPE key of d_R values is cached beside it.
 */
import { assert } from '../assert';
import { COLORS, arrow, box, diagram, label, type Diagram } from './svg';

export interface MlaDiagramOptions {
  /** Model width d. */
  dModel: number;
  /** Latent width d_c (what is cached per token and layer). */
  dLatent: number;
  /** Attention heads n_h. */
  heads: number;
  /** Width of one head d_h. */
  headDim: number;
  /** Width d_R of the decoupled RoPE key, cached too (default 0: none). */
  ropeDim?: number;
}

/** Values cached per token and layer: standard multi-head attention (K and V of every head) vs MLA. */
export function kvCacheValues(o: MlaDiagramOptions): { mha: number; mla: number; ratio: number } {
  const mha = 2 * o.heads * o.headDim;
  const mla = o.dLatent + (o.ropeDim ?? 0);
  return { mha, mla, ratio: mha / mla };
}

/**
 * MLA's compression path as a diagram, with the cache sizes it implies.
 * @throws Error when a size is not a positive integer (ropeDim may be 0).
 */
export function mlaDiagram(o: MlaDiagramOptions): Diagram {
  for (const k of ['dModel', 'dLatent', 'heads', 'headDim'] as const) {
    assert(Number.isInteger(o[k]) && o[k] > 0, () => `${k} must be a positive integer, got ${o[k]}`);
  }
  const rope = o.ropeDim ?? 0;
  assert(Number.isInteger(rope) && rope >= 0, () => `ropeDim must be an integer ≥ 0, got ${rope}`);
  const { mha, mla, ratio } = kvCacheValues(o);
  const parts: string[] = [];
  const y = 70;
  parts.push(box(16, y + 30, 110, 60, ['h_t', `hidden, d = ${o.dModel}`]));
  parts.push(arrow(126, y + 60, 226, y + 60, { label: 'W_DKV (down)' }));
  parts.push(box(226, y + 26, 140, 68, ['c_t (latent)', `d_c = ${o.dLatent}`, 'the KV cache'], { fill: '#fff4e8', stroke: COLORS.orange, strokeWidth: 2.5 }));
  parts.push(arrow(366, y + 45, 450, y + 10, { label: 'W_UK (up)' }));
  parts.push(arrow(366, y + 75, 450, y + 110, { label: 'W_UV (up)' }));
  parts.push(box(450, y - 20, 170, 56, ['keys k_t', `${o.heads} heads × ${o.headDim}`]));
  parts.push(box(450, y + 84, 170, 56, ['values v_t', `${o.heads} heads × ${o.headDim}`]));
  parts.push(arrow(620, y + 8, 670, y + 50));
  parts.push(arrow(620, y + 112, 670, y + 70));
  parts.push(box(670, y + 30, 130, 60, ['attention', 'softmax(q·kᵀ/√d)·v']));
  if (rope > 0) {
    parts.push(arrow(71, y + 90, 226, y + 180, { via: [[71, y + 180]], label: 'W_KR' }));
    parts.push(box(226, y + 156, 140, 48, ['k_t^R (RoPE)', `d_R = ${rope}, cached`], { fill: '#fff4e8', stroke: COLORS.orange, dashed: true }));
    parts.push(arrow(366, y + 180, 535, y + 36, { via: [[535, y + 180]], color: COLORS.grey }));
  }
  const fy = rope > 0 ? y + 236 : y + 170;
  parts.push(label(16, fy, `Cached per token and layer: multi-head attention 2·n_h·d_h = ${mha.toLocaleString('en-US')} values; MLA d_c${rope ? ' + d_R' : ''} = ${mla.toLocaleString('en-US')}: ${ratio.toFixed(1)}× smaller.`, { anchor: 'start', size: 12 }));
  const text =
    `MLA: h_t (d = ${o.dModel}) → W_DKV → latent c_t (d_c = ${o.dLatent}, cached) → W_UK, W_UV → keys and values (${o.heads} heads × ${o.headDim})` +
    `${rope ? `; RoPE key k_t^R (d_R = ${rope}, cached)` : ''}. Cache per token and layer: ${mha} values (MHA) vs ${mla} (MLA), ${ratio.toFixed(1)}× smaller.`;
  return diagram('Multi-head Latent Attention: what the cache keeps', 820, fy + 20, parts, text);
}
