/**
 * The report of a run: the printed tables (one per tfjs backend, onnxruntime's, the MoE ratio,
 * the --profile table) and the JSON document. bench/readme.ts renders the same run as the
 * tables of bench/README.md.
 */
import * as tf from '@tensorflow/tfjs';
import type * as lib from '@frugal-ai/lib';
import type { BenchCase } from './case.js';
import { type OrtResult, type Profile, type Stats, type Timing } from './timing.js';
import type { TorchResult } from './torch.js';

/** Largest relative difference allowed between the tfjs and PyTorch check values. */
export const CHECK_TOLERANCE = 1e-3;

/** One case's results, on every side. */
export interface CaseResult {
  /** tfjs statistics by backend. */
  tfjs: Record<string, Stats>;
  /** PyTorch statistics by thread count; null when torch did not run this case. */
  torch: Record<number, Stats> | null;
  /** tfjs median / torch median, by backend, then by torch's thread count. */
  ratios: Record<string, Record<number, number>>;
  /** The check values by side (backend names, `torch`, `ort`). */
  check: Record<string, number>;
  /** |tfjs − torch| / |torch| by backend. */
  relDiff: Record<string, number>;
  /** Kernel counts and time inside kernels by side (backend names, `torch`). */
  profile: Record<string, Profile>;
  /** onnxruntime-node's run, for cases with an ONNX twin. */
  ort?: OrtResult | null;
}

/** Where the run happened. */
export interface Machine {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  loadBefore: number;
  loadAfter: number;
}

/** Everything a run measured, for the printed report, the JSON and the README. */
export interface BenchRun {
  date: Date;
  /** The command line, as `npm run bench -- ...`. */
  command: string;
  machine: Machine;
  timing: Timing;
  cases: readonly BenchCase[];
  results: Record<string, CaseResult>;
  /** One per tfjs backend run, in order. */
  reports: lib.BackendReport[];
  /** Why each backend ran: `chosen by --backend cpu`, or the lib's reason. */
  why: string[];
  torch: TorchResult;
  /** torch's thread counts (empty when torch did not run). */
  torchThreads: number[];
  mismatches: string[];
  /** The largest relative difference between tfjs and PyTorch, and where. */
  worst: { rel: number; where: string };
  /** Whether --profile (or --write-readme) profiled the cases. */
  profiled: boolean;
  /** Profiled iterations per case. */
  profileRuns: number;
}

/** Three significant digits, no exponent for the ranges seen here. */
export function sig3(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toFixed(digits);
}

/** A time unit chosen from a duration in ms: [name, ms per unit]. */
function unitFor(ms: number): readonly [string, number] {
  if (ms < 1) return ['µs', 1e-3];
  if (ms < 1000) return ['ms', 1];
  return ['s', 1000];
}

/** A duration in ms, in its unit, to three significant digits. */
export function fmtTime(ms: number): string {
  const [name, scale] = unitFor(ms);
  return `${sig3(ms / scale)} ${name}`;
}

/** p10–p90 in the unit of the median. */
function fmtRange(s: Stats): string {
  const [name, scale] = unitFor(s.medianMs);
  return `${sig3(s.p10Ms / scale)}–${sig3(s.p90Ms / scale)} ${name}`;
}

/** A ratio of tfjs time / torch time, with the faster side named. */
export function fmtRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '';
  const faster = ratio > 1 ? 'torch' : ratio < 1 ? 'tfjs' : 'tie';
  return `${sig3(ratio)} (${faster})`;
}

/**
 * Left-aligned first two columns, right-aligned numbers, two spaces between columns.
 * @param rows the first row is the header
 */
export function alignTable(rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((s, c) => (c < 2 ? s.padEnd(widths[c] ?? 0) : s.padStart(widths[c] ?? 0))).join('  ').trimEnd();
  return rows.map(line).join('\n');
}

/** The result of a case the run made (every case of `run.cases` has one). */
export function resultOf(run: BenchRun, id: string): CaseResult {
  const r = run.results[id];
  if (!r) throw new Error(`no result for case ${id}`);
  return r;
}

