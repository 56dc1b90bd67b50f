// @ts-check
// npm test: every check of the course, in order, each timed. All steps run even after a
// failure, so one run shows everything that is wrong; the exit code is 1 if any failed.
// `npm test -- --quick` skips the lessons, the browser check and the kernel suite.
import { spawnSync } from 'node:child_process';
import { ROOT } from './lib/env.mjs';

const quick = process.argv.includes('--quick');
/** @typedef {[name: string, cmd: string, args: string[]]} Step */
/** @type {Step[]} */
const steps = [
  ['typecheck (lib, tests)', 'npm', ['run', '-s', 'typecheck']],
  ['build lib', 'npm', ['run', '-s', 'build']],
  ['typecheck (lessons)', 'node', ['scripts/typecheck-lessons.mjs']],
  ['unit tests (vitest)', 'npx', ['vitest', 'run']],
  ['markdownlint', 'node', ['scripts/lint-md.mjs']],
  ['eslint (typescript-eslint, type-checked)', 'npm', ['run', '-s', 'lint']],
  ['bench smoke (every case once, leak-checked, no PyTorch)', 'node', ['bench/dist/main.js', '--smoke']],
  ['lessons: no code repeated across lessons, no code line over 100 characters', 'node', ['scripts/check-lesson-duplicates.mjs']],
  ...(quick
    ? []
    : /** @type {Step[]} */ ([
        ['lessons, headless', 'node', ['scripts/run-lessons.mjs']],
        ['exercises (student and solution editions)', 'node', ['scripts/student.mjs', '--check']],
        ['reproducibility (lesson 01 twice, identical figures)', 'node', ['scripts/reproduce.mjs', '--twice', '01']],
        ['browser check', 'node', ['scripts/browser-check.mjs']],
        ['lesson 00 in JupyterLab (Chromium)', 'node', ['scripts/jupyterlab-check.mjs', '00']],
        ['kernel conformance', 'node', ['scripts/kernel-test.mjs']],
      ])),
];

const results = [];
for (const [name, cmd, args] of steps) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  const s = (Date.now() - t0) / 1000;
  results.push({ name, ok: r.status === 0, s });
  console.log(`=== ${name}: ${r.status === 0 ? 'ok' : `FAILED (exit ${r.status})`} in ${s.toFixed(1)} s`);
}

console.log('\nnpm test summary');
for (const r of results) console.log(`  ${r.ok ? 'ok    ' : 'FAILED'}  ${r.s.toFixed(1).padStart(7)} s  ${r.name}`);
const total = results.reduce((a, r) => a + r.s, 0);
console.log(`  total   ${total.toFixed(1).padStart(7)} s`);
const failed = results.filter((r) => !r.ok).length;
console.log(`steps: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
