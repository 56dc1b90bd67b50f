/**
 * The Mixture-of-Experts layer: a drop-in replacement for a transformer's FFN (or any d → d block).
 *
 * ## API (stable)
 *
 * ```ts
 * import { moe, MoE, moeForward } from '@frugal-ai/lib';
 * const layer = moe({ experts: 8, topK: 2, expertHidden: 64, balanceLossWeight: 1e-2 });
 * // 1. As a layer: tf.sequential, a functional model, or layer.apply(x) in your own code.
 * const y = layer.apply(x) as tf.Tensor;       // x: [n, d] or [b, t, d] (any rank ≥ 2); y: same shape
 * layer.lastAuxLoss;                            // tf.Scalar of the last call (kept; the layer disposes it at the next call)
 * layer.lastStats;                              // MoEStats of the last call (plain numbers, for plots)
 * // 2. Functional, for custom training loops: the caller owns every returned tensor.
 * const { output, auxLoss, balanceLoss, zLoss, stats } = moeForward(layer, x, { training: true });
 * ```
 *
 * **Auxiliary losses, design.** Both ways give the same tensors:
 * - `moeForward(layer, x, { training })` (or `layer.forward`) returns
 *   `{ output, auxLoss, balanceLoss, zLoss, stats }`. Use it inside `optimizer.minimize(() => ...)`
 *   and add `auxLoss` to the task loss. This is the recommended way in a custom loop.
 * - `layer.apply(x)` / `call` returns only the output and keeps the last `auxLoss`, `balanceLoss`
 *   and `zLoss` (tf.keep'd, disposed by the layer at its next call or by `dispose()`) and
 *   `lastStats`. A custom loop that calls the layer through a bigger model adds
 *   `layer.lastAuxLoss` to its loss inside the same `minimize` closure. `model.fit` adds it
 *   automatically: the layer registers it with `addLoss`.
 *
 * `auxLoss = balanceLossWeight · balanceLoss + zLossWeight · zLoss`, where `balanceLoss` is the
 * Switch loss `N · Σ f_i P_i` (1 under uniform routing) and `zLoss` the ST-MoE router z-loss.
 *
 * **Build before the first optimiser step.** The layer creates its weights on its first call
 * (or `layer.build([null, d])`). `optimizer.minimize(f)` collects the variables before it calls
 * `f`, so call the layer (or the model around it) once, or build it, before the first step.
 *
 * **Training flag.** Noise (noisy gating) and the DeepSeek-V3 bias update happen only when the
 * call is a training call: `{ training: true }` to `moeForward`/`forward`, or `model.fit`
 * (which passes `training: true` to `call`). The bias is updated once per training call, from that
 * call's routed load, after the routing (it affects the next step).
 *
 * **Compute.** With `dispatch: 'sparse'` (default) the router's choices are read back (one
 * `[n, k]` int32 sync per call); each expert gets its own tokens (at most `capacity` rows),
 * runs on them alone, and the gate-weighted rows are added back into the tokens' rows. How
 * (`layer.rowMoves`, a `SparseMode`; same values and gradients in every mode, up to float32
 * rounding): on `tensorflow` and `wasm` capacity-padded (`batched`: one gather into `[E', C, d]`,
 * C the largest load, two batched matMuls with the active experts' stacked weights, one
 * combine back; padding rows read token 0 and no slot takes their output, and are the only
 * extra FLOPs; on wasm the gather and a scatter-add run on the host, on tensorflow every move is
 * a gather: lib/moe/padded-moves.ts); on `cpu` one FFN per expert, the rows moved
 * on the host in two ops (`host`: `dispatchRows`, `combineRows` in `dispatch.ts`: one read of
 * the input, one multi-output op, one combine that also weights by the gates); elsewhere one
 * FFN per expert with gather/scatter kernels (`kernels`). An expert
 * no token chose does not run and gets no gradient. `dispatch: 'dense'` runs every expert on every token (two big
 * 2-D matmuls over the stacked experts) and weights by the same gates (zero for unchosen experts): the reference and the
 * baseline of the bench.
 *
 * **Router maths** (`layer.routerMath`, a {@link RouterMath}; same values within float32 rounding,
 * same gradients): `tensors` runs the scores, top-k, gates, aux losses and entropy as tensor ops
 * (router.ts, balance.ts); `host` reads the logits once and does all of it, forward and backward,
 * in one JavaScript pass (host-router.ts). `auto` (default): `host` on `tensorflow`, where each
 * small kernel has a fixed cost, `tensors` elsewhere.
 *
 * **Shared experts** (DeepSeekMoE): `sharedExperts` FFNs of width `sharedHidden` that every token
 * passes through, added to the routed output. They are stored as one FFN of width
 * `sharedExperts · sharedHidden`, which computes exactly the sum of the separate experts.
 * `fineGrainedMoEArgs` turns DeepSeekMoE's (N, m, K, K_s) description into these arguments.
 */
import * as tf from '@tensorflow/tfjs';
import { assert, assertPositiveInteger } from '../assert';
import { Rng } from '../random';
import { loadBalancingLossFromCounts, loadEntropy, routerEntropy, routerZLoss, updateRoutingBias } from './balance';
import { combinePaddedRows, gatherPaddedRows, paddedRowMaps } from './padded-moves';
import { combineRows, defaultRowMoves, defaultSparseMode, dispatchRows, expertCapacity, gatherRows, padDispatch, planDispatch, scatterAddRows, weightRows, type DispatchPlan, type SparseMode } from './dispatch';
import { assertTopK, chooseExperts, pickGates, type RouterKind } from './router';
import { defaultRouterMath, hostRoute, type RouterMath } from './host-router';
import { matMul2d } from '../ops/matmul';
import { reluSignGrad } from '../ops/relu';

