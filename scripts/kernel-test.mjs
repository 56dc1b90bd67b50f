// @ts-check
// npm run test:kernel: runs the jupyter_kernel_test conformance suite against this checkout's
// course kernel and compares each check with tests/kernel/expected.json, then the kernel's
// protocol tests (tests/kernel/test_protocol.py: counts, results, errors, interrupts, async
// errors after each backend, a soak).
//
// It cannot pass on stale or partial results: the previous results file is deleted first; a
// suite that exits non-zero, times out or writes no results fails the run; and every check that
// does not have its expected outcome fails it, whether it failed before or not. A check that
// now passes although expected.json says otherwise fails too, so that expected.json is updated.
//
// The suites run under the first Python that has jupyter_client and jupyter_kernel_test:
// Jupyter's own, else Debian's /usr/bin/python3 (python3-jupyter-kernel-test), else python3.
// Environment: FRUGAL_KERNEL_TEST_TIMEOUT_S (per suite, default 1200), FRUGAL_PYTHON.
import { existsSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, pythonWith, run } from './lib/env.mjs';
import { checkoutKernelEnv } from './register-kernel.mjs';

const TIMEOUT_MS = 1000 * Number(process.env.FRUGAL_KERNEL_TEST_TIMEOUT_S ?? 1200);

const py = pythonWith(['jupyter_client', 'jupyter_kernel_test']);
if (!py) {
  console.error(
    [
      'jupyter_kernel_test is not installed for any Python here (Jupyter\'s, /usr/bin/python3, python3).',
      'Install it with one of:',
      '  sudo apt-get install -y python3-jupyter-kernel-test   (Debian; runs under /usr/bin/python3)',
      '  <your Jupyter Python> -m pip install jupyter_kernel_test',
      'npm run setup does this when it can.',
    ].join('\n'),
  );
  process.exit(1);
}
const outFile = join(ROOT, 'out', 'kernel-test.json');
mkdirSync(join(ROOT, 'out'), { recursive: true });
rmSync(outFile, { force: true }); // never compare a previous run's results
const env = checkoutKernelEnv(); // this checkout's kernel, whichever checkout registered `frugal-ai` last
/** @type {string[]} */
const failures = [];

const t0 = Date.now();
const r = run(py, [join(ROOT, 'tests', 'kernel', 'test_conformance.py'), outFile], { cwd: ROOT, env, timeout: TIMEOUT_MS });
const wall = ((Date.now() - t0) / 1000).toFixed(1);
if (r.timedOut) failures.push(`the conformance suite timed out after ${TIMEOUT_MS / 1000} s`);
else if (r.status !== 0) failures.push(`the conformance suite exited with ${r.status}`);

/** @type {Record<string, string>} */
let outcomes = {};
if (existsSync(outFile)) outcomes = JSON.parse(readFileSync(outFile, 'utf8'));
else failures.push('the conformance suite wrote no results');
/** @type {Record<string, string>} */
const expected = JSON.parse(readFileSync(join(ROOT, 'tests', 'kernel', 'expected.json'), 'utf8')).checks;
const names = [...new Set([...Object.keys(expected), ...Object.keys(outcomes)])].sort();
console.log(`kernel conformance (${wall} s, jupyter_kernel_test via ${py})`);
console.log(`${'check'.padEnd(18)} ${'expected'.padEnd(9)} got`);
for (const n of names) {
  const e = expected[n] ?? '(none)';
  const g = outcomes[n] ?? '(missing)';
  let mark = '';
  if (g !== e) {
    mark = g === 'pass' ? '  <- FAILS: now passes, update tests/kernel/expected.json' : '  <- FAILS';
    failures.push(`conformance check ${n}: expected ${e}, got ${g}`);
  } else if (g === 'fail') {
    mark = '  <- FAILS (expected.json lists it as failing: still a failure)';
    failures.push(`conformance check ${n} fails`);
  }
  console.log(`${n.padEnd(18)} ${e.padEnd(9)} ${g}${mark}`);
}
if (failures.length) console.log(`\n${r.stderr.slice(-4000)}`);

const t1 = Date.now();
const p = run(py, [join(ROOT, 'tests', 'kernel', 'test_protocol.py'), '-v'], { cwd: ROOT, env, timeout: TIMEOUT_MS });
const noise = /Debugger warning|frozen modules|-Xfrozen_modules|PYDEVD_DISABLE|ResourceWarning|_warn\(/;
const lines = p.stderr.split('\n').filter((l) => !noise.test(l));
console.log(`\nkernel protocol tests (${((Date.now() - t1) / 1000).toFixed(1)} s, tests/kernel/test_protocol.py)`);
console.log(lines.join('\n').trim());
if (p.timedOut) failures.push(`the protocol tests timed out after ${TIMEOUT_MS / 1000} s`);
else if (p.status !== 0) failures.push(`the protocol tests exited with ${p.status}`);
if (!p.timedOut && !/^OK\b/m.test(p.stderr)) failures.push('the protocol tests did not report OK');

if (failures.length) {
  console.log(`\nkernel tests FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  process.exit(1);
}
console.log('\nkernel tests: all checks as expected, protocol tests OK');
