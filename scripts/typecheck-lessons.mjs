// @ts-check
// Typechecks the lessons' code strictly (tslab itself compiles cells without `strict`).
// Each notebook's code cells are joined into one module under out/typecheck/ (identical import
// lines kept once) and checked with the project's TypeScript; errors are mapped back to
// `notebook cell N line L`. Run after `npm run build` (lessons import lib/dist's types).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ROOT, listLessons, run } from './lib/env.mjs';

const dir = join(ROOT, 'out', 'typecheck');
mkdirSync(dir, { recursive: true });
const maps = new Map(); // file -> [{cell, line}] per generated line
const files = [];
for (const nbPath of listLessons()) {
  const nb = /** @type {import('./lib/env.mjs').Notebook} */ (JSON.parse(readFileSync(nbPath, 'utf8')));
  const imports = new Set();
  /** @type {[string, { cell: number, line: number } | null][]} */
  const head = [];
  /** @type {[string, { cell: number, line: number } | null][]} */
  const body = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== 'code') return;
    const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    src.split('\n').forEach((line, j) => {
      if (/^import\s.*from\s/.test(line)) {
        if (!imports.has(line)) {
          imports.add(line);
          head.push([line, { cell: i + 1, line: j + 1 }]);
        }
      } else body.push([line, { cell: i + 1, line: j + 1 }]);
    });
  });
  const lines = [...head, ['export {};', null], ...body];
  const file = join(dir, `${basename(nbPath, '.ipynb')}.ts`);
  writeFileSync(file, lines.map((l) => l[0]).join('\n'));
  maps.set(file, { nb: relative(ROOT, nbPath), at: lines.map((l) => l[1]) });
  files.push(file);
}
if (files.length === 0) {
  console.log('no lessons to typecheck');
  process.exit(0);
}
const tsconfig = {
  compilerOptions: {
    target: 'ES2022', module: 'ES2022', moduleResolution: 'bundler', lib: ['ES2022'], types: ['node'],
    strict: true, noUncheckedIndexedAccess: true, noEmit: true, skipLibCheck: true, esModuleInterop: true, typeRoots: [join(ROOT, 'node_modules', '@types')],
  },
  files,
};
writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
const r = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: ROOT });
let errors = 0;
for (const line of (r.stdout + r.stderr).split('\n').filter(Boolean)) {
  const m = line.match(/^(.*\.ts)\((\d+),(\d+)\): (.*)$/);
  const file = m?.[1] ?? '';
  const map = m ? (maps.get(join(ROOT, file)) ?? maps.get(file) ?? null) : null;
  if (m && map) {
    const at = map.at[Number(m[2]) - 1];
    console.log(`${map.nb} cell ${at?.cell ?? '?'} line ${at?.line ?? '?'}: ${m[4]}`);
  } else console.log(line);
  errors++;
}
console.log(`typecheck (lessons): ${files.length} notebooks, ${errors} errors`);
process.exit(r.status === 0 ? 0 : 1);