/** Activation of the expert FFNs. */
export type MoEActivation = 'relu' | 'gelu' | 'silu';

/** How the experts are run. */
export type MoEDispatch = 'sparse' | 'dense';

/** Arguments of the {@link MoE} layer. */
export interface MoEArgs {
  /** Routed experts E (≥ 1). */
  experts: number;
  /** Experts per token k, an integer in [1, E]. */
  topK: number;
  /** Hidden width of each routed expert's FFN (d → expertHidden → d). */
  expertHidden: number;
  /** Token width d, in and out. Optional: taken from the input at build; a different input width throws. */
  units?: number;
  /** Shared experts every token passes through (DeepSeekMoE). Default 0. */
  sharedExperts?: number;
  /** Hidden width of each shared expert. Default `expertHidden`. */
  sharedHidden?: number;
  /** `softmax` (Switch, GShard, DeepSeekMoE; default) or `sigmoid` (DeepSeek-V3). */
  router?: RouterKind;
  /** Divide the chosen gates by their sum. Default: false for softmax, true for sigmoid (V3). */
  normalizeGates?: boolean;
  /** Capacity factor > 0: each expert serves at most `ceil(factor · n · k / E)` slots. Default unbounded (null). */
  capacityFactor?: number | null;
  /** Weight α of the Switch load-balancing loss in `auxLoss`. Default 0. */
  balanceLossWeight?: number;
  /** Weight of the router z-loss in `auxLoss` (ST-MoE used 1e-3). Default 0. */
  zLossWeight?: number;
  /** DeepSeek-V3 bias update speed γ ≥ 0 (0 = no bias balancing; V3 used 1e-3). Default 0. */
  biasUpdateRate?: number;
  /** Noisy top-k gating during training (Shazeer et al. 2017). Default false. */
  noisyGating?: boolean;
  /** Activation of the expert FFNs. Default `relu`. */
  activation?: MoEActivation;
  /** `sparse` (default): each chosen expert runs on its own tokens; `dense`: every expert on every token. */
  dispatch?: MoEDispatch;
  /** Biases in the expert FFNs. Default true. */
  useBias?: boolean;
  /** Seed of the initial weights and of the gating noise. Default 42. */
  seed?: number;
  /** Layer name. */
  name?: string;
  /** Input shape without the batch axis, for the first layer of a `tf.sequential`. */
  inputShape?: number[];
  /** Input shape with the batch axis (null = any), as tfjs layers take it. */
  batchInputShape?: Array<number | null>;
  /** Fixed batch size, with `inputShape`. */
  batchSize?: number;
  /** Weights and computation dtype (float32 only). */
  dtype?: 'float32';
  /** Whether the weights are trained. Default true. */
  trainable?: boolean;
}

/** Per-call statistics, as plain numbers (for plots and tables). */
export interface MoEStats {
  /** Tokens n in the call (all leading axes flattened). */
  tokens: number;
  /** Experts per token k. */
  topK: number;
  /** Per-expert capacity in slots (Infinity when unbounded). */
  capacity: number;
  /** Slots served by each expert (after the capacity cut). */
  load: number[];
  /** Slots routed to each expert (before the cut); sums to n·k. */
  routed: number[];
  /** Slots dropped because their expert was full. */
  droppedSlots: number;
  /** Tokens that lost all k slots. */
  droppedTokens: number;
  /** Mean entropy (nats) of the tokens' router distributions: ln E = undecided, 0 = certain. */
  routerEntropy: number;
  /** Entropy (nats) of the routed load: ln E = perfectly balanced, 0 = one expert takes all. */
  loadEntropy: number;
  /** The expert serving each slot, row-major `[n, k]`; -1 for a dropped slot. */
  assignment: Int32Array;
  /** The gate value of each slot, row-major `[n, k]` (dropped slots keep their gate, but contribute 0). */
  gates: Float32Array;
  /** The selection bias after this call (DeepSeek-V3), one per expert. */
  bias: number[];
}

/**
 * The `[n][E]` gate matrix of a call, for heat-maps: the gate value where a token chose an
 * expert (and was served), 0 elsewhere.
 */
export function gateMatrix(stats: MoEStats, experts: number): number[][] {
  const rows = Array.from({ length: stats.tokens }, () => new Array<number>(experts).fill(0));
  for (let t = 0; t < stats.tokens; t++) {
    for (let s = 0; s < stats.topK; s++) {
      const e = stats.assignment[t * stats.topK + s] as number;
      if (e >= 0) (rows[t] as number[])[e] = stats.gates[t * stats.topK + s] as number;
    }
  }
  return rows;
}

/** What {@link moeForward} returns. The caller owns the tensors. */
export interface MoEForward {
  /** The layer output, same shape as the input. */
  output: tf.Tensor;
  /** `balanceLossWeight · balanceLoss + zLossWeight · zLoss`: add it to the task loss. */
  auxLoss: tf.Scalar;
  /** The Switch loss `N · Σ f_i P_i` (unweighted; 1 under uniform routing). */
  balanceLoss: tf.Scalar;
  /** The router z-loss (unweighted). */
  zLoss: tf.Scalar;
  /** Statistics of this call. */
  stats: MoEStats;
}

/** The weights of one FFN (d → h → d). */
interface FfnWeights {
  w1: tf.LayerVariable;
  b1: tf.LayerVariable | null;
  w2: tf.LayerVariable;
  b2: tf.LayerVariable | null;
}

