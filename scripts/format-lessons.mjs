// @ts-check
// Wraps the lessons' code lines to the lib's width (100, .prettierrc.json) with prettier's
// TypeScript parser. Only the statements holding a line over the width are reformatted (prettier's
// range formatting), so the rest of each cell keeps its hand-laid style; `import { … }` lists are
// packed several names a line, as lessons 00 and 01 write them. Markdown, outputs and metadata
// are untouched; cell sources stay notebook line arrays. Lines prettier cannot wrap (long strings,
// comments) are listed at the end, to wrap by hand.
// Usage: node scripts/format-lessons.mjs [NN ...]   (default: every lesson)
//
// Trailing `;`: tslab displays a cell's last expression statement whether or not it ends in `;`
// (node_modules/tslab/dist/converter.js, after(): it looks for a ts.ExpressionStatement), so the
// semicolons prettier adds never change what a cell displays.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as prettier from 'prettier';
import { ROOT, listLessons } from './lib/env.mjs';
import { LINE_WIDTH, longCodeLines } from './lib/line-width.mjs';

const options = {
  ...JSON.parse(readFileSync(join(ROOT, '.prettierrc.json'), 'utf8')),
  parser: 'typescript',
};

/**
 * An over-long single-line `import { a, b } from 'x';`, packed as lessons 00/01 write it.
 * @param {string} line
 * @returns {string | null}
 */
function packImport(line) {
  const m = line.match(/^(\s*)import (type )?\{\s*(.*?)\s*\} from ('[^']*'|"[^"]*");?\s*$/);
  if (!m) return null;
  const [, indent = '', type = '', names = '', from = ''] = m;
  const out = [`${indent}import ${type}{`];
  let cur = '';
  for (const name of names.split(',').map((s) => s.trim()).filter(Boolean)) {
    const next = cur ? `${cur} ${name},` : `${indent}  ${name},`;
    if (cur && next.length > LINE_WIDTH) {
      out.push(cur);
      cur = `${indent}  ${name},`;
    } else cur = next;
  }
  if (cur) out.push(cur);
  out.push(`${indent}} from ${from};`);
  return out.join('\n');
}

/**
 * One code cell's source with its over-long statements reformatted.
 * @param {string} src
 * @returns {Promise<string>}
 */
async function formatCell(src) {
  let code = src;
  // Each pass wraps the first long line prettier has not yet tried; a line it leaves long
  // (a string, a comment) is skipped from then on.
  const tried = new Set();
  for (let pass = 0; pass < 500; pass++) {
    const lines = code.split('\n');
    const at = lines.findIndex((l) => l.length > LINE_WIDTH && !tried.has(l));
    if (at < 0) return code;
    const line = lines[at] ?? '';
    tried.add(line);
    const packed = packImport(line);
    if (packed !== null) {
      lines[at] = packed;
      code = lines.join('\n');
      continue;
    }
    const start = lines.slice(0, at).reduce((n, l) => n + l.length + 1, 0);
    const indent = line.length - line.trimStart().length;
    let out;
    try {
      out = await prettier.format(code, { ...options, rangeStart: start + indent, rangeEnd: start + line.length });
    } catch (e) {
      console.warn(`  cannot parse the cell (${String(e).split('\n')[0]}): left as it is`);
      return code;
    }
    // prettier ends its output with a newline; a cell source does not.
    if (!code.endsWith('\n') && out.endsWith('\n')) out = out.slice(0, -1);
    code = out;
  }
  return code;
}

/** @param {string} s */
const toLines = (s) => s.split(/(?<=\n)/);

const lessons = listLessons(process.argv.slice(2));
let left = 0;
for (const path of lessons) {
  const text = readFileSync(path, 'utf8');
  /** @type {{ cells: { cell_type: string, source: string | string[] }[] }} */
  const nb = JSON.parse(text);
  let changed = 0;
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    const out = await formatCell(src);
    if (out !== src) {
      cell.source = toLines(out);
      changed++;
    }
  }
  if (changed) {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(nb, null, 1)}\n`);
    renameSync(tmp, path);
  }
  const long = longCodeLines(nb);
  left += long.length;
  console.log(`${basename(path)}: ${changed} cell(s) reformatted, ${long.length} line(s) still over ${LINE_WIDTH}`);
  for (const l of long) console.log(`  cell ${l.cell} line ${l.line} (${l.length}): ${l.text.trim().slice(0, 90)}`);
}
process.exit(left ? 1 : 0);
