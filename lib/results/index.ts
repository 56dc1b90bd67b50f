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