function show(v: unknown): string {
  return typeof v === 'number' || v === null || v === undefined ? String(v) : JSON.stringify(v);
}

/**
 * Checks the arguments and fills the defaults.
 * @throws Error naming the argument and value: `topK must be in [1, 8], got 9`,
 *   `capacityFactor must be > 0, got 0`, `experts must be a positive integer, got 0`, ...
 */
function resolveArgs(args: MoEArgs): Required<Omit<MoEArgs, 'units' | 'name' | 'inputShape' | 'batchInputShape' | 'batchSize' | 'dtype' | 'trainable' | 'normalizeGates'>> & { units: number | null; normalizeGates: boolean } {
  assert(args !== null && typeof args === 'object', () => `MoE args must be an object, got ${show(args)}`);
  assertPositiveInteger(args.experts, 'experts');
  assertTopK(args.topK, args.experts);
  assertPositiveInteger(args.expertHidden, 'expertHidden');
  if (args.units !== undefined) assertPositiveInteger(args.units, 'units');
  const sharedExperts = args.sharedExperts ?? 0;
  assert(Number.isInteger(sharedExperts) && sharedExperts >= 0, () => `sharedExperts must be an integer ≥ 0, got ${show(sharedExperts)}`);
  const sharedHidden = args.sharedHidden ?? args.expertHidden;
  assertPositiveInteger(sharedHidden, 'sharedHidden');
  const router = args.router ?? 'softmax';
  assert(router === 'softmax' || router === 'sigmoid', () => `router must be 'softmax' or 'sigmoid', got ${show(router)}`);
  const cf = args.capacityFactor ?? null;
  assert(cf === null || (typeof cf === 'number' && cf > 0), () => `capacityFactor must be > 0, got ${show(cf)}`);
  const nonNeg = (v: number | undefined, name: string): number => {
    const x = v ?? 0;
    assert(typeof x === 'number' && Number.isFinite(x) && x >= 0, () => `${name} must be a finite number ≥ 0, got ${show(v)}`);
    return x;
  };
  const activation = args.activation ?? 'relu';
  assert(['relu', 'gelu', 'silu'].includes(activation), () => `activation must be 'relu', 'gelu' or 'silu', got ${show(activation)}`);
  const dispatch = args.dispatch ?? 'sparse';
  assert(dispatch === 'sparse' || dispatch === 'dense', () => `dispatch must be 'sparse' or 'dense', got ${show(dispatch)}`);
  const seed = args.seed ?? 42;
  assert(Number.isSafeInteger(seed), () => `seed must be an integer, got ${show(seed)}`);
  return {
    experts: args.experts,
    topK: args.topK,
    expertHidden: args.expertHidden,
    units: args.units ?? null,
    sharedExperts,
    sharedHidden,
    router,
    normalizeGates: args.normalizeGates ?? router === 'sigmoid',
    capacityFactor: cf,
    balanceLossWeight: nonNeg(args.balanceLossWeight, 'balanceLossWeight'),
    zLossWeight: nonNeg(args.zLossWeight, 'zLossWeight'),
    biasUpdateRate: nonNeg(args.biasUpdateRate, 'biasUpdateRate'),
    noisyGating: args.noisyGating ?? false,
    activation,
    dispatch,
    useBias: args.useBias ?? true,
    seed,
  };
}

/** `[n·k]` gates picked on the host from the flat `[n, E]` scores at the chosen experts. */
function pickOnHost(scores: Float32Array, expertIndex: Int32Array, E: number, k: number): Float32Array {
  const out = new Float32Array(expertIndex.length);
  for (let i = 0; i < expertIndex.length; i++) out[i] = scores[Math.floor(i / k) * E + (expertIndex[i] as number)] as number;
  return out;
}

/** The expert FFN's activation, as tensor ops. */
function activate(h: tf.Tensor, activation: MoEActivation): tf.Tensor {
  // On native TensorFlow tfjs's relu gradient (Step) is six ops and a JavaScript fill: lib/ops/relu.ts
  if (activation === 'relu') return tf.getBackend() === 'tensorflow' ? reluSignGrad(h) : tf.relu(h);
  if (activation === 'silu') return tf.mul(h, tf.sigmoid(h));
  // gelu, tanh approximation (Hendrycks & Gimpel 2016): 0.5 h (1 + tanh(√(2/π) (h + 0.044715 h³)))
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(h, tf.mul(0.044715, tf.pow(h, 3))));
  return tf.mul(tf.mul(0.5, h), tf.add(1, tf.tanh(inner)));
}

/**
 * A Mixture-of-Experts layer with sparse dispatch. See the file header for the API, and
 * {@link MoEArgs} for the configuration.
 */
export class MoE extends tf.layers.Layer {
  /** @nocollapse */
  static className = 'FrugalMoE';

