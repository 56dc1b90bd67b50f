// @ts-nocheck
// node scripts/moe-ratio.mjs [rounds]: the MoE bench pair (npm run bench's moe-sparse and
// moe-dense: 4096 tokens, d = 64, 8 experts of 128, top-2, forward + backward of mean(y²)),
// timed interleaved in one process: each round runs the sparse layer with host row moves, the
// sparse layer with gather/scatter kernels (rowMoves: 'kernels', the dispatch before issue 9's
// second pass), and the all-experts layer, one after the other, so that a shared machine's load
// changes hit all three alike. Prints the medians and the median of the per-round ratios.
// Needs npm run build first.
import { createRequire } from 'node:module';
import os from 'node:os';
const require = createRequire(import.meta.url);
const lib = require('@frugal-ai/lib');
const tf = require('@tensorflow/tfjs');
const rounds = Number(process.argv[2] ?? 9);
console.log(await lib.initBackend({}).then((r) => lib.describeBackend(r)));
console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}`);
const [n, d, h, E, k] = [4096, 64, 128, 8, 2];
/** Same hash fill as scripts/bench.mjs. */
function hashFill(rows, cols, seed, scale) {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    let x = (i + seed * 0x1000000) >>> 0;
    x = Math.imul((x >>> 16) ^ x, 0x45d9f3b) >>> 0;
    x = Math.imul((x >>> 16) ^ x, 0x45d9f3b) >>> 0;
    x = ((x >>> 16) ^ x) >>> 0;
    out[i] = ((x / 2 ** 32) * 2 - 1) * scale;
  }
  return tf.tensor2d(out, [rows, cols]);
}
const glorot = (a, b) => Math.sqrt(6 / (a + b));
const x = hashFill(n, d, 40, 1);
function make(dispatch, rowMoves) {
  const layer = lib.moe({ experts: E, topK: k, expertHidden: h, units: d, useBias: false, dispatch });
  layer.build([null, d]);
  layer.rowMoves = rowMoves;
  const weights = [hashFill(d, E, 41, glorot(d, E))];
  for (let e = 0; e < E; e++) weights.push(hashFill(d, h, 50 + e, glorot(d, h)), hashFill(h, d, 60 + e, glorot(h, d)));
  weights.push(tf.zeros([E]));
  layer.setWeights(weights);
  tf.dispose(weights);
  const vars = layer.trainableWeights.map((w) => w.read());
  return () => {
    const { value, grads } = tf.variableGrads(() => {
      const r = lib.moeForward(layer, x);
      tf.dispose([r.auxLoss, r.balanceLoss, r.zLoss]);
      return tf.mean(tf.square(r.output));
    }, vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
}
const cases = { 'sparse, host moves': make('sparse', 'host'), 'sparse, kernels': make('sparse', 'kernels'), 'all experts': make('dense', 'auto') };
const times = Object.fromEntries(Object.keys(cases).map((c) => [c, []]));
for (const run of Object.values(cases)) { run(); run(); } // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [c, run] of Object.entries(cases)) {
    const t0 = performance.now();
    run();
    times[c].push(performance.now() - t0);
  }
}
const median = (a) => { const b = [...a].sort((p, q) => p - q); return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2; };
for (const [c, t] of Object.entries(times)) console.log(`${c.padEnd(20)} median ${median(t).toFixed(0)} ms`);
const dense = times['all experts'];
for (const c of ['sparse, host moves', 'sparse, kernels']) {
  const ratios = times[c].map((t, i) => t / dense[i]);
  console.log(`${c} ÷ all experts: per-round ratios ${ratios.map((v) => v.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(3)}`);
}
console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')}; FLOPs ratio 0.25`);
