/**
 * npm run bench: the course's tfjs (on the backend the lib picks) against PyTorch on the CPU,
 * case by case, side by side. See bench/README.md for what each case measures and how to read
 * the ratios.
 *
 *   npm run bench                          the lib's backend (FRUGAL_BACKEND is honoured)
 *   npm run bench -- --backend cpu         one backend: cpu, wasm or tensorflow
 *   npm run bench -- --all-backends        tensorflow (when installed), wasm and cpu, one table each
 *   npm run bench -- --json out/bench.json also write the results as JSON
 *   npm run bench -- --write-readme        also regenerate bench/README.md's tables
 *   npm run bench -- --cases A,B --interleave   time the cases round-robin (bench/interleave.ts)
 *   npm run bench -- --cases A,B --paired       tfjs and PyTorch alternated block by block (bench/paired.ts)
 *
 * Built by tsconfig.bench.json. The cases are in bench/cases (bench/case.ts says what a case is), timing and profiling in
 * bench/timing.ts (round-robin timing, --interleave, in bench/interleave.ts), the PyTorch side in bench/torch.ts (it runs bench/torch_bench.py), the report
 * in bench/report.ts and bench/readme.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as lib from '@frugal-ai/lib';
import type { BenchCase } from './case.js';
import { CASES } from './cases/index.js';
import { DEFAULT_ROUNDS, INTERLEAVE_WARMUP, renderInterleaved, runInterleaved, STOCK_NATIVE, stockNativeVariant } from './interleave.js';
import { DEFAULT_BLOCK_MS, pairedMismatches, renderPaired, runPaired } from './paired.js';
import { baselineOf, readBaseline, writeFileAtomic, writeReadme } from './readme.js';
import { CHECK_TOLERANCE, jsonDoc, renderText, resultOf, type BenchRun, type CaseResult } from './report.js';
import { PROFILE_RUNS, runOrtCase, runTfjsCase, stats, withGflops, type Timing } from './timing.js';
import { BENCH_DIR, runTorch, type TorchResult } from './torch.js';

const HELP = `usage: npm run bench -- [options]
  --backend NAME     cpu, wasm or tensorflow (default: the lib's choice, or $FRUGAL_BACKEND)
  --all-backends     run tensorflow (when npm run setup:native installed it), wasm and cpu
  --json PATH        also write the results as JSON (e.g. out/bench.json)
  --cases IDS        comma-separated case ids (${CASES.map((c) => c.id).join(', ')})
  --warmup S         warm each case up (untimed) for at least S seconds first, on both sides
                     (default 1): a small model's step on wasm reaches its steady speed only after
                     a few thousand steps (bench/README.md, "Method")
  --time S           time each case for at least S seconds (default 0.5)
  --iterations N     and at least N timed runs (default 5), after 2 warm-up runs
  --no-torch         skip PyTorch
  --smoke            one iteration per case, no warm-up, no PyTorch: checks that every case runs
                     and leaks nothing (a step of npm test); the times mean nothing
  --profile          also profile one iteration per case: kernels dispatched and time inside
                     them (tfjs: tf.profile; torch: its autograd profiler), vs the rest
  --write-readme     also profile, and regenerate bench/README.md's tables from this run
                     (between its <!-- bench:*:begin/end --> markers)
  --interleave       time the --cases (at least 2) round-robin in this process: each is set up
                     once and warmed up (${INTERLEAVE_WARMUP} steps, then --warmup S), then each round runs one step of
                     each, in the order named, so load changes hit all alike. Reports each case's
                     median, and its ratio to the last-named case: the median over rounds of
                     (its time ÷ the last case's time in the same round). tfjs only, no PyTorch.
                     An id ending in ${STOCK_NATIVE} (e.g. decode-mha-1024${STOCK_NATIVE}) is the
                     case with tfjs-node's own kernels instead of the lib's (--backend tensorflow)
  --paired           time each of the --cases in tfjs and in PyTorch (1 thread) alternately,
                     block by block (at least --block MS per side and round, default
                     ${DEFAULT_BLOCK_MS}), after --warmup S on each side, so that a drift of the
                     machine's speed hits both sides of each ratio alike. Reports each side's
                     median and the median and quartiles of the per-round ratios tfjs ÷ PyTorch.
                     One backend (--backend or the lib's choice); exit 1 when results differ
  --rounds N         rounds of --interleave or --paired (default ${DEFAULT_ROUNDS})
  --block MS         least time of one side's block in a --paired round (default ${DEFAULT_BLOCK_MS})
  --write-baseline   also profile, and record each case's kernels per step in
                     bench/kernels-baseline.json: the "before" column of the README's table
                     (kernel counts do not depend on timing: --smoke --write-baseline suffices)
  --help`;

/**
 * Parses a number option: `> 0`, or `≥ 0` with `zero` true.
 * @throws Error naming the option and the value when it is not such a number.
 */