  /** The resolved configuration. */
  readonly cfg: ReturnType<typeof resolveArgs>;
  /** Token width d, known after build. */
  units: number | null;
  private routerKernel: tf.LayerVariable | null = null;
  private noiseKernel: tf.LayerVariable | null = null;
  private routingBias: tf.LayerVariable | null = null;
  private expertWeights: FfnWeights[] = [];
  private sharedWeights: FfnWeights | null = null;
  private noiseRng: Rng;
  /** The last call's `auxLoss` (kept until the next call or `dispose`), or null before the first call. */
  lastAuxLoss: tf.Scalar | null = null;
  /** The last call's unweighted Switch loss, or null. */
  lastBalanceLoss: tf.Scalar | null = null;
  /** The last call's unweighted z-loss, or null. */
  lastZLoss: tf.Scalar | null = null;
  /** The last call's statistics, or null before the first call. */
  lastStats: MoEStats | null = null;
  /**
   * How the sparse path runs its experts and moves their rows (not part of the config: it changes
   * speed, not results; see {@link SparseMode}): `auto` (default) is {@link defaultSparseMode},
   * `batched` (capacity-padded) on `tensorflow` and `wasm`, `host` on `cpu`, `kernels` elsewhere.
   */
  rowMoves: SparseMode | 'auto' = 'auto';
  /**
   * Where the router's per-token maths runs (not part of the config: it changes speed, and values
   * only by float32 rounding; see {@link RouterMath}): `auto` (default) is {@link defaultRouterMath}.
   */
  routerMath: RouterMath | 'auto' = 'auto';

