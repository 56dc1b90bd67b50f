/**
 * Checking a lesson's key figure against the course's table of expected values
 * (`lib/results/expected.ts`), and recording it for `RESULTS.md`.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { currentScale } from '../knobs';

/** One key figure a lesson states. */
export interface Expectation {
  /** The lesson's number, e.g. `'03'`. */
  lesson: string;
  /** What the figure is, in a few words, e.g. `'teacher test accuracy'`. */
  what: string;
  /** The expected value. */
  expected: number;
  /** The largest accepted |value − expected|, in the figure's own unit. */
  tolerance: number;
  /** The unit, when there is one (`'%'`, `'×'`, `'bytes'`). */
  unit?: string;
  /** Where the expectation comes from: a paper (section), PyTorch, a hand computation, or
   * `'this course'` for a value measured here and pinned. */
  source: string;
}

/** The environment variable naming a folder where checked figures are recorded (JSON lines). */
export const RESULTS_DIR_ENV = 'FRUGAL_RESULTS_DIR';

/** A recorded figure: one line of `<lesson>.jsonl` in `$FRUGAL_RESULTS_DIR`. */
export interface RecordedResult {
  id: string;
  value: number;
  ok: boolean;
}

/**
 * Checks that `value` is within the tolerance of the expectation `table[id]`, records it when
 * `$FRUGAL_RESULTS_DIR` is set, and returns `value`.
 *
 * The expectations hold at scale 1 (`scaleKnob`). At another scale a value outside its tolerance
 * is recorded as not ok and reported on stderr, but does not throw: a learner who turned the
 * scale knob and re-ran the lesson sees the lesson finish.
 * @throws Error naming the id, the value, the expected value and the tolerance when the value is
 * outside it (at scale 1), or when `value` is not finite, or when `id` is not in the table.
 */
export function checkAgainst(table: Readonly<Record<string, Expectation>>, id: string, value: number): number {
  const e = table[id];
  if (!e) throw new Error(`checkResult: unknown figure id ${JSON.stringify(id)}; add it to lib/results/expected.ts`);
  const ok = Number.isFinite(value) && Math.abs(value - e.expected) <= e.tolerance;
  const dir = process.env[RESULTS_DIR_ENV];
  if (dir) {
    mkdirSync(dir, { recursive: true });
    const line: RecordedResult = { id, value, ok };
    appendFileSync(join(dir, `${e.lesson}.jsonl`), `${JSON.stringify(line)}\n`);
  }
  if (!ok) {
    const unit = e.unit ? ` ${e.unit}` : '';
    const message = `${id} (${e.what}) = ${value}${unit}, expected ${e.expected} ± ${e.tolerance}${unit} (source: ${e.source})`;
    const s = currentScale();
    if (s !== 1 && Number.isFinite(value)) {
      process.stderr.write(`${message}: outside the tolerance, which holds at scale 1 (this run: scale ${s})\n`);
      return value;
    }
    throw new Error(`${message}; the expectations hold at the lesson's default knobs`);
  }
  return value;
}
