/**
 * bench/: the case list, the leak check of every case run (what `npm run bench -- --smoke` relies
 * on in npm test), and the README regeneration between marker comments. Timings are never
 * asserted.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import type { BenchCase, CaseInstance } from '../bench/case';
import { CASES } from '../bench/cases';
import { pairedFigures, pairedMismatches, renderPaired, runPaired } from '../bench/paired';
import { interleavedFigures, renderInterleaved, runInterleaved, STOCK_NATIVE, stockNativeVariant } from '../bench/interleave';
import { baselineOf, casesTable, markdownTable, replaceBlock, resultsBlock, wrap } from '../bench/readme';
import { blasText, headerLines, REFERENCE_BLAS_WARNING, type BenchRun } from '../bench/report';
import { checkValue, runTfjsCase, type Timing } from '../bench/timing';

const ONCE: Timing = { warmup: 0, warmupMs: 0, minTimeMs: 0, minIterations: 1, maxIterations: 1 };

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

/** A case whose step returns `a + 1`, and that leaks `leak` tensors per setup. */
function fakeCase(leak: number): BenchCase {
  return {
    id: 'fake',
    title: 'fake',
    family: 'test',
    what: 'adds one',
    bound: 'kernels',
    boundWhy: 'one kernel',
    params: {},
    setup: () => {
      const a = tf.tensor1d([3, 4]);
      for (let i = 0; i < leak; i++) tf.scalar(i); // never disposed
      return { step: () => tf.add(a, 1), dispose: () => a.dispose() };
    },
  };
}

