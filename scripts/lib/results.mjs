// @ts-check
// RESULTS.md: every key figure of the course (lib/results/expected.ts, EXPECTED) with the value
// the lessons recorded through checkResult ($FRUGAL_RESULTS_DIR/<lesson>.jsonl).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './env.mjs';

// Types: results.d.mts, which the tests and the other scripts see; each export here is checked
// against its declaration there (`@type {typeof import('./results.mjs').name}` resolves to it).
/** @typedef {import('./results.mjs').ResultRow} ResultRow */

/** EXPECTED from the compiled lib (npm run build), so that the table is the one lessons use. */
/** @type {typeof import('./results.mjs').loadExpected} */
export function loadExpected() {
  const req = createRequire(join(ROOT, 'package.json'));
  const mod = /** @type {typeof import('../../lib/results/expected.js')} */ (req(join(ROOT, 'lib', 'dist', 'results', 'expected.js')));
  return mod.EXPECTED;
}

/** The recorded figures of `dir`: id -> every value recorded for it, in order. */
/** @type {typeof import('./results.mjs').readRecorded} */
export function readRecorded(dir) {
  /** @type {Map<string, number[]>} */
  const out = new Map();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = /** @type {import('../../lib/results/index.js').RecordedResult} */ (JSON.parse(line));
      const values = out.get(r.id) ?? [];
      if (!out.has(r.id)) out.set(r.id, values);
      values.push(r.value);
    }
  }
  return out;
}

/**
 * One row per expected figure of the lessons that ran (`lessonsRun`, ids like '03'):
 * {id, lesson, what, value, expected, tolerance, unit, source, status} where status is 'ok',
 * 'out of tolerance', 'missing' (the lesson ran but never checked it), 'changed' (checked twice
 * with different values) or 'not run'. Figures recorded but absent from EXPECTED are rows too
 * ('unknown id').
 */
/** @type {typeof import('./results.mjs').resultRows} */
export function resultRows(expected, recorded, lessonsRun) {
  /** @type {ResultRow[]} */
  const rows = [];
  for (const [id, e] of Object.entries(expected)) {
    const values = recorded.get(id) ?? [];
    const value = values.at(-1);
    /** @type {string} */
    let status;
    if (!lessonsRun.includes(e.lesson)) status = 'not run';
    else if (value === undefined) status = 'missing';
    else if (new Set(values).size > 1) status = 'changed';
    else status = Number.isFinite(value) && Math.abs(value - e.expected) <= e.tolerance ? 'ok' : 'out of tolerance';
    rows.push({ id, ...e, value, values, status });
  }
  for (const [id, values] of recorded) {
    if (!(id in expected)) rows.push({ id, lesson: id.slice(0, 2), what: '?', value: values.at(-1), values, expected: NaN, tolerance: NaN, source: '?', status: 'unknown id' });
  }
  return rows;
}

/** True when every row of a lesson that ran is ok. */
/** @type {typeof import('./results.mjs').allOk} */
export function allOk(rows) {
  return rows.every((r) => r.status === 'ok' || r.status === 'not run');
}

/** @param {number | undefined} v */
const num = (v) => (v === undefined || Number.isNaN(v) ? '—' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

/** The markdown of RESULTS.md. */
/** @type {typeof import('./results.mjs').resultsMarkdown} */
export function resultsMarkdown(rows, runs, meta) {
  /** @param {unknown} s */
  const cell = (s) => String(s).replace(/\|/g, '\\|');
  const lines = [
    '# Results',
    '',
    `Written by \`npm run reproduce\` on ${meta.date} (backend ${meta.backend}, ${meta.machine});`,
    'do not edit by hand.',
    'Each row is a key figure a lesson states, checked in the lesson by `checkResult` against',
    '[`lib/results/expected.ts`](lib/results/expected.ts), the one table lessons and this report share.',
    '',
    `**${rows.filter((r) => r.status === 'ok').length} of ${rows.filter((r) => r.status !== 'not run').length} figures within tolerance**` +
      (allOk(rows) ? '.' : `: ${rows.filter((r) => !['ok', 'not run'].includes(r.status)).map((r) => `${r.id} ${r.status}`).join(', ')}.`),
    '',
    ...(rows.length === 0 ? ['(No lesson checks a key figure yet: EXPECTED is empty.)'] : ['| id | what | value | expected ± tolerance | source | ok |', '| --- | --- | --- | --- | --- | --- |']),
    ...rows.map((r) => {
      const unit = r.unit ? ` ${r.unit}` : '';
      const mark = r.status === 'ok' ? '✓' : r.status === 'not run' ? 'not run' : `✗ ${r.status}`;
      return `| ${cell(r.id)} | ${cell(r.what)} | ${num(r.value)}${r.value === undefined ? '' : unit} | ${num(r.expected)} ± ${num(r.tolerance)}${unit} | ${cell(r.source)} | ${mark} |`;
    }),
    '',
    '## Lessons',
    '',
    '| lesson | status | wall time (s) |',
    '| --- | --- | --- |',
    ...runs.map((r) => `| ${r.lesson} | ${r.ok ? 'ok' : 'FAILED'} | ${r.wall_s.toFixed(1)} |`),
    `| total | | ${runs.reduce((s, r) => s + r.wall_s, 0).toFixed(1)} |`,
    '',
  ];
  return lines.join('\n');
}
