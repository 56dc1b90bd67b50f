/**
 * The course's key figures: what each lesson states, the value expected, the tolerance, and
 * where the expectation comes from. Lessons check their figures against this table with
 * `checkResult`, and `RESULTS.md` is generated from the same table and the recorded values.
 *
 * One entry per figure. Add a lesson's entries as one block, in lesson order, with a comment
 * naming the lesson. Ids are `<lesson number>.<name>`, for example `03.teacher-test-accuracy`.
 */
import type { Expectation } from './check';

export const EXPECTED = {
  // Lesson 00 and later: each lesson appends its block below.
} as const satisfies Record<string, Expectation>;
