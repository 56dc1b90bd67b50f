/**
 * The capacity-padded MoE layer's two row moves with gathers only, no scatter: for backends whose
 * tensors are not on the host (`kernels` row moves, see `RowMoves` in dispatch.ts), where a scatter-add is
 * the dearer kernel. On native TensorFlow (tensorflow-cpu 2.21, 2 vCPUs), measured 2026-12-02 with
 * 8776 rows of 64 floats and 4096 tokens of 2 slots: `ScatterNd` of the rows into `[4096, 64]`
 * took 0.76 ms, one `GatherNd` of the `[8192]` slots' rows, a reshape and a sum over the slots
 * 0.28 ms.
 *
 * A padded dispatch ({@link PaddedDispatch}) pairs each served slot `(t, j)` with exactly one row,
 * so each move has an exact inverse made of gathers:
 * - into the rows: `rows[i] = x[token(i)]`; the gradient of token t is the sum of its served slots'
 *   rows, `Σ_j drows[row(t, j)]`: a gather of `n·k` rows and a sum over the k slots;
 * - back to the tokens: `out[t] = Σ_j g(t, j) · y[row(t, j)]`; the gradient of row i is
 *   `g(i) · dout[token(i)]`: a gather of `m` rows.
 *
 * Padding rows read token 0 (a value only: they pass no gradient to x) and have gate 0, so they
 * add nothing to any output or gradient. An unserved (dropped) slot reads a zero row appended for
 * the purpose, only when there is one.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';
import type { PaddedDispatch } from './dispatch';

/** A padded dispatch's index maps, as the gathers read them. */
export interface PaddedRowMaps {
  /** Tokens n. */
  tokens: number;
  /** Slots per token k. */
  topK: number;
  /** `[m]` the token each row reads; 0 for a padding row. */
  rowTokens: Int32Array;
  /** `[n·k]` the row serving slot `t·k + j`, or `m` (a zero row) when the slot was dropped. */
  slotRows: Int32Array;
  /** Whether some slot was dropped (its row is the appended zero row). */
  dropped: boolean;
  /** `[m]` 1 for a served row, 0 for a padding row; null when there is no padding. */
  mask: Float32Array | null;
}

/**
 * The gather maps of a padded dispatch of `tokens` tokens with `topK` slots each.
 * @throws Error when a slot is served by two rows (not a padded dispatch).
 */
export function paddedRowMaps(pad: PaddedDispatch, tokens: number, topK: number): PaddedRowMaps {
  const m = pad.tokenIds.length;
  const rowTokens = new Int32Array(m);
  const slotRows = new Int32Array(tokens * topK).fill(m);
  const mask = pad.paddingRows > 0 ? new Float32Array(m) : null;
  let served = 0;
  for (let i = 0; i < m; i++) {
    const t = pad.tokenIds[i] as number;
    if (t === tokens) continue; // padding
    const s = pad.slotIds[i] as number;
    assert(slotRows[s] === m, () => `paddedRowMaps: slot ${s} is served by rows ${slotRows[s]} and ${i}`);
    slotRows[s] = i;
    rowTokens[i] = t;
    if (mask) mask[i] = 1;
    served++;
  }
  return { tokens, topK, rowTokens, slotRows, dropped: served < tokens * topK, mask };
}

/** `out[t] = Σ_j src[slotRows[t·k + j]]`, `[m, d]` -> `[n, d]`; row m is a zero row when `zeroRow`. */
function sumSlotRows(src: tf.Tensor2D, slotRows: tf.Tensor2D, n: number, k: number, zeroRow: boolean): tf.Tensor2D {
  const d = src.shape[1];
  const rows = zeroRow ? tf.pad(src, [[0, 1], [0, 0]]) : src; // [m, d] -> [m + 1, d]
  const picked = tf.gatherND(rows, slotRows) as tf.Tensor2D; // [n·k, d]
  return k === 1 ? picked : tf.sum(tf.reshape(picked, [n, k, d]), 1); // [n, k, d] -> [n, d]
}

/**
 * The padded rows of `x`: row i is `x[rowTokens[i]]`, `[n, d]` -> `[m, d]`. The gradient sums each
 * token's served rows; padding rows pass none. Gathers only (see the file comment).
 * @throws Error when x does not have the maps' n rows.
 */
