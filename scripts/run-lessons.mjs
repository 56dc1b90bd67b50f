// npm run lessons [-- 00 03 ...]: executes lessons headless through the registered course kernel
// (jupyter nbconvert --execute), writes the executed copies to out/lessons/ (git-ignored), prints
// each lesson's wall time, and fails on any cell error, naming the cell and the error.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT, findJupyter, listLessons, run, writeFileAtomic } from './lib/env.mjs';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const outDir = join(ROOT, 'out', 'lessons');
const lessons = listLessons(filters);
if (lessons.length === 0) {
  console.error(`no lesson matches ${JSON.stringify(filters)} in notebooks/`);
  process.exit(1);
}
const jupyter = findJupyter();
if (!jupyter) {
  console.error('jupyter not found: run npm run setup');
  process.exit(1);
}

/** Text of a cell's outputs of one kind, for the failure report. */
function streamText(cell, name) {
  return (cell.outputs ?? [])
    .filter((o) => o.output_type === 'stream' && o.name === name)
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text))
    .join('');
}

/** The first failing cell of an executed notebook, or null. */
export function firstError(nb) {
  let codeIndex = 0;
  for (const [i, cell] of nb.cells.entries()) {
    if (cell.cell_type !== 'code') continue;
    codeIndex++;
    const err = (cell.outputs ?? []).find((o) => o.output_type === 'error');
    if (err) {
      const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
      const detail = [err.ename && `${err.ename}: ${err.evalue}`, ...(err.traceback ?? []), streamText(cell, 'stderr')]
        .filter(Boolean)
        .join('\n')
        .replace(/\x1b\[[0-9;]*m/g, '');
      return { cell: i + 1, codeCell: codeIndex, source: src, detail };
    }
  }
  return null;
}

const results = [];
for (const path of lessons) {
  const name = basename(path, '.ipynb');
  process.stdout.write(`${name} ... `);
  const t0 = Date.now();
  const r = run(
    jupyter,
    ['nbconvert', '--to', 'notebook', '--execute', '--allow-errors', '--ExecutePreprocessor.timeout=1200', '--output-dir', outDir, path],
    { cwd: join(ROOT, 'notebooks'), env: { ...process.env, FRUGAL_HEADLESS: '1' }, maxBuffer: 64 << 20 },
  );
  const wall = (Date.now() - t0) / 1000;
  let failure = null;
  if (r.status !== 0) failure = `nbconvert exited with ${r.status}\n${r.stderr.split('\n').slice(-30).join('\n')}`;
  else {
    const nb = JSON.parse(readFileSync(join(outDir, `${name}.ipynb`), 'utf8'));
    const e = firstError(nb);
    if (e) failure = `cell ${e.cell} (code cell ${e.codeCell}) failed:\n--- source\n${e.source}\n--- error\n${e.detail || '(no message)'}`;
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
