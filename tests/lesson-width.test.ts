/**
 * scripts/lib/line-width.mjs, the `npm test` check that no lesson code line is longer than the
 * lib's width (100 characters), so that JupyterLab shows every line whole.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import * as untyped from '../scripts/lib/line-width.mjs';

interface LongLine { cell: number; line: number; length: number; text: string }
type Notebook = { cells: { cell_type: string; source: string | string[] }[] };
/** The script's exports, typed after their JSDoc. */
const { LINE_WIDTH, longCodeLines } = untyped as {
  LINE_WIDTH: number;
  longCodeLines: (nb: Notebook, max?: number) => LongLine[];
};

describe('longCodeLines', () => {
  it('names the cell and line of each code line over the width, and only those', () => {
    expect(LINE_WIDTH).toBe(100);
    const ok = 'x'.repeat(100);
    const long = `const s = '${'y'.repeat(95)}';`; // 108 characters
    const nb: Notebook = {
      cells: [
        { cell_type: 'markdown', source: [`${'m'.repeat(150)}\n`] }, // prose may be long
        { cell_type: 'code', source: [`${ok}\n`, `${long}\n`, 'z'] },
        { cell_type: 'code', source: `a\n${long}` },
      ],
    };
    expect(longCodeLines(nb)).toEqual([
      { cell: 2, line: 2, length: 108, text: long },
      { cell: 3, line: 2, length: 108, text: long },
    ]);
    expect(longCodeLines(nb, 200)).toEqual([]);
  });
});
