/**
 * Backend selection: which engine runs the course's tensors, and why.
 *
 * Order of preference:
 *   1. `tensorflow` through `@tensorflow/tfjs-node-gpu` (CUDA), then `@tensorflow/tfjs-node` (CPU, native).
 *      Both are optional: they are loaded only if installed.
 *   2. `wasm` through `@tensorflow/tfjs-backend-wasm` (SIMD, one thread in Node).
 *   3. `cpu`, the plain JavaScript backend of tfjs.
 *
 * The environment variable `FRUGAL_BACKEND` forces one (`tensorflow`, `wasm` or `cpu`); a forced
 * backend that fails to load is an error, never a silent fallback.
 */
import * as tf from '@tensorflow/tfjs';
import { nodeRequire } from './node-require';
import { installWasmMatMulTransposeFix } from './ops/wasm-matmul';
import { installWasmTransposeFix } from './ops/wasm-transpose';
import { installWasmIdentityFix } from './ops/wasm-identity';
import { installNativeKernels } from './ops/native-tf';

/** The names a user can ask for. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The environment variable that forces a backend. */
export const BACKEND_ENV = 'FRUGAL_BACKEND';

/** One candidate engine, with a loader that throws when the engine cannot run here. */
export interface BackendCandidate {
  /** The tfjs backend name this candidate registers. */
  name: BackendName;
  /** What is tried, for the report, e.g. `@tensorflow/tfjs-node-gpu`. */
  label: string;
  /**
   * Loads the engine and makes it the active tfjs backend. Throws when that is impossible;
   * the thrown message becomes the reason in the report.
   */
  load: () => Promise<string | void>;
}

/** What was tried, in order, and how it went. */
export interface BackendAttempt {
  label: string;
  name: BackendName;
  ok: boolean;
  /** Why it was chosen or skipped, in words. */
  reason: string;
}

export interface BackendReport {
  /** The active tfjs backend. */
  backend: BackendName;
  /** The package or engine behind it. */
  label: string;
  /** Set when `FRUGAL_BACKEND` (or an explicit argument) forced the choice. */
  forced: BackendName | null;
  attempts: BackendAttempt[];
  /** The workload hint that ordered the candidates (set by `initBackend`). */
  workload?: Workload;
  /** Why that workload orders the engines as it does (set by `initBackend`). */
  why?: string;
}

/** Thrown by a loader when a package is simply not installed. */
export class NotInstalledError extends Error {}

/**
 * Parses a backend name given by a user.
 * @throws Error naming the argument, the value and the valid names.
 */
