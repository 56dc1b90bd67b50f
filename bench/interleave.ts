/**
 * `npm run bench -- --cases A,B,C --interleave [--rounds N]`: the chosen cases timed round-robin
 * in one process. Every case is set up once and warmed up; then each round runs one step of each
 * case, in the order named, so that a change of load on a shared machine hits every case alike.
 * The report gives each case's median step time and, for every case but the last named, the
 * median over the rounds of its time divided by the last-named case's time in the same round
 * (the reference). tfjs only, on the active backend; no PyTorch, no profile.
 */
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase, CaseInstance } from './case.js';
import { wait } from './timing.js';

/**
 * A case id ending in this, in `--interleave --cases`, is the same case with tfjs-node's own
 * kernels instead of the lib's replacements (lib/ops/native-tf.ts) during its steps: the
 * before/after of those replacements in one process, on `--backend tensorflow`.
 */
export const STOCK_NATIVE = '@stock-native';

/** `c` run with tfjs-node's own kernels during each step (see {@link STOCK_NATIVE}). */
export function stockNativeVariant(c: BenchCase): BenchCase {
  return {
    ...c,
    id: `${c.id}${STOCK_NATIVE}`,
    title: `${c.title}, tfjs-node's kernels`,
    setup: async () => {
      const impl = await c.setup();
      return {
        step: async () => {
          lib.useNativeKernels(false);
          try {
            return await impl.step();
          } finally {
            lib.useNativeKernels(true);
          }
        },
        dispose: () => impl.dispose(),
      };
    },
  };
}

/** Rounds when --rounds is not given. */
export const DEFAULT_ROUNDS = 9;

/** Untimed steps of each case before the first round. */
export const INTERLEAVE_WARMUP = 2;

/** One case's figures from an interleaved run. */
export interface InterleavedCase {
  id: string;
  /** Its step time in every round, in ms, in round order. */
  ms: number[];
  /** The median of `ms`. */
  medianMs: number;
  /** Its time ÷ the reference's time, round by round (the reference's own are all 1). */
  ratios: number[];
  /** The median of `ratios`. */
  medianRatio: number;
}

/** What --interleave reports. */
export interface InterleavedRun {
  /** The last-named case: every ratio is relative to it. */
  reference: string;
  rounds: number;
  cases: InterleavedCase[];
}

/** The median of samples (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  return lib.quantile([...values].sort((a, b) => a - b), 0.5);
}

/**
 * The figures of an interleaved run from its raw times: each case's median, and the median of
 * its per-round ratios to the last case of `times` (the reference).
 * @param times case id -> its time in every round (ms), in the order the cases were named
 * @throws Error when fewer than two cases are given, or their round counts differ.
 */
export function interleavedFigures(times: ReadonlyArray<readonly [string, readonly number[]]>): InterleavedRun {
  const last = times[times.length - 1];
  if (times.length < 2 || !last) throw new Error(`--interleave needs at least 2 cases, got ${times.length}`);
  const [reference, refMs] = last;
  const rounds = refMs.length;
  if (rounds < 1) throw new Error(`--interleave needs at least 1 round, got ${rounds}`);
  const cases = times.map(([id, ms]): InterleavedCase => {
    if (ms.length !== rounds) throw new Error(`case ${id} has ${ms.length} rounds, the reference ${reference} has ${rounds}`);
    const ratios = ms.map((t, i) => t / (refMs[i] ?? NaN));
    return { id, ms: [...ms], medianMs: median(ms), ratios, medianRatio: median(ratios) };
  });
  return { reference, rounds, cases };
}

/**
 * Sets up `cases`, warms each up (`warmup` steps, and more until `warmupMs` have passed), times
 * `rounds` rounds of one step of each (in the given order), then disposes them all.
 * @throws Error when `rounds` is not a positive integer, or when the cases leak tensors.
 */
export async function runInterleaved(cases: readonly BenchCase[], rounds: number, warmup = INTERLEAVE_WARMUP, warmupMs = 0): Promise<InterleavedRun> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${rounds}`);
  if (!(warmupMs >= 0 && Number.isFinite(warmupMs))) throw new Error(`warmupMs must be a finite number ≥ 0, got ${warmupMs}`);
  const before = tf.memory().numTensors;
  const made: Array<[BenchCase, CaseInstance]> = [];
  const times: Array<[string, number[]]> = cases.map((c) => [c.id, []]);
  try {
    for (const c of cases) {
      process.stderr.write(`bench: set up ${c.id}\n`);
      made.push([c, await c.setup()]);
    }
    for (const [c, impl] of made) {
      process.stderr.write(`bench: warm up ${c.id}\n`);
      const t0 = performance.now();
      for (let i = 0; i < warmup; i++) await wait(impl.step());
      while (performance.now() - t0 < warmupMs) await wait(impl.step());
    }
    for (let r = 0; r < rounds; r++) {
      for (const [i, [, impl]] of made.entries()) {
        const t0 = performance.now();
        await wait(impl.step());
        times[i]?.[1].push(performance.now() - t0);
      }
      process.stderr.write(`bench: round ${r + 1}/${rounds}\n`);
    }
  } finally {
    for (const [, impl] of made) await impl.dispose();
  }
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`cases ${cases.map((c) => c.id).join(', ')} on ${tf.getBackend()} leaked ${after - before} tensors (${before} -> ${after})`);
  }
  return interleavedFigures(times);
}

/** The text report: one line per case (median, median ratio, per-round ratios). */
export function renderInterleaved(run: InterleavedRun): string {
  const width = Math.max(...run.cases.map((c) => c.id.length));
  const lines = [`interleaved, ${run.rounds} rounds; ratio = median over rounds of (case ÷ ${run.reference} in the same round)`];
  for (const c of run.cases) {
    const head = `${c.id.padEnd(width)}  median ${c.medianMs.toFixed(1).padStart(8)} ms`;
    if (c.id === run.reference) lines.push(`${head}  (reference)`);
    else lines.push(`${head}  ratio ${c.medianRatio.toFixed(3)}  per round ${c.ratios.map((v) => v.toFixed(2)).join(' ')}`);
  }
  return lines.join('\n');
}
