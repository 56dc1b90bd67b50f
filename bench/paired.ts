/**
 * `npm run bench -- --cases A,B --paired [--rounds N] [--block MS]`: each named case timed in tfjs
 * and in PyTorch (one thread) alternately, block by block, so that the two sides of each ratio
 * are measured seconds apart instead of minutes. The default run times every tfjs case, then
 * starts PyTorch: on a machine whose speed drifts (by up to 2× over tens of minutes on the
 * 2-vCPU machines here, bench/README.md), that drift lands in the ratios.
 *
 * Per case: both sides are set up (PyTorch in a `torch_bench.py --serve` child process, which
 * stays up for the whole run) and their check values compared; both are warmed up; then each
 * round times one block of at least `blockMs` on each side (steps repeated until the time has
 * passed; the block's mean is the round's time), tfjs first in even rounds and PyTorch first in
 * odd ones. The report gives each side's median over the rounds, and the median and quartiles of
 * the per-round ratios tfjs ÷ PyTorch. The two never run at once.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase } from './case.js';
import { CHECK_TOLERANCE, REFERENCE_BLAS_WARNING, alignTable, blasText, fmtRatio, fmtTime } from './report.js';
import { settle, wait } from './timing.js';
import { BENCH_DIR, type TorchHeader } from './torch.js';

/** The least time of one block, per side and round, when --block is not given. */
export const DEFAULT_BLOCK_MS = 100;

/** PyTorch's intra-op threads in a paired run: one, as in the comparisons. */
export const PAIRED_THREADS = 1;

/** One case's figures from a paired run. */
export interface PairedCase {
  id: string;
  title: string;
  /** Per round, the mean time of one step in its block, in ms. */
  tfjsMs: number[];
  torchMs: number[];
  /** tfjs ÷ PyTorch, round by round. */
  ratios: number[];
  tfjsMedianMs: number;
  torchMedianMs: number;
  medianRatio: number;
  ratioP25: number;
  ratioP75: number;
  /** The check values (the case's result: a scalar, or a Frobenius norm) and their relative difference; null for a case not compared. */
  check: { tfjs: number; torch: number; rel: number } | null;
}

/** What --paired reports. */
export interface PairedRun {
  backend: string;
  torch: TorchHeader;
  rounds: number;
  blockMs: number;
  cases: PairedCase[];
}

/** The q-quantile of samples (lib.quantile's interpolation). */
function sortedQuantile(values: readonly number[], q: number): number {
  return lib.quantile([...values].sort((a, b) => a - b), q);
}

/**
 * A case's figures from its per-round times.
 * @throws Error when the two sides have different round counts, or none.
 */
export function pairedFigures(id: string, title: string, tfjsMs: readonly number[], torchMs: readonly number[], check: PairedCase['check'] = null): PairedCase {
  if (tfjsMs.length !== torchMs.length || tfjsMs.length < 1) {
    throw new Error(`case ${id}: a paired run needs as many tfjs rounds as PyTorch rounds, at least 1, got ${tfjsMs.length} and ${torchMs.length}`);
  }
  const ratios = tfjsMs.map((t, i) => t / (torchMs[i] ?? NaN));
  return {
    id,
    title,
    tfjsMs: [...tfjsMs],
    torchMs: [...torchMs],
    ratios,
    tfjsMedianMs: sortedQuantile(tfjsMs, 0.5),
    torchMedianMs: sortedQuantile(torchMs, 0.5),
    medianRatio: sortedQuantile(ratios, 0.5),
    ratioP25: sortedQuantile(ratios, 0.25),
    ratioP75: sortedQuantile(ratios, 0.75),
    check,
  };
}

/** `torch_bench.py --serve`, one JSON command per line, one JSON answer per line. */
class TorchServer {
  private constructor(
    private readonly child: ReturnType<typeof spawn>,
    private readonly next: () => Promise<string>,
  ) {}

