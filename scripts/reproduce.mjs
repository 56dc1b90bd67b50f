#!/usr/bin/env node
// @ts-check
// npm run reproduce [-- 00 03 ...]: re-executes the course headless from a clean state and writes
//   out/reproduce/notebooks/   the executed lessons;
//   out/reproduce/book/        a browsable offline book (index, navigation, interactive figures,
//                              maths; plotly.js and KaTeX copied once into assets/), checked
//                              in Chromium (browser-check --book: every page, figure, formula);
//   out/reproduce/RESULTS.md   every key figure (lib/results EXPECTED) with the recorded value;
//                              after a run of the whole course also RESULTS.md at the top of the
//                              repository; and the README's course map, with the lesson times.
// It fails when a lesson fails, or a key figure of a lesson that ran is outside its tolerance or
// was never checked. A progress line says which lesson runs and the time so far.
//
// Clean state: the lib is rebuilt, out/reproduce/ is removed, and the lessons run in a fresh copy
// of notebooks/ (out/reproduce/work/) so that no cache of an earlier run (.cache/) is reused.
//
// node scripts/reproduce.mjs --twice 01: runs lesson 01 twice from a clean state and fails unless
// both runs give identical key figures and identical figure data (the reproducibility test).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { ROOT, jupyterPython, listLessons, run, writeFileAtomic } from './lib/env.mjs';
import { courseMapMarkdown, formatSeconds, lessonInfo, readmeGoals, timesFromMap, withCourseMap } from './lib/course.mjs';
import { allOk, loadExpected, readRecorded, resultRows, resultsMarkdown } from './lib/results.mjs';
import { checkoutKernelEnv } from './register-kernel.mjs';

const argv = process.argv.slice(2);
const twice = argv.includes('--twice');
const filters = argv.filter((a) => !a.startsWith('-'));
const OUT = join(ROOT, 'out', 'reproduce');
const tty = process.stdout.isTTY;
const t0 = Date.now();
const clock = () => formatSeconds((Date.now() - t0) / 1000);

/** @typedef {import('./lib/env.mjs').Notebook} Notebook */

/**
 * The progress line: rewritten in place on a terminal, one line per change otherwise.
 * @param {string} text
 */
function progress(text, final = false) {
  if (tty) process.stdout.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
  else if (final) console.log(text);
}

/**
 * Runs one lesson with nbclient in `work`, recording figures in `resultsDir`; resolves {ok, wall_s, failure}.
 * @param {string} python
 * @param {string} nbPath
 * @param {string} outPath
 * @param {string} resultsDir
 * @param {string} label
 * @returns {Promise<{ ok: boolean, wall_s: number, failure: string | null }>}
 */
function runLesson(python, nbPath, outPath, resultsDir, label) {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn(python, [join(ROOT, 'scripts', 'lib', 'execute_notebook.py'), nbPath, outPath, '--timeout', '1200'], {
      cwd: join(nbPath, '..'),
      env: { ...checkoutKernelEnv(), FRUGAL_HEADLESS: '1', FRUGAL_RESULTS_DIR: resultsDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const tick = setInterval(() => progress(`${label} · ${formatSeconds((Date.now() - start) / 1000)} in this lesson · ${clock()} so far`), tty ? 1000 : 60_000);
    if (!tty) console.log(`${label} · started at ${clock()}`);
    child.on('close', (code) => {
      clearInterval(tick);
      const wall_s = (Date.now() - start) / 1000;
      let failure = null;
      try {
        const report = /** @type {import('./lib/env.mjs').RunnerReport} */ (JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
        if (!report.ok) failure = `cell ${report.cell ?? '?'}: ${String(report.error ?? '').split('\n').slice(0, 6).join('\n')}`;
      } catch {
        failure = `the notebook runner failed (exit ${code}): ${stderr.split('\n').slice(-10).join('\n')}`;
      }
      resolve({ ok: failure === null, wall_s, failure });
    });
  });
}

/**
 * A clean working copy of notebooks/ (lessons and their side files, no caches or checkpoints).
 * @param {string} dir
 */
function freshWork(dir) {
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(ROOT, 'notebooks'), dir, {
    recursive: true,
    filter: (src) => !/(^|\/)(\.cache|\.ipynb_checkpoints|out)(\/|$)/.test(src.slice(join(ROOT, 'notebooks').length)),
  });
}

/**
 * Runs `lessons` into `dir` (work/, notebooks/, results/); returns the per-lesson records.
 * @param {string} python
 * @param {string[]} lessons
 * @param {string} dir
 */
async function runAll(python, lessons, dir) {
  const work = join(dir, 'work');
  freshWork(work);
  mkdirSync(join(dir, 'notebooks'), { recursive: true });
  /** @type {{ lesson: string, id: string, ok: boolean, wall_s: number, failure: string | null }[]} */
  const runs = [];
  for (const [i, path] of lessons.entries()) {
    const name = basename(path, '.ipynb');
    const label = `[${i + 1}/${lessons.length}] ${name}`;
    const r = await runLesson(python, join(work, `${name}.ipynb`), join(dir, 'notebooks', `${name}.ipynb`), join(dir, 'results'), label);
    runs.push({ lesson: name, id: name.slice(0, 2), ...r });
    progress(`${label} · ${r.ok ? 'ok' : 'FAILED'} in ${formatSeconds(r.wall_s)} · ${clock()} so far`, true);
    if (r.failure) console.log(r.failure.replace(/^/gm, '    '));
  }
  return runs;
}

/**
 * Plotly figure data of an executed notebook, in order (layout and traces as JSON).
 * @param {string} nbPath
 */
function figuresOf(nbPath) {
  const nb = /** @type {Notebook} */ (JSON.parse(readFileSync(nbPath, 'utf8')));
  return nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => o.data?.['application/vnd.plotly.v1+json']).filter(Boolean)).map((f) => JSON.stringify(f));
}

