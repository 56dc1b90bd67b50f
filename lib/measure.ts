/**
 * Timing, the tinybench way: warm-up runs, then repeats until a minimum time has passed, and
 * the median with the 10th and 90th percentiles. Used by lessons (matmul GFLOP/s in lesson 00)
 * and by `npm run bench`. Asynchronous backends are timed to the end of the work because the
 * measured function must await its result (`await t.data()`).
 */
import * as tf from '@tensorflow/tfjs';
import { assertIntegerAtLeast } from './assert';

export interface TimingOptions {
  /** Untimed runs first (default 2). */
  warmup?: number;
  /**
   * Then more untimed runs until this many milliseconds of warm-up have passed (default 0). A
   * small model's step on wasm gets faster over its first few thousand runs, as V8 optimises
   * the JavaScript of tfjs's engine and of the lib: the distillation step took 245 µs (median)
   * over its first 1000 runs and 150 µs from the 4000th on (bench/README.md, "Method").
   */
  warmupMs?: number;
  /** Keep timing until this many milliseconds have passed (default 300). */
  minTimeMs?: number;
  /** At least this many timed runs (default 3). */
  minIterations?: number;
  /** At most this many timed runs (default 100). */
  maxIterations?: number;
}

export interface TimingStats {
  iterations: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  meanMs: number;
}

/** The q-quantile (0..1) of sorted values, by linear interpolation. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty array');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/**
 * Times `fn` and returns per-run statistics in milliseconds.
 * @throws Error when an option is not a valid count.
 */
export async function timeIt(fn: () => unknown, options: TimingOptions = {}): Promise<TimingStats> {
  const warmup = options.warmup ?? 2;
  const warmupMs = options.warmupMs ?? 0;
  const minTimeMs = options.minTimeMs ?? 300;
  const minIterations = options.minIterations ?? 3;
  const maxIterations = options.maxIterations ?? 100;
  assertIntegerAtLeast(warmup, 'warmup', 0);
  assertIntegerAtLeast(minIterations, 'minIterations', 1);
  assertIntegerAtLeast(maxIterations, 'maxIterations', minIterations);
  if (!(minTimeMs >= 0)) throw new Error(`minTimeMs must be ≥ 0, got ${minTimeMs}`);
  if (!(warmupMs >= 0 && Number.isFinite(warmupMs))) throw new Error(`warmupMs must be a finite number ≥ 0, got ${warmupMs}`);
  const warmStart = performance.now();
  for (let i = 0; i < warmup; i++) await fn();
  while (performance.now() - warmStart < warmupMs) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxIterations && (times.length < minIterations || performance.now() - start < minTimeMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    iterations: times.length,
    medianMs: quantile(sorted, 0.5),
    p10Ms: quantile(sorted, 0.1),
    p90Ms: quantile(sorted, 0.9),
    meanMs: times.reduce((s, x) => s + x, 0) / times.length,
  };
}

export interface MatmulResult extends TimingStats {
  backend: string;
  n: number;
  /** 2·n³ floating-point operations per run, divided by the median time. */
  gflops: number;
}

/**
 * Measures an n×n by n×n float32 matmul on the active backend.
 * @throws Error when `n` is not a positive integer.
 */
export async function matmulGflops(n: number, options: TimingOptions = {}): Promise<MatmulResult> {
  assertIntegerAtLeast(n, 'n', 1);
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  try {
    const stats = await timeIt(async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    }, options);
    return { backend: tf.getBackend(), n, ...stats, gflops: (2 * n ** 3) / (stats.medianMs * 1e6) };
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Backends that can run in this process, in the course's order of preference. */
export async function availableBackends(): Promise<string[]> {
  const current = tf.getBackend();
  const ok: string[] = [];
  for (const name of ['tensorflow', 'wasm', 'cpu']) {
    if (tf.findBackendFactory(name) === null) continue;
    try {
      if (await tf.setBackend(name)) ok.push(name);
    } catch {
      // a registered backend that cannot initialise here (logged by tfjs)
    }
  }
  await tf.setBackend(current);
  return ok;
}

/**
 * Runs `fn` with `name` as the active backend, then restores the previous one. Tensors made on
 * one backend must not be used on another: create and dispose them inside `fn`.
 * @throws Error when the backend cannot be activated.
 */
export async function withBackend<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  const ok = tf.findBackendFactory(name) !== null && (await tf.setBackend(name));
  if (!ok) throw new Error(`backend must be one that can run here, got ${JSON.stringify(name)}`);
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
  }
}

/**
 * Times one forward pass of `model` on `x`, to the end of the work (the output is read back), by
 * `timeIt`: by default 10 warm-up passes, then passes for at least 500 ms. Disposes the outputs.
 * @throws Error when an option is not a valid count.
 */
export async function forwardTime(model: tf.LayersModel, x: tf.Tensor, options: TimingOptions = {}): Promise<TimingStats> {
  return timeIt(
    async () => {
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
    },
    { warmup: 10, minTimeMs: 500, ...options },
  );
}

/** The number of tfjs kernels one forward pass of `model` on `x` dispatches (`tf.profile`). */
export async function forwardKernels(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const info = await tf.profile(() => model.predict(x));
  tf.dispose(info.result);
  return info.kernels.length;
}
