/**
 * Lessons 06-08's MoE layer (lib/moe/layer.ts), forward + backward: does compute follow the
 * active experts? The sparse dispatch against all experts on every token.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase } from '../case.js';
import { glorot, hashFill, trainableVariables } from '../fill.js';

/**
 * 4096 tokens of width d through 8 experts d -> h -> d (relu, no biases), softmax router,
 * top-2, gates = the chosen probabilities, loss = mean(y^2), gradients of every weight.
 */
export const MOE = { tokens: 4096, d: 64, h: 128, experts: 8, topK: 2 } as const;

/** FLOPs of one forward + backward (x3) running `active` experts per token, plus the router. */
export const moeFlops = (active: number): number => 3 * MOE.tokens * (2 * MOE.d * MOE.experts + active * 4 * MOE.d * MOE.h);

/**
 * `dense: true` runs all 8 experts on every token and weights them by the same (zero for
 * unchosen) gates; `dense: false` is the sparse dispatch (each expert gets its own tokens) in the
 * layer's default mode (`'auto'`: host row moves on cpu, capacity-padded batched products on
 * wasm and tensorflow) or a given one (`'kernels'`: gather/scatter kernels, the dispatch
 * before issue 9's second pass; `'batched'`: capacity-padded). `routerMath` picks the router
 * path (`'auto'`: the one-op host router on tensorflow, tensor ops elsewhere; lib/moe/host-router.ts).
 * -> [d, E] (the router kernel's gradient, which depends on every chosen expert)
 */
function moeSetup(dense: boolean, rowMoves: lib.SparseMode | 'auto' = 'auto', routerMath: lib.RouterMath | 'auto' = 'auto') {
  const { tokens: n, d, h, experts: E } = MOE;
  const layer = lib.moe({ experts: E, topK: MOE.topK, expertHidden: h, units: d, useBias: false, dispatch: dense ? 'dense' : 'sparse' });
  layer.rowMoves = rowMoves;
  layer.routerMath = routerMath;
  layer.build([null, d]);
  // getWeights order: the trainable weights as created, then the non-trainable routing bias
  const weights: tf.Tensor[] = [hashFill(d, E, 41, glorot(d, E))]; // router kernel [d, E]
  for (let e = 0; e < E; e++) weights.push(hashFill(d, h, 50 + e, glorot(d, h)), hashFill(h, d, 60 + e, glorot(h, d))); // w1 [d, h], w2 [h, d]
  weights.push(tf.zeros([E])); // routing bias [E]
  layer.setWeights(weights);
  tf.dispose(weights);
  const x = hashFill(n, d, 40, 1); // [n, d]
  const vars = trainableVariables(layer);
  const routerName = vars[0]?.name ?? '';
  const step = (): tf.Tensor => {
    const { value, grads } = tf.variableGrads(() => {
      const r = lib.moeForward(layer, x);
      tf.dispose([r.auxLoss, r.balanceLoss, r.zLoss]);
      return tf.mean(tf.square(r.output));
    }, vars);
    const router = grads[routerName];
    if (!router) throw new Error(`no gradient for the router kernel ${routerName}`);
    tf.dispose([value, ...Object.values(grads).filter((g) => g !== router)]);
    return router;
  };
  return { step, dispose: () => { x.dispose(); layer.dispose(); } };
}