function numberOption(raw: string | undefined, name: string, fallback: number, zero = false): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || (v === 0 && !zero)) {
    throw new Error(`--${name} must be ${zero ? 'a number ≥ 0' : 'a positive number'}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/** True when the real @tensorflow/tfjs-node (npm run setup:native), not danfojs's alias, is installed. */
function nativeInstalled(): boolean {
  try {
    const pkg = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json'), 'utf8')) as { name?: string };
    return pkg.name === '@tensorflow/tfjs-node';
  } catch {
    return false;
  }
}

/**
 * Picks the cases named by --cases: in the tables' order, or (`named`) in the order named.
 * @throws Error naming the unknown ids.
 */
function selectCases(raw: string | undefined, named = false): readonly BenchCase[] {
  if (raw === undefined) return CASES;
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const base = (id: string): string => (named && id.endsWith(STOCK_NATIVE) ? id.slice(0, -STOCK_NATIVE.length) : id);
  const unknown = ids.filter((id) => !CASES.some((c) => c.id === base(id)));
  if (unknown.length || !ids.length) {
    throw new Error(`--cases must list ids among ${CASES.map((c) => c.id).join(', ')}, got ${JSON.stringify(raw)}`);
  }
  if (!named) return CASES.filter((c) => ids.includes(c.id));
  return [...new Set(ids)].flatMap((id) => {
    const c = CASES.find((k) => k.id === base(id));
    if (c === undefined) return [];
    return [id === c.id ? c : stockNativeVariant(c)];
  });
}

/** Parses --rounds. @throws Error naming the option and the value when it is not a positive integer. */
function rounds(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_ROUNDS;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--rounds must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

/**
 * --interleave: the named cases round-robin on one backend (bench/interleave.ts).
 * @throws Error when fewer than 2 cases are named, or an option it cannot honour is given.
 */
async function interleave(opt: { cases?: string; rounds?: string; backend?: string; warmup?: string; smoke: boolean }, others: string[]): Promise<number> {
  if (others.length) throw new Error(`--interleave times tfjs only: it excludes ${others.join(', ')}`);
  if (opt.cases === undefined) throw new Error('--interleave needs --cases with at least 2 ids');
  const cases = selectCases(opt.cases, true);
  if (cases.length < 2) throw new Error(`--interleave needs at least 2 distinct cases in --cases, got ${JSON.stringify(opt.cases)}`);
  const n = opt.smoke ? 1 : rounds(opt.rounds);
  const report = await lib.initBackend(opt.backend === undefined ? {} : { force: lib.parseBackendName(opt.backend, '--backend') });
  const stock = cases.filter((c) => c.id.endsWith(STOCK_NATIVE)).map((c) => c.id);
  if (stock.length && report.backend !== 'tensorflow') {
    throw new Error(`${stock.join(', ')}: the ${STOCK_NATIVE} variants need --backend tensorflow (native TensorFlow), got ${report.backend}`);
  }
  const fmt = (l: number[]): string => l.map((v) => v.toFixed(1)).join(', ');
  console.log(lib.describeBackend(report));
  console.log(`load average before: ${fmt(os.loadavg())}`);
  const run = await runInterleaved(cases, n, opt.smoke ? 0 : INTERLEAVE_WARMUP, opt.smoke ? 0 : numberOption(opt.warmup, 'warmup', 1, true) * 1000);
  console.log(renderInterleaved(run));
  console.log(`load average after: ${fmt(os.loadavg())}`);
  return 0;
}

/**
 * --paired: the named cases, tfjs against PyTorch block by block (bench/paired.ts).
 * @throws Error when no case is named, or an option it cannot honour is given.
 */
async function paired(opt: { cases?: string; rounds?: string; block?: string; backend?: string; warmup?: string }, others: string[]): Promise<number> {
  if (others.length) throw new Error(`--paired runs one backend against PyTorch, with --rounds, --block and --warmup: it excludes ${others.join(', ')}`);
  if (opt.cases === undefined) throw new Error('--paired needs --cases');
  const cases = selectCases(opt.cases);
  const report = await lib.initBackend(opt.backend === undefined ? {} : { force: lib.parseBackendName(opt.backend, '--backend') });
  const fmt = (l: number[]): string => l.map((v) => v.toFixed(1)).join(', ');
  console.log(lib.describeBackend(report));
  console.log(`load average before: ${fmt(os.loadavg())}`);
  const run = await runPaired(cases, {
    rounds: rounds(opt.rounds),
    blockMs: numberOption(opt.block, 'block', DEFAULT_BLOCK_MS, true),
    warmupMs: numberOption(opt.warmup, 'warmup', 1, true) * 1000,
  });
  console.log(renderPaired(run));
  console.log(`load average after: ${fmt(os.loadavg())}`);
  return pairedMismatches(run).length ? 1 : 0;
}

/** Adds torch's statistics, the ratios and the agreement checks to the results. */
function compare(run: BenchRun, threads: number[]): void {
  const torch = run.torch;
  for (const c of run.cases) {
    const r = resultOf(run, c.id);
    const t = torch.available ? torch.cases[c.id] : undefined;
    if (!t || 'error' in t) continue;
    const byThreads: Record<number, ReturnType<typeof withGflops>> = {};
    r.check.torch = t.check;
    if (t.profile) r.profile.torch = t.profile;
    for (const th of threads) byThreads[th] = withGflops(stats(t.runs[String(th)] ?? []), c.flops);
    r.torch = byThreads;
    for (const rep of run.reports) {
      const s = r.tfjs[rep.backend];
      const mine = r.check[rep.backend];
      if (!s || mine === undefined) continue;
      r.ratios[rep.backend] = Object.fromEntries(threads.map((th) => [th, s.medianMs / (byThreads[th]?.medianMs ?? NaN)]));
      if (c.compare === false) continue;
      const rel = Math.abs(mine - t.check) / Math.max(Math.abs(t.check), 1e-12);
      r.relDiff[rep.backend] = rel;
      if (rel > run.worst.rel) run.worst = { rel, where: `${c.id} on ${rep.backend}` };
      if (!(rel <= CHECK_TOLERANCE)) run.mismatches.push(`${c.id} on ${rep.backend}: tfjs ${mine} vs torch ${t.check}`);
    }
  }
  for (const c of run.cases) {
    const r = resultOf(run, c.id);
    if (!r.ort?.available) continue;
    for (const rep of run.reports) {
      const mine = r.check[rep.backend] ?? NaN;
      const rel = Math.abs(mine - r.ort.check) / Math.max(Math.abs(r.ort.check), 1e-12);
      if (!(rel <= CHECK_TOLERANCE)) run.mismatches.push(`${c.id}: onnxruntime ${r.ort.check} vs tfjs ${rep.backend} ${mine}`);
    }
  }
}

async function main(): Promise<number> {
  const { values: opt } = parseArgs({
    options: {
      backend: { type: 'string' },
      'all-backends': { type: 'boolean', default: false },
      json: { type: 'string' },
      cases: { type: 'string' },
      time: { type: 'string' },
      warmup: { type: 'string' },
      iterations: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'write-readme': { type: 'boolean', default: false },
      'write-baseline': { type: 'boolean', default: false },
      interleave: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      paired: { type: 'boolean', default: false },
      block: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (opt.help) {
    console.log(HELP);
    return 0;
  }
  if (opt.interleave && opt.paired) throw new Error('--interleave and --paired exclude each other');
  if (opt.interleave) {
    const others = (['all-backends', 'json', 'time', 'iterations', 'profile', 'write-readme', 'write-baseline', 'block'] as const).filter((k) => opt[k] !== undefined && opt[k] !== false);
    return interleave(opt, others.map((k) => `--${k}`));
  }
  if (opt.paired) {
    const others = (['all-backends', 'json', 'time', 'iterations', 'profile', 'write-readme', 'write-baseline', 'no-torch', 'smoke'] as const).filter((k) => opt[k] !== undefined && opt[k] !== false);
    return paired(opt, others.map((k) => `--${k}`));
  }
  if (opt.rounds !== undefined) throw new Error('--rounds goes with --interleave or --paired');
  if (opt.block !== undefined) throw new Error('--block goes with --paired');
  if (opt.backend !== undefined && opt['all-backends']) throw new Error('--backend and --all-backends exclude each other');
  if (opt.smoke && opt['write-readme']) throw new Error('--write-readme needs real timings: it excludes --smoke');
  if (opt.cases !== undefined && opt['write-baseline']) throw new Error('--write-baseline records every case: it excludes --cases');
  const timing: Timing = opt.smoke
    ? { warmup: 0, warmupMs: 0, minTimeMs: 0, minIterations: 1, maxIterations: 1 }
    : {
        warmup: 2,
        warmupMs: numberOption(opt.warmup, 'warmup', 1, true) * 1000,
        minTimeMs: numberOption(opt.time, 'time', 0.5) * 1000,
        minIterations: Math.ceil(numberOption(opt.iterations, 'iterations', 5)),
        maxIterations: 1000,
      };
  // --smoke (a step of npm test): every case runs once and is checked for leaks; no PyTorch, and
  // its times mean nothing. It still profiles one iteration of each case when asked.
  const noTorch = opt['no-torch'] || opt.smoke;
  const profiled = opt.profile || opt['write-readme'] || opt['write-baseline'];
  // --write-readme needs only the kernel count, which one profiled iteration gives: 3 suffice.
  const profileRuns = opt.profile ? (opt.smoke ? 1 : PROFILE_RUNS) : profiled ? (opt.smoke ? 1 : 3) : 0;
  const cases = selectCases(opt.cases);

  const forces: Array<lib.BackendName | undefined> = opt['all-backends']
    ? [...(nativeInstalled() ? (['tensorflow'] as const) : []), 'wasm', 'cpu']
    : [opt.backend === undefined ? undefined : lib.parseBackendName(opt.backend, '--backend')];

  // Other work on the machine skews timings: the load average goes in the header.
  const loadBefore = os.loadavg()[0] ?? NaN;
  const results: Record<string, CaseResult> = Object.fromEntries(
    cases.map((c): [string, CaseResult] => [c.id, { tfjs: {}, torch: null, ratios: {}, check: {}, relDiff: {}, profile: {} }]),
  );
  const entryOf = (id: string): CaseResult => {
    const e = results[id];
    if (!e) throw new Error(`no result for case ${id}`);
    return e;
  };
  const reports: lib.BackendReport[] = [];
  const why: string[] = [];
  for (const force of forces) {
    const report = await lib.initBackend(force === undefined ? {} : { force });
    if (tf.getBackend() !== report.backend) {
      throw new Error(`the lib activated ${report.backend} but the bench's tfjs runs ${tf.getBackend()}: two copies of tfjs?`);
    }
    reports.push(report);
    // The lib's reason reads "<why>; <engine note>"; a backend forced here was forced by a flag.
    const reason = report.attempts.find((a) => a.ok)?.reason ?? '';
    const note = reason.includes('; ') ? reason.slice(reason.indexOf('; ') + 2) : '';
    const flag = opt['all-backends'] ? '--all-backends' : `--backend ${force}`;
    why.push(force === undefined ? reason : [note, `chosen by ${flag}`].filter(Boolean).join('; '));
    for (const c of cases) {
      process.stderr.write(`bench: tfjs ${report.backend} ${c.id}\n`);
      const r = await runTfjsCase(c, timing, profileRuns);
      const entry = entryOf(c.id);
      entry.tfjs[report.backend] = r.stats;
      entry.check[report.backend] = r.check;
      if (r.profile) entry.profile[report.backend] = r.profile;
    }
  }

  // onnxruntime-node, for the cases that have an ONNX twin (one thread, like tfjs-wasm in Node).
  for (const c of cases) {
    if (!c.ort) continue;
    process.stderr.write(`bench: onnxruntime-node ${c.id}\n`);
    const ort = await runOrtCase(c, timing);
    const entry = entryOf(c.id);
    entry.ort = ort;
    if (ort?.available) entry.check.ort = ort.check;
  }

  const cpus = os.availableParallelism();
  const threads = [...new Set([cpus, 1])];
  const torch: TorchResult = noTorch ? { available: false, reason: `skipped by ${opt.smoke ? '--smoke' : '--no-torch'}` } : runTorch(cases, threads, timing, profiled);
  const run: BenchRun = {
    date: new Date(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      loadBefore,
      loadAfter: os.loadavg()[0] ?? NaN,
    },
    timing,
    cases,
    results,
    reports,
    why,
    torch,
    torchThreads: torch.available ? threads : [],
    mismatches: [],
    worst: { rel: 0, where: '' },
    profiled,
    profileRuns,
  };
  compare(run, threads);
  console.log(renderText(run));

  if (opt.json !== undefined) {
    const path = resolve(opt.json);
    writeFileAtomic(path, `${JSON.stringify(jsonDoc(run), null, 2)}\n`);
    process.stderr.write(`bench: wrote ${path}\n`);
  }
  const baselinePath = join(BENCH_DIR, 'kernels-baseline.json');
  if (opt['write-baseline']) {
    writeFileAtomic(baselinePath, `${JSON.stringify(baselineOf(run), null, 2)}\n`);
    process.stderr.write(`bench: wrote ${baselinePath}\n`);
  }
  if (opt['write-readme']) {
    const path = join(BENCH_DIR, 'README.md');
    writeReadme(path, run, CASES, readBaseline(baselinePath));
    process.stderr.write(`bench: regenerated the tables of ${path}\n`);
  }
  return run.mismatches.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
