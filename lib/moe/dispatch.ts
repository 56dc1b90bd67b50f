/**
 * Sparse dispatch for a Mixture-of-Experts layer: which rows go to which expert, with a capacity,
 * and the two row moves (gather each expert's tokens, scatter the results back) with gradients
 * that use only kernels every course backend has.
 *
 * The plan is made on the CPU from the router's choices (`[n, k]` expert ids, read back once per
 * step). Each expert then runs on its own rows only: compute follows the active experts. The
 * layer runs them one FFN per expert (`host` or `kernels` row moves) or capacity-padded in
 * batched products (`batched`, {@link padDispatch}); see {@link SparseMode}.
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
 * How rows are moved: `host` copies them with typed-array loops on the CPU (the tensors of the
 * `cpu` and `wasm` backends live in host memory, and tfjs-wasm 4.22's Gather and ScatterNd
 * kernels walk the rows element by element: measured here, gathering 8192 rows of 64 floats took
 * ~50 ms under load against ~2 ms for the loop); `kernels` uses `tf.gatherND` / `tf.scatterND`
 * (for backends whose data is not on the host, where a read-back would cost more).
 */
export type RowMoves = 'host' | 'kernels';

/** `host` on the `cpu` and `wasm` backends, `kernels` elsewhere (see {@link RowMoves}). */
export function defaultRowMoves(): RowMoves {
  const b = tf.getBackend();
  return b === 'cpu' || b === 'wasm' ? 'host' : 'kernels';
}

/**
 * How the sparse MoE layer runs its experts. All three run each chosen expert on its own tokens
 * only, and give the same values and gradients:
 * - `host`: one FFN per active expert, its rows moved on the host ({@link dispatchRows},
 *   {@link combineRows});
 * - `kernels`: one FFN per active expert, its rows moved by gather/scatter kernels;
 * - `batched`: capacity-padded, as GShard and Switch implementations do ({@link padDispatch}):
 *   one gather of every active expert's rows into an `[E', C, d]` buffer, two batched matMuls
 *   with the stacked expert weights, one scatter-add back (with `kernels` row moves, a gather
 *   of each token's k rows and one small gate-weighted product instead, and gathers in the
 *   gradients: lib/moe/padded-moves.ts). Its kernel count does not grow with
 *   the number of experts; it computes `E'·C` rows where the others compute the served slots
 *   (the padding rows are extra FLOPs, rows whose outputs are weighted by 0).
 */
export type SparseMode = RowMoves | 'batched';

/**
 * The sparse mode for the active backend:
 * - `batched` on `tensorflow` (native TensorFlow, where every op has a fixed cost and the
 *   per-expert ops dominated: bench/README.md) and on `wasm`, since its batched products run on
 *   XNNPACK one batch at a time (lib/ops/wasm-matmul.ts): top-2 of 8 at 4096 tokens took 0.265
 *   of the all-experts time against 0.327 with `host`, interleaved over 11 rounds
 *   (2026-12-02), and lessons 06-08 trained faster (lesson 08's twelve runs 13.5 s -> 9.9 s);
 * - `host` on `cpu` (per-expert products, rows moved on the host);
 * - `kernels` elsewhere (not measured: webgl, webgpu).
 */
export function defaultSparseMode(): SparseMode {
  const b = tf.getBackend();
  if (b === 'tensorflow' || b === 'wasm') return 'batched';
  return defaultRowMoves();
}

/** A capacity-padded dispatch: every active expert gets `C` rows, its tokens then padding. */
export interface PaddedDispatch {
  /** The experts that serve at least one slot, in increasing order (E' of them). */
  experts: number[];
  /** Rows per expert C: the largest load among them (≤ the plan's capacity). */
  rowsPerExpert: number;
  /** `[E'·C]` token id of each row, expert-major; `tokens` (one past the last token) for padding (the layer reads token 0 there, weighted by 0). */
  tokenIds: Int32Array;
  /** `[E'·C]` flat slot id (`token · k + slot`) of each row; `tokens · k` (one past the last slot: a zero gate) for padding. */
  slotIds: Int32Array;
  /** Padding rows, `E'·C − served slots`. */
  paddingRows: number;
}