export function gatherPaddedRows(x: tf.Tensor2D, maps: PaddedRowMaps): tf.Tensor2D {
  const [n] = x.shape;
  const { tokens, topK: k, rowTokens, slotRows, dropped } = maps;
  assert(n === tokens, () => `gatherPaddedRows: x has ${n} rows, the maps ${tokens} tokens`);
  const m = rowTokens.length;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor2D;
    // The engine runs this in a tidy and keeps a copy of what is saved, for the gradient.
    (args[1] as tf.GradSaveFunc)([tf.tensor2d(slotRows, [n * k, 1], 'int32')]);
    return {
      value: tf.gatherND(xs, tf.tensor2d(rowTokens, [m, 1], 'int32')) as tf.Tensor2D, // [m, d]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => sumSlotRows(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, n, k, dropped),
    };
  });
  return f(x);
}

/**
 * The gate-weighted combine of padded rows: `out[t] = Σ_j g_i · y[i]` over the rows i serving
 * token t's slots, with `g_i = gateSource[gateIds[i]]` (0 on padding rows), `[m, d]` -> `[n, d]`.
 * Gradients: `dy[i] = g_i · dout[token(i)]`; `dgateSource[f] = ⟨dout[token(i)], y[i]⟩` for the
 * row i that reads entry f, 0 for an entry no row reads. Gathers only (see the file comment).
 * @param y `[m, d]` the experts' output rows.
 * @param gateSource `[F, 1]` the flat gates the rows read (the `[n·E]` scores or the `[n·k]` gates).
 * @param gateIds `[m]` the entry of gateSource each row reads (any entry on a padding row).
 * @throws Error when the shapes or ids do not match the maps.
 */
export function combinePaddedRows(y: tf.Tensor2D, gateSource: tf.Tensor2D, gateIds: Int32Array, maps: PaddedRowMaps): tf.Tensor2D {
  const [m] = y.shape;
  const F = gateSource.shape[0];
  const { tokens: n, topK: k, rowTokens, slotRows, dropped, mask } = maps;
  assert(m === rowTokens.length && gateIds.length === m && gateSource.shape[1] === 1,
    () => `combinePaddedRows needs y [${rowTokens.length}, d], gateSource [F, 1] and ${rowTokens.length} gate ids, got [${y.shape.join(', ')}], [${gateSource.shape.join(', ')}] and ${gateIds.length}`);
  const gateRows = new Int32Array(F).fill(m); // the row reading each entry, or m (a zero row)
  for (let i = 0; i < m; i++) {
    const f = gateIds[i] as number;
    assert(f >= 0 && f < F, () => `combinePaddedRows gate ids must be in [0, ${F}), got ${f} at row ${i}`);
    if (mask === null || mask[i] === 1) gateRows[f] = i;
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const ys = args[0] as tf.Tensor2D;
    const src = args[1] as tf.Tensor2D;
    const save = args[2] as tf.GradSaveFunc;
    // The engine runs this in a tidy and keeps a copy of what is saved, for the gradient.
    const g = tf.gatherND(src, tf.tensor2d(gateIds, [m, 1], 'int32')) as tf.Tensor2D; // [m, 1]
    const gm = mask ? tf.mul<tf.Tensor2D>(g, tf.tensor2d(mask, [m, 1])) : g; // padding rows: gate 0
    save([ys, gm, tf.tensor2d(rowTokens, [m, 1], 'int32'), tf.tensor2d(gateRows, [F, 1], 'int32')]);
    return {
      value: sumSlotRows(tf.mul<tf.Tensor2D>(ys, gm), tf.tensor2d(slotRows, [n * k, 1], 'int32'), n, k, dropped),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [yS, gmS, rowS, gateS] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const dRow = tf.gatherND(dy, rowS) as tf.Tensor2D; // [m, d]: dout[token(i)]
        const dg = tf.sum(tf.mul(dRow, yS), 1, true); // [m, 1]
        const dSrc = tf.gatherND(tf.pad(dg, [[0, 1], [0, 0]]), gateS) as tf.Tensor2D; // [F, 1]; unread entries: 0
        return [tf.mul(dRow, gmS), dSrc];
      },
    };
  });
  return f(y, gateSource);
}
