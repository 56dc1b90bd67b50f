/**
 * The capacity-padded MoE layer's two row moves with gathers only, no scatter: for backends whose
 * tensors are not on the host (`kernels` row moves, see `RowMoves` in dispatch.ts), where a scatter-add is
 * the dearer kernel. On native TensorFlow (tensorflow-cpu 2.21, 2 vCPUs), measured 2026-12-02 with
 * 8776 rows of 64 floats and 4096 tokens of 2 slots: `ScatterNd` of the rows into `[4096, 64]`
 * took 0.76 ms, one `GatherNd` of the `[8192]` slots' rows, a reshape and a sum over the slots
 * 0.28 ms (the seventh session's combine; the sum is now a small batched product, below).
 *
 * A padded dispatch ({@link PaddedDispatch}) lays the served slots out as an `[E', C]` grid of rows
 * and pairs each served slot `(t, j)` with exactly one row `(a, c)`, so each move has an exact
 * inverse made of gathers, and every index is a coordinate pair that `GatherNd` reads in the
 * shape the next op wants (no reshape between them):
 * - into the rows: `rows[a, c] = x[token(a, c)]`, `[n, d]` -> `[E', C, d]`; the gradient of token
 *   t is the sum of its slots' rows, `Σ_j drows[row(t, j)]`: a gather into `[n, k, d]` and a sum
 *   over the k slots;
 * - back to the tokens: `out[t] = Σ_j g[t, j] · y[row(t, j)]`: a gather of `y` into `[n, k, d]`
 *   and one batched product `[n, 1, k] @ [n, k, d]` with the gates. The gradient of row `(a, c)` is the
 *   gradient of its slot's pick, `g[t, j] · dout[t]`, gathered back into `[E', C, d]`; the gates'
 *   gradient is `⟨dout[t], y[row(t, j)]⟩`, already in the gates' `[n, k]` shape.
 *
 * Padding rows read token 0 (a value only: no slot picks them, and the gradient gathers a zero
 * for them, so they pass no gradient to x or to the experts' weights). An unserved (dropped) slot
 * picks a zero row appended to `y`, and its token gets nothing back from it; both zeros are
 * appended only when there is padding, or a dropped slot.
 *
 * The index tensors a gradient needs are built in its gradient function, so a call that is not
 * differentiated (inference) uploads only the forward pass's indices.
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
  /** Active experts E' (the grid's first axis). */
  experts: number;
  /** Rows per expert C (the grid's second axis). */
  rowsPerExpert: number;
  /** `[E'·C]` the token each row reads; 0 for a padding row. */
  rowTokens: Int32Array;
  /** `[n·k·2]` the row `(a, c)` serving each slot `t·k + j`, or `(0, C)` (a zero row) when the slot was dropped. */
  slotRows: Int32Array;
  /** `[E'·C·2]` the slot `(t, j)` each row serves, or `(0, k)` (a zero slot) for a padding row. */
  rowSlots: Int32Array;
  /** Whether some slot was dropped (it picks the zero row). */
  dropped: boolean;
  /** `[E'·C]` 1 for a served row, 0 for a padding row; null when there is no padding. */
  mask: Float32Array | null;
}

/**
 * The gather maps of a padded dispatch of `tokens` tokens with `topK` slots each.
 * @throws Error when a slot is served by two rows (not a padded dispatch).
 */
export function paddedRowMaps(pad: PaddedDispatch, tokens: number, topK: number): PaddedRowMaps {
  const m = pad.tokenIds.length;
  const A = pad.experts.length;
  const C = pad.rowsPerExpert;
  assert(m === A * C, () => `paddedRowMaps: ${m} rows, but ${A} experts × ${C} rows`);
  const rowTokens = new Int32Array(m);
  const slotRows = new Int32Array(tokens * topK * 2);
  for (let s = 0; s < tokens * topK; s++) slotRows[2 * s + 1] = C; // (0, C): dropped until served
  const rowSlots = new Int32Array(m * 2);
  const mask = pad.paddingRows > 0 ? new Float32Array(m) : null;
  let served = 0;
  for (let i = 0; i < m; i++) {
    const t = pad.tokenIds[i] as number;
    if (t === tokens) {
      rowSlots[2 * i + 1] = topK; // padding: (0, k), the zero slot
      continue;
    }
    const s = pad.slotIds[i] as number;
    assert(slotRows[2 * s + 1] === C, () => `paddedRowMaps: slot ${s} is served by two rows, the second ${i}`);
    slotRows[2 * s] = Math.floor(i / C);
    slotRows[2 * s + 1] = i % C;
    rowSlots[2 * i] = t;
    rowSlots[2 * i + 1] = s - t * topK;
    rowTokens[i] = t;
    if (mask) mask[i] = 1;
    served++;
  }
  return { tokens, topK, experts: A, rowsPerExpert: C, rowTokens, slotRows, rowSlots, dropped: served < tokens * topK, mask };
}

