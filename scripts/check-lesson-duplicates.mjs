// npm test step: fails when six or more identical lines (blank lines skipped) stand in the code
// cells of two different lessons. Such code is a helper that belongs in lib/ (BRIEF: lessons
// import, never copy). Fails too when a lesson's code line is longer than the lib's width (100
// characters, scripts/lib/line-width.mjs): JupyterLab cuts it off at the right edge
// (`node scripts/format-lessons.mjs NN` wraps it). Usage:
// node scripts/check-lesson-duplicates.mjs [--min-lines N]
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { ROOT, listLessons } from './lib/env.mjs';
import { LINE_WIDTH, longCodeLines } from './lib/line-width.mjs';
import { codeCells, findRepeatedCode } from './lib/repeated-code.mjs';

let long = 0;
for (const path of listLessons()) {
  for (const l of longCodeLines(JSON.parse(readFileSync(path, 'utf8')))) {
    long++;
    console.log(`${basename(path)} cell ${l.cell} line ${l.line}: ${l.length} characters (at most ${LINE_WIDTH})`);
    console.log(`    ${l.text.trim().slice(0, 96)}`);
  }
}
if (long) console.log(`\n${long} lesson code line(s) over ${LINE_WIDTH} characters: wrap them (node scripts/format-lessons.mjs NN).\n`);

const at = process.argv.indexOf('--min-lines');
const minLines = at > 0 ? Number(process.argv[at + 1]) : 6;
const lessons = listLessons().map((path) => ({
  name: relative(ROOT, path),
  cells: codeCells(JSON.parse(readFileSync(path, 'utf8'))),
}));
const runs = findRepeatedCode(lessons, minLines);
if (runs.length === 0) {
  console.log(`no code repeated across the ${lessons.length} lessons (runs of ${minLines}+ identical lines)`);
  if (long === 0) console.log(`no lesson code line over ${LINE_WIDTH} characters`);
  process.exit(long ? 1 : 0);
}
/** @param {import('./lib/repeated-code.mjs').Place} p */
const where = (p) => `${basename(p.lesson)} cell ${p.cell} line ${p.line}`;
for (const r of runs) {
  console.log(`${r.lines} identical lines: ${where(r.a)} ~ ${where(r.b)}`);
  for (const line of r.text.slice(0, 8)) console.log(`    ${line}`);
  if (r.text.length > 8) console.log(`    ... (${r.text.length - 8} more)`);
}
console.log(`\n${runs.length} run(s) of ${minLines}+ lines repeated across lessons: move the shared code into lib/ and import it.`);
process.exit(1);
