// @ts-nocheck -- TODO (issue 14): JSDoc types for checkJs; written before tsconfig.scripts.json
// existed, merged without them. Its tests: tests/student.test.ts, tests/reproduce.test.ts.
// RESULTS.md: every key figure of the course (lib/results/expected.ts, EXPECTED) with the value
// the lessons recorded through checkResult ($FRUGAL_RESULTS_DIR/<lesson>.jsonl).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './env.mjs';

/** EXPECTED from the compiled lib (npm run build), so that the table is the one lessons use. */
export function loadExpected() {
  const req = createRequire(join(ROOT, 'package.json'));
  return req(join(ROOT, 'lib', 'dist', 'results', 'expected.js')).EXPECTED;
}

/** The recorded figures of `dir`: id -> every value recorded for it, in order. */
export function readRecorded(dir) {
  const out = new Map();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line);
      if (!out.has(r.id)) out.set(r.id, []);
      out.get(r.id).push(r.value);
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
export function resultRows(expected, recorded, lessonsRun) {
  const rows = [];
  for (const [id, e] of Object.entries(expected)) {
    const values = recorded.get(id) ?? [];
    const value = values.at(-1);
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
export function allOk(rows) {
  return rows.every((r) => r.status === 'ok' || r.status === 'not run');
}

const num = (v) => (v === undefined || Number.isNaN(v) ? '—' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

/** The markdown of RESULTS.md. */
export function resultsMarkdown(rows, runs, meta) {
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
