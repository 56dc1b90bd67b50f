// @ts-check
// npm run lint:md: markdownlint over README.md, docs/, the folders' READMEs and every lesson's
// markdown cells. Notebooks are linted cell by cell through the markdownlint library (linting
// the raw .ipynb JSON checks nothing); problems are reported as `file cell N line L`.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { lint } from 'markdownlint/sync';
import { ROOT, listLessons } from './lib/env.mjs';

const config = JSON.parse(readFileSync(join(ROOT, '.markdownlint.json'), 'utf8'));

/**
 * @param {string} dir
 * @returns {string[]}
 */
function mdFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => /** @type {string[]} */ {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : mdFiles(p);
    return e.name.endsWith('.md') ? [p] : [];
  });
}

const files = [join(ROOT, 'README.md'), ...['docs', 'notebooks', 'bench', 'datasets', 'tests', 'scripts', 'kernel'].flatMap((d) => mdFiles(join(ROOT, d)))];
/** @type {string[]} */
const problems = [];
/** @param {string} where @param {import('markdownlint').LintError} e */
const report = (where, e) =>
  problems.push(`${where}: ${e.ruleNames.join('/')} ${e.ruleDescription}${e.errorDetail ? ` [${e.errorDetail}]` : ''}`);

for (const f of files.filter(existsSync)) {
  const res = lint({ strings: { f: readFileSync(f, 'utf8') }, config });
  for (const e of res.f ?? []) report(`${relative(ROOT, f)} line ${e.lineNumber}`, e);
}

// Notebook cells: each markdown cell is linted alone; only the first one must open with an H1,
// and the single-H1 rule spans the whole notebook.
let cells = 0;
for (const nbPath of listLessons()) {
  const nb = /** @type {import('./lib/env.mjs').Notebook} */ (JSON.parse(readFileSync(nbPath, 'utf8')));
  let h1 = 0;
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== 'markdown') return;
    cells++;
    const text = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    const first = i === nb.cells.findIndex((c) => c.cell_type === 'markdown');
    const cellConfig = { ...config, MD041: first, MD047: false };
    const res = lint({ strings: { c: `${text}\n` }, config: cellConfig });
    for (const e of res.c ?? []) report(`${relative(ROOT, nbPath)} cell ${i + 1} line ${e.lineNumber}`, e);
    h1 += (text.match(/^# /gm) ?? []).length;
  });
  if (h1 !== 1) problems.push(`${relative(ROOT, nbPath)}: expected exactly one H1 heading in the markdown cells, found ${h1}`);
}

for (const p of problems) console.log(p);
console.log(`markdownlint: ${files.filter(existsSync).length} files and ${cells} notebook cells checked, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
