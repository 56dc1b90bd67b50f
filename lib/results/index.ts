/** The course's key figures: the table of expected values and the check lessons call. */
import { checkAgainst } from './check';
import { EXPECTED } from './expected';

export { EXPECTED } from './expected';
export { checkAgainst, RESULTS_DIR_ENV, type Expectation, type RecordedResult } from './check';

/** A figure id of the course's table. */
export type ResultId = keyof typeof EXPECTED;

/**
 * Checks a lesson's key figure against `EXPECTED[id]` (see `checkAgainst`) and returns it.
 * @throws Error when the value is outside the expected tolerance.
 */
export function checkResult(id: ResultId, value: number): number {
  return checkAgainst(EXPECTED, id, value);
}

/**
 * The expectations of `ids` as table rows, each with its recorded runs (`source`): what a
 * lesson's prose may quote beyond its own run (other seeds), shown in a cell above the prose.
 * @example showTable(frame(recordedRuns(['13.rl-test-accuracy-change'])))
 * @throws Error naming an id the table does not have.
 */
export function recordedRuns(ids: readonly ResultId[]): Array<Record<string, string | number>> {
  return ids.map((id) => {
    const e = (EXPECTED as Record<string, (typeof EXPECTED)[ResultId] | undefined>)[id];
    if (!e) throw new Error(`ids: no key figure ${JSON.stringify(id)} in lib/results/expected.ts`);
    return { figure: e.what, expected: e.expected, tolerance: e.tolerance, 'recorded runs': e.source };
  });
}
