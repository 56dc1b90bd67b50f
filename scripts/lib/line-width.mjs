// @ts-check
// The lessons' code line width: no code-cell line longer than LINE_WIDTH characters, the lib's
// width (.prettierrc.json), so JupyterLab shows every line whole. Checked by
// scripts/check-lesson-duplicates.mjs (an `npm test` step); scripts/format-lessons.mjs wraps lines.

/** The longest code line a lesson may have, in characters (UTF-16 code units, as editors count). */
export const LINE_WIDTH = 100;

/** @typedef {{ cell: number, line: number, length: number, text: string }} LongLine */

/**
 * The code-cell lines of a notebook longer than `max`.
 * @param {{ cells: { cell_type: string, source: string | string[] }[] }} nb
 * @param {number} [max]
 * @returns {LongLine[]} each with its 1-based cell number (among all cells, as Jupyter numbers
 *   them in the file) and 1-based line number in the cell.
 */
export function longCodeLines(nb, max = LINE_WIDTH) {
  /** @type {LongLine[]} */
  const out = [];
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== 'code') return;
    const src = Array.isArray(c.source) ? c.source.join('') : c.source;
    src.split('\n').forEach((text, j) => {
      if (text.length > max) out.push({ cell: i + 1, line: j + 1, length: text.length, text });
    });
  });
  return out;
}
