// scripts/export-html.mjs countFormulas: the number of formulas browser-check and the book expect
// KaTeX to render. KaTeX's auto-render lets an inline $…$ wrap onto the next line of its
// paragraph (lesson 04 has one), so the count must too; a blank line ends a formula.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { countFormulas } from '../scripts/export-html.mjs';

const nb = (...md: string[]) => ({ cells: md.map((source) => ({ cell_type: 'markdown', source })) });
const count = countFormulas as (n: ReturnType<typeof nb>) => number;

describe('countFormulas', () => {
  it('counts inline and display formulas outside code', () => {
    // Hand count: $a$, $$b$$ and $c$; the one in backticks and the escaped \$ are not formulas.
    expect(count(nb('$a$ and `$x$` cost \\$5', '$$\nb\n$$', 'then $c$'))).toBe(3);
  });
  it('counts an inline formula that wraps onto the next line as one', () => {
    expect(count(nb('the mean $\\frac1K \\sum_k\np_k$, then $q$'))).toBe(2);
  });
  it('does not join two paragraphs into one formula', () => {
    expect(count(nb('a price of $5\n\nand another $6'))).toBe(0);
  });
});
