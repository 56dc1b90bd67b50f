// Finds code repeated across lessons: runs of `minLines` or more identical lines (after trimming;
// blank lines skipped) that stand in the code cells of two different lessons. Used by
// scripts/check-lesson-duplicates.mjs (a step of `npm test`) and tested in
// tests/lesson-duplicates.test.ts. A helper two lessons both need belongs in lib/.

/** @typedef {{ lesson: string, cell: number, line: number }} Place */
/** @typedef {{ text: string, place: Place }} Line */
/** @typedef {{ li: number, ci: number, s: number }} Hit */

/** Lines that carry no code of their own: a run made only of these is not a repetition. */
const THIN = /^[\s{}()[\];,.]*$/;

/**
 * @param {{ name: string, cells: string[] }[]} lessons the code cells of each lesson.
 * @param {number} minLines the shortest run that counts (default 6).
 * @returns {{ a: Place, b: Place, lines: number, text: string[] }[]} one entry per repeated run,
 *   longest first; a Place is `{ lesson, cell, line }` (1-based cell index among all cells as
 *   given, 1-based line in the cell).
 */
export function findRepeatedCode(lessons, minLines = 6) {
  if (!Number.isInteger(minLines) || minLines < 2) throw new Error(`minLines must be an integer >= 2, got ${minLines}`);
  // Per lesson: the non-blank lines of every code cell, with where each came from.
  const units = lessons.map(({ name, cells }) => cells.map((src, c) => src.split('\n')
    .map((raw, l) => ({ text: raw.trim().replace(/\s+/g, ' '), place: { lesson: name, cell: c + 1, line: l + 1 } }))
    .filter((x) => x.text.length > 0)));
  // Index every window of minLines lines by its text.
  /** @type {Map<string, Hit[]>} */
  const index = new Map();
  units.forEach((cells, li) => cells.forEach((lines, ci) => {
    for (let s = 0; s + minLines <= lines.length; s++) {
      const win = lines.slice(s, s + minLines);
      if (win.every((x) => THIN.test(x.text))) continue;
      const key = win.map((x) => x.text).join('\n');
      const list = index.get(key) ?? [];
      list.push({ li, ci, s });
      index.set(key, list);
    }
  }));
  // Pairs of windows in different lessons, grown into maximal runs (each run reported once).
  const seen = new Set();
  /** @type {{ a: Place, b: Place, lines: number, text: string[] }[]} */
  const runs = [];
  /** @param {Line[]} xs @param {number} i @returns {Line} */
  const at = (xs, i) => /** @type {Line} */ (xs[i]);
  for (const hits of index.values()) {
    for (let i = 0; i < hits.length; i++) {
      for (let j = i + 1; j < hits.length; j++) {
        const p = /** @type {Hit} */ (hits[i]);
        const q = /** @type {Hit} */ (hits[j]);
        if (p.li === q.li) continue;
        const A = /** @type {Line[]} */ (units[p.li]?.[p.ci]);
        const B = /** @type {Line[]} */ (units[q.li]?.[q.ci]);
        let s = 0;
        while (p.s - s - 1 >= 0 && q.s - s - 1 >= 0 && at(A, p.s - s - 1).text === at(B, q.s - s - 1).text) s++;
        const a0 = p.s - s;
        const b0 = q.s - s;
        const key = `${p.li}/${p.ci}/${a0}~${q.li}/${q.ci}/${b0}`;
        if (seen.has(key)) continue;
        seen.add(key);
        let n = 0;
        while (a0 + n < A.length && b0 + n < B.length && at(A, a0 + n).text === at(B, b0 + n).text) n++;
        runs.push({ a: at(A, a0).place, b: at(B, b0).place, lines: n, text: A.slice(a0, a0 + n).map((x) => x.text) });
      }
    }
  }
  return runs.sort((x, y) => y.lines - x.lines);
}

/**
 * The code cells of a notebook's JSON, as strings.
 * @param {{ cells: { cell_type: string, source: string | string[] }[] }} notebook
 * @returns {string[]}
 */
export function codeCells(notebook) {
  return notebook.cells
    .map((cell) => (cell.cell_type === 'code' ? (Array.isArray(cell.source) ? cell.source.join('') : cell.source) : ''));
}