  /** @throws Error naming a bad argument (see {@link MoEArgs}). */
  constructor(args: MoEArgs) {
    const cfg = resolveArgs(args);
    const { name, inputShape, batchInputShape, batchSize, dtype, trainable } = args;
    super({ name, inputShape, batchInputShape, batchSize, dtype, trainable });
    this.cfg = cfg;
    this.units = cfg.units;
    this.noiseRng = new Rng(cfg.seed).fork('noise');
    this.supportsMasking = false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    assert(typeof d === 'number' && d > 0, () => `the input's last axis (the token width) must be known, got shape [${shape.join(', ')}]`);
    if (this.units !== null) {
      assert(d === this.units, () => `input width must be units = ${this.units}, got ${d} (input shape [${shape.join(', ')}])`);
    }
    this.units = d;
    const { experts: E, expertHidden: h, sharedExperts, sharedHidden, useBias } = this.cfg;
    const rng = new Rng(this.cfg.seed);
    const glorot = () => tf.initializers.glorotUniform({ seed: rng.tfSeed() });
    this.routerKernel = this.addWeight('router_kernel', [d, E], 'float32', glorot());
    if (this.cfg.noisyGating) this.noiseKernel = this.addWeight('router_noise_kernel', [d, E], 'float32', tf.initializers.zeros());
    this.routingBias = this.addWeight('routing_bias', [E], 'float32', tf.initializers.zeros(), undefined, false);
    const ffn = (prefix: string, hidden: number): FfnWeights => ({
      w1: this.addWeight(`${prefix}_w1`, [d, hidden], 'float32', glorot()),
      b1: useBias ? this.addWeight(`${prefix}_b1`, [hidden], 'float32', tf.initializers.zeros()) : null,
      w2: this.addWeight(`${prefix}_w2`, [hidden, d], 'float32', glorot()),
      b2: useBias ? this.addWeight(`${prefix}_b2`, [d], 'float32', tf.initializers.zeros()) : null,
    });
    this.expertWeights = Array.from({ length: E }, (_, e) => ffn(`expert_${e}`, h));
    this.sharedWeights = sharedExperts > 0 ? ffn('shared', sharedExperts * sharedHidden) : null;
    // model.fit adds the layer's losses to the task loss: here, the last call's aux loss.
    this.addLoss(() => (this.lastAuxLoss && !this.lastAuxLoss.isDisposed ? this.lastAuxLoss : tf.scalar(0)));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  /** Total parameters of the layer: router (+ noise) + all routed experts + shared experts. */
  totalParams(): number {
    return this.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  }

  /** Parameters one token uses: router (+ noise) + k routed experts + the shared experts. */
  activeParams(): number {
    const d = this.units ?? 0;
    const { experts: E, topK: k, expertHidden: h, sharedExperts: S, sharedHidden: hs, useBias, noisyGating } = this.cfg;
    const ffn = (hidden: number) => 2 * d * hidden + (useBias ? hidden + d : 0);
    return d * E * (noisyGating ? 2 : 1) + k * ffn(h) + (S > 0 ? ffn(S * hs) : 0);
  }

  /** `x @ w (+ bias)` with {@link matMul2d}, whose gradient stays fast on WASM. */
  private linear(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor2D {
    const y = matMul2d(x, w);
    return (bias ? tf.add(y, bias) : y);
  }

  /** One FFN d → hidden → d on rows `[m, d]`. */
  private ffn(x: tf.Tensor2D, w: FfnWeights): tf.Tensor2D {
    const hid = activate(this.linear(x, w.w1.read() as tf.Tensor2D, w.b1?.read()), this.cfg.activation) as tf.Tensor2D; // [m, hidden]
    return this.linear(hid, w.w2.read() as tf.Tensor2D, w.b2?.read()); // [m, d]
  }

  /**
   * Every routed expert on every token, weighted by the dense gate matrix `G [n, E]`:
   * `Σ_e G_e (relu(x W1_e + b1_e) W2_e + b2_e)`, written as two 2-D products over the stacked
   * experts, `(relu(x [W1_0 … W1_E]) ⊙ G per hidden block) [W2_0; …; W2_E] + G [b2_0; …; b2_E]`
   * (no batched product: on WASM those are slow, see lib/ops/matmul.ts).
   */
  private denseExperts(x: tf.Tensor2D, gateMatrix: tf.Tensor2D): tf.Tensor2D {
    const [n] = x.shape;
    const { experts: E, expertHidden: h, activation } = this.cfg;
    const w1 = tf.concat(this.expertWeights.map((w) => w.w1.read()), 1) as tf.Tensor2D; // E x [d, h] -> [d, E·h]
    const b1 = this.cfg.useBias ? tf.concat(this.expertWeights.map((w) => (w.b1 as tf.LayerVariable).read()), 0) : undefined; // [E·h]
    const hid = tf.reshape(activate(this.linear(x, w1, b1), activation), [n, E, h]); // [n, E·h] -> [n, E, h]
    // each expert's hidden block times its gate (a broadcast, whose gradient is one sum)
    const gated: tf.Tensor2D = tf.reshape(tf.mul(hid, tf.reshape(gateMatrix, [n, E, 1])), [n, E * h]); // [n, E, h] -> [n, E·h]
    const w2 = tf.concat(this.expertWeights.map((w) => w.w2.read()), 0) as tf.Tensor2D; // E x [h, d] -> [E·h, d]
    const y = matMul2d(gated, w2); // [n, E·h] @ [E·h, d] -> [n, d]
    if (!this.cfg.useBias) return y;
    const b2 = tf.stack(this.expertWeights.map((w) => (w.b2 as tf.LayerVariable).read())) as tf.Tensor2D; // [E, d]
    return tf.add<tf.Tensor2D>(y, matMul2d(gateMatrix, b2)); // + [n, E] @ [E, d]
  }

  /**
   * Each expert on its own rows, gate-weighted, added back to `[n, d]`.
   *
   * With `batched` (the default on `tensorflow`; see {@link SparseMode}) all experts run at
   * once, capacity-padded ({@link MoE.batchedExperts}). Otherwise one FFN per active expert.
   * On the host (`host`, the default on `cpu` and `wasm`) the rows move in two ops: one
   * {@link dispatchRows} that reads `x` once and hands each active expert its rows, and one
   * {@link combineRows} that weights every expert's output rows by their gates and adds them into
   * the tokens' rows (its backward gives each expert its rows of the gradient and the gates their
   * dot products). With `kernels`: one gather into expert order, a split, a concat, a gather of
   * the gates and one scatter-add.
   */
  private sparseExperts(x: tf.Tensor2D, gates: tf.Tensor2D, plan: DispatchPlan): tf.Tensor2D {
    const [n, d] = x.shape;
    const k = this.cfg.topK;
    // Only the experts some token reached run; the others do not appear in the graph at all.
    const active = plan.tokenIds.map((ids, e) => ({ e, ids, slots: plan.slotIds[e] as Int32Array })).filter((a) => a.ids.length > 0);
    if (active.length === 0) return tf.zeros([n, d]); // every slot dropped
    const ffn = (xe: tf.Tensor2D, i: number) => this.ffn(xe, this.expertWeights[(active[i] as { e: number }).e] as FfnWeights); // [c_e, d]
    const moves = this.sparseMode();
    assert(moves !== 'batched', () => 'sparseExperts runs one FFN per expert; the batched mode is batchedExperts');
    if (moves === 'host') {
      const parts = dispatchRows(x, active.map((a) => a.ids)); // [n, d] -> E' x [c_e, d]
      return combineRows(gates, parts.map(ffn), active.map((a) => a.ids), active.map((a) => a.slots)); // E' x [c_e, d] -> [n, d]
    }
    const concatIds = (lists: Int32Array[]) => {
      const all = new Int32Array(lists.reduce((s, l) => s + l.length, 0));
      let o = 0;
      for (const l of lists) { all.set(l, o); o += l.length; }
      return all;
    };
    const tokenIds = concatIds(active.map((a) => a.ids)); // [A], A = served slots, grouped by expert
    // One gather for all experts, then a split: the backward is one scatter-add (the split's
    // gradient is a concat), not one full-size [n, d] scatter per expert.
    const xs = gatherRows(x, tokenIds, moves); // [n, d] -> [A, d]
    const parts = active.length === 1 ? [xs] : tf.split(xs, active.map((a) => a.ids.length), 0); // [A, d] -> E' x [c_e, d]
    const outs = parts.map((xe, i) => ffn(xe as tf.Tensor2D, i)); // [c_e, d]
    const y = outs.length === 1 ? (outs[0] as tf.Tensor2D) : tf.concat<tf.Tensor2D>(outs, 0); // [A, d]
    const g = gatherRows(tf.reshape(gates, [n * k, 1]), concatIds(active.map((a) => a.slots)), moves); // [n, k] -> [n·k, 1] -> [A, 1]
    return scatterAddRows(tf.mul<tf.Tensor2D>(y, g), tokenIds, n, moves); // [A, d] -> [n, d]
  }

  /** The router path this call uses: {@link MoE.routerMath}, `auto` resolved for the active backend. */
  private routerPath(): RouterMath {
    return this.routerMath === 'auto' ? defaultRouterMath() : this.routerMath;
  }

  /** The sparse mode this call uses: {@link MoE.rowMoves}, `auto` resolved for the active backend. */
  private sparseMode(): SparseMode {
    return this.rowMoves === 'auto' ? defaultSparseMode() : this.rowMoves;
  }

  /**
   * The capacity-padded sparse path (`rowMoves: 'batched'`, see {@link padDispatch}): each active
   * expert gets `C` rows (its tokens, then padding rows), one gather brings them into
   * `[E', C, d]`, the FFN runs as batched matMuls with the active experts' weights stacked
   * (`[E', d, h]`, `[E', h, d]`), and one scatter-add brings the gate-weighted rows back to
   * `[n, d]`. Kernels per call do not depend on E; the products compute `E'·C` rows instead of
   * the served slots.
   *
   * With `host` row moves (wasm) the gates are gathered once, straight into the padded rows: from
   * the flat `[n·E]` scores when they are not normalised (the same floats {@link pickGates} would
   * give), else from the normalised `[n, k]` gates. Padding rows read token 0 and gate 0 (a 0/1
   * mask multiplies the gathered gates when there is padding), so they add exactly 0 to token 0's
   * row and to every gradient: no zero row is appended to the input or to the gates.
   *
   * With `kernels` row moves (tensorflow) every move is a gather, forward and backward, and every
   * index a coordinate pair read in the shape the next op wants ({@link gatherPaddedRows},
   * {@link combinePaddedRows}, lib/moe/padded-moves.ts): the rows come out as `[E', C, d]`, each
   * token picks its k rows as `[n, k, d]` and weights them by its `[n, k]` gates in one small
   * batched product. The gates stay in the slots' order, so they are not gathered (from the
   * scores, {@link pickGates} picks them first).
   * @param gates `{ scores }` (unnormalised gates: the gate of slot (t, e) is `scores[t, e]`) or `{ gates }` (`[n, k]`).
   */
  private batchedExperts(x: tf.Tensor2D, source: { scores: tf.Tensor2D } | { gates: tf.Tensor2D }, plan: DispatchPlan): tf.Tensor2D {
    const [n, d] = x.shape;
    const { topK: k, experts: E, expertHidden: h, activation, useBias } = this.cfg;
    const pad = padDispatch(plan);
    if (pad === null) return tf.zeros([n, d]); // every slot dropped
    const { experts, rowsPerExpert: C, tokenIds, slotIds } = pad;
    const A = experts.length;
    const moves = defaultRowMoves(); // how the gathers and the scatter move rows
    // Each row's token (padding rows: token 0), the 0/1 padding mask, and the inverse maps.
    const maps = paddedRowMaps(pad, n, k);
    const fromScores = 'scores' in source;
    const weights = experts.map((e) => this.expertWeights[e] as FfnWeights);
    const stack = (part: (w: FfnWeights) => tf.LayerVariable | null): tf.Tensor => tf.stack(weights.map((w) => (part(w) as tf.LayerVariable).read()));
    const ffn = (xs: tf.Tensor3D): tf.Tensor3D => {
      let hid: tf.Tensor = tf.matMul(xs, stack((w) => w.w1)); // [A, C, d] @ [A, d, h] -> [A, C, h]
      if (useBias) hid = tf.add(hid, tf.reshape(stack((w) => w.b1), [A, 1, h])); // [A, h] -> [A, 1, h]
      hid = activate(hid, activation);
      let y: tf.Tensor = tf.matMul(hid, stack((w) => w.w2)); // [A, C, h] @ [A, h, d] -> [A, C, d]
      if (useBias) y = tf.add(y, tf.reshape(stack((w) => w.b2), [A, 1, d])); // [A, d] -> [A, 1, d]
      return y as tf.Tensor3D;
    };
    if (moves === 'kernels') {
      // Gathers only, in coordinate pairs: no scatter, no reshape between the moves (lib/moe/padded-moves.ts).
      // The slots' gates: from the scores, the chosen (unnormalised) ones, the same floats; a
      // dropped slot's gate is never used (it picks a zero row), so it reads expert 0's score.
      const gates = fromScores ? pickGates(source.scores, plan.assignment.map((e) => Math.max(e, 0)), k, false) : source.gates; // [n, k]
      return combinePaddedRows(ffn(gatherPaddedRows(x, maps)), gates, maps); // [n, d] -> [A, C, d] -> [n, d]
    }
    const { rowTokens, mask } = maps;
    const rows = A * C;
    const gateIds = new Int32Array(rows); // each row's gate in the flat source; padding rows: 0, masked
    for (let i = 0; i < rows; i++) {
      const t = tokenIds[i] as number;
      if (t === n) continue; // padding
      gateIds[i] = fromScores ? t * E + (experts[Math.floor(i / C)] as number) : (slotIds[i] as number);
    }
    const y = ffn(tf.reshape(gatherRows(x, rowTokens, moves), [A, C, d])); // [A·C, d] -> [A, C, d]
    const flat: tf.Tensor2D = fromScores ? tf.reshape<tf.Rank.R2>(source.scores, [n * E, 1]) : tf.reshape<tf.Rank.R2>(source.gates, [n * k, 1]); // [n, E] -> [n·E, 1], or [n, k] -> [n·k, 1]
    const g = gatherRows(flat, gateIds, moves); // [A·C, 1]
    const weighted = weightRows(tf.reshape(y, [rows, d]), g, mask); // [A, C, d] -> [A·C, d]; padding rows: gate 0
    return scatterAddRows(weighted, rowTokens, n, moves); // [A·C, d] -> [n, d]
  }

  /**
   * The forward pass with its losses and statistics. The caller owns the returned tensors.
   * @param x `[n, d]` or `[b, t, d]` (any rank ≥ 2; the leading axes are flattened into tokens).
   * @param options `training`: noise and bias update on (default false).
   * @throws Error when the input width differs from `units` or the input has rank < 2 or no tokens.
   */
  forward(x: tf.Tensor, options: { training?: boolean } = {}): MoEForward {
    assert(x instanceof tf.Tensor, () => `MoE input must be a tf.Tensor, got ${show(x)}`);
    assert(x.rank >= 2, () => `MoE input must have rank ≥ 2 ([tokens, d] or [batch, time, d]), got shape [${x.shape.join(', ')}]`);
    if (!this.built) this.build(x.shape);
    const d = this.units as number;
    const width = x.shape[x.rank - 1];
    assert(width === d, () => `input width must be units = ${d}, got ${width} (input shape [${x.shape.join(', ')}])`);
    const training = options.training === true;
    const { experts: E, topK: k } = this.cfg;
    let stats: MoEStats | null = null;
    const tensors = tf.tidy(() => {
      const x2: tf.Tensor2D = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, d]); // [..., d] -> [n, d]
      const n = x2.shape[0];
      assert(n > 0, () => `MoE input must hold at least one token, got shape [${x.shape.join(', ')}]`);
      let logits = matMul2d(x2, (this.routerKernel as tf.LayerVariable).read() as tf.Tensor2D); // [n, E]
      if (this.noiseKernel && training) {
        // Shazeer et al. 2017, eq. 4: H = x W_g + N(0, 1) · softplus(x W_noise)
        const std = tf.softplus(matMul2d(x2, this.noiseKernel.read() as tf.Tensor2D));
        logits = tf.add<tf.Tensor2D>(logits, tf.mul(tf.randomNormal([n, E], 0, 1, 'float32', this.noiseRng.tfSeed()), std));
      }
      const bias = (this.routingBias as tf.LayerVariable).read() as tf.Tensor1D;
      let biasValues = Array.from(bias.dataSync());
      // An all-zero bias changes no choice: it is not added (one kernel less per call).
      const biased = biasValues.some((b) => b !== 0);
      const capacity = expertCapacity(n, k, E, this.cfg.capacityFactor ?? undefined);
      const { normalizeGates, balanceLossWeight, zLossWeight } = this.cfg;
      const batched = this.cfg.dispatch === 'sparse' && this.sparseMode() === 'batched';
      let out: tf.Tensor2D;
      let gateValues: Float32Array;
      let plan: DispatchPlan;
      let balanceLoss: tf.Scalar;
      let zLoss: tf.Scalar;
      let auxLoss: tf.Scalar;
      let entropy: number;
      const runExperts = (gates: tf.Tensor2D): tf.Tensor2D => {
        if (batched) return this.batchedExperts(x2, { gates }, plan);
        if (this.cfg.dispatch === 'sparse') return this.sparseExperts(x2, gates, plan);
        const assigned = tf.tensor2d(plan.assignment, [n, k], 'int32'); // -1 (dropped) one-hot encodes to zeros
        const gateMatrix: tf.Tensor2D = tf.sum(tf.mul(tf.oneHot(assigned, E), tf.expandDims(gates, 2)), 1); // [n, k, E] -> [n, E]
        return this.denseExperts(x2, gateMatrix);
      };
      if (this.routerPath() === 'host') {
        // The router's per-token maths, losses and statistics in one host op (host-router.ts).
        const r = hostRoute(logits, { kind: this.cfg.router, topK: k, bias: biased ? biasValues : null, normalize: normalizeGates, balanceLossWeight, zLossWeight });
        plan = planDispatch(r.expertIndex, k, E, capacity);
        out = runExperts(r.gates);
        ({ gateValues, balanceLoss, zLoss, auxLoss, entropy } = r);
      } else {
        const choice = chooseExperts(logits, { kind: this.cfg.router, topK: k, bias: biased ? bias : undefined });
        plan = planDispatch(choice.expertIndex, k, E, capacity);
        if (batched && !normalizeGates) {
          // The gates are gathered from the scores straight into the padded rows; the statistics'
          // copy is TopK's values (the same floats) or, with a bias in them, picked from the scores.
          out = this.batchedExperts(x2, { scores: choice.scores }, plan);
          gateValues = biased ? pickOnHost(choice.scores.dataSync() as Float32Array, choice.expertIndex, E, k) : Float32Array.from(choice.topValues.dataSync());
        } else {
          const gates = pickGates(choice.scores, choice.expertIndex, k, normalizeGates);
          out = runExperts(gates);
          gateValues = Float32Array.from(gates.dataSync());
        }
        // f_i from the plan's counts (the routed slots, before the capacity cut), already on the host
        balanceLoss = loadBalancingLossFromCounts(choice.probs, plan.routed, k, 1);
        zLoss = routerZLoss(logits);
        auxLoss = tf.add(tf.mul(balanceLossWeight, balanceLoss), tf.mul(zLossWeight, zLoss));
        entropy = routerEntropy(choice.probs).dataSync()[0] as number;
      }
      if (this.sharedWeights) out = tf.add<tf.Tensor2D>(out, this.ffn(x2, this.sharedWeights));
      if (training && this.cfg.biasUpdateRate > 0) {
        biasValues = updateRoutingBias(biasValues, plan.routed, this.cfg.biasUpdateRate);
        (this.routingBias as tf.LayerVariable).write(tf.tensor1d(biasValues));
      }
      stats = {
        tokens: n,
        topK: k,
        capacity,
        load: plan.load,
        routed: plan.routed,
        droppedSlots: plan.droppedSlots,
        droppedTokens: plan.droppedTokens,
        routerEntropy: entropy,
        loadEntropy: loadEntropy(plan.routed),
        assignment: plan.assignment,
        gates: gateValues,
        bias: biasValues,
      };
      return { output: x.rank === 2 ? out : tf.reshape(out, x.shape), auxLoss, balanceLoss, zLoss };
    });
    return { ...tensors, stats: stats as unknown as MoEStats };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    assert(x instanceof tf.Tensor && (!Array.isArray(inputs) || inputs.length === 1), () => 'MoE takes exactly one input tensor');
    const r = this.forward(x, { training: kwargs?.training === true });
    tf.dispose([this.lastAuxLoss, this.lastBalanceLoss, this.lastZLoss].filter((t): t is tf.Scalar => t !== null));
    // Kept: they outlive the caller's tidy until the next call (model.fit reads lastAuxLoss via addLoss).
    this.lastAuxLoss = tf.keep(r.auxLoss);
    this.lastBalanceLoss = tf.keep(r.balanceLoss);
    this.lastZLoss = tf.keep(r.zLoss);
    this.lastStats = r.stats;
    return r.output;
  }