/** `out[t, j] = src[slotRows(t, j)]`, `[E', C, d]` -> `[n, k, d]`; dropped slots read a zero row appended along C. */
function pickSlots(src: tf.Tensor3D, maps: PaddedRowMaps, slotRows: tf.Tensor3D): tf.Tensor3D {
  const rows = maps.dropped ? tf.pad(src, [[0, 0], [0, 1], [0, 0]]) : src; // [E', C, d] -> [E', C + 1, d]
  return tf.gatherND(rows, slotRows) as tf.Tensor3D; // [n, k, d]
}

/**
 * The padded rows of `x`: row `(a, c)` is `x[rowTokens[a·C + c]]`, `[n, d]` -> `[E', C, d]`. The
 * gradient sums each token's served rows; padding rows pass none. Gathers only (see the file comment).
 * @throws Error when x does not have the maps' n rows.
 */
export function gatherPaddedRows(x: tf.Tensor2D, maps: PaddedRowMaps): tf.Tensor3D {
  const [n] = x.shape;
  const { tokens, topK: k, experts: A, rowsPerExpert: C, rowTokens, slotRows } = maps;
  assert(n === tokens, () => `gatherPaddedRows: x has ${n} rows, the maps ${tokens} tokens`);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor2D;
    return {
      value: tf.gatherND(xs, tf.tensor3d(rowTokens, [A, C, 1], 'int32')), // [E', C, d]
      gradFunc: (dy: tf.Tensor) => tf.sum(pickSlots(dy as tf.Tensor3D, maps, tf.tensor3d(slotRows, [n, k, 2], 'int32')), 1), // [n, k, d] -> [n, d]
    };
  });
  return f(x) as tf.Tensor3D;
}

/**
 * The gate-weighted combine of padded rows: `out[t] = Σ_j gates[t, j] · y[row(t, j)]`,
 * `[E', C, d]` -> `[n, d]`; a dropped slot adds nothing. Gradients: `dy[row(t, j)] = gates[t, j] ·
 * dout[t]` (0 on padding rows), `dgates[t, j] = ⟨dout[t], y[row(t, j)]⟩` (0 for a dropped slot).
 * Gathers only (see the file comment).
 * @param y `[E', C, d]` the experts' output rows.
 * @param gates `[n, k]` each slot's gate.
 * @throws Error when the shapes do not match the maps.
 */
export function combinePaddedRows(y: tf.Tensor3D, gates: tf.Tensor2D, maps: PaddedRowMaps): tf.Tensor2D {
  const { tokens: n, topK: k, experts: A, rowsPerExpert: C, slotRows, rowSlots, mask } = maps;
  const [a, c, d] = y.shape;
  assert(a === A && c === C && gates.shape[0] === n && gates.shape[1] === k,
    () => `combinePaddedRows needs y [${A}, ${C}, d] and gates [${n}, ${k}], got [${y.shape.join(', ')}] and [${gates.shape.join(', ')}]`);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const ys = args[0] as tf.Tensor3D;
    const gates2 = args[1] as tf.Tensor2D;
    const save = args[2] as tf.GradSaveFunc;
    const picked = pickSlots(ys, maps, tf.tensor3d(slotRows, [n, k, 2], 'int32')); // [n, k, d]
    // The engine runs this in a tidy and keeps a copy of what is saved, for the gradient.
    save([picked, gates2]);
    // Σ_j over k slots of d floats as n small products, [n, 1, k] @ [n, k, d]: one kernel, and on
    // tensorflow 0.64× the time of a product and a sum (bench/README.md, "Coordinate-pair gathers
    // and a faster host router").
    return {
      value: tf.reshape<tf.Rank.R2>(tf.matMul(tf.reshape(gates2, [n, 1, k]), picked), [n, d]), // [n, 1, d] -> [n, d]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [pickedS, gatesS] = saved as [tf.Tensor3D, tf.Tensor2D];
        const dOut = tf.reshape<tf.Rank.R3>(dy, [n, 1, d]); // [n, d] -> [n, 1, d]
        // Padding rows read a zero slot (0, k): a zero gate column appended to the small [n, k]
        // gates, when there is padding, rather than a zero slot to the [n, k, d] gradient.
        const gSlots = tf.reshape(mask === null ? gatesS : tf.pad(gatesS, [[0, 0], [0, 1]]), [n, -1, 1]); // [n, k (+ 1), 1]
        const dSlots = tf.mul<tf.Tensor3D>(dOut, gSlots); // [n, k (+ 1), d]: each slot's pick's gradient, then the zero slot
        const dGates = tf.reshape<tf.Rank.R2>(tf.matMul(pickedS, dOut, false, true), [n, k]); // ⟨y[row(t, j)], dout[t]⟩: [n, k, d] @ [n, 1, d]T -> [n, k, 1] -> [n, k]
        return [tf.gatherND(dSlots, tf.tensor3d(rowSlots, [A, C, 2], 'int32')), dGates]; // [E', C, d], [n, k]
      },
    };
  });
  return f(y, gates);
}
