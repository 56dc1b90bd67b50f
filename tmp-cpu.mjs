import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import { CASES } from './bench/dist/cases/index.js';
await lib.initBackend({ force: 'wasm' });
const ids = process.argv.slice(2);
const inst = {};
for (const id of ids) { inst[id] = await CASES.find((k) => k.id === id).setup(); for (let i = 0; i < 5; i++) await inst[id].step(); }
const per = Object.fromEntries(ids.map((id) => [id, []]));
const B = 20;
for (let round = 0; round < 40; round++) {
  for (const id of ids) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < B; i++) { const r = await inst[id].step(); if (r instanceof tf.Tensor) { await r.data(); r.dispose(); } }
    const c = process.cpuUsage(c0);
    per[id].push((c.user + c.system) / B);
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
for (const id of ids) console.log(id, 'CPU µs/step median', med(per[id]).toFixed(0), 'p10', [...per[id]].sort((a,b)=>a-b)[4].toFixed(0));
for (const id of ids) inst[id].dispose();
