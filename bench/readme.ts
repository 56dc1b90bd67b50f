/**
 * `npm run bench -- --write-readme`: bench/README.md's tables, regenerated from a run. Each table
 * sits between two marker comments, `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`;
 * what lies between them is replaced, everything else is kept, and the file is written
 * atomically (a temporary file, then a rename).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BenchCase } from './case.js';
import { agreementLine, blasText, CHECK_TOLERANCE, fmtRatio, fmtTime, moeRatioLine, REFERENCE_BLAS_WARNING, resultOf, shortDate, type BenchRun } from './report.js';

/** Writes `data` to `path` atomically: a temporary file next to it, then a rename. */
export function writeFileAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * Kernel counts per step recorded by `--write-baseline` (bench/kernels-baseline.json): the
 * "before" of an optimisation, against which the README's results table shows the "after".
 */
export interface KernelBaseline {
  /** When and how the counts were taken. */
  date: string;
  command: string;
  /** Kernels per step, by backend, then by case id. */
  kernels: Record<string, Record<string, number>>;
}

/** The run's kernel counts, as a baseline. */
export function baselineOf(run: BenchRun): KernelBaseline {
  const kernels: Record<string, Record<string, number>> = {};
  for (const rep of run.reports) {
    const counts: Record<string, number> = {};
    for (const c of run.cases) {
      const k = run.results[c.id]?.profile[rep.backend]?.kernels;
      if (k !== undefined) counts[c.id] = k;
    }
    kernels[rep.backend] = counts;
  }
  return { date: run.date.toISOString(), command: run.command, kernels };
}

/** The baseline at `path`, or null when there is none. */
export function readBaseline(path: string): KernelBaseline | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as KernelBaseline) : null;
}

/** A markdown table; `|` inside a cell is escaped. */
export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const line = (r: readonly string[]): string => `| ${r.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Words joined into lines of at most `width` characters (markdownlint's MD013). */
export function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/**
 * Replaces the text between the lines `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`
 * (each alone on its line, so that prose may name them).
 * @throws Error when the markers are missing, repeated or out of order (naming them).
 */
export function replaceBlock(doc: string, name: string, body: string): string {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const lines = doc.split('\n');
  const at = (marker: string): number[] => lines.flatMap((l, k) => (l.trim() === marker ? [k] : []));
  const [i, ...moreBegins] = at(begin);
  const [j, ...moreEnds] = at(end);
  if (i === undefined || j === undefined || j < i || moreBegins.length || moreEnds.length) {
    throw new Error(`the README must hold a line ${begin}, then a line ${end}, once each`);
  }
  return [...lines.slice(0, i + 1), '', body.trim(), '', ...lines.slice(j)].join('\n');
}

/** The case table: every case's id, family, what one iteration does, and what bounds it. */
export function casesTable(cases: readonly BenchCase[]): string {
  return markdownTable(
    ['Case', 'Family', 'What one iteration does', 'Bound', 'Why', 'PyTorch twin'],
    cases.map((c) => [`\`${c.id}\``, c.family, c.what, c.bound, c.boundWhy, c.torch ? `\`${c.torch}\`` : 'none']),
  );
}

/**
 * The results of a run: the machine, date, backend and load average, the command, then per
 * tfjs backend one row per case with its bound, kernels per step, times, ratios and agreement.
 */
export function resultsBlock(run: BenchRun, allCases: readonly BenchCase[], baseline: KernelBaseline | null = null): string {
  const m = run.machine;
  const t = run.torch;
  const backends = run.reports.map((r) => `${r.backend} (${r.label})`).join(', ');
  const torchText = t.available
    ? `PyTorch ${t.torch} (CPU, Python ${t.python}, BLAS ${blasText(t.blas)}) with ${run.torchThreads.map((th) => `${th} thread${th === 1 ? '' : 's'}`).join(' and ')}${t.reference_blas === true ? ` (${REFERENCE_BLAS_WARNING})` : ''}`
    : `PyTorch not run (${t.reason})`;
  const loadWarning = m.loadAfter > m.cpus || m.loadBefore > m.cpus
    ? ` The load exceeded the ${m.cpus} CPUs: other work shared them, so every absolute time is inflated; the ratios within one run, and the kernel counts, hold better.`
    : '';
  const out = [
    wrap(
      `Generated by \`${run.command}\` on ${shortDate(run.date)}: ${m.cpus} CPUs (${m.cpuModel}), ${m.platform}, Node ${m.node}; tfjs backend ${backends}; ${torchText}. Load average ${m.loadBefore.toFixed(1)} before the run, ${m.loadAfter.toFixed(1)} after.${loadWarning}`,
    ),
  ];
  const threads = run.torchThreads;
  for (const rep of run.reports) {
    const before = baseline?.kernels[rep.backend];
    const header = ['Case', 'Bound', 'Kernels / step', ...(before ? ['Baseline'] : []), `tfjs ${rep.backend}`, ...threads.flatMap((th) => [`torch ${th} thr`, `ratio ${th} thr`]), 'vs torch'];
    const rows = run.cases.map((c) => {
      const r = resultOf(run, c.id);
      const s = r.tfjs[rep.backend];
      const kernels = r.profile[rep.backend]?.kernels;
      const torchCols = threads.flatMap((th) => {
        const ts = r.torch?.[th];
        return [ts ? fmtTime(ts.medianMs) : 'n/a', fmtRatio(r.ratios[rep.backend]?.[th] ?? NaN)];
      });
      const rel = r.relDiff[rep.backend];
      const base = before ? [String(before[c.id] ?? 'n/a')] : [];
      return [`\`${c.id}\``, c.bound, kernels === undefined ? 'n/a' : String(kernels), ...base, s ? fmtTime(s.medianMs) : 'n/a', ...torchCols, rel === undefined ? 'n/a' : rel.toExponential(1)];
    });
    out.push(wrap(`tfjs on ${rep.backend}, medians per iteration; ratio = tfjs ÷ torch (faster side); "vs torch" is the relative difference of the check values (tolerance ${CHECK_TOLERANCE}):`));
    out.push(markdownTable(header, rows));
  }
  if (baseline) out.push(wrap(`"Baseline" is the kernel count per step recorded on ${baseline.date.slice(0, 10)} by \`${baseline.command}\` (bench/kernels-baseline.json): the count before the changes made since.`));
  if (t.available) out.push(wrap(`${agreementLine(run)}.`));
  const moe = moeRatioLine(run);
  if (moe) out.push(wrap(`${moe}.`));
  const skipped = allCases.filter((c) => !run.cases.includes(c)).map((c) => `\`${c.id}\``);
  if (skipped.length) out.push(wrap(`Not in this run (see the sections below for earlier measurements): ${skipped.join(', ')}.`));
  return out.join('\n\n');
}

/**
 * Regenerates the `cases` and `results` blocks of the README at `path`, atomically.
 * @throws Error when a marker is missing (the file is left as it was).
 */
export function writeReadme(path: string, run: BenchRun, allCases: readonly BenchCase[], baseline: KernelBaseline | null = null): void {
  let doc = readFileSync(path, 'utf8');
  doc = replaceBlock(doc, 'cases', casesTable(allCases));
  doc = replaceBlock(doc, 'results', resultsBlock(run, allCases, baseline));
  writeFileAtomic(path, doc);
}
