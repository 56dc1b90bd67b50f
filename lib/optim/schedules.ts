/**
 * Schedules: pure functions from the step (or epoch) number to a learning rate or a batch size.
 *
 * One numbering, used by the schedules and by `train()` (lib/train/loop.ts): **steps and epochs
 * count from 1**. Step t is the t-th optimiser update, the t of Adam's and LAMB's bias
 * corrections; epoch e is the e-th pass over the data. `train()` calls `lrSchedule(t)` before
 * update t and `batchSchedule(e)` before epoch e, so a schedule is passed to it as it is:
 *
 * ```ts
 * const schedule = warmupCosine({ peakLr: 1e-2, warmupSteps: 100, totalSteps: 2000 });
 * await train(model, data, { ..., lrSchedule: schedule }); // steps 1..2000
 * ```
 *
 * Every rate a schedule returns is > 0 at every valid step (a rate of 0 would waste a step, and
 * `train()` rejects it).
 */

/** A learning-rate schedule: step (integer >= 1) -> learning rate. */
export type LrSchedule = (step: number) => number;

function check(name: string, value: unknown, ok: (x: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !ok(value)) throw new Error(`${name} must be ${rule}, got ${String(value)}`);
  return value;
}

const isStep = (x: number) => Number.isInteger(x) && x >= 1;
const isCount = (x: number) => Number.isInteger(x) && x >= 0;

/**
 * A constant learning rate.
 * @param lr the rate, a finite number > 0.
 * @returns `step -> lr`.
 * @throws Error `lr must be a finite number > 0, got 0`; the schedule throws for a step that is
 *   not an integer >= 1.
 */
export function constantLr(lr: number): LrSchedule {
  check('lr', lr, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
  return (step) => {
    check('step', step, isStep, 'an integer >= 1');
    return lr;
  };
}

/** Configuration of {@link warmupCosine}. */
export interface WarmupCosineConfig {
  /** The rate reached at the end of the warm-up, > 0. */
  peakLr: number;
  /** Steps of linear warm-up, the last of which is at `peakLr` (integer >= 0; 0 = no warm-up). */
  warmupSteps: number;
  /** The last step, whose rate is `minLr` (integer > warmupSteps); later steps stay at `minLr`. */
  totalSteps: number;
  /** The floor of the decay, in (0, peakLr]. Default peakLr / 100 (a rate of 0 would waste the last step). */
  minLr?: number;
}

/**
 * Linear warm-up then cosine decay (the schedule of BERT-style and LAMB training), for steps
 * t = 1, 2, ... (W = warmupSteps, N = totalSteps):
 *
 *     t <= W:     lr = peakLr * t / W                       (peakLr / W at the first step, peakLr at step W)
 *     W < t < N:  lr = minLr + (peakLr - minLr) * (1 + cos(pi * (t - W) / (N - W))) / 2
 *     t >= N:     lr = minLr
 *
 * Hugging Face's `get_cosine_schedule_with_warmup` is the same curve counted from 0, so its
 * first update has a rate of 0; here the first update already moves the weights.
 *
 * @returns `step -> lr`.
 * @throws Error naming a bad field (`warmupSteps must be an integer >= 0, got 1.5`,
 *   `totalSteps must be an integer > warmupSteps (10), got 10`, `minLr must be in (0, peakLr], got 2`);
 *   the schedule throws for a step that is not an integer >= 1.
 */
export function warmupCosine(config: WarmupCosineConfig): LrSchedule {
  if (config === null || typeof config !== 'object') throw new Error(`config must be an object { peakLr, warmupSteps, totalSteps }, got ${String(config)}`);
  const peak = check('peakLr', config.peakLr, (x) => Number.isFinite(x) && x > 0, 'a finite number > 0');
  const W = check('warmupSteps', config.warmupSteps, isCount, 'an integer >= 0');
  const N = check('totalSteps', config.totalSteps, (x) => Number.isInteger(x) && x > W, `an integer > warmupSteps (${W})`);
  const floor = check('minLr', config.minLr ?? peak / 100, (x) => x > 0 && x <= peak, 'in (0, peakLr]');
  return (step) => {
    check('step', step, isStep, 'an integer >= 1');
    if (step <= W) return (peak * step) / W;
    if (step >= N) return floor;
    const progress = (step - W) / (N - W);
    return floor + ((peak - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
  };
}

/** Configuration of {@link batchSizeSchedule}. */
export interface BatchSizeScheduleConfig {
  /** Batch size at epoch 1 (integer >= 1). */
  initial: number;
  /** Cap (integer >= initial). */
  max: number;
  /** Growth factor applied every `everyEpochs` epochs (> 1). Default 2. */
  factor?: number;
  /** Epochs between growths (integer >= 1). Default 1. */
  everyEpochs?: number;
}

/**
 * A growing batch size, for epochs e = 1, 2, ...:
 * `min(max, floor(initial * factor^floor((e - 1) / everyEpochs)))`. Growing the
 * batch instead of decaying the learning rate has a similar effect on the noise of SGD (Smith,
 * Kindermans, Ying & Le 2018, "Don't Decay the Learning Rate, Increase the Batch Size"), and larger
 * batches use the hardware better late in training.
 *
 * @returns `epoch (integer >= 1) -> batch size`; pass it to `train()` as `batchSchedule`.
 * @throws Error naming a bad field (`initial must be an integer >= 1, got 0`,
 *   `max must be an integer >= initial (32), got 16`, `factor must be a finite number > 1, got 1`);
 *   the schedule throws for an epoch that is not an integer >= 1.
 */
export function batchSizeSchedule(config: BatchSizeScheduleConfig): (epoch: number) => number {
  if (config === null || typeof config !== 'object') throw new Error(`config must be an object { initial, max }, got ${String(config)}`);
  const initial = check('initial', config.initial, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  const max = check('max', config.max, (x) => Number.isInteger(x) && x >= initial, `an integer >= initial (${initial})`);
  const factor = check('factor', config.factor ?? 2, (x) => Number.isFinite(x) && x > 1, 'a finite number > 1');
  const every = check('everyEpochs', config.everyEpochs ?? 1, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  return (epoch) => {
    check('epoch', epoch, isStep, 'an integer >= 1');
    const k = Math.floor((epoch - 1) / every);
    // Past log_factor(max / initial) growths the cap applies; avoid Infinity for huge epochs.
    if (k >= Math.log(max / initial) / Math.log(factor) + 1) return max;
    return Math.min(max, Math.floor(initial * factor ** k));
  };
}
