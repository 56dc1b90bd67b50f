#!/usr/bin/env node
// @ts-check
// npm run student [-- 03 05 ... | path.ipynb ...]
//   Writes the student edition of every lesson (or of the ones named) to out/student/
//   (git-ignored): each solution region (`// BEGIN SOLUTION` … `// END SOLUTION`) becomes a stub
//   that throws "Exercise N: not implemented", every output is cleared, check cells are kept.
//
// npm run student -- --check [--full] [--json] [lessons or paths]
//   Executes both editions of every selected lesson that has exercises, in one kernel per lesson,
//   and checks that each solution passes its check and that the blank student edition fails at
//   its check cells with an assertion (or the stub's "not implemented"), not a crash elsewhere.
//
//   Cost: by default only the lesson's setup runs before the exercises (its first code cell, the
//   body cells declaring names the exercises use, and the cells tagged `exercise-setup`), so a
//   lesson costs seconds to a minute, not its full run. When the exercises use a name from the
//   body that this misses, the lesson is run again with its whole body (`--full` forces that for
//   every lesson) and a note says which name was missing.
//   Executed check notebooks go to out/student-check/. See docs/exercises.md.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ROOT, jupyterPython, listLessons, run, writeFileAtomic } from './lib/env.mjs';
import { checkNotebook, isMissingName, judge, parseExercises, studentEdition } from './lib/exercises.mjs';
import { checkoutKernelEnv } from './register-kernel.mjs';

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const names = args.filter((a) => !a.startsWith('--'));
const CELL_TIMEOUT_S = 600;

/** Notebook paths: explicit .ipynb paths, else lessons matching the prefixes (all by default). */
function selected() {
  const paths = names.filter((a) => a.endsWith('.ipynb')).map((p) => resolve(p));
  const prefixes = names.filter((a) => !a.endsWith('.ipynb'));
  const lessons = prefixes.length || paths.length === 0 ? listLessons(prefixes) : [];
  for (const p of paths) if (!existsSync(p)) throw new Error(`no such notebook: ${p}`);
  return [...lessons, ...paths];
}

/**
 * @param {string} path
 * @returns {import('./lib/exercises.mjs').Notebook}
 */