/**
 * Lays the plan's served slots out as an `[E', C]` grid (GShard's dispatch tensor, as index
 * lists): row `i · C + r` is expert `experts[i]`'s r-th token, in the plan's service order. `C`
 * is the largest load after the capacity cut, so no served slot is lost and no row beyond what
 * the busiest expert needs is added; with a capacity factor, `C ≤ capacity`.
 * @returns null when every slot was dropped (no expert runs).
 */
export function padDispatch(plan: DispatchPlan): PaddedDispatch | null {
  const experts = plan.load.flatMap((l, e) => (l > 0 ? [e] : []));
  if (experts.length === 0) return null;
  const C = Math.max(...experts.map((e) => plan.load[e] as number));
  const tokenIds = new Int32Array(experts.length * C).fill(plan.tokens);
  const slotIds = new Int32Array(experts.length * C).fill(plan.tokens * plan.topK);
  let served = 0;
  experts.forEach((e, i) => {
    const toks = plan.tokenIds[e] as Int32Array;
    tokenIds.set(toks, i * C);
    slotIds.set(plan.slotIds[e] as Int32Array, i * C);
    served += toks.length;
  });
  return { experts, rowsPerExpert: C, tokenIds, slotIds, paddingRows: experts.length * C - served };
}

function idArray(ids: tf.Tensor1D | Int32Array): Int32Array {
  return ids instanceof Int32Array ? ids : Int32Array.from(ids.dataSync());
}

function assertIds(ids: Int32Array, n: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i] as number;
    assert(r >= 0 && r < n, () => `${what} row ids must be in [0, ${n}), got ${r} at position ${i}`);
  }
}

/** `out[i] = src[ids[i]]`, rows of width d. */
function hostGather(src: ArrayLike<number>, d: number, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * d);
  if (d >= 16 && src instanceof Float32Array) {
    for (let i = 0; i < ids.length; i++) {
      const s = (ids[i] as number) * d;
      out.set(src.subarray(s, s + d), i * d);
    }
  } else {
    for (let i = 0; i < ids.length; i++) {
      const s = (ids[i] as number) * d;
      for (let j = 0; j < d; j++) out[i * d + j] = src[s + j] as number;
    }
  }
  return out;
}

/** `out[ids[i]] += src[i]`, rows of width d, n output rows. */
function hostScatterAdd(src: ArrayLike<number>, d: number, ids: Int32Array, n: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < ids.length; i++) {
    const o = (ids[i] as number) * d;
    const s = i * d;
    for (let j = 0; j < d; j++) out[o + j] = (out[o + j] as number) + (src[s + j] as number);
  }
  return out;
}

/**
 * `x[ids]` along axis 0: `[n, d]` -> `[ids.length, d]`. Its gradient is a scatter-add of the
 * incoming rows back to their positions (duplicates summed), written out with `tf.customGrad`
 * because tfjs's own gather gradient needs UnsortedSegmentSum, which the WASM backend lacks.
 * @param ids row ids in [0, n), as an int32 tensor or a plain Int32Array.
 * @param moves `host` (typed-array loops) or `kernels` (tf.gatherND / tf.scatterND); default
 *   {@link defaultRowMoves}. Both give the same values and gradients.
 * @throws Error when an id is outside [0, n).
 */
