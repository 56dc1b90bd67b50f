/**
 * Timing and profiling of one case: the lib's `timeIt` (lib/measure.ts), tinybench-like:
 * `warmup` untimed runs, and more until `warmupMs` have passed; then timed runs until `minTimeMs`
 * has passed and `minIterations` runs were made, at most `maxIterations`. torch_bench.py repeats
 * the same loop, and both columns' statistics come from `lib.quantile`. Profiling counts the kernels of one iteration with
 * `tf.profile`.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase, StepResult } from './case.js';

/** The timing loop's settings, every field given. */
export type Timing = Required<lib.TimingOptions>;

/** Per-iteration statistics in milliseconds, and GFLOP/s where the case counts its FLOPs. */
export interface Stats extends lib.TimingStats {
  gflops?: number;
}

/** Where one iteration's time goes (see profileIteration). */
export interface Profile {
  /** Kernels dispatched by one iteration (tfjs) or aten ops run (torch). */
  kernels: number;
  /** Median time inside them, in ms. */
  kernelMs: number;
  /** The most frequent kernels and their counts. */
  top: Array<[string, number]>;
}

/** Profiled iterations per case; the time inside kernels is the median over them. */
export const PROFILE_RUNS = 15;

/** Statistics of raw samples (PyTorch's), as timeIt computes them for tfjs. */
export function stats(ms: readonly number[]): lib.TimingStats {
  const sorted = [...ms].sort((x, y) => x - y);
  return {
    iterations: sorted.length,
    medianMs: lib.quantile(sorted, 0.5),
    p10Ms: lib.quantile(sorted, 0.1),
    p90Ms: lib.quantile(sorted, 0.9),
    meanMs: sorted.reduce((x, y) => x + y, 0) / sorted.length,
  };
}

/** Adds GFLOP/s to statistics when the case counts its FLOPs. */
export function withGflops(s: lib.TimingStats, flops: number | undefined): Stats {
  return flops ? { ...s, gflops: flops / s.medianMs / 1e6 } : { ...s };
}

/**
 * The number compared with PyTorch: the value of a scalar, else the Frobenius norm, summed in
 * float64 here so that the check itself adds no float32 rounding.
 */
export function checkValue(values: ArrayLike<number>): number {
  if (values.length === 1) return values[0] ?? NaN;
  let sumSq = 0;
  for (let i = 0; i < values.length; i++) sumSq += (values[i] ?? NaN) ** 2;
  return Math.sqrt(sumSq);
}

/**
 * Waits for one iteration's result: a tensor is downloaded (`await data()`, so an asynchronous
 * backend cannot stop the clock before its kernels have run), then disposed. -> its check value
 */
export async function settle(result: StepResult | Promise<StepResult>): Promise<number> {
  const r = await result;
  if (typeof r === 'number') return r;
  try {
    return checkValue(await r.data());
  } finally {
    r.dispose();
  }
}

/** As settle, without computing the check value (inside the timed region). */
export async function wait(result: StepResult | Promise<StepResult>): Promise<void> {
  const r = await result;
  if (typeof r === 'number') return;
  await r.data();
  r.dispose();
}

/**
 * Where one iteration's time goes, from `tf.profile`: the kernels the engine dispatched (ops
 * named `*__op` are composites that contain kernels, and are left out), and the time inside
 * them: the backend's timer around each kernel call (on wasm: the kernel's JavaScript, which
 * allocates the output and calls into WebAssembly, and the WebAssembly itself). The rest of an
 * iteration's (unprofiled) median is the engine's own work: the gradient tape, tensor
 * bookkeeping, tidy scopes, tfjs-layers and the optimiser's JavaScript.
 * @param runs profiled iterations (the kernel count is the last one's)
 */
export async function profileIteration(step: () => StepResult | Promise<StepResult>, runs = PROFILE_RUNS): Promise<Profile> {
  const sums: number[] = [];
  let count: Record<string, number> = {};
  let kernels = 0;
  for (let i = 0; i < runs; i++) {
    const info = await tf.profile(async () => {
      await wait(step());
    });
    const leaves = info.kernels.filter((k) => !k.name.endsWith('__op'));
    sums.push(leaves.reduce((sum, k) => sum + Number(k.kernelTimeMs), 0));
    kernels = leaves.length;
    count = {};
    for (const k of leaves) count[k.name] = (count[k.name] ?? 0) + 1;
  }
  const top = Object.entries(count).sort((a, b) => b[1] - a[1]).slice(0, 6);
  return { kernels, kernelMs: lib.quantile([...sums].sort((a, b) => a - b), 0.5), top };
}

/** One case's tfjs result on one backend. */
export interface TfjsResult {
  check: number;
  stats: Stats;
  profile: Profile | null;
}

/**
 * Runs one case on the active backend: a first iteration for the check value, the timed
 * iterations, and (with `profileRuns` > 0) the profiled ones.
 * @throws Error when the case leaks tensors (naming the case, the backend and the counts).
 */
export async function runTfjsCase(c: BenchCase, timing: Timing, profileRuns = 0): Promise<TfjsResult> {
  const before = tf.memory().numTensors;
  const impl = await c.setup();
  let result: TfjsResult;
  try {
    const check = await settle(impl.step());
    const timed = await lib.timeIt(() => wait(impl.step()), timing);
    const profile = profileRuns > 0 ? await profileIteration(() => impl.step(), profileRuns) : null;
    result = { check, stats: withGflops(timed, c.flops), profile };
  } finally {
    await impl.dispose();
  }
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`case ${c.id} on ${tf.getBackend()} leaked ${after - before} tensors (${before} -> ${after})`);
  }
  return result;
}

/** One case's result in onnxruntime-node. */
export type OrtResult = { available: true; check: number; stats: Stats } | { available: false; reason: string };

/**
 * Runs one case in onnxruntime-node, or returns null when it has no ONNX twin; when onnxruntime
 * is not installed, says so.
 */
export async function runOrtCase(c: BenchCase, timing: Timing): Promise<OrtResult | null> {
  if (!c.ort) return null;
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    return { available: false, reason: 'onnxruntime-node is not installed' };
  }
  const impl = await c.ort();
  try {
    const check = checkValue(await impl.step());
    const timed = await lib.timeIt(() => impl.step(), timing);
    return { available: true, check, stats: withGflops(timed, c.flops) };
  } finally {
    await impl.dispose();
  }
}