/**
 * The reproducibility test: one lesson, run twice from a clean state, same figures.
 * @param {string} python
 */
async function reproducibility(python) {
  const lessons = listLessons(filters.length ? filters : ['01']);
  if (lessons.length !== 1) throw new Error(`--twice takes one lesson, got ${lessons.length}`);
  const name = basename(/** @type {string} */ (lessons[0]), '.ipynb');
  const dirs = [join(OUT, 'twice-a'), join(OUT, 'twice-b')];
  const runs = [];
  for (const d of dirs) {
    rmSync(d, { recursive: true, force: true });
    runs.push((await runAll(python, lessons, d))[0]);
  }
  if (!runs.every((r) => r?.ok)) return { ok: false, lines: ['a run failed'] };
  const [ra, rb] = /** @type {[Map<string, number[]>, Map<string, number[]>]} */ (dirs.map((d) => readRecorded(join(d, 'results'))));
  const [fa, fb] = /** @type {[string[], string[]]} */ (dirs.map((d) => figuresOf(join(d, 'notebooks', `${name}.ipynb`))));
  const lines = [];
  let ok = true;
  const ids = [...new Set([...ra.keys(), ...rb.keys()])].sort();
  for (const id of ids) {
    const a = JSON.stringify(ra.get(id));
    const b = JSON.stringify(rb.get(id));
    if (a !== b) ok = false;
    lines.push(`${a === b ? 'same     ' : 'DIFFERENT'} ${id}: ${a} vs ${b}`);
  }
  const sameFigures = fa.filter((f, i) => f === fb[i]).length;
  if (fa.length !== fb.length || sameFigures !== fa.length) ok = false;
  lines.push(`${ids.length} key figure(s) recorded; ${sameFigures} of ${fa.length} plotly figure(s) identical (data and layout)`);
  if (ids.length + fa.length === 0) {
    ok = false;
    lines.push('nothing to compare: the lesson records no key figure and shows no figure');
  }
  return { ok, lines, runs };
}