  /**
   * Changes the capacity factor (null = unbounded) of later calls, e.g. to study dropped tokens
   * on a trained layer.
   * @throws Error `capacityFactor must be > 0, got 0`.
   */
  setCapacityFactor(factor: number | null): void {
    assert(factor === null || (typeof factor === 'number' && factor > 0), () => `capacityFactor must be > 0, got ${show(factor)}`);
    (this.cfg as { capacityFactor: number | null }).capacityFactor = factor;
  }

  /** Current DeepSeek-V3 selection biases, one per expert. */
  routingBiasValues(): number[] {
    return this.routingBias ? Array.from(this.routingBias.read().dataSync()) : new Array<number>(this.cfg.experts).fill(0);
  }

  /** Releases the kept last-call loss tensors and the weights. */
  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    tf.dispose([this.lastAuxLoss, this.lastBalanceLoss, this.lastZLoss].filter((t): t is tf.Scalar => t !== null));
    this.lastAuxLoss = this.lastBalanceLoss = this.lastZLoss = null;
    // A layer used only through forward()/moeForward was never apply()'d: tfjs would refuse.
    if (this.built && this._refCount === null) this._refCount = 1;
    return super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    const c = this.cfg;
    const config: tf.serialization.ConfigDict = {
      experts: c.experts,
      topK: c.topK,
      expertHidden: c.expertHidden,
      units: this.units,
      sharedExperts: c.sharedExperts,
      sharedHidden: c.sharedHidden,
      router: c.router,
      normalizeGates: c.normalizeGates,
      capacityFactor: c.capacityFactor,
      balanceLossWeight: c.balanceLossWeight,
      zLossWeight: c.zLossWeight,
      biasUpdateRate: c.biasUpdateRate,
      noisyGating: c.noisyGating,
      activation: c.activation,
      dispatch: c.dispatch,
      useBias: c.useBias,
      seed: c.seed,
    };
    return { ...super.getConfig(), ...config };
  }

  /** @nocollapse */
  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const c = { ...config } as Record<string, unknown>;
    if (c.units === null) delete c.units;
    return new cls(c);
  }
}
tf.serialization.registerClass(MoE);