  /** Starts the server and reads its header; `{ available: false }` when Python or torch is missing. */
  static async start(python: string): Promise<{ server: TorchServer; header: TorchHeader } | { available: false; reason: string }> {
    const child = spawn(python, [join(BENCH_DIR, 'torch_bench.py'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const failed = new Promise<never>((_, reject) => child.once('error', reject));
    failed.catch(() => undefined); // raced below; never unhandled
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    const next = async (): Promise<string> => {
      const r = await Promise.race([lines.next(), failed]);
      if (r.done) throw new Error(`bench/torch_bench.py --serve (${python}) exited (code ${child.exitCode ?? child.signalCode})`);
      return r.value;
    };
    let first: string;
    try {
      first = await next();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { available: false, reason: `${python} ${code === 'ENOENT' ? 'not found' : (err as Error).message}` };
    }
    const header = JSON.parse(first) as TorchHeader | { available: false; reason: string };
    if (!header.available) {
      child.stdin?.end();
      return header;
    }
    return { server: new TorchServer(child, next), header };
  }

  /** Sends one command and returns its answer. @throws Error with the server's message when it failed. */
  async ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
    const answer = JSON.parse(await this.next()) as Record<string, unknown>;
    if (typeof answer.error === 'string') throw new Error(`PyTorch, ${String(cmd.op)} ${String(cmd.id)}: ${answer.error}`);
    return answer;
  }

  /** Ends the server (it exits when its stdin closes) and waits for it. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    await exited;
  }
}

/** Options of {@link runPaired}. */
export interface PairedOptions {
  rounds: number;
  /** Least time of one block, per side and round (ms). */
  blockMs: number;
  /** Warm-up per side before the first round (ms; at least 2 steps). */
  warmupMs: number;
  /** The Python that has torch (default: $FRUGAL_PYTHON, else /usr/bin/python3). */
  python?: string;
}

/** Runs tfjs steps until `ms` have passed and at least one ran. -> mean ms per step */
async function tfjsBlock(step: () => ReturnType<Awaited<ReturnType<BenchCase['setup']>>['step']>, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  do {
    await wait(step());
    n++;
  } while (performance.now() - t0 < ms);
  return (performance.now() - t0) / n;
}

/**
 * Times `cases` paired with their PyTorch twins (see the file comment), on the active backend.
 * @throws Error when a case has no PyTorch twin, PyTorch is not available, an option is out of
 *   range, or a case leaks tensors.
 */
export async function runPaired(cases: readonly BenchCase[], opt: PairedOptions): Promise<PairedRun> {
  if (!Number.isInteger(opt.rounds) || opt.rounds < 1) throw new Error(`--rounds must be a positive integer, got ${opt.rounds}`);
  if (!(opt.blockMs >= 0 && Number.isFinite(opt.blockMs))) throw new Error(`--block must be a finite number ≥ 0 (ms), got ${opt.blockMs}`);
  if (!(opt.warmupMs >= 0 && Number.isFinite(opt.warmupMs))) throw new Error(`warmupMs must be a finite number ≥ 0, got ${opt.warmupMs}`);
  const orphans = cases.filter((c) => c.torch === undefined).map((c) => c.id);
  if (orphans.length) throw new Error(`--paired needs cases with a PyTorch twin; these have none: ${orphans.join(', ')}`);
  const python = opt.python ?? (process.env.FRUGAL_PYTHON || '/usr/bin/python3');
  const started = await TorchServer.start(python);
  if (!('server' in started)) throw new Error(`--paired needs PyTorch: ${started.reason}`);
  const { server, header } = started;
  const out: PairedCase[] = [];
  try {
    for (const c of cases) {
      process.stderr.write(`bench: paired ${c.id}\n`);
      const before = tf.memory().numTensors;
      const impl = await c.setup();
      try {
        const mine = await settle(impl.step());
        const theirs = (await server.ask({ op: 'setup', id: c.id, kind: c.torch, params: c.params, threads: PAIRED_THREADS })).check as number;
        const rel = Math.abs(mine - theirs) / Math.max(Math.abs(theirs), 1e-12);
        const step = (): ReturnType<typeof impl.step> => impl.step();
        await tfjsBlock(step, opt.warmupMs);
        await tfjsBlock(step, 0); // at least 2 warm-up steps, as the default run
        await server.ask({ op: 'block', id: c.id, ms: opt.warmupMs, min: 2 });
        const tfjsMs: number[] = [];
        const torchMs: number[] = [];
        const torchBlock = async (): Promise<void> => {
          const a = await server.ask({ op: 'block', id: c.id, ms: opt.blockMs, min: 1 });
          torchMs.push((a.ms as number) / (a.n as number));
        };
        for (let r = 0; r < opt.rounds; r++) {
          if (r % 2 === 1) await torchBlock();
          tfjsMs.push(await tfjsBlock(step, opt.blockMs));
          if (r % 2 === 0) await torchBlock();
        }
        out.push(pairedFigures(c.id, c.title, tfjsMs, torchMs, c.compare === false ? null : { tfjs: mine, torch: theirs, rel }));
      } finally {
        await impl.dispose();
        await server.ask({ op: 'drop', id: c.id });
      }
      const after = tf.memory().numTensors;
      if (after !== before) throw new Error(`case ${c.id} on ${tf.getBackend()} leaked ${after - before} tensors (${before} -> ${after})`);
    }
  } finally {
    await server.close();
  }
  return { backend: tf.getBackend(), torch: header, rounds: opt.rounds, blockMs: opt.blockMs, cases: out };
}

/** The cases whose check differs from PyTorch's by more than CHECK_TOLERANCE (relative). */
export function pairedMismatches(run: PairedRun): string[] {
  return run.cases.flatMap((c) => (c.check && !(c.check.rel <= CHECK_TOLERANCE) ? [`${c.id}: tfjs ${c.check.tfjs} vs torch ${c.check.torch}`] : []));
}

/** The text report: a header, one row per case, and the agreement line. */
export function renderPaired(run: PairedRun): string {
  const rows = [['case', `tfjs ${run.backend}`, `torch ${PAIRED_THREADS} thr`, 'ratio', 'p25–p75', 'per round']];
  for (const c of run.cases) {
    rows.push([
      c.id,
      fmtTime(c.tfjsMedianMs),
      fmtTime(c.torchMedianMs),
      fmtRatio(c.medianRatio),
      `${c.ratioP25.toFixed(2)}–${c.ratioP75.toFixed(2)}`,
      c.ratios.map((v) => v.toFixed(2)).join(' '),
    ]);
  }
  const bad = pairedMismatches(run);
  const checked = run.cases.filter((c) => c.check !== null);
  const worst = Math.max(0, ...checked.map((c) => c.check?.rel ?? 0));
  return [
    `paired, ${run.rounds} rounds of blocks of at least ${run.blockMs} ms per side; tfjs on ${run.backend}, PyTorch ${run.torch.torch} on ${PAIRED_THREADS} thread (${blasText(run.torch.blas)})`,
    'time = median over rounds of the mean step in a block; ratio = median over rounds of (tfjs ÷ PyTorch in the same round)',
    ...(run.torch.reference_blas ? [REFERENCE_BLAS_WARNING] : []),
    '',
    alignTable(rows),
    '',
    bad.length
      ? `results DIFFER from PyTorch (relative > ${CHECK_TOLERANCE}): ${bad.join('; ')}`
      : `results agree with PyTorch within ${CHECK_TOLERANCE} relative (largest: ${worst.toExponential(1)}; ${checked.length} of ${run.cases.length} cases compared)`,
  ].join('\n');
}
