/**
 * The pieces of `npm run reproduce` that need no kernel: RESULTS.md rows and statuses
 * (scripts/lib/results.mjs), the course map read from the lessons (scripts/lib/course.mjs), and
 * the offline book (scripts/book.mjs) checked in Chromium by browser-check --book. The run of a
 * lesson twice (identical figures) is the npm test step `reproduce.mjs --twice 01`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Expectation } from '../lib/results';
import { courseMapMarkdown, lessonInfo, lessonRefs, listAfter, timesFromMap, withCourseMap } from '../scripts/lib/course.mjs';
import { allOk, resultRows, resultsMarkdown } from '../scripts/lib/results.mjs';

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = process.env.FRUGAL_CHROMIUM || '/usr/bin/chromium';

const EXPECTED: Record<string, Expectation> = {
  // Hand-made entries.
  '98.acc': { lesson: '98', what: 'an accuracy', expected: 0.9, tolerance: 0.05, unit: '', source: 'hand' },
  '98.ratio': { lesson: '98', what: 'a ratio', expected: 4, tolerance: 0.5, unit: '×', source: 'this course' },
  '98.gone': { lesson: '98', what: 'never checked', expected: 1, tolerance: 0, source: 'hand' },
  '99.other': { lesson: '99', what: 'another lesson', expected: 1, tolerance: 0, source: 'hand' },
};

describe('RESULTS.md rows', () => {
  it('marks each figure ok, out of tolerance, missing, changed or not run', () => {
    const recorded = new Map([
      ['98.acc', [0.93]],
      ['98.ratio', [5, 5]],
    ]);
    const rows = resultRows(EXPECTED, recorded, ['98']);
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      ['98.acc', 'ok'],
      ['98.ratio', 'out of tolerance'],
      ['98.gone', 'missing'],
      ['99.other', 'not run'],
    ]);
    expect(allOk(rows)).toBe(false);
    expect(resultRows(EXPECTED, new Map([['98.acc', [0.9, 0.91]]]), ['98'])[0]?.status).toBe('changed');
    expect(allOk(resultRows({ '98.acc': EXPECTED['98.acc']! }, new Map([['98.acc', [0.88]]]), ['98']))).toBe(true);
  });

  it('writes a table with value, expected ± tolerance, source and the verdict', () => {
    const rows = resultRows(EXPECTED, new Map([['98.acc', [0.93]], ['98.ratio', [4.2]]]), ['98']);
    const md = resultsMarkdown(rows, [{ lesson: '98-x', ok: true, wall_s: 12.34 }], { date: 'd', backend: 'wasm', machine: '2 CPU cores' });
    expect(md).toContain('| 98.ratio | a ratio | 4.2 × | 4 ± 0.5 × | this course | ✓ |');
    expect(md).toContain('| 98.gone | never checked | — | 1 ± 0 | hand | ✗ missing |');
    expect(md).toContain('**2 of 3 figures within tolerance**: 98.gone missing.');
    expect(md).toContain('| 98-x | ok | 12.3 |');
  });
});

describe('course map', () => {
  it('reads goals, prerequisites and the lessons a lesson builds on', () => {
    const md = '# 05 · X\n\n**Prerequisites**: lessons 01 and 03.\n\nIn this lesson you will:\n\n- do a;\n- do b, which\n  goes on.\n\nMore.';
    expect(listAfter(md, /In this lesson you will/)).toEqual(['do a', 'do b, which goes on']);
    expect(listAfter(md, /Prerequisites/)).toEqual(['lessons 01 and 03']);
    expect(lessonRefs('lessons 01, 02 and 04; lesson 06–08')).toEqual(['01', '02', '04', '06', '07', '08']);
    const info = lessonInfo(path.join(ROOT, 'notebooks', '03-distill-digits.ipynb'));
    expect(info.title).toBe('Distilling a digits classifier');
    expect(info.dependsOn).toEqual(['01', '02']);
    expect(info.goals.length).toBeGreaterThan(1);
  });

  it('writes the README section and reads its times back', () => {
    const info = lessonInfo(path.join(ROOT, 'notebooks', '01-soft-targets-temperature.ipynb'));
    const map = courseMapMarkdown([info], { '01': 73.4 }, 'note');
    expect(map).toContain('| 01 | [Soft targets and temperature](notebooks/01-soft-targets-temperature.ipynb) | 1 min 13 s |');
    const readme = withCourseMap('# T\n\n## For instructors\n\nx\n', map);
    expect(readme).toMatch(/^# T\n\n## Course map\n\n<!-- course-map:start/);
    expect(timesFromMap(readme)).toEqual({ '01': 73 });
    expect(withCourseMap(readme, courseMapMarkdown([info], { '01': 5 }, 'n'))).toContain('| 5 s |');
  });
});

describe.skipIf(!fs.existsSync(CHROMIUM))('the offline book, in Chromium', () => {
  it('has an index, a page per lesson with navigation, assets once, figures and formulas rendered', () => {
    const dir = path.join(ROOT, 'out', 'test', 'book-src');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const fig = { data: [{ type: 'scatter', x: [0, 1, 2], y: [3, 1, 2] }], layout: { title: { text: 'loss' } } };
    const lesson = (n: string, title: string) => ({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: 'markdown', id: 'a', metadata: {}, source: `# ${n} · ${title}\n\nIn this lesson you will:\n\n- see $T^2$ and $$\\mathrm{KL}(p \\| q) \\ge 0$$` },
        { cell_type: 'code', id: 'b', metadata: {}, execution_count: 1, source: 'show(fig)', outputs: [{ output_type: 'display_data', metadata: {}, data: { 'application/vnd.plotly.v1+json': fig, 'text/plain': 'Figure' } }] },
      ],
    });
    fs.writeFileSync(path.join(dir, '90-first.ipynb'), JSON.stringify(lesson('90', 'First')));
    fs.writeFileSync(path.join(dir, '91-second.ipynb'), JSON.stringify(lesson('91', 'Second')));
    const out = path.join(ROOT, 'out', 'test', 'book');
    fs.rmSync(out, { recursive: true, force: true });
    const b = spawnSync('node', ['scripts/book.mjs', dir, out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/book: 3 page\(s\), 2 figure\(s\), 4 formula\(s\)/);
    const page = fs.readFileSync(path.join(out, '90-first.html'), 'utf8');
    expect(page).toContain('<a href="91-second.html">91 Second →</a>');
    expect(page).not.toMatch(/plotly\.js v\d/); // linked from assets/, not inlined
    expect(fs.existsSync(path.join(out, 'assets', 'plotly.min.js'))).toBe(true);
    expect(fs.readdirSync(path.join(out, 'assets', 'katex', 'fonts')).some((f) => f.endsWith('.woff2'))).toBe(true);
    const c = spawnSync('node', ['scripts/browser-check.mjs', '--book', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(c.status, `${c.stdout}\n${c.stderr}`).toBe(0);
    expect(c.stdout).toMatch(/90-first\.html: 1 figure\(s\), 2 formula\(s\) rendered/);
    expect(c.stdout).toMatch(/the book's 3 page\(s\) passed/);
  }, 180_000);
});