export function gatherRows(x: tf.Tensor2D, ids: tf.Tensor1D | Int32Array, moves: RowMoves = defaultRowMoves()): tf.Tensor2D {
  const [n, d] = x.shape;
  const idv = idArray(ids);
  assertIds(idv, n, 'gatherRows');
  const m = idv.length;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor2D;
    if (moves === 'host') {
      // The ids are a JS array held by the closure: nothing to save, nothing to dispose.
      return {
        value: tf.tensor2d(hostGather(xs.dataSync(), d, idv), [m, d]),
        gradFunc: (dy: tf.Tensor) => tf.tensor2d(hostScatterAdd(dy.dataSync(), d, idv, n), [n, d]),
      };
    }
    // The gradient may run after the caller's tidy: it gets its own copy of the ids, as [m, 1],
    // the index shape of both gatherND and scatterND. gatherND, not gather: tfjs-node 4.22's
    // GatherV2 reads the indices back and checks each one in JavaScript (0.7 ms against 0.25 ms
    // for 8960 rows of 64, measured here); the ids were checked above.
    const idt = tf.tensor2d(idv, [m, 1], 'int32');
    (args[1] as tf.GradSaveFunc)([idt]);
    const value = tf.gatherND(xs, idt) as tf.Tensor2D;
    idt.dispose(); // the saved copy lives on
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(saved[0] as tf.Tensor2D, dy, [n, d]),
    };
  });
  return f(x) as tf.Tensor2D;
}

/**
 * Scatter-add: `out[ids[i]] += rows[i]`, `[m, d]` -> `[n, d]` (rows with the same id are summed).
 * Its gradient is a gather of the incoming rows (`tf.customGrad`, see {@link gatherRows}).
 * @throws Error when an id is outside [0, n) or the ids are not one per row.
 */
export function scatterAddRows(rows: tf.Tensor2D, ids: tf.Tensor1D | Int32Array, n: number, moves: RowMoves = defaultRowMoves()): tf.Tensor2D {
  const [m, d] = rows.shape;
  const idv = idArray(ids);
  assert(idv.length === m, () => `scatterAddRows needs one id per row: ${m} rows, got ${idv.length} ids`);
  assertIds(idv, n, 'scatterAddRows');
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const r = args[0] as tf.Tensor2D;
    if (moves === 'host') {
      return {
        value: tf.tensor2d(hostScatterAdd(r.dataSync(), d, idv, n), [n, d]),
        gradFunc: (dy: tf.Tensor) => tf.tensor2d(hostGather(dy.dataSync(), d, idv), [m, d]),
      };
    }
    const idt = tf.tensor2d(idv, [m, 1], 'int32'); // [m, 1], for scatterND and gatherND (see gatherRows)
    (args[1] as tf.GradSaveFunc)([idt]);
    const value = tf.scatterND(idt, r, [n, d]);
    idt.dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gatherND(dy, saved[0] as tf.Tensor2D),
    };
  });
  return f(rows) as tf.Tensor2D;
}

/**
 * Gate-weighted rows, `rows[i] · gates[i] · mask[i]`, as one op whose gradient is
 * `[dy · g', Σ_j dy_ij · rows_ij · mask_i]` with `g' = gates · mask`: the values and gradients of
 * `tf.mul(rows, tf.mul(gates, mask))`, in 2 + 3 kernels where tfjs's two broadcasting products
 * take 2 + 6 (its product gradient casts both operands and reshapes the row sums). The capacity-
 * padded MoE layer uses it with a 0/1 mask that zeroes its padding rows' gates.
 * @param rows `[m, d]`.
 * @param gates `[m, 1]`.
 * @param mask m values multiplying the gates (constant: no gradient), or null for none.
 * @throws Error when the shapes or the mask's length do not match.
 */
