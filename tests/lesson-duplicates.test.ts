/**
 * scripts/lib/repeated-code.mjs, the `npm test` check that no code is repeated across lessons.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import * as untyped from '../scripts/lib/repeated-code.mjs';

/** A place in a lesson, as scripts/lib/repeated-code.mjs documents it (JSDoc). */
interface Place { lesson: string; cell: number; line: number }
/** The script's two functions, typed after their JSDoc. */
const { codeCells, findRepeatedCode } = untyped as {
  codeCells: (notebook: { cells: { cell_type: string; source: string | string[] }[] }) => string[];
  findRepeatedCode: (lessons: { name: string; cells: string[] }[], minLines?: number) => { a: Place; b: Place; lines: number; text: string[] }[];
};

const six = ['const a = 1;', 'const b = 2;', 'function f() {', '  return a + b;', '}', 'console.log(f());'];

describe('findRepeatedCode', () => {
  it('finds six identical lines in two lessons, whatever the indentation and blank lines', () => {
    const runs = findRepeatedCode([
      { name: '03', cells: ['// other', ['let x = 0;', ...six].join('\n')] },
      { name: '04', cells: [six.map((l) => `    ${l}`).join('\n\n')] },
    ]);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.lines).toBe(6);
    expect(runs[0]?.a).toEqual({ lesson: '03', cell: 2, line: 2 });
    expect(runs[0]?.b).toEqual({ lesson: '04', cell: 1, line: 1 });
  });

  it('reports a longer run once, with its full length', () => {
    const eight = [...six, 'const c = 3;', 'const d = 4;'];
    const runs = findRepeatedCode([{ name: 'a', cells: [eight.join('\n')] }, { name: 'b', cells: [eight.join('\n')] }]);
    expect(runs.map((r) => r.lines)).toEqual([8]);
  });

  it('ignores five lines, repeats inside one lesson, and runs of braces only', () => {
    expect(findRepeatedCode([{ name: 'a', cells: [six.slice(0, 5).join('\n')] }, { name: 'b', cells: [six.slice(0, 5).join('\n')] }])).toEqual([]);
    expect(findRepeatedCode([{ name: 'a', cells: [six.join('\n'), six.join('\n')] }])).toEqual([]);
    const braces = ['}', '});', '}', ')', '];', '}'].join('\n');
    expect(findRepeatedCode([{ name: 'a', cells: [braces] }, { name: 'b', cells: [braces] }])).toEqual([]);
  });

  it('reads only code cells, and rejects a bad minimum', () => {
    expect(codeCells({ cells: [{ cell_type: 'markdown', source: ['x'] }, { cell_type: 'code', source: ['a\n', 'b'] }] })).toEqual(['', 'a\nb']);
    expect(() => findRepeatedCode([], 1)).toThrowError(/^minLines must be an integer >= 2, got 1$/);
  });
});