function readNotebook(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * Writes the student editions; returns the exit code.
 * @param {string[]} list
 */
function writeEditions(list) {
  const outDir = join(ROOT, 'out', 'student');
  let failed = 0;
  for (const path of list) {
    const name = basename(path, '.ipynb');
    try {
      const nb = readNotebook(path);
      const n = parseExercises(nb, name).length;
      const out = join(outDir, `${name}.ipynb`);
      writeFileAtomic(out, `${JSON.stringify(studentEdition(nb, name), null, 1)}\n`);
      console.log(`${name}: ${n} exercise(s) -> ${out.slice(ROOT.length + 1)}`);
    } catch (e) {
      failed++;
      console.error(`${name}: ${e instanceof Error ? e.message : e}`);
    }
  }
  return failed ? 1 : 0;
}

/**
 * Executes the check notebook of one lesson in `mode`; returns {judged, errors, wall_s}.
 * @param {string} path
 * @param {import('./lib/exercises.mjs').Notebook} nb
 * @param {'cheap' | 'full'} mode
 * @param {string} python
 */
function execute(path, nb, mode, python) {
  const name = basename(path, '.ipynb');
  const { nb: combined, roles } = checkNotebook(nb, mode, name);
  const dir = join(ROOT, 'out', 'student-check');
  const src = join(dir, `${name}.${mode}.in.ipynb`);
  const dst = join(dir, `${name}.${mode}.ipynb`);
  writeFileAtomic(src, JSON.stringify(combined));
  const t0 = Date.now();
  const r = run(python, [join(ROOT, 'scripts', 'lib', 'execute_notebook.py'), src, dst, '--timeout', String(CELL_TIMEOUT_S), '--allow-errors'], {
    cwd: dirname(path),
    env: { ...checkoutKernelEnv(), FRUGAL_HEADLESS: '1', FRUGAL_PLOT_PNG: '0' },
    maxBuffer: 64 << 20,
  });
  const wall_s = Number(((Date.now() - t0) / 1000).toFixed(1));
  /** @type {import('./lib/env.mjs').RunnerReport} */
  let report;
  try {
    report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    throw new Error(`the notebook runner failed (exit ${r.status}):\n${r.stderr.split('\n').slice(-20).join('\n')}`);
  }
  const errors = new Map((report.errors ?? []).map((e) => [e.cell, e]));
  return { judged: judge(roles, errors, name), roles, errors, wall_s, executed: dst };
}

/**
 * The result of checking one lesson (`skipped` when it has no exercises).
 * @typedef {{ lesson: string, ok: boolean, exercises?: number, skipped?: string, mode?: string, wall_s?: number,
 *   per?: { n: number, solution: string, student: string }[], problems?: string[], note?: string, executed?: string }} LessonCheck
 */

/**
 * Checks both editions of one lesson; returns a result record.
 * @param {string} path
 * @param {string} python
 * @returns {LessonCheck}
 */
function checkLesson(path, python) {
  const name = basename(path, '.ipynb');
  const nb = readNotebook(path);
  const exercises = parseExercises(nb, name);
  if (exercises.length === 0) return { lesson: name, exercises: 0, ok: true, skipped: 'no exercises' };
  /** @type {'cheap' | 'full'} */
  let mode = flags.has('--full') ? 'full' : 'cheap';
  let res = execute(path, nb, mode, python);
  let note;
  if (mode === 'cheap') {
    // Any failure on the solution side of a cheap run (a name it missed, a cleanup in a check that
    // counts tensors the skipped cells would have freed) gets a second chance with the whole body.
    const failedAt = [...res.errors.entries()].find(([i]) => ['setup', 'solution', 'check', 'other'].includes(res.roles[i]?.role ?? ''));
    if (failedAt) {
      const e = failedAt[1];
      const why = `${e.ename}: ${(String(e.evalue).split('\n')[0] ?? '').slice(0, 120)}`;
      note = isMissingName(e)
        ? `the exercises need a name of the lesson's body that the cheap run missed (${why}); ran the whole body. Tag its cell "exercise-setup" to make this cheap.`
        : `the cheap run failed on the solution side (${why}); ran the whole body.`;
      mode = 'full';
      const cheap = res.wall_s;
      res = execute(path, nb, mode, python);
      res.wall_s = Number((res.wall_s + cheap).toFixed(1));
    }
  }
  const { exercises: per, problems } = res.judged;
  return { lesson: name, exercises: exercises.length, mode, wall_s: res.wall_s, per, problems, note, ok: problems.length === 0, executed: res.executed };
}

/**
 * Checks every lesson of `list`; returns the exit code.
 * @param {string[]} list
 */
function checkAll(list) {
  const python = jupyterPython();
  if (!python || run(python, ['-c', 'import nbclient']).status !== 0) {
    console.error('student --check: nbclient not found for the Jupyter Python: run npm run setup');
    return 1;
  }
  /** @type {LessonCheck[]} */
  const results = [];
  for (const path of list) {
    const name = basename(path, '.ipynb');
    /** @type {LessonCheck} */
    let r;
    try {
      r = checkLesson(path, python);
    } catch (e) {
      r = { lesson: name, ok: false, problems: [e instanceof Error ? e.message : String(e)], per: [] };
    }
    results.push(r);
    if (flags.has('--json')) continue;
    if (r.skipped) {
      console.log(`${name}: ${r.skipped}`);
      continue;
    }
    console.log(`${name}: ${r.ok ? 'ok' : 'FAILED'} (${r.exercises ?? '?'} exercise(s), ${r.mode ?? '?'} run, ${r.wall_s ?? '?'} s)`);
    for (const e of r.per ?? []) console.log(`  exercise ${e.n}: solution ${e.solution}; blank student edition fails at its check with "${e.student}"`);
    if (r.note) console.log(`  note: ${r.note}`);
    for (const p of r.problems ?? []) console.log(`  PROBLEM: ${p}`);
  }
  if (flags.has('--json')) console.log(JSON.stringify(results));
  const failed = results.filter((r) => !r.ok).length;
  const checked = results.filter((r) => !r.skipped).length;
  if (!flags.has('--json')) console.log(`exercises: ${checked} lesson(s) with exercises checked, ${failed} failed, ${results.length - checked} without exercises`);
  return failed ? 1 : 0;
}

let list;
try {
  list = selected();
} catch (e) {
  console.error(`student: ${e instanceof Error ? e.message : e}`);
  process.exit(2);
}
if (list.length === 0) {
  console.error(`student: no lesson matches ${JSON.stringify(names)}`);
  process.exit(2);
}
process.exit(flags.has('--check') ? checkAll(list) : writeEditions(list));