async function main() {
  const python = jupyterPython();
  if (!python || run(python, ['-c', 'import nbclient']).status !== 0) {
    console.error('reproduce: nbclient not found for the Jupyter Python: run npm run setup');
    return 1;
  }
  const build = run('npm', ['run', '-s', 'build'], { cwd: ROOT });
  if (build.status !== 0) {
    console.error(`reproduce: npm run build failed:\n${build.stdout}${build.stderr}`);
    return 1;
  }
  if (twice) {
    const r = await reproducibility(python);
    for (const l of r.lines) console.log(l);
    console.log(`reproducibility: ${r.ok ? 'ok, identical' : 'FAILED'} (${clock()})`);
    return r.ok ? 0 : 1;
  }

  const lessons = listLessons(filters);
  if (lessons.length === 0) {
    console.error(`reproduce: no lesson matches ${JSON.stringify(filters)}`);
    return 1;
  }
  const whole = filters.length === 0;
  rmSync(OUT, { recursive: true, force: true });
  const runs = await runAll(python, lessons, OUT);

  // RESULTS.md
  const rows = resultRows(loadExpected(), readRecorded(join(OUT, 'results')), runs.map((r) => r.id));
  // The backend the lessons ran on, as lesson 00's first cell prints it ("backend: wasm (…)").
  const first = /** @type {Notebook} */ (JSON.parse(readFileSync(join(OUT, 'notebooks', `${runs[0]?.lesson}.ipynb`), 'utf8')));
  const printed = JSON.stringify(first.cells.find((c) => c.cell_type === 'code')?.outputs ?? []).match(/backend: (\w+)/);
  const backend = printed?.[1] ?? process.env.FRUGAL_BACKEND ?? 'unknown';
  const meta = { date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', backend, machine: `${cpus().length} CPU cores` };
  const md = resultsMarkdown(rows, runs, meta);
  writeFileAtomic(join(OUT, 'RESULTS.md'), md);
  if (whole) writeFileAtomic(join(ROOT, 'RESULTS.md'), md);

  // Course map: the README's table of lessons, with the times of this run (the lessons not run
  // keep the times the map states).
  const readmePath = join(ROOT, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const times = { ...timesFromMap(readme), ...Object.fromEntries(runs.filter((r) => r.ok).map((r) => [r.id, r.wall_s])) };
  const infos = listLessons([]).map(lessonInfo);
  const load = loadavg()[0]?.toFixed(1);
  const fresh = `\`npm run reproduce\` on ${meta.date}, ${meta.machine} (load average ${load} at the end), ${backend} backend`;
  // A partial run keeps the note of the last whole run and says which lessons it retimed.
  const previous = readme.match(/^Times: [\s\S]*?(?=\n\n)/m)?.[0]?.replace(/\n/g, ' ').replace(/ Rerun: .*$/, '');
  const note = whole || !previous ? `Times: ${fresh}.` : `${previous} Rerun: ${runs.map((r) => r.id).join(', ')} by ${fresh}.`;
  writeFileAtomic(readmePath, withCourseMap(readme, courseMapMarkdown(infos, times, note, readmeGoals(readme))));

  // The book.
  progress(`book · ${clock()} so far`);
  const { buildBook } = await import('./book.mjs');
  /** @param {unknown} s */
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const resultsHtml = rows.length
    ? `<table><thead><tr><th>id</th><th>what</th><th>value</th><th>expected ± tolerance</th><th>source</th><th>ok</th></tr></thead><tbody>${rows
        .map((r) => `<tr><td>${esc(r.id)}</td><td>${esc(r.what)}</td><td class="num">${esc(r.value ?? '—')}</td><td class="num">${esc(r.expected)} ± ${esc(r.tolerance)}${r.unit ? ` ${esc(r.unit)}` : ''}</td><td>${esc(r.source)}</td><td>${r.status === 'ok' ? '✓' : esc(r.status)}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p>No lesson checks a key figure yet.</p>';
  const book = buildBook(join(OUT, 'notebooks'), join(OUT, 'book'), { times, resultsHtml, fallbackGoals: readmeGoals(readme) });
  progress(`book · ${book.pages.length} pages, ${book.figures} figures, ${book.formulas} formulas · ${clock()} so far`, true);
  // Every page of the book must load offline with its figures and formulas rendered.
  const check = run(process.execPath, [join(ROOT, 'scripts', 'browser-check.mjs'), '--book', join(OUT, 'book')], { cwd: ROOT, maxBuffer: 16 << 20 });
  const bookOk = check.status === 0;
  console.log(`${check.stdout}${check.stderr}`.trim().split('\n').map((l) => `  ${l}`).join('\n'));

  // Summary.
  const w = Math.max(...runs.map((r) => r.lesson.length), 6);
  console.log(`\n${'lesson'.padEnd(w)}  status  wall (s)`);
  for (const r of runs) console.log(`${r.lesson.padEnd(w)}  ${(r.ok ? 'ok' : 'FAILED').padEnd(6)}  ${r.wall_s.toFixed(1).padStart(8)}`);
  console.log(`${'total'.padEnd(w)}          ${runs.reduce((s, r) => s + r.wall_s, 0).toFixed(1).padStart(8)}   (whole reproduce: ${clock()})`);
  const bad = rows.filter((r) => !['ok', 'not run'].includes(r.status));
  console.log(`key figures: ${rows.filter((r) => r.status === 'ok').length} ok, ${bad.length} not ok${bad.length ? `: ${bad.map((r) => `${r.id} ${r.status}`).join(', ')}` : ''}`);
  console.log(`wrote ${join('out', 'reproduce')}/{notebooks,book,RESULTS.md}${whole ? ', RESULTS.md' : ''} and the README course map`);
  writeFileAtomic(join(OUT, 'summary.json'), `${JSON.stringify({ date: meta.date, runs: runs.map(({ lesson, ok, wall_s }) => ({ lesson, ok, wall_s })), figures: rows.map(({ id, value, status }) => ({ id, value, status })) }, null, 2)}\n`);
  const failed = runs.filter((r) => !r.ok).length;
  if (!bookOk) console.log('the book failed its browser check (above)');
  return failed || !allOk(rows) || !bookOk ? 1 : 0;
}

process.exitCode = await main();
