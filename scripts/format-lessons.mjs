// @ts-check
// Wraps the lessons' code lines to the lib's width (100, .prettierrc.json) with prettier's
// TypeScript parser. Only the statements holding a line over the width are reformatted (prettier's
// range formatting), so the rest of each cell keeps its hand-laid style; `import { … }` lists are
// packed several names a line, as lessons 00 and 01 write them. Markdown, outputs and metadata
// are untouched; cell sources stay notebook line arrays. Lines prettier cannot wrap (long strings,
// comments) are listed at the end, to wrap by hand.
// Usage: npm run format:lessons [-- NN ...]   (default: every lesson)
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
 * Where a line's trailing `//` comment starts (outside strings and templates), or -1; also -1
 * when the line ends inside a string or template (then it is no single line of code).
 * @param {string} line
 */
function commentAt(line) {
  /** @type {string | null} */
  let quote = null;
  let depth = 0; // `${` nesting inside a template
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (quote === '`' && ch === '$' && line[i + 1] === '{') {
        depth++;
        quote = null;
        i++;
      } else if (ch === quote) quote = null;
    } else if (ch === '/' && line[i + 1] === '/') return i;
    else if (ch === '/' && line[i + 1] === '*') return -1;
    else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '}' && depth > 0) {
      depth--;
      quote = '`';
    }
  }
  return -1;
}

/**
 * Words of `text` packed into lines of at most LINE_WIDTH, each starting with `lead`.
 * @param {string} lead
 * @param {string} text
 */
function wrapWords(lead, text) {
  /** @type {string[]} */
  const out = [];
  let cur = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (cur && `${cur} ${w}`.length > LINE_WIDTH) {
      out.push(cur);
      cur = `${lead}${w}`;
    } else cur = cur ? `${cur} ${w}` : `${lead}${w}`;
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * A string or template literal that makes up a whole over-long line (after an optional
 * `key: ` and before an optional `,` / `)` / `;`), cut at spaces into pieces joined by `+`,
 * each piece short enough. Only text outside `${…}` is cut. Null when the line is not one.
 * @param {string} line
 * @returns {string | null}
 */
function splitLiteral(line) {
  const m = line.match(/^(\s*)((?:[\w$]+|'[^']*'): |\? |: |return )?(['`])(.*)\3([,;)\]]*(?: \+)?)$/);
  if (!m) return null;
  const [, indent = '', prefix = '', q = '', body = '', suffix = ''] = m;
  if (q === "'" && /(?<!\\)'/.test(body)) return null;
  // Places where a cut may go: after a space outside `${…}`.
  /** @type {number[]} */
  const cuts = [];
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\') i++;
    else if (q === '`' && ch === '$' && body[i + 1] === '{') {
      depth++;
      i++;
    } else if (depth > 0 && ch === '`') return null; // a template inside ${}: leave it to a person
    else if (depth > 0 && ch === '{') depth++;
    else if (depth > 0 && ch === '}') depth--;
    else if (depth === 0 && ch === ' ') cuts.push(i + 1);
  }
  if (depth !== 0) return null;
  /** @type {string[]} */
  const pieces = [];
  let from = 0;
  const first = `${indent}${prefix}`.length;
  const rest = indent.length + 2;
  while (from < body.length) {
    const room = LINE_WIDTH - (pieces.length ? rest : first) - 4; // the quotes, ' +'
    const tail = body.length - from;
    if (tail + suffix.length <= room + 2) {
      pieces.push(body.slice(from));
      break;
    }
    const cut = cuts.filter((c) => c > from && c - from <= room).pop();
    if (cut === undefined) return null;
    pieces.push(body.slice(from, cut));
    from = cut;
  }
  if (pieces.length < 2) return null;
  const parts = pieces.map((p) => `${q}${p}${q}`);
  return [
    `${indent}${prefix}${parts[0]} +`,
    ...parts.slice(1, -1).map((p) => `${indent}  ${p} +`),
    `${indent}  ${parts[parts.length - 1]}${suffix}`,
  ].join('\n');
}

/**
 * An over-long line rewritten so that prettier can wrap it, or null: a trailing comment moves
 * onto its own lines above, a comment or one-line JSDoc is wrapped, a long literal is split.
 * @param {string} line
 * @returns {string | null}
 */
function unblock(line) {
  const indent = line.slice(0, line.length - line.trimStart().length);
  const t = line.trim();
  const doc = t.match(/^\/\*\*\s*(.*?)\s*\*\/$/);
  if (doc) return [`${indent}/**`, ...wrapWords(`${indent} * `, doc[1] ?? ''), `${indent} */`].join('\n');
  if (t.startsWith('//')) return wrapWords(`${indent}// `, t.replace(/^\/\/\s*/, '')).join('\n');
  const at = commentAt(line);
  // Aligned trailing comments (`const G = 8;      // …`): one space may be enough.
  const close = at > 0 ? `${line.slice(0, at).trimEnd()} ${line.slice(at)}` : line;
  if (close.length <= LINE_WIDTH) return close;
  if (at > 0) {
    const code = line.slice(0, at).trimEnd();
    const comment = line.slice(at).replace(/^\/\/\s*/, '');
    if (/^(BEGIN|END) SOLUTION|^CHECK exercise/.test(comment)) return null;
    return [...wrapWords(`${indent}// `, comment), code].join('\n');
  }
  return splitLiteral(line);
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
    // Inside a multi-line `import {` … `} from '…';`: repack the whole list.
    let open = at;
    while (open >= 0 && !/^import (type )?\{/.test(lines[open] ?? '')) open--;
    const close = lines.findIndex((l, i) => i >= at && /^\} from /.test(l));
    const inside = open >= 0 && close >= at && !lines.slice(open, at).some((l) => /^\}/.test(l));
    const packed = packImport(inside ? lines.slice(open, close + 1).join(' ') : line);
    if (packed !== null && inside) {
      lines.splice(open, close + 1 - open, packed);
      code = lines.join('\n');
      continue;
    }
    if (packed !== null) {
      lines[at] = packed;
      code = lines.join('\n');
      continue;
    }
    // A long comment line that a comment line follows: reflow the two as one paragraph, so that
    // the wrap leaves no one-word line behind.
    const next = lines[at + 1] ?? '';
    const lead = line.slice(0, line.length - line.trimStart().length);
    const isText = /** @param {string} l */ (l) => l.startsWith(`${lead}// `) && !/SOLUTION|CHECK exercise/.test(l);
    if (isText(line) && isText(next) && next.slice(lead.length + 3).trim() !== '') {
      lines.splice(at, 2, wrapWords(`${lead}// `, `${line.slice(lead.length + 3)} ${next.slice(lead.length + 3)}`).join('\n'));
      code = lines.join('\n');
      continue;
    }
    // Prettier leaves a line alone when a comment or a literal is what makes it long.
    const freed = unblock(line);
    if (freed !== null) {
      lines[at] = freed;
      code = lines.join('\n');
    }
    const start = lines.slice(0, at).reduce((n, l) => n + l.length + 1, 0);
    const indent = line.length - line.trimStart().length;
    const span = (lines[at] ?? '').length;
    let out;
    try {
      out = await prettier.format(code, { ...options, rangeStart: start + indent, rangeEnd: start + span });
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
