// npm run test:kernel: runs Debian's python3-jupyter-kernel-test conformance suite against the
// registered course kernel and compares each check with tests/kernel/expected.json, then the
// kernel's protocol tests (tests/kernel/test_protocol.py: counts, results, errors, interrupts).
// A check expected to pass that fails is an error; a check that now passes although expected
// to fail is reported, so that expected.json gets updated.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, jupyterPython, run } from './lib/env.mjs';
import { checkoutKernelEnv } from './register-kernel.mjs';

const py = jupyterPython();
if (!py || run(py, ['-c', 'import jupyter_kernel_test']).status !== 0) {
  console.error('jupyter_kernel_test not found for the Jupyter Python: apt-get install python3-jupyter-kernel-test (npm run setup)');
  process.exit(1);
}
const outFile = join(ROOT, 'out', 'kernel-test.json');
run('mkdir', ['-p', join(ROOT, 'out')]);
const t0 = Date.now();
// This checkout's kernel, whichever checkout registered the user's `frugal-ai` spec last.
const env = checkoutKernelEnv();
const r = run(py, [join(ROOT, 'tests', 'kernel', 'test_conformance.py'), outFile], { cwd: ROOT, env, timeout: 600_000 });
const wall = ((Date.now() - t0) / 1000).toFixed(1);
let outcomes;
try {
  outcomes = JSON.parse(readFileSync(outFile, 'utf8'));
} catch {
  console.error(`the conformance suite did not report (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
  process.exit(1);
}
const expected = JSON.parse(readFileSync(join(ROOT, 'tests', 'kernel', 'expected.json'), 'utf8')).checks;
const names = [...new Set([...Object.keys(expected), ...Object.keys(outcomes)])].sort();
let regressions = 0;
let improvements = 0;
console.log(`kernel conformance (${wall} s, jupyter_kernel_test via ${py})`);
console.log(`${'check'.padEnd(18)} ${'expected'.padEnd(9)} got`);
for (const n of names) {
  const e = expected[n] ?? '(new)';
  const g = outcomes[n] ?? '(missing)';
  let mark = '';
  if (e === 'pass' && g !== 'pass') {
    mark = '  <- REGRESSION';
    regressions++;
  } else if (e !== 'pass' && g === 'pass') {
    mark = '  <- now passes: update tests/kernel/expected.json';
    improvements++;
  }
  console.log(`${n.padEnd(18)} ${e.padEnd(9)} ${g}${mark}`);
}
if (regressions) console.log(`\n${r.stderr.slice(-4000)}`);
const passed = Object.values(outcomes).filter((x) => x === 'pass').length;
console.log(`kernel checks: ${passed} passed, ${names.length - passed} not passing (${regressions} regressions, ${improvements} improvements)`);

const t1 = Date.now();
const p = run(py, [join(ROOT, 'tests', 'kernel', 'test_protocol.py'), '-v'], { cwd: ROOT, env, timeout: 600_000 });
const noise = /Debugger warning|frozen modules|-Xfrozen_modules|PYDEVD_DISABLE|ResourceWarning|_warn\(/;
const lines = p.stderr.split('\n').filter((l) => !noise.test(l));
console.log(`\nkernel protocol tests (${((Date.now() - t1) / 1000).toFixed(1)} s, tests/kernel/test_protocol.py)`);
console.log(lines.join('\n').trim());
process.exit(regressions || improvements || p.status !== 0 ? 1 : 0);