export function parseBackendName(value: string, source = BACKEND_ENV): BackendName {
  const v = value.trim().toLowerCase();
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(
    `${source} must be one of ${BACKEND_NAMES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/**
 * Turns a loader failure into a short reason a learner can act on.
 */
export function explainLoadError(label: string, err: unknown): string {
  if (err instanceof NotInstalledError) return err.message;
  const msg = err instanceof Error ? err.message : String(err);
  if ((err as { code?: string } | null)?.code === 'MODULE_NOT_FOUND' && msg.includes(label)) {
    return `${label} not installed`;
  }
  if (/libcud|libcublas|libcufft|libcurand|libcusolver|libcusparse|cuda/i.test(msg)) {
    return `CUDA libraries not found (${firstLine(msg)})`;
  }
  if (/libtensorflow/i.test(msg)) return `libtensorflow not found (${firstLine(msg)})`;
  return `${label} failed to load (${firstLine(msg)})`;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/**
 * Tries the candidates in order (or only the forced one) and reports every attempt.
 * Pure logic: the loaders are injected, so tests run it with stubs.
 * @throws Error when the forced backend fails, or when no candidate loads.
 */
export async function selectBackend(
  candidates: readonly BackendCandidate[],
  forced: BackendName | null = null,
  forcedBy: string = BACKEND_ENV,
): Promise<BackendReport> {
  const attempts: BackendAttempt[] = [];
  for (const c of candidates) {
    if (forced !== null && c.name !== forced) {
      attempts.push({ label: c.label, name: c.name, ok: false, reason: `skipped: ${forcedBy}=${forced}` });
      continue;
    }
    try {
      const note = await c.load();
      const why = forced !== null ? `forced by ${forcedBy}=${forced}` : 'first that loaded';
      attempts.push({ label: c.label, name: c.name, ok: true, reason: note ? `${why}; ${note}` : why });
      return { backend: c.name, label: c.label, forced, attempts };
    } catch (err) {
      attempts.push({ label: c.label, name: c.name, ok: false, reason: explainLoadError(c.label, err) });
    }
  }
  const tried = attempts.map((a) => `${a.label}: ${a.reason}`).join('; ');
  if (forced !== null) {
    throw new Error(`${forcedBy}=${forced} was requested but could not be loaded (${tried})`);
  }
  throw new Error(`no tfjs backend could be loaded (${tried})`);
}

function requireOptional(pkg: string): unknown {
  let manifest: string;
  try {
    manifest = nodeRequire.resolve(`${pkg}/package.json`);
  } catch {
    throw new NotInstalledError(`${pkg} not installed`);
  }
  // danfojs-node's dependency on tfjs-node is aliased to plain tfjs (package.json overrides):
  // that alias answers to the name but is not the native engine.
  const { name } = nodeRequire(manifest) as { name?: string };
  if (name !== pkg) throw new NotInstalledError(`${pkg} not installed (only an alias to ${name} is present)`);
  return nodeRequire(pkg);
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  // wasm's transposed matMul is 2x to 30x slower than a transpose then a plain product
  // (lib/ops/wasm-matmul.ts): every Dense backward pass uses it.
  // Its Transpose of a tall matrix is 4 to 7 times slower than the same copy done in 8 × 8 blocks
  // (lib/ops/wasm-transpose.ts); installed first, so that the products' explicit transposes use it.
  // Its Identity (every tensor a gradient saves is cloned) copies the buffer; the other backends
  // share it (lib/ops/wasm-identity.ts).
  if (name === 'wasm') {
    installWasmTransposeFix();
    installWasmMatMulTransposeFix();
    installWasmIdentityFix();
  }
  // native TensorFlow's BatchMatMulV2 has a large fixed cost on small 2-D products; MatMul has
  // not (li./ops/native-tf.ts): every Dense layer, projection and gradient.
  if (name === 'tensorflow') installNativeKernels();
}

/**
 * Runs `load` (a `require` of a package) and puts back the backend that was active before it.
 * Some packages select a backend when they are loaded: `@tensorflow/tfjs-node` calls
 * `tf.setBackend('tensorflow')` on import, and danfojs-node (lib/table) requires it. Where
 * `npm run setup:native` has installed it, the first table of a lesson would otherwise move the
 * rest of the lesson from the backend `initBackend` chose (wasm for a small workload) to native
 * TensorFlow, while the first cell still reports the choice. Switching back to an initialised
 * backend is synchronous in tfjs-core, so the backend is restored before `load`'s caller runs
 * another op.
 * @throws Error naming both backends when the one that was active cannot be restored.
 */
export function keepBackend<T>(what: string, load: () => T): T {
  const before = tf.getBackend() as string | null | undefined;
  const result = load();
  const after = tf.getBackend() as string | null | undefined;
  if (before && after !== before) {
    tf.setBackend(before).catch(() => undefined); // a failure shows as the check below
    if (tf.getBackend() !== before) {
      throw new Error(`loading ${what} moved the tfjs backend from ${before} to ${String(after)}, and ${before} could not be restored`);
    }
  }
  return result;
}

/** The real candidates of this course, in order of preference. */
export function defaultCandidates(): BackendCandidate[] {
  return [
    {
      name: 'tensorflow',
      label: '@tensorflow/tfjs-node-gpu',
      load: async () => {
        requireOptional('@tensorflow/tfjs-node-gpu');
        await activate('tensorflow');
        return 'native TensorFlow with CUDA';
      },
    },
    {
      name: 'tensorflow',
      label: '@tensorflow/tfjs-node',
      load: async () => {
        requireOptional('@tensorflow/tfjs-node');
        await activate('tensorflow');
        return 'native TensorFlow on the CPU';
      },
    },
    {
      name: 'wasm',
      label: '@tensorflow/tfjs-backend-wasm',
      load: async () => {
        requireOptional('@tensorflow/tfjs-backend-wasm');
        await activate('wasm');
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
        return `SIMD ${simd ? 'on' : 'off'}, ${threads ? 'multi-threaded' : 'one thread'}`;
      },
    },
    {
      name: 'cpu',
      label: '@tensorflow/tfjs-backend-cpu',
      load: async () => {
        await activate('cpu');
        return 'plain JavaScript kernels, slow';
      },
    },
  ];
}

/**
 * What a lesson mostly runs, which decides the order of preference when nothing is forced.
 * - `small`: small models (the digits MLPs, tiny RL policies). Each step runs hundreds of tiny
 *   kernels, so the fixed cost per kernel decides: wasm (about 2.3 µs a tiny kernel here) before
 *   the native `tensorflow` backend (about 7 µs, and 10× slower on the distillation step: 1.68 ms
 *   against 165 µs on 2026-12-02; bench/README.md, docs/backends.md). Native TensorFlow is still
 *   used when it is the only fast engine.
 * - `large`: matmul-bound work (transformer layers, MoE at thousands of tokens): native
 *   TensorFlow (GPU, then CPU) first, where a 1024² matmul runs at 260 to 280 GFLOP/s against
 *   wasm's 33 (2026-12-02). At the course's sizes the lessons stay `small`: forced onto native
 *   TensorFlow they were no faster (docs/backends.md).
 */
export const WORKLOADS = ['small', 'large'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** Why each workload orders the engines as it does, for the report. */
const WORKLOAD_REASON: Record<Workload, string> = {
  small: 'workload "small": per-kernel overhead dominates, so wasm is preferred to native TensorFlow',
  large: 'workload "large": matmul-bound, so native TensorFlow (GPU, then CPU) is preferred to wasm',
};

/**
 * The candidates reordered for a workload: `large` keeps the default order (tensorflow, wasm,
 * cpu); `small` moves wasm first. Stable otherwise.
 * @throws Error naming the value when `workload` is not one of WORKLOADS.
 */
export function orderForWorkload(candidates: readonly BackendCandidate[], workload: Workload): BackendCandidate[] {
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    throw new Error(`workload must be one of ${WORKLOADS.join(', ')}, got ${JSON.stringify(workload)}`);
  }
  const rank = (c: BackendCandidate) => (workload === 'small' && c.name === 'wasm' ? 0 : 1);
  return [...candidates].sort((a, b) => rank(a) - rank(b));
}

let current: Promise<BackendReport> | null = null;

/**
 * Picks the backend once per process (later calls return the same report).
 * Reads `FRUGAL_BACKEND` unless `force` is given.
 * @throws Error when `FRUGAL_BACKEND` names no backend, or the forced one fails.
 */
export function initBackend(
  options: { force?: string; env?: NodeJS.ProcessEnv; workload?: Workload } = {},
): Promise<BackendReport> {
  const env = options.env ?? process.env;
  const raw = options.force ?? env[BACKEND_ENV];
  const source = options.force !== undefined ? 'force' : BACKEND_ENV;
  const forced = raw === undefined || raw === '' ? null : parseBackendName(raw, source);
  const workload = options.workload ?? 'small';
  const ordered = orderForWorkload(defaultCandidates(), workload);
  if (current === null || options.force !== undefined) {
    tf.enableProdMode();
    current = selectBackend(ordered, forced, source).then((r) => ({ ...r, workload, why: WORKLOAD_REASON[workload] }));
    current.catch(() => {
      current = null;
    });
  }
  return current;
}

/** A few lines a lesson prints in its first cell. */
export function describeBackend(report: BackendReport): string {
  const lines = [`backend: ${report.backend} (${report.label})`];
  if (report.why && report.forced === null) lines.push(`  ${report.why}`);
  for (const a of report.attempts) lines.push(`  ${a.ok ? '✓' : '✗'} ${a.label}: ${a.reason}`);
  if (report.backend !== 'tensorflow' && report.workload !== 'small') {
    lines.push('  native TensorFlow: npm run setup:native (CPU), or npm install @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1); then restart the kernel');
  }
  return lines.join('\n');
}