/** The sparse MoE layer (host row moves, then gather/scatter kernels), and the same layer running every expert. */
export const moeCases: BenchCase[] = [
  {
    id: 'moe-sparse',
    title: 'MoE top-2 of 8, sparse',
    family: 'moe',
    what: "lessons 06-08's MoE layer, forward + backward: 4096 tokens, d = 64, 8 experts of width 128, top-2; each expert runs on its own tokens, in the backend's default sparse mode (host row moves on cpu, batched on wasm and tensorflow) and router path (one host op on tensorflow, tensor ops elsewhere)",
    bound: 'FLOPs',
    boundWhy: 'the batched products (wasm, tensorflow); row moves and per-expert kernels (cpu)',
    params: { ...MOE, dense: 0 },
    flops: moeFlops(MOE.topK),
    torch: 'moe',
    setup: () => moeSetup(false),
  },
  {
    id: 'moe-sparse-kernels',
    title: 'MoE top-2 of 8, sparse, kernels',
    family: 'moe',
    what: "the sparse layer moving its rows with gather/scatter kernels (`layer.rowMoves = 'kernels'`, the dispatch before issue 9's host moves)",
    bound: 'memory',
    boundWhy: 'gathers, splits, transposes and scatter-adds of tokens × width',
    params: { ...MOE, dense: 0 },
    flops: moeFlops(MOE.topK),
    torch: 'moe',
    setup: () => moeSetup(false, 'kernels'),
  },
  {
    id: 'moe-sparse-batched',
    title: 'MoE top-2 of 8, sparse, batched',
    family: 'moe',
    what: "the sparse layer capacity-padded (`layer.rowMoves = 'batched'`): one gather into [E', C, d], two batched products with the stacked experts, one scatter-add back (on tensorflow, gathers instead of the scatter-adds: lib/moe/padded-moves.ts)",
    bound: 'FLOPs',
    boundWhy: "E'·C rows through batched products, C the largest expert load; kernels constant in E",
    params: { ...MOE, dense: 0 },
    flops: moeFlops(MOE.topK),
    torch: 'moe',
    setup: () => moeSetup(false, 'batched'),
  },
  {
    id: 'moe-dense',
    title: 'MoE, all 8 experts run',
    family: 'moe',
    what: "the same layer running all 8 experts on every token (`dispatch: 'dense'`), weighted by the same gates",
    bound: 'FLOPs',
    boundWhy: 'two 2-D products over the stacked experts',
    params: { ...MOE, dense: 1 },
    flops: moeFlops(MOE.experts),
    torch: 'moe',
    setup: () => moeSetup(true),
  },
  {
    id: 'moe-sparse-tensor-router',
    title: 'MoE top-2 of 8, sparse, tensor-op router',
    family: 'moe',
    what: "moe-sparse with the router's per-token maths as tensor ops (`layer.routerMath = 'tensors'`, the path before issue 9's host router)",
    bound: 'memory',
    boundWhy: 'a hundred-odd small [n, E] kernels of the router, plus the experts',
    params: { ...MOE, dense: 0 },
    flops: moeFlops(MOE.topK),
    torch: 'moe',
    setup: () => moeSetup(false, 'auto', 'tensors'),
  },
  {
    id: 'moe-dense-tensor-router',
    title: 'MoE, all 8 experts run, tensor-op router',
    family: 'moe',
    what: "moe-dense with the router's per-token maths as tensor ops (`layer.routerMath = 'tensors'`)",
    bound: 'FLOPs',
    boundWhy: 'two 2-D products over the stacked experts, plus the router kernels',
    params: { ...MOE, dense: 1 },
    flops: moeFlops(MOE.experts),
    torch: 'moe',
    setup: () => moeSetup(true, 'auto', 'tensors'),
  },
  {
    id: 'moe-sparse-host-router',
    title: 'MoE top-2 of 8, sparse, host router',
    family: 'moe',
    what: "moe-sparse with the router's per-token maths in one host op (`layer.routerMath = 'host'`, lib/moe/host-router.ts)",
    bound: 'memory',
    boundWhy: 'the experts, plus one host pass over the [n, E] logits forward and one backward',
    params: { ...MOE, dense: 0 },
    flops: moeFlops(MOE.topK),
    torch: 'moe',
    setup: () => moeSetup(false, 'auto', 'host'),
  },
  {
    id: 'moe-dense-host-router',
    title: 'MoE, all 8 experts run, host router',
    family: 'moe',
    what: "moe-dense with the router's per-token maths in one host op (`layer.routerMath = 'host'`)",
    bound: 'FLOPs',
    boundWhy: 'two 2-D products over the stacked experts, plus one host pass of the router',
    params: { ...MOE, dense: 1 },
    flops: moeFlops(MOE.experts),
    torch: 'moe',
    setup: () => moeSetup(true, 'auto', 'host'),
  },
];