/** The timing table of one tfjs backend, with torch's columns and the ratios. */
function renderTable(run: BenchRun, backend: string): string {
  const threads = run.torchThreads;
  const header = ['case', 'stat', `tfjs ${backend}`, ...threads.map((t) => `torch ${t} thr`)];
  header.push(...threads.map((t) => `ratio ${t} thr`));
  const rows = [header];
  for (const c of run.cases) {
    const r = resultOf(run, c.id);
    const all = [r.tfjs[backend], ...threads.map((t) => r.torch?.[t])];
    rows.push([c.title, 'median', ...all.map((s) => (s ? fmtTime(s.medianMs) : 'n/a')), ...threads.map((t) => fmtRatio(r.ratios[backend]?.[t] ?? NaN))]);
    rows.push(['', 'p10–p90', ...all.map((s) => (s ? fmtRange(s) : ''))]);
    if (c.flops) rows.push(['', 'GFLOP/s', ...all.map((s) => (s?.gflops !== undefined ? sig3(s.gflops) : ''))]);
  }
  return alignTable(rows);
}

/**
 * The --profile table: per case, the median time of one iteration, the kernels it dispatches,
 * the time inside them and the rest, for tfjs on `backend` and for torch on 1 thread.
 */
function renderProfile(run: BenchRun, backend: string): string {
  const withTorch = run.torch.available;
  const rows = [['case', 'side', 'median', 'kernels', 'in kernels', 'rest', 'median / kernel']];
  const tops: string[] = [];
  for (const c of run.cases) {
    const r = resultOf(run, c.id);
    const sides: Array<[string, number | undefined, Profile | undefined]> = [[`tfjs ${backend}`, r.tfjs[backend]?.medianMs, r.profile[backend]]];
    if (withTorch) sides.push(['torch 1 thr', r.torch?.[1]?.medianMs, r.profile.torch]);
    sides.forEach(([name, med, p], i) => {
      if (!p || med === undefined) return;
      // torch's profiler costs more per op than an op does, so its time inside ops is not
      // shown (it is in the JSON); tf.profile's timer is light enough to split tfjs's time.
      const inside = Math.min(p.kernelMs, med);
      const split = i === 0 ? [fmtTime(inside), fmtTime(med - inside)] : ['', ''];
      rows.push([i === 0 ? c.title : '', name, fmtTime(med), String(p.kernels), ...split, fmtTime(med / p.kernels)]);
      tops.push(`${c.id}, ${name}: ${p.top.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    });
  }
  return [
    "--profile: kernels per iteration (tfjs: tf.profile's kernels, *__op composites left out; torch:",
    'every aten op the dispatcher ran, nested ones included); for tfjs, the time inside them (median',
    `of ${run.profileRuns} profiled iterations, capped at the median) and the rest of the median, the engine's own`,
    'work; the median per kernel. "100 tiny adds" is the fixed cost of one op.',
    '',
    alignTable(rows),
    '',
    'most frequent kernels per iteration:',
    ...tops.map((t) => `  ${t}`),
  ].join('\n');
}

/** The run's date to the minute, as the header prints it. */
export const shortDate = (d: Date): string => d.toISOString().replace(/:\d\d\.\d+Z$/, 'Z');

/**
 * Printed when PyTorch's products run on the reference BLAS: Debian's python3-torch links
 * libblas.so.3, and without OpenBLAS installed that is libblas3 (measured here: a 1024² product
 * in 300 ms instead of 11 ms), which would make every ratio flatter tfjs.
 */
export const REFERENCE_BLAS_WARNING =
  'WARNING: PyTorch runs on the reference BLAS (libblas3), 20-30× slower than OpenBLAS on products: its times are not a fair reference. Install OpenBLAS (apt-get install libopenblas0-pthread) and run again.';

/**
 * The BLAS files torch_bench.py found mapped, each as its last two path parts
 * (`openblas-pthread/libopenblasp-r0.3.21.so`), or "unknown".
 */
export function blasText(blas: string | null | undefined): string {
  if (!blas) return 'unknown';
  return blas.split(', ').map((p) => p.split('/').slice(-2).join('/')).join(', ');
}

/** The header lines: date, versions, machine, load, PyTorch (and its BLAS). */
export function headerLines(run: BenchRun): string[] {
  const m = run.machine;
  const out = [
    `frugal-ai bench, ${shortDate(run.date)}: Node ${m.node}, tfjs ${tf.version.tfjs}`,
    `${m.cpus} CPUs (${m.cpuModel}), load average ${m.loadBefore.toFixed(1)} before, ${m.loadAfter.toFixed(1)} after`,
  ];
  const t = run.torch;
  if (t.available) {
    out.push(`PyTorch ${t.torch} (CPU, Python ${t.python}): ${run.torchThreads.map((th) => `${th} thr`).join(' and ')} (torch's default here: ${t.default_threads})`);
    out.push(`PyTorch's BLAS: ${blasText(t.blas)}`);
    if (t.reference_blas === true) out.push(REFERENCE_BLAS_WARNING);
  } else {
    out.push(`PyTorch not run: ${t.reason}; tfjs column only.`);
  }
  return out;
}

/** The agreement line: every check within CHECK_TOLERANCE of PyTorch's, or the ones that differ. */
export function agreementLine(run: BenchRun): string {
  return run.mismatches.length
    ? `results DIFFER from PyTorch (relative > ${CHECK_TOLERANCE}): ${run.mismatches.join('; ')}`
    : `results agree with PyTorch within ${CHECK_TOLERANCE} relative (largest: ${run.worst.rel.toExponential(1)}, ${run.worst.where || 'none'})`;
}

/** The MoE pair: the sparse layer's time over the all-experts layer's, or null without both. */
export function moeRatioLine(run: BenchRun): string | null {
  const sparse = run.results['moe-sparse'];
  const dense = run.results['moe-dense'];
  if (!sparse || !dense) return null;
  const ratio = (a: Stats | undefined, b: Stats | undefined): string => (a && b ? (a.medianMs / b.medianMs).toFixed(2) : 'n/a');
  const parts = run.reports.map((rep) => `tfjs ${rep.backend} ${ratio(sparse.tfjs[rep.backend], dense.tfjs[rep.backend])}`);
  if (sparse.torch && dense.torch) for (const th of run.torchThreads) parts.push(`torch ${th} thr ${ratio(sparse.torch[th], dense.torch[th])}`);
  const flops = (id: string): number => run.cases.find((c) => c.id === id)?.flops ?? NaN;
  return `MoE sparse ÷ all experts, median time: ${parts.join(', ')} (FLOPs: ${(flops('moe-sparse') / flops('moe-dense')).toFixed(2)})`;
}

/** The printed report: header, one table per tfjs backend, agreement, onnxruntime, MoE, profile. */
export function renderText(run: BenchRun): string {
  const out = headerLines(run);
  out.push('time per iteration: median, p10–p90; ratio = tfjs median / torch median, (faster side)');
  run.reports.forEach((rep, i) => {
    out.push('', `tfjs on ${rep.backend} (${rep.label}: ${run.why[i] ?? ''})`, '');
    out.push(renderTable(run, rep.backend));
  });
  if (run.torch.available) out.push('', agreementLine(run));
  const ortCases = run.cases.filter((c) => run.results[c.id]?.ort);
  if (ortCases.length) {
    const threads = run.torchThreads;
    const rows = [['case', 'stat', ...run.reports.map((rep) => `tfjs ${rep.backend}`), 'onnxruntime 1 thr', ...threads.map((t) => `torch ${t} thr`)]];
    let why: string | undefined;
    for (const c of ortCases) {
      const r = resultOf(run, c.id);
      const ort = r.ort?.available ? fmtTime(r.ort.stats.medianMs) : 'n/a';
      if (r.ort && !r.ort.available) why ??= r.ort.reason;
      const tfjsCols = run.reports.map((rep) => {
        const s = r.tfjs[rep.backend];
        return s ? fmtTime(s.medianMs) : 'n/a';
      });
      rows.push([c.title, 'median', ...tfjsCols, ort, ...threads.map((t) => { const s = r.torch?.[t]; return s ? fmtTime(s.medianMs) : 'n/a'; })]);
    }
    out.push('', `lesson 05, the student's inference side by side: tfjs, onnxruntime-node (the lib's ONNX export, CPU)${why ? ` (onnxruntime: ${why})` : ''}, PyTorch`, '');
    out.push(alignTable(rows));
  }
  const moe = moeRatioLine(run);
  if (moe) out.push('', moe);
  if (run.profiled) for (const rep of run.reports) out.push('', renderProfile(run, rep.backend));
  return out.join('\n');
}

/** The JSON document of `--json`. */
export function jsonDoc(run: BenchRun): unknown {
  const t = run.torch;
  return {
    date: run.date.toISOString(),
    command: run.command,
    machine: run.machine,
    timing: run.timing,
    tfjs: { version: tf.version.tfjs, backends: run.reports },
    torch: t.available
      ? { available: true, version: t.torch, python: t.python, blas: t.blas ?? null, referenceBlas: t.reference_blas ?? false, threads: run.torchThreads, defaultThreads: t.default_threads }
      : { available: false, reason: t.reason },
    cases: run.cases.map((c) => ({ id: c.id, title: c.title, family: c.family, bound: c.bound, torch: c.torch ?? null, params: c.params, flops: c.flops ?? null, ...run.results[c.id] })),
    mismatches: run.mismatches,
  };
}
