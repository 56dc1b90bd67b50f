/**
 * The PyTorch side: bench/torch_bench.py, run by /usr/bin/python3 (Debian's, which has torch) or
 * $FRUGAL_PYTHON, in a child process after the tfjs cases, so the two never share the cores.
 * It reads a spec on stdin and prints one JSON object (its docstring gives both formats).
 */
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchCase, ParamValue } from './case.js';
import type { Profile, Timing } from './timing.js';

/** bench/: this file runs from bench/dist (compiled), or from bench/ itself (under vitest). */
export const BENCH_DIR = ((here: string) => (basename(here) === 'dist' ? dirname(here) : here))(dirname(fileURLToPath(import.meta.url)));

/** One case's result from torch_bench.py. */
export type TorchCase =
  | { error: string }
  | { check: number; runs: Record<string, number[]>; profile?: Profile };

/** What torch_bench.py says about PyTorch, in its answer (and in `--serve`'s first line). */
export interface TorchHeader {
  available: true;
  torch: string;
  python: string;
  /** The BLAS file(s) torch's products loaded (torch_bench.py's blas_library), or null if unknown. */
  blas?: string | null;
  /** true when that is the reference BLAS (Debian's libblas3), whose products are 20-30× slower. */
  reference_blas?: boolean;
  default_threads: number;
}

/** torch_bench.py's answer. */
export type TorchResult =
  | { available: false; reason: string }
  | (TorchHeader & { threads: number[]; cases: Record<string, TorchCase> });

/** The spec torch_bench.py reads on stdin. */
interface TorchSpec {
  threads: number[];
  timing: Timing;
  profile: boolean;
  cases: Array<{ id: string; kind: string; params: Readonly<Record<string, ParamValue>> }>;
}

/**
 * Runs bench/torch_bench.py on the cases that have a PyTorch twin. Returns its JSON, or
 * `{ available: false, reason }` when Python is missing (torch_bench.py itself answers so when
 * `import torch` fails).
 * @param profile also count the aten ops of one iteration (1 thread)
 * @throws Error when the script fails or prints something that is not its JSON.
 */
export function runTorch(cases: readonly BenchCase[], threads: number[], timing: Timing, profile = false): TorchResult {
  const python = process.env.FRUGAL_PYTHON || '/usr/bin/python3';
  const spec: TorchSpec = {
    threads,
    timing,
    profile,
    cases: cases.flatMap((c) => (c.torch === undefined ? [] : [{ id: c.id, kind: c.torch, params: c.params }])),
  };
  const res = spawnSync(python, [join(BENCH_DIR, 'torch_bench.py')], {
    input: JSON.stringify(spec),
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) {
    const why = (res.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : res.error.message;
    return { available: false, reason: `${python} ${why}` };
  }
  if (res.status !== 0) {
    throw new Error(`bench/torch_bench.py failed (${python}, exit ${res.status ?? res.signal})`);
  }
  try {
    return JSON.parse(res.stdout) as TorchResult;
  } catch {
    throw new Error(`bench/torch_bench.py printed no JSON: ${JSON.stringify(res.stdout.slice(0, 200))}`);
  }
}
