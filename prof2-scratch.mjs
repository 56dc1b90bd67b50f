import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'module';
const require = createRequire(process.cwd() + '/x.js');
const lib = require('@frugal-ai/lib');
await lib.initBackend('wasm');
const { denseStack } = await import(process.cwd() + '/bench/dist/fill.js');
const x = tf.randomNormal([64, 64]); const y = tf.tensor1d(Array.from({length:64},(_, i)=>i%10),'int32');
const t = tf.randomNormal([64,10]);
for (const fusedDense of [true, false]) {
const student = denseStack([64, 8, 10], 20);
const opt = lib.flatAdam(0.01, 0.9, 0.999, 1e-7);
const loss = lib.distillationLoss({ alpha: 0.5, temperature: 4, trusted: true });
const data = { x, y, teacherLogits: t };
const run = () => lib.train(student, data, { epochs: 1, batchSize: 64, optimizer: opt, progress: false, fusedDense, rng: new lib.Rng(7), loss: (b, l) => loss(b.y, l, b.teacherLogits) });
for (let i=0;i<50;i++) await run();
const per = {};
for (let it=0; it<41; it++) { const info = await tf.profile(async () => { await run(); });
  const seen = {}; for (const k of info.kernels) { const key = k.name + '#' + (seen[k.name] = (seen[k.name]??0)+1); (per[key] ??= []).push(k.kernelTimeMs*1000); } }
let tot=0; const rows=[];
for (const [k, v] of Object.entries(per)) { v.sort((a,b)=>a-b); const m=v[Math.floor(v.length/2)]; tot+=m; rows.push(`${k} ${m.toFixed(1)}`); }
console.log('fusedDense', fusedDense, 'sum of medians us', tot.toFixed(0)); console.log(rows.join(' | '));
const t0=performance.now(); for (let i=0;i<300;i++) await run(); console.log('step us', ((performance.now()-t0)/300*1000).toFixed(0));
}
