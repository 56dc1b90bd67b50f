// @ts-check
// Shared helpers for the course's scripts: where Jupyter and its Python are, the kernel spec.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The kernel this course registers, and that every lesson's metadata selects. */
export const KERNEL_NAME = 'frugal-ai';
export const KERNEL_DISPLAY_NAME = 'TypeScript (frugal-ai)';

/**
 * Runs a command, returns {status, stdout, stderr, timedOut}; never throws for a missing binary
 * (status 127) or a time-out (status 124, timedOut true, with `opts.timeout` in ms).
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {import('node:child_process').SpawnSyncOptions} [opts]
 * @returns {{ status: number, stdout: string, stderr: string, timedOut: boolean }}
 */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  const err = /** @type {NodeJS.ErrnoException | undefined} */ (r.error);
  const timedOut = err?.code === 'ETIMEDOUT' || (r.signal !== null && opts.timeout !== undefined && r.status === null);
  const status = timedOut ? 124 : err ? 127 : (r.status ?? 128);
  return { status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') || (err ? String(err) : ''), timedOut };
}

/**
 * The path of an executable on PATH, or null.
 * @param {string} cmd
 */
export function which(cmd) {
  const r = run('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * The course's own Python environment, made by `npm run setup` only where JupyterLab could not
 * be installed into the Jupyter already there (Debian's Python refuses pip: PEP 668).
 */
export const COURSE_VENV = join(ROOT, '.venv');

/** The jupyter executable: FRUGAL_JUPYTER, else the course's .venv, else the one on PATH, or null. */
export function findJupyter() {
  if (process.env.FRUGAL_JUPYTER) return process.env.FRUGAL_JUPYTER;
  const own = join(COURSE_VENV, 'bin', 'jupyter');
  return existsSync(own) ? own : which('jupyter');
}

/**
 * A Jupyter notebook as the scripts read it (nbformat 4), loosely: what they touch.
 * @typedef {{ output_type: string, ename?: string, evalue?: string, text?: string | string[], data?: Record<string, unknown>, metadata?: Record<string, unknown> }} NbOutput
 * @typedef {{ cell_type: string, source: string | string[], outputs?: NbOutput[], metadata?: Record<string, unknown> }} NbCell
 * @typedef {{ cells: NbCell[], metadata?: Record<string, unknown>, nbformat?: number, nbformat_minor?: number }} Notebook
 */

/**
 * The JSON line scripts/lib/execute_notebook.py prints last: `cell` (1-based) is the first cell
 * that failed, `errors` (with --allow-errors) every failed cell (0-based index).
 * @typedef {{ ok: boolean, cell: number | null, source: string | string[] | null, error: string | null,
 *   errors?: { cell: number, ename: string, evalue: string }[] }} RunnerReport
 */

/** Modules whose presence the scripts ask about, found (not imported) in one spawn per Python. */
const PROBED = ['jupyter_client', 'jupyterlab', 'notebook', 'nbconvert', 'nbclient', 'nbformat', 'plotly', 'jupyter_kernel_test'];
/** @type {Map<string, Set<string> | null>} */
const probes = new Map();

/**
 * The modules of PROBED that `py` can import (importlib's find_spec: no import, so fast), or null
 * when `py` does not run. Cached per process; `forgetPythons()` clears it after an install.
 * @param {string} py
 */
export function modulesOf(py) {
  if (!probes.has(py)) {
    // A regular module or package has an origin; an empty folder left behind (a namespace
    // package, what an uninstall can leave) has none and does not count.
    const code = `import importlib.util as u, json; print(json.dumps([m for m in ${JSON.stringify(PROBED)} if (s := u.find_spec(m)) and s.origin]))`;
    const r = run(py, ['-c', code], { timeout: 60_000 });
    let found = null;
    try {
      found = r.status === 0 ? new Set(/** @type {string[]} */ (JSON.parse(r.stdout.trim().split('\n').at(-1) ?? ''))) : null;
    } catch {
      found = null;
    }
    probes.set(py, found);
  }
  return probes.get(py) ?? null;
}

/** Forgets what modulesOf found (after pip or apt installed something). */
export function forgetPythons() {
  probes.clear();
}

/**
 * The Python that runs Jupyter, so that kernel tests and nbclient use the same installation:
 * the Python in the jupyter script's shebang, else the `python3` beside the script (a venv's
 * bin/, pyenv's shims/, /usr/bin/: where the shebang is a shell, as with pyenv's shims). Falls
 * back to /usr/bin/python3, then python3. Only a Python that has jupyter_client counts.
 * @returns {string | null}
 */
export function jupyterPython() {
  if (process.env.FRUGAL_PYTHON) return process.env.FRUGAL_PYTHON;
  const hasClient = (/** @type {string} */ py) => modulesOf(py)?.has('jupyter_client') ?? false;
  const j = findJupyter();
  if (j && existsSync(j)) {
    const first = readFileSync(j, 'utf8').slice(0, 300).split('\n')[0] ?? '';
    const m = first.match(/^#!\s*(\S+)(?:\s+(\S+))?/);
    const shebang = m ? (m[1]?.endsWith('/env') ? m[2] : m[1]) : undefined;
    if (shebang && /python/.test(shebang) && hasClient(shebang)) return shebang;
    const beside = join(dirname(j), 'python3');
    if (existsSync(beside) && hasClient(beside)) return beside;
  }
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (hasClient(py)) return py;
  }
  return null;
}

/** The Pythons worth asking, in order: Jupyter's, Debian's, the first on PATH. */
export function candidatePythons() {
  /** @type {string[]} */
  const list = [];
  const j = jupyterPython();
  if (j) list.push(j);
  for (const py of ['/usr/bin/python3', which('python3')]) if (py && !list.includes(py) && existsSync(py)) list.push(py);
  return list;
}

/**
 * The first Python (Jupyter's first, then Debian's, then python3 on PATH) that has every
 * module of `modules` (names from PROBED), or null. The kernel spec is found through
 * JUPYTER_PATH by any of them.
 * @param {readonly string[]} modules
 */
export function pythonWith(modules) {
  if (process.env.FRUGAL_PYTHON) return process.env.FRUGAL_PYTHON;
  return candidatePythons().find((py) => modules.every((m) => modulesOf(py)?.has(m))) ?? null;
}

/**
 * Which Jupyter front ends and tools are installed: the jupyter command, and the modules of
 * Jupyter's Python (JupyterLab, the classic Notebook, nbconvert, plotly); nbclient and
 * jupyter_kernel_test under any Python (the runners use whichever has them).
 */
export function jupyterStatus() {
  const jupyter = findJupyter();
  const py = jupyter ? jupyterPython() : null;
  const mods = py ? modulesOf(py) : null;
  const has = (/** @type {string} */ m) => mods?.has(m) ?? false;
  return {
    jupyter,
    python: py,
    lab: has('jupyterlab'),
    notebook: has('notebook'),
    nbconvert: has('nbconvert'),
    /** nbclient for headless runs, under Jupyter's Python or another (scripts/run-lessons.mjs). */
    nbclient: pythonWith(['nbclient', 'nbformat', 'jupyter_client']) !== null,
    plotly: has('plotly'),
    /** A Python that runs the conformance suite (it need not be Jupyter's). */
    kernelTestPython: pythonWith(['jupyter_client', 'jupyter_kernel_test']),
  };
}

/**
 * Writes a file atomically: a temp file in the same folder, then a rename.
 * @param {string} path
 * @param {string | Uint8Array} data
 */
export function writeFileAtomic(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Lessons in notebooks/, sorted, optionally filtered by name prefixes ("00", "03-distill"). */
/** @param {readonly string[]} [filters] */
export function listLessons(filters = []) {
  const dir = join(ROOT, 'notebooks');
  const all = run('ls', [dir]).stdout.split('\n').filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
  const picked = filters.length ? all.filter((f) => filters.some((p) => f.startsWith(p))) : all;
  return picked.map((f) => join(dir, f));
}
