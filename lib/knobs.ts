import { DEFAULT_SEED, seedAll } from './random';

/**
 * The scale knob every lesson has in its first cell: `const SCALE = scaleKnob();`.
 *
 * A learner turns it in the cell (`scaleKnob(4)`) and re-runs the lesson: no restart of Jupyter,
 * because the value is read each time the cell runs. `scaleKnob()` with no number reads the
 * environment variable `FRUGAL_SCALE` (set before starting Jupyter, or by a headless run), and
 * is 1 when that is unset. A number in the cell beats the environment.
 *
 * The scale of the last `scaleKnob` call is remembered (`currentScale`): the key figures of
 * `lib/results` are pinned at scale 1, so away from it `checkResult` reports a figure outside its
 * tolerance as a warning instead of failing the lesson.
 */

/** The environment variable read by `scaleKnob()` when the cell gives no number. */
export const SCALE_ENV = 'FRUGAL_SCALE';

let scale = 1;

/**
 * Resolves the lesson's scale: `value` when given, else `$FRUGAL_SCALE` read now, else 1.
 * Remembers it as `currentScale()`.
 * @example const SCALE = scaleKnob(); // or scaleKnob(4): a number here beats FRUGAL_SCALE
 * @throws Error when the value (the argument, or FRUGAL_SCALE) is not a finite number > 0.
 */
export function scaleKnob(value?: number): number {
  let s: number;
  if (value !== undefined) {
    s = value;
    if (!(typeof s === 'number' && Number.isFinite(s) && s > 0)) {
      throw new Error(`scaleKnob(value): value must be a finite number > 0, got ${String(value)}`);
    }
  } else {
    const raw = process.env[SCALE_ENV];
    s = raw === undefined || raw.trim() === '' ? 1 : Number(raw);
    if (!(Number.isFinite(s) && s > 0)) {
      throw new Error(`${SCALE_ENV} must be a finite number > 0, got ${JSON.stringify(raw)}`);
    }
  }
  scale = s;
  return s;
}

/** The scale of the last `scaleKnob` call in this process (1 before any). */
export function currentScale(): number {
  return scale;
}

/** The environment variable read by `seedKnob()` when the cell gives no number. */
export const SEED_ENV = 'FRUGAL_SEED';

/**
 * Resolves the lesson's seed and seeds the process-wide generator with it (`seedAll`), like
 * `scaleKnob`: `value` when given, else `$FRUGAL_SEED` read now, else the course's default, 42.
 * Re-running the cell after changing it needs no restart.
 * @example const SEED = seedKnob(); // or seedKnob(43): a number here beats FRUGAL_SEED
 * @throws Error when the value (the argument, or FRUGAL_SEED) is not a safe integer.
 */
export function seedKnob(value?: number): number {
  let s: number;
  if (value !== undefined) {
    s = value;
    if (!Number.isSafeInteger(s)) throw new Error(`seedKnob(value): value must be an integer, got ${String(value)}`);
  } else {
    const raw = process.env[SEED_ENV];
    s = raw === undefined || raw.trim() === '' ? DEFAULT_SEED : Number(raw);
    if (!Number.isSafeInteger(s)) throw new Error(`${SEED_ENV} must be an integer, got ${JSON.stringify(raw)}`);
  }
  seedAll(s);
  return s;
}