/**
 * Builds an {@link MoE} layer.
 * @throws Error naming a bad argument: `topK must be in [1, 8], got 9`, `capacityFactor must be > 0, got 0`.
 */
export function moe(args: MoEArgs): MoE {
  return new MoE(args);
}

/**
 * The functional forward pass for custom training loops: `{ output, auxLoss, balanceLoss, zLoss,
 * stats }`, all tensors owned by the caller. Builds the layer on first use.
 */
export function moeForward(layer: MoE, x: tf.Tensor, options: { training?: boolean } = {}): MoEForward {
  return layer.forward(x, options);
}

/** DeepSeekMoE's description of a layer (Dai et al. 2024, §3): a conventional MoE, segmented and with shared experts isolated. */
export interface FineGrainedMoEArgs {
  /** N: experts of the conventional MoE being segmented. */
  baseExperts: number;
  /** Hidden width of one conventional expert. */
  baseHidden: number;
  /** K: experts per token of the conventional MoE. */
  baseTopK: number;
  /** m: each expert is split into m experts of width baseHidden / m (must divide). */
  granularity: number;
  /** K_s: fine-grained experts isolated as shared (< m·K). */
  sharedExperts: number;
}

/**
 * DeepSeekMoE (Dai et al. 2024, §3.1–3.2): split each of N experts into m experts of width
 * `baseHidden / m`, route to m·K of them, and isolate K_s as shared experts: `mN − K_s` routed
 * experts, `mK − K_s` chosen per token, K_s shared, all of width `baseHidden / m`. Total and
 * active parameters stay those of the conventional MoE.
 * @returns the counts and widths for {@link MoEArgs}.
 * @throws Error `baseHidden (100) must be divisible by granularity (3)`, or a count out of range.
 */
export function fineGrainedMoEArgs(a: FineGrainedMoEArgs): Pick<MoEArgs, 'experts' | 'topK' | 'expertHidden' | 'sharedExperts' | 'sharedHidden'> {
  assertPositiveInteger(a.baseExperts, 'baseExperts');
  assertPositiveInteger(a.baseHidden, 'baseHidden');
  assertPositiveInteger(a.granularity, 'granularity');
  assertTopK(a.baseTopK, a.baseExperts);
  assert(a.baseHidden % a.granularity === 0, () => `baseHidden (${a.baseHidden}) must be divisible by granularity (${a.granularity})`);
  const mK = a.granularity * a.baseTopK;
  assert(Number.isInteger(a.sharedExperts) && a.sharedExperts >= 0 && a.sharedExperts < mK,
    () => `sharedExperts must be an integer in [0, ${mK - 1}] (fewer than granularity · baseTopK = ${mK}), got ${a.sharedExperts}`);
  const h = a.baseHidden / a.granularity;
  return {
    experts: a.granularity * a.baseExperts - a.sharedExperts,
    topK: mK - a.sharedExperts,
    expertHidden: h,
    sharedExperts: a.sharedExperts,
    sharedHidden: h,
  };
}
