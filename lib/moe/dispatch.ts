/**
 * Sparse dispatch for a Mixture-of-Experts layer: which rows go to which expert, with a capacity,
 * and the two row moves (gather each expert's tokens, scatter the results back) with gradients
 * that use only kernels every course backend has.
 *
 * The plan is made on the CPU from the router's choices (`[n, k]` expert ids, read back once per
 * step). Each expert then runs on its own rows only: compute follows the active experts.
 *
 * Priority under a capacity: all first choices (slot 0) are served before any second choice
 * (slot 1), and within a slot tokens are served in order (GShard, Lepikhin et al. 2020, §2.2 and
 * Algorithm 1; Switch Transformer, Fedus et al. 2021, §2.2). A slot that finds its expert full is
 * dropped: it contributes nothing to the token's output (the residual connection around the layer
 * carries the token on, as in Switch).
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';

/** Where each token slot goes. Arrays are plain JS, read by the layer and by the statistics. */
export interface DispatchPlan {
  /** Number of tokens n. */
  tokens: number;
  /** Experts chosen per token k. */
  topK: number;
  /** Number of routed experts E. */
  experts: number;
  /** Per-expert capacity (rows), or Infinity when unbounded. */
  capacity: number;
  /** For each expert, the token ids it serves, in service order (length ≤ capacity). */
  tokenIds: Int32Array[];
  /** For each expert, the flat slot ids (`token * k + slot`) it serves, aligned with `tokenIds`. */
  slotIds: Int32Array[];
  /** Slots routed to each expert before the capacity cut (sums to n·k). */
  routed: number[];
  /** Slots each expert serves after the cut (sums to n·k − dropped). */
  load: number[];
  /** Slots dropped because their expert was full. */
  droppedSlots: number;
  /** Tokens that lost every one of their k slots (their layer output is 0). */
  droppedTokens: number;
  /** The expert serving each slot `[n·k]` (row-major `[n, k]`), or -1 when the slot was dropped. */
  assignment: Int32Array;
}

/**
 * Expert capacity in rows: `ceil(capacityFactor · n · k / E)` (Switch Transformer eq. 3, "expert
 * capacity = (tokens per batch / number of experts) × capacity factor", with the n·k slots of top-k
 * routing in place of n tokens). `Infinity` when `capacityFactor` is undefined or Infinity.
 * @throws Error `capacityFactor must be > 0, got 0`.
 */
export function expertCapacity(tokens: number, topK: number, experts: number, capacityFactor?: number): number {
  if (capacityFactor === undefined || capacityFactor === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  assert(typeof capacityFactor === 'number' && capacityFactor > 0, () => `capacityFactor must be > 0, got ${capacityFactor}`);
  return Math.ceil((capacityFactor * tokens * topK) / experts);
}

/**
 * Plans the dispatch of `n` tokens with `k` choices each to `E` experts under a capacity.
 * @param expertIndex `[n·k]` expert ids, row-major `[n, k]` (slot 0 = the highest score).
 * @throws Error when an id is outside [0, E) or the length is not a multiple of k.
 */
export function planDispatch(expertIndex: Int32Array | readonly number[], topK: number, experts: number, capacity: number): DispatchPlan {
  assert(expertIndex.length % topK === 0, () => `expertIndex length ${expertIndex.length} must be a multiple of topK ${topK}`);
  assert(capacity > 0, () => `capacity must be > 0, got ${capacity}`);
  const n = expertIndex.length / topK;
  const routed = new Array<number>(experts).fill(0);
  const lists: number[][] = Array.from({ length: experts }, () => []);
  const slots: number[][] = Array.from({ length: experts }, () => []);
  const assignment = new Int32Array(n * topK).fill(-1);
  let droppedSlots = 0;
  // Slot-major service order: every token's first choice before anyone's second choice.
  for (let s = 0; s < topK; s++) {
    for (let t = 0; t < n; t++) {
      const flat = t * topK + s;
      const e = expertIndex[flat] as number;
      assert(Number.isInteger(e) && e >= 0 && e < experts, () => `expert id must be in [0, ${experts}), got ${e} at slot ${flat}`);
      routed[e] = (routed[e] as number) + 1;
      const list = lists[e] as number[];
      if (list.length < capacity) {
        list.push(t);
        (slots[e] as number[]).push(flat);
        assignment[flat] = e;
      } else {
        droppedSlots++;
      }
    }
  }
  let droppedTokens = 0;
  for (let t = 0; t < n; t++) {
    let served = false;
    for (let s = 0; s < topK; s++) if ((assignment[t * topK + s] as number) >= 0) served = true;
    if (!served) droppedTokens++;
  }
  return {
    tokens: n,
    topK,
    experts,
    capacity,
    tokenIds: lists.map((l) => Int32Array.from(l)),
    slotIds: slots.map((l) => Int32Array.from(l)),
    routed,
    load: lists.map((l) => l.length),
    droppedSlots,
    droppedTokens,
    assignment,
  };
}

/**
 * `x[ids]` along axis 0: `[n, d]` -> `[ids.length, d]`. Its gradient is a scatter-add of the
 * incoming rows back to their positions (`tf.scatterND` sums duplicates), written out with
 * `tf.customGrad` because tfjs's own gather gradient needs UnsortedSegmentSum, which the WASM
 * backend lacks.
 */
export function gatherRows(x: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const [n, d] = x.shape;
  const m = ids.shape[0];
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor2D;
    // The gradient may run after the caller's tidy has disposed `ids`: save a copy for it.
    (args[1] as tf.GradSaveFunc)([ids]);
    return {
      value: tf.gather(xs, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(tf.reshape(saved[0] as tf.Tensor1D, [m, 1]), dy, [n, d]),
    };
  });
  return f(x);
}

/**
 * Scatter-add: `out[ids[i]] += rows[i]`, `[m, d]` -> `[n, d]` (rows with the same id are summed).
 * Its gradient is a gather of the incoming rows (`tf.customGrad`, see {@link gatherRows}).
 */
export function scatterAddRows(rows: tf.Tensor2D, ids: tf.Tensor1D, n: number): tf.Tensor2D {
  const [m, d] = rows.shape;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const r = args[0] as tf.Tensor2D;
    (args[1] as tf.GradSaveFunc)([ids]); // see gatherRows
    return {
      value: tf.scatterND(tf.reshape(ids, [m, 1]), r, [n, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gather(dy, saved[0] as tf.Tensor1D),
    };
  });
  return f(rows) as tf.Tensor2D;
}