describe('bench cases', () => {
  it('have unique ids, and every PyTorch twin named exists in torch_bench.py', () => {
    const ids = CASES.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    // torch_bench.py merges CASES of its sibling modules bench/torch_*.py
    const dir = join(__dirname, '..', 'bench');
    const py = readdirSync(dir).filter((f) => /^torch_\w+\.py$/.test(f)).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    for (const c of CASES) if (c.torch) expect(py, `${c.id}'s twin ${c.torch}`).toContain(`"${c.torch}": case_`);
  });

  it('the distillation step and epoch are run by the lib\'s train, and send its row order to PyTorch', () => {
    const step = CASES.find((c) => c.id === 'distill-epoch');
    const order = step?.params.order;
    // the lib's Rng(7).permutation(1259): a permutation of the 1259 rows
    expect(Array.isArray(order) ? [...(order as number[])].sort((a, b) => a - b) : order).toEqual(Array.from({ length: 1259 }, (_, i) => i));
    const src = readFileSync(join(__dirname, '..', 'bench', 'cases', 'distill.ts'), 'utf8');
    expect(src).toMatch(/lib\.train\(student, data/);
  });
});

describe('runTfjsCase', () => {
  it('returns the check value of the first iteration (the norm of [4, 5])', async () => {
    const r = await runTfjsCase(fakeCase(0), ONCE);
    expect(r.check).toBeCloseTo(Math.sqrt(16 + 25), 6); // hand computation: ‖[3 + 1, 4 + 1]‖
    expect(r.stats.iterations).toBe(1);
  });

  it('fails a case that leaks, naming it and the count', async () => {
    await expect(runTfjsCase(fakeCase(2), ONCE)).rejects.toThrow(/case fake on cpu leaked 2 tensors/);
  });

  it('counts the kernels of one iteration when profiling', async () => {
    const r = await runTfjsCase(fakeCase(0), ONCE, 1);
    expect(r.profile?.kernels).toBeGreaterThanOrEqual(1); // the Add (and the scalar's cast, if any)
  });

  it('checkValue: a scalar is its value, else the Frobenius norm', () => {
    expect(checkValue([-2.5])).toBe(-2.5);
    expect(checkValue([3, 4])).toBe(5);
  });
});

describe('README regeneration', () => {
  const doc = 'intro\n<!-- bench:results:begin -->\nold table\n<!-- bench:results:end -->\noutro\n';

  it('replaces only what lies between the markers', () => {
    const out = replaceBlock(doc, 'results', 'new table');
    expect(out).toBe('intro\n<!-- bench:results:begin -->\n\nnew table\n\n<!-- bench:results:end -->\noutro\n');
    expect(replaceBlock(out, 'results', 'new table')).toBe(out); // idempotent
  });

  it('refuses a README without its markers, naming them', () => {
    expect(() => replaceBlock('no markers', 'cases', 'x')).toThrow(/<!-- bench:cases:begin -->/);
    expect(() => replaceBlock(doc + doc, 'results', 'x')).toThrow(/once each/);
    // a marker named in prose is not a marker
    expect(replaceBlock(`see \`<!-- bench:results:begin -->\`\n${doc}`, 'results', 'y')).toContain('\n\ny\n\n');
  });

  it('writes markdown tables with escaped pipes and wraps prose at 100 characters', () => {
    expect(markdownTable(['a', 'b'], [['x|y', '1']])).toBe('| a | b |\n| --- | --- |\n| x\\|y | 1 |');
    const long = wrap('word '.repeat(60));
    expect(Math.max(...long.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(casesTable(CASES).split('\n')).toHaveLength(CASES.length + 2);
  });

  it('states the machine, load and command, and per case its bound, kernels and baseline', () => {
    const c = fakeCase(0);
    const stats = { iterations: 5, medianMs: 2, p10Ms: 1, p90Ms: 3, meanMs: 2 };
    const run: BenchRun = {
      date: new Date('2026-12-02T00:00:00Z'),
      command: 'npm run bench -- --write-readme',
      machine: { node: 'v20', platform: 'linux x64', cpus: 2, cpuModel: 'Test CPU', loadBefore: 9, loadAfter: 10 },
      timing: ONCE,
      cases: [c],
      results: { fake: { tfjs: { cpu: stats }, torch: null, ratios: {}, check: { cpu: 5 }, relDiff: {}, profile: { cpu: { kernels: 7, kernelMs: 1, top: [] } } } },
      reports: [{ backend: 'cpu', label: 'tfjs cpu', forced: 'cpu', attempts: [] }],
      why: ['forced'],
      torch: { available: false, reason: 'skipped by --no-torch' },
      torchThreads: [],
      mismatches: [],
      worst: { rel: 0, where: '' },
      profiled: true,
      profileRuns: 1,
    };
    const baseline = { ...baselineOf(run), kernels: { cpu: { fake: 9 } } };
    const block = resultsBlock(run, [c], baseline);
    const prose = block.replace(/\n/g, ' '); // wrapped at 100 characters
    expect(prose).toMatch(/2 CPUs \(Test CPU\)/);
    expect(prose).toMatch(/Load average 9\.0 before the run, 10\.0 after\. The load exceeded the 2 CPUs/);
    expect(block).toContain('| `fake` | kernels | 7 | 9 | 2.00 ms | n/a |'); // bound, kernels now, baseline, median, no torch
  });
});

describe("PyTorch's BLAS", () => {
  const run = (blas: string | null, reference: boolean): BenchRun => ({
    date: new Date('2026-12-02T00:00:00Z'),
    command: 'npm run bench',
    machine: { node: 'v20', platform: 'linux x64', cpus: 2, cpuModel: 'Test CPU', loadBefore: 0, loadAfter: 0 },
    timing: ONCE,
    cases: [],
    results: {},
    reports: [],
    why: [],
    torch: { available: true, torch: '1.13.0', python: '3.11.2', blas, reference_blas: reference, default_threads: 1, threads: [1], cases: {} },
    torchThreads: [1],
    mismatches: [],
    worst: { rel: 0, where: '' },
    profiled: false,
    profileRuns: 0,
  });

  it('names the library in the header and the README, shortened to its last two path parts', () => {
    const lib = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so';
    expect(blasText(lib)).toBe('openblas-pthread/libopenblasp-r0.3.21.so');
    expect(blasText(null)).toBe('unknown');
    const header = headerLines(run(lib, false));
    expect(header).toContain("PyTorch's BLAS: openblas-pthread/libopenblasp-r0.3.21.so");
    expect(header).not.toContain(REFERENCE_BLAS_WARNING);
    expect(resultsBlock(run(lib, false), []).replace(/\n/g, ' ')).toContain('BLAS openblas-pthread/libopenblasp-r0.3.21.so) with 1 thread.');
  });

  it('warns, in the header and the README, when PyTorch runs on the reference BLAS', () => {
    const ref = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0';
    expect(headerLines(run(ref, true))).toContain(REFERENCE_BLAS_WARNING);
    expect(resultsBlock(run(ref, true), []).replace(/\n/g, ' ')).toContain('reference BLAS (libblas3)');
  });
});

describe('--interleave', () => {
  it('gives each case its median and the median of its per-round ratios to the last-named case', () => {
    const run = interleavedFigures([
      ['a', [10, 30, 20]],
      ['b', [5, 5, 50]],
      ['ref', [20, 40, 10]],
    ]);
    expect(run.reference).toBe('ref');
    expect(run.rounds).toBe(3);
    const [a, b, ref] = run.cases;
    expect(a?.medianMs).toBe(20); // hand: median of 10, 30, 20
    expect(a?.ratios).toEqual([0.5, 0.75, 2]); // hand: 10/20, 30/40, 20/10
    expect(a?.medianRatio).toBe(0.75);
    // the median of the ratios, not the ratio of the medians (5 / 20 = 0.25)
    expect(b?.ratios).toEqual([0.25, 0.125, 5]); // hand: 5/20, 5/40, 50/10
    expect(b?.medianRatio).toBe(0.25);
    expect(ref?.medianRatio).toBe(1);
    expect(renderInterleaved(run)).toMatch(/^a {4}median {5}20\.0 ms {2}ratio 0\.750 {2}per round 0\.50 0\.75 2\.00$/m);
  });

  it('takes the mean of the middle two ratios for an even round count', () => {
    const run = interleavedFigures([
      ['a', [1, 2, 3, 8]],
      ['ref', [1, 1, 1, 1]],
    ]);
    expect(run.cases[0]?.medianRatio).toBe(2.5); // hand: (2 + 3) / 2
  });

  it('rejects one case, and cases with different round counts', () => {
    expect(() => interleavedFigures([['a', [1]]])).toThrow(/--interleave needs at least 2 cases, got 1/);
    expect(() => interleavedFigures([['a', [1]], ['ref', [1, 2]]])).toThrow(/case a has 1 rounds, the reference ref has 2/);
  });

  it('runs every case once per round plus its warm-up, and fails on a leak', async () => {
    const calls: string[] = [];
    const counting = (id: string, leak: number): BenchCase => ({
      ...fakeCase(leak),
      id,
      setup: () => {
        const inner = fakeCase(leak).setup() as CaseInstance;
        return { step: () => (calls.push(id), inner.step()), dispose: () => inner.dispose() };
      },
    });
    const run = await runInterleaved([counting('x', 0), counting('y', 0)], 3, 1);
    expect(calls).toEqual(['x', 'y', 'x', 'y', 'x', 'y', 'x', 'y']); // 1 warm-up each, then 3 rounds of x then y
    expect(run.cases.map((c) => c.ms.length)).toEqual([3, 3]);
    expect(run.reference).toBe('y');
    await expect(runInterleaved([counting('x', 0), counting('y', 1)], 1, 0)).rejects.toThrow(/cases x, y on cpu leaked 1 tensors/);
    await expect(runInterleaved([counting('x', 0), counting('y', 0)], 0)).rejects.toThrow(/--rounds must be a positive integer, got 0/);
    await expect(runInterleaved([counting('x', 0), counting('y', 0)], 1, 0, -1)).rejects.toThrow(/warmupMs must be a finite number ≥ 0, got -1/);
    calls.length = 0;
    await runInterleaved([counting('x', 0), counting('y', 0)], 1, 0, 5);
    expect(calls.filter((c) => c === 'x').length).toBeGreaterThan(1); // warmed for 5 ms, then 1 round
  });

  it(`names the ${STOCK_NATIVE} variant after its case and runs the same step (no native kernels to switch on cpu)`, async () => {
    const c = fakeCase(0);
    const v = stockNativeVariant(c);
    expect(v.id).toBe(`${c.id}${STOCK_NATIVE}`);
    expect(v.title).toBe(`${c.title}, tfjs-node's kernels`);
    const run = await runInterleaved([v, c], 2, 0);
    expect(run.cases.map((k) => k.id)).toEqual([v.id, c.id]);
  });
});

describe('--paired', () => {
  const FAKE = join(__dirname, 'fixtures', 'fake-torch-server.py');
  /** fakeCase with a PyTorch twin, counting its steps. */
  const twin = (id: string, calls: string[] = []): BenchCase => ({
    ...fakeCase(0),
    id,
    torch: 'fake',
    setup: () => {
      const inner = fakeCase(0).setup() as CaseInstance;
      return { step: () => (calls.push(id), inner.step()), dispose: () => inner.dispose() };
    },
  });

  it('gives each side its median and the median and quartiles of the per-round ratios', () => {
    const c = pairedFigures('a', 'A', [10, 30, 20], [20, 40, 10]);
    expect(c.ratios).toEqual([0.5, 0.75, 2]); // hand: 10/20, 30/40, 20/10
    expect(c.tfjsMedianMs).toBe(20);
    expect(c.torchMedianMs).toBe(20);
    expect(c.medianRatio).toBe(0.75); // the median of the ratios, not the ratio of the medians (1)
    expect(c.ratioP25).toBe(0.625); // hand: sorted 0.5, 0.75, 2; position 0.5 -> (0.5 + 0.75) / 2
    expect(c.ratioP75).toBe(1.375); // position 1.5 -> (0.75 + 2) / 2
    expect(() => pairedFigures('a', 'A', [1, 2], [1])).toThrow(/case a: a paired run needs as many tfjs rounds as PyTorch rounds, at least 1, got 2 and 1/);
    expect(() => pairedFigures('a', 'A', [], [])).toThrow(/got 0 and 0/);
  });

  it('alternates the sides block by block, compares the checks, and reports', async () => {
    const calls: string[] = [];
    const run = await runPaired([twin('x', calls), twin('off')], { rounds: 3, blockMs: 0, warmupMs: 0, python: FAKE });
    expect(run.backend).toBe('cpu');
    const [x, off] = run.cases;
    expect(x?.torchMs).toEqual([5, 5, 5]); // the fake's 10 ms for 2 runs
    expect(x?.tfjsMs.length).toBe(3);
    expect(calls.length).toBe(1 + 2 + 3); // the check step, 2 warm-up steps, one per round (blocks of 0 ms)
    expect(x?.check?.rel).toBeLessThan(1e-12); // sqrt(41), the norm of [4, 5], on both sides
    expect(off?.check?.torch).toBe(1);
    expect(pairedMismatches(run)).toEqual([`off: tfjs ${Math.sqrt(41)} vs torch 1`]);
    const text = renderPaired(run);
    expect(text).toContain('paired, 3 rounds of blocks of at least 0 ms per side; tfjs on cpu, PyTorch fake on 1 thread (unknown)');
    expect(text).toMatch(/^x\s+\S+ µs\s+5\.00 ms\s+\S+ \(tfjs\)\s+\S+–\S+\s+\S+ \S+ \S+$/m);
    expect(text).toContain('results DIFFER from PyTorch (relative > 0.001): off: tfjs');
  });

  it('refuses cases without a twin, a missing Python and bad options, naming them', async () => {
    await expect(runPaired([fakeCase(0)], { rounds: 1, blockMs: 0, warmupMs: 0, python: FAKE })).rejects.toThrow(/--paired needs cases with a PyTorch twin; these have none: fake/);
    await expect(runPaired([twin('x')], { rounds: 1, blockMs: 0, warmupMs: 0, python: '/nonexistent/python3' })).rejects.toThrow(/--paired needs PyTorch: \/nonexistent\/python3 not found/);
    await expect(runPaired([twin('x')], { rounds: 0, blockMs: 0, warmupMs: 0, python: FAKE })).rejects.toThrow(/--rounds must be a positive integer, got 0/);
    await expect(runPaired([twin('x')], { rounds: 1, blockMs: -1, warmupMs: 0, python: FAKE })).rejects.toThrow(/--block must be a finite number ≥ 0 \(ms\), got -1/);
  });

  it.skipIf(!torchInstalled())('runs a real case against torch_bench.py --serve, and agrees with it', async () => {
    const c = CASES.find((k) => k.id === 'matmul-256') as BenchCase;
    const run = await runPaired([c], { rounds: 2, blockMs: 0, warmupMs: 0 });
    expect(run.torch.torch).toMatch(/^\d/);
    expect(run.cases[0]?.torchMs.length).toBe(2);
    expect(pairedMismatches(run)).toEqual([]);
  });
});

/** Whether /usr/bin/python3 (or $FRUGAL_PYTHON) imports torch. */
function torchInstalled(): boolean {
  const r = spawnSync(process.env.FRUGAL_PYTHON || '/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
  return r.status === 0;
}