export function weightRows(rows: tf.Tensor2D, gates: tf.Tensor2D, mask: Float32Array | null = null): tf.Tensor2D {
  const [m] = rows.shape;
  assert(rows.rank === 2 && gates.rank === 2 && gates.shape[0] === m && gates.shape[1] === 1,
    () => `weightRows needs rows [m, d] and gates [m, 1], got [${rows.shape.join(', ')}] and [${gates.shape.join(', ')}]`);
  assert(mask === null || mask.length === m, () => `weightRows needs one mask value per row (${m}), got ${mask?.length}`);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const y = args[0] as tf.Tensor2D;
    const g = args[1] as tf.Tensor2D;
    const save = args[2] as tf.GradSaveFunc;
    const mk = mask ? tf.tensor2d(mask, [m, 1]) : null;
    const gm = mk ? tf.mul<tf.Tensor2D>(g, mk) : g; // [m, 1]
    save(mk ? [y, gm, mk] : [y, gm]);
    const value = tf.mul<tf.Tensor2D>(y, gm); // [m, d]
    if (mk) tf.dispose([mk, gm]); // the saved copies live on
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ys, gms, mks] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D | undefined];
        const dRows = tf.mul(dy, gms); // [m, d]
        const dg = tf.sum(tf.mul(dy, ys), 1, true); // [m, d] -> [m, 1]
        return [dRows, mks ? tf.mul(dg, mks) : dg];
      },
    };
  });
  return f(rows, gates);
}

/**
 * tfjs's engine runs ops with several outputs and one gradient function (SplitV, TopK) through
 * `runKernelFunc`, which `tf.customGrad` wraps for one output only. It is not in tfjs's public
 * types: we use it when it is there (tfjs 4.22, pinned; tests/moe.test.ts checks that it is), and
 * fall back to one `customGrad` op per output otherwise.
 */
interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor[];
    backwardsFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor | tf.Tensor[];
}

/** The engine's multi-output `runKernelFunc`, or null when this tfjs lacks it. */
export function multiOutputEngine(): KernelFuncEngine | null {
  const engine = tf.engine() as unknown as Partial<KernelFuncEngine>;
  return typeof engine.runKernelFunc === 'function' ? (engine as KernelFuncEngine) : null;
}

/**
 * The sparse dispatch on the host (see {@link RowMoves}): each piece's rows of `x`, gathered
 * straight from one read of `x` into one `[c_e, d]` tensor per piece, in one op with several
 * outputs (no `[A, d]` block to split: tfjs-wasm's Slice reads the whole block once per piece).
 * Its gradient is one scatter-add of every piece's rows into `[n, d]`.
 * @param ids one Int32Array of row ids in [0, n) per piece.
 * @returns one `[ids[e].length, d]` tensor per piece.
 * @throws Error when an id is outside [0, n).
 */
export function dispatchRows(x: tf.Tensor2D, ids: readonly Int32Array[]): tf.Tensor2D[] {
  const [n, d] = x.shape;
  ids.forEach((l, e) => assertIds(l, n, `dispatchRows (piece ${e})`));
  const engine = multiOutputEngine();
  if (engine === null || ids.length === 0) {
    // One op per piece; each gradient is a full [n, d] scatter, summed by the engine.
    let src: Float32Array | null = null; // x read once, on the first piece
    return ids.map((idv) => {
      const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        src ??= (args[0] as tf.Tensor2D).dataSync() as Float32Array;
        return {
          value: tf.tensor2d(hostGather(src, d, idv), [idv.length, d]),
          gradFunc: (dy: tf.Tensor) => tf.tensor2d(hostScatterAdd(dy.dataSync(), d, idv, n), [n, d]),
        };
      });
      return f(x) as tf.Tensor2D;
    });
  }
  const out = engine.runKernelFunc({
    inputs: { x },
    forwardFunc: () => {
      const src = x.dataSync() as Float32Array;
      return ids.map((idv) => tf.tensor2d(hostGather(src, d, idv), [idv.length, d]));
    },
    backwardsFunc: (dys) => {
      const list = Array.isArray(dys) ? dys : [dys];
      const grad = new Float32Array(n * d);
      list.forEach((dy, e) => {
        const dv = dy.dataSync() as Float32Array;
        const idv = ids[e] as Int32Array;
        for (let r = 0; r < idv.length; r++) {
          const o = (idv[r] as number) * d;
          const s = r * d;
          for (let j = 0; j < d; j++) grad[o + j] = (grad[o + j] as number) + (dv[s + j] as number);
        }
      });
      return { x: () => tf.tensor2d(grad, [n, d]) };
    },
  });
  return (Array.isArray(out) ? out : [out]) as tf.Tensor2D[];
}

