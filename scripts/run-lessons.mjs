// @ts-check
// npm run lessons [-- 00 03 ...]: executes lessons headless through this checkout's course
// kernel (nbclient, as jupyter nbconvert --execute does), writes the executed copies to
// out/lessons/ (git-ignored), prints each lesson's wall time, and fails on any cell error,
// naming the cell and the error.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT, listLessons, pythonWith, run, writeFileAtomic } from './lib/env.mjs';
import { checkoutKernelEnv } from './register-kernel.mjs';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const outDir = join(ROOT, 'out', 'lessons');
const lessons = listLessons(filters);
if (lessons.length === 0) {
  console.error(`no lesson matches ${JSON.stringify(filters)} in notebooks/`);
  process.exit(1);
}
// Jupyter's Python, or another that has nbclient (Debian's python3-nbclient, for instance).
const python = pythonWith(['nbclient', 'nbformat', 'jupyter_client']);
if (!python) {
  console.error('nbclient not found for any Python here: run npm run setup (or pip install nbclient)');
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
const results = [];
for (const path of lessons) {
  const name = basename(path, '.ipynb');
  process.stdout.write(`${name} ... `);
  const t0 = Date.now();
  const out = join(outDir, `${name}.ipynb`);
  const r = run(python, [join(ROOT, 'scripts', 'lib', 'execute_notebook.py'), path, out, '--timeout', '1200'], {
    cwd: join(ROOT, 'notebooks'),
    env: { ...checkoutKernelEnv(), FRUGAL_HEADLESS: '1' },
    maxBuffer: 64 << 20,
  });
  const wall = (Date.now() - t0) / 1000;
  let failure = null;
  let report = null;
  try {
    report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    failure = `the notebook runner failed (exit ${r.status}):\n${r.stderr.split('\n').slice(-30).join('\n')}`;
  }
  if (report && !report.ok) {
    failure = `cell ${report.cell ?? '?'} failed:\n--- source\n${report.source ?? '(unknown)'}\n--- error\n${report.error || '(no message)'}`;
  }
  results.push({ lesson: name, ok: failure === null, wall_s: Number(wall.toFixed(1)) });
  console.log(failure ? `FAILED in ${wall.toFixed(1)} s` : `ok in ${wall.toFixed(1)} s`);
  if (failure) console.log(failure.replace(/^/gm, '    '));
}

const total = results.reduce((s, x) => s + x.wall_s, 0);
const w = Math.max(...results.map((x) => x.lesson.length), 6);
console.log(`\n${'lesson'.padEnd(w)}  status  wall (s)`);
for (const x of results) console.log(`${x.lesson.padEnd(w)}  ${(x.ok ? 'ok' : 'FAILED').padEnd(6)}  ${x.wall_s.toFixed(1).padStart(8)}`);
console.log(`${'total'.padEnd(w)}          ${total.toFixed(1).padStart(8)}   (budget for the whole course: 600 s on WASM)`);
writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify({ date: new Date().toISOString(), results, total_s: total }, null, 2)}\n`);
const failed = results.filter((x) => !x.ok).length;
console.log(`lessons: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
