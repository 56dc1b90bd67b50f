// @ts-check
// What the course's lessons say about themselves, read from their first markdown cell: the
// title, the goals ("In this lesson you will:"), the prerequisites and the lessons they build on.
// The course map (README, the book's index) and RESULTS.md are made from it.
// Types: course.d.mts, which the tests and the other scripts see; each export here is checked
// against its declaration there (`@type {typeof import('./course.mjs').name}` resolves to it).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** @param {{ source?: string | string[] } | undefined} c */
const text = (c) => (Array.isArray(c?.source) ? c.source.join('') : (c?.source ?? ''));

/**
 * The list items (`- …`, `* …`, `1. …`, continuation lines joined) after the line matching `re`;
 * or, when that line goes on after a colon ("**Prerequisites**: lessons 01 and 02"), that text.
 */
/** @type {typeof import('./course.mjs').listAfter} */
export function listAfter(md, re) {
  const lines = md.split('\n');
  const at = lines.findIndex((l) => re.test(l));
  if (at < 0) return [];
  const inline = (lines[at] ?? '').replace(/\*\*/g, '').split(/:\s*/).slice(1).join(': ').trim();
  /** @type {string[]} */
  const items = [];
  let i = at + 1;
  while (i < lines.length && lines[i]?.trim() === '') i++;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const item = line.match(/^\s*(?:[-*]|\d+\.)\s+(.*)$/);
    if (item) items.push((item[1] ?? '').trim());
    else if (items.length && /^\s{2,}\S/.test(line)) items[items.length - 1] += ` ${line.trim()}`;
    else break;
  }
  if (items.length === 0 && inline) items.push(inline);
  return items.map((s) => s.replace(/[;.]$/, ''));
}

/** Two-digit lesson numbers a text names after the word "lesson(s)": "lessons 01 and 02" -> ['01', '02']. */
/** @type {typeof import('./course.mjs').lessonRefs} */
export function lessonRefs(s) {
  /** @type {Set<string>} */
  const out = new Set();
  for (const m of s.matchAll(/[Ll]essons?\s+((?:\d\d)(?:(?:\s*,\s*|\s+and\s+|\s*[–-]\s*)\d\d)*)/g)) {
    const list = m[1] ?? '';
    const nums = list.match(/\d\d/g) ?? [];
    const range = list.match(/^(\d\d)\s*[–-]\s*(\d\d)$/);
    if (range) for (let i = Number(range[1]); i <= Number(range[2]); i++) out.add(String(i).padStart(2, '0'));
    else for (const n of nums) out.add(n);
  }
  return [...out].sort();
}

/**
 * The README lessons table's "After it you can" cell for each lesson id (the course map's
 * fallback for a lesson whose introduction lists no goals yet).
 */
/** @type {typeof import('./course.mjs').readmeGoals} */
export function readmeGoals(readme) {
  /** @type {Record<string, string>} */
  const out = {};
  const start = readme.indexOf('\n## Lessons');
  if (start < 0) return out;
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  for (const m of section.matchAll(/^\| (\d\d) \| \[[^\]]*\]\([^)]*\) \| ([^|]+) \|\s*$/gm)) {
    if (m[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2].trim();
  }
  return out;
}

/** A lesson's description from its notebook. */
/** @type {typeof import('./course.mjs').lessonInfo} */
export function lessonInfo(path) {
  const nb = /** @type {Partial<import('./exercises.mjs').Notebook>} */ (JSON.parse(readFileSync(path, 'utf8')));
  const name = basename(path, '.ipynb');
  const id = name.slice(0, 2);
  const intro = text((nb.cells ?? []).find((c) => c.cell_type === 'markdown'));
  const heading = intro.match(/^#\s+(.+)$/m)?.[1]?.trim() ?? name;
  const title = heading.replace(/^\d\d\s*[·:.-]\s*/, '');
  const goals = listAfter(intro, /In this lesson you will/i);
  const prerequisites = listAfter(intro, /Prerequisites/i);
  const dependsOn = lessonRefs(prerequisites.length ? prerequisites.join('\n') : intro).filter((n) => n < id);
  return { id, name, file: `${name}.ipynb`, title, goals, prerequisites, dependsOn };
}

/** Seconds as "1 min 05 s" or "42 s". */
/** @type {typeof import('./course.mjs').formatSeconds} */
export function formatSeconds(s) {
  if (!Number.isFinite(s)) return '?';
  const r = Math.round(s);
  return r >= 60 ? `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s` : `${r} s`;
}

export const MAP_START = '<!-- course-map:start: written by npm run reproduce; edit the lessons, not this table -->';
export const MAP_END = '<!-- course-map:end -->';

/**
 * The README's course map: one row per lesson, in order, with the time it needs (`times[id]`,
 * seconds, measured by npm run reproduce), what it teaches and what it builds on.
 */
/** @type {typeof import('./course.mjs').courseMapMarkdown} */
export function courseMapMarkdown(infos, times, note, fallbackGoals = {}) {
  const rows = infos.map((l) => {
    const teaches = l.goals.length ? l.goals.join('; ') : (fallbackGoals[l.id] ?? '(no goals listed)');
    const deps = l.dependsOn.length ? l.dependsOn.map((d) => `${d}`).join(', ') : '—';
    const t = times[l.id];
    const time = t === undefined ? '?' : formatSeconds(t);
    /** @param {string} s */
    const cell = (s) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    return `| ${l.id} | [${cell(l.title)}](notebooks/${l.file}) | ${time} | ${cell(teaches)} | ${deps} |`;
  });
  return [
    MAP_START,
    '',
    '| # | Lesson | Time | What it teaches | Builds on |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    wrap(note, 100),
    '',
    MAP_END,
  ].join('\n');
}

/** `text` wrapped at `width` columns, at spaces. */
/** @type {typeof import('./course.mjs').wrap} */
export function wrap(text, width) {
  /** @type {string[]} */
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** The lesson times (seconds) stated in an existing course map, so a partial run keeps the others. */
/** @type {typeof import('./course.mjs').timesFromMap} */
export function timesFromMap(readme) {
  /** @type {Record<string, number>} */
  const times = {};
  const start = readme.indexOf(MAP_START);
  const end = readme.indexOf(MAP_END);
  if (start < 0 || end < 0) return times;
  for (const m of readme.slice(start, end).matchAll(/^\| (\d\d) \| [^|]*(?:\\\|[^|]*)*\| (?:(\d+) min (\d+) s|(\d+) s) \|/gm)) {
    if (m[1] !== undefined) times[m[1]] = m[4] !== undefined ? Number(m[4]) : Number(m[2]) * 60 + Number(m[3]);
  }
  return times;
}

/** `readme` with its course map replaced by `map` (or inserted before "## For instructors"). */
/** @type {typeof import('./course.mjs').withCourseMap} */
export function withCourseMap(readme, map) {
  const start = readme.indexOf(MAP_START);
  const end = readme.indexOf(MAP_END);
  if (start >= 0 && end > start) return readme.slice(0, start) + map + readme.slice(end + MAP_END.length);
  const section = `## Course map\n\n${map}\n\n`;
  const at = readme.indexOf('## For instructors');
  return at >= 0 ? readme.slice(0, at) + section + readme.slice(at) : `${readme.trimEnd()}\n\n${section}`;
}