/**
 * The sparse combine on the host (see {@link RowMoves}): `out[t] = Σ g[slot] · y_e[r]` over the
 * served slots, where row r of piece e serves token `tokenIds[e][r]` through flat slot
 * `slotIds[e][r]` (`token · k + slot`) of `gates`. One op, with the gradients of every piece and
 * of the gates (`dg[slot] = ⟨dout[t], y_e[r]⟩`, 0 for a dropped slot).
 * @param gates `[n, k]` gate values.
 * @param pieces one `[tokenIds[e].length, d]` tensor per piece.
 * @returns `[n, d]`.
 * @throws Error when the lists and pieces disagree in count or length, or an id is out of range.
 */
export function combineRows(gates: tf.Tensor2D, pieces: readonly tf.Tensor2D[], tokenIds: readonly Int32Array[], slotIds: readonly Int32Array[]): tf.Tensor2D {
  const [n, k] = gates.shape;
  assert(pieces.length > 0 && pieces.length === tokenIds.length && pieces.length === slotIds.length,
    () => `combineRows needs one token list and one slot list per piece, got ${pieces.length} pieces, ${tokenIds.length} token lists, ${slotIds.length} slot lists`);
  const d = (pieces[0] as tf.Tensor2D).shape[1];
  pieces.forEach((p, e) => {
    const rows = (tokenIds[e] as Int32Array).length;
    assert(p.rank === 2 && p.shape[0] === rows && p.shape[1] === d && (slotIds[e] as Int32Array).length === rows,
      () => `combineRows piece ${e} must be [${rows}, ${d}] with ${rows} slot ids, got [${p.shape.join(', ')}] and ${(slotIds[e] as Int32Array).length}`);
    assertIds(tokenIds[e] as Int32Array, n, `combineRows (piece ${e} tokens)`);
    assertIds(slotIds[e] as Int32Array, n * k, `combineRows (piece ${e} slots)`);
  });
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const g = (args[0] as tf.Tensor2D).dataSync() as Float32Array;
    const ys = pieces.map((_, e) => (args[1 + e] as tf.Tensor2D).dataSync() as Float32Array);
    const out = new Float32Array(n * d);
    ys.forEach((y, e) => {
      const toks = tokenIds[e] as Int32Array;
      const slots = slotIds[e] as Int32Array;
      for (let r = 0; r < toks.length; r++) {
        const o = (toks[r] as number) * d;
        const s = r * d;
        const w = g[slots[r] as number] as number;
        for (let j = 0; j < d; j++) out[o + j] = (out[o + j] as number) + w * (y[s + j] as number);
      }
    });
    return {
      value: tf.tensor2d(out, [n, d]),
      gradFunc: (dy: tf.Tensor) => {
        const dout = dy.dataSync() as Float32Array;
        const dg = new Float32Array(n * k);
        const dys = ys.map((y, e) => {
          const toks = tokenIds[e] as Int32Array;
          const slots = slotIds[e] as Int32Array;
          const dyE = new Float32Array(toks.length * d);
          for (let r = 0; r < toks.length; r++) {
            const o = (toks[r] as number) * d;
            const s = r * d;
            const w = g[slots[r] as number] as number;
            let dot = 0;
            for (let j = 0; j < d; j++) {
              const t = dout[o + j] as number;
              dyE[s + j] = w * t;
              dot += t * (y[s + j] as number);
            }
            dg[slots[r] as number] = (dg[slots[r] as number] as number) + dot;
          }
          return tf.tensor2d(dyE, [toks.length, d]);
        });
        return [tf.tensor2d(dg, [n, k]), ...dys];
      },
    };
  });
  return f(gates, ...pieces) as tf.Tensor2D;
}
