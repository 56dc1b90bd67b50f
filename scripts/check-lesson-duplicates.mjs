// npm test step: fails when six or more identical lines (blank lines skipped) stand in the code
// cells of two different lessons. Such code is a helper that belongs in lib/ (BRIEF: lessons
// import, never copy). Usage: node scripts/check-lesson-duplicates.mjs [--min-lines N]
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { ROOT, listLessons } from './lib/env.mjs';
import { codeCells, findRepeatedCode } from './lib/repeated-code.mjs';

const at = process.argv.indexOf('--min-lines');
const minLines = at > 0 ? Number(process.argv[at + 1]) : 6;
const lessons = listLessons().map((path) => ({
  name: relative(ROOT, path),
  cells: codeCells(JSON.parse(readFileSync(path, 'utf8'))),
}));
const runs = findRepeatedCode(lessons, minLines);
if (runs.length === 0) {
  console.log(`no code repeated across the ${lessons.length} lessons (runs of ${minLines}+ identical lines)`);
  process.exit(0);
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
