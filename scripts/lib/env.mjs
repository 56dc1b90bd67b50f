// Shared helpers for the course's scripts: where Jupyter and its Python are, the kernel spec.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The kernel this course registers, and that every lesson's metadata selects. */
export const KERNEL_NAME = 'frugal-ai';
export const KERNEL_DISPLAY_NAME = 'TypeScript (frugal-ai)';

/** Runs a command, returns {status, stdout, stderr}; never throws for a missing binary. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { status: r.error ? 127 : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** The path of an executable on PATH, or null. */
export function which(cmd) {
  const r = run('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The jupyter executable, or null. */
export function findJupyter() {
  return process.env.FRUGAL_JUPYTER || which('jupyter');
}

/**
 * The Python that runs Jupyter (read from the jupyter script's shebang), so that kernel tests
 * and nbclient use the same installation. Falls back to /usr/bin/python3, then python3.
 */
export function jupyterPython() {
  if (process.env.FRUGAL_PYTHON) return process.env.FRUGAL_PYTHON;
  const j = findJupyter();
  if (j && existsSync(j)) {
    const first = readFileSync(j, 'utf8').split('\n')[0] ?? '';
    const m = first.match(/^#!\s*(\S+)(?:\s+(\S+))?/);
    if (m) {
      const py = m[1].endsWith('/env') ? m[2] : m[1];
      if (py && run(py, ['-c', 'import jupyter_client']).status === 0) return py;
    }
  }
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (run(py, ['-c', 'import jupyter_client']).status === 0) return py;
  }
  return null;
}

/** Which Jupyter front ends and tools work here. */
export function jupyterStatus() {
  const jupyter = findJupyter();
  const ok = (args) => jupyter !== null && run(jupyter, args).status === 0;
  const py = jupyterPython();
  return {
    jupyter,
    python: py,
    lab: ok(['lab', '--version']),
    notebook: ok(['notebook', '--version']),
    nbconvert: ok(['nbconvert', '--version']),
    nbclient: py !== null && run(py, ['-c', 'import nbclient']).status === 0,
    kernelTest: py !== null && run(py, ['-c', 'import jupyter_kernel_test']).status === 0,
  };
}

/** Writes a file atomically: a temp file in the same folder, then a rename. */
export function writeFileAtomic(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Lessons in notebooks/, sorted, optionally filtered by name prefixes ("00", "03-distill"). */
export function listLessons(filters = []) {
  const dir = join(ROOT, 'notebooks');
  const all = run('ls', [dir]).stdout.split('\n').filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();
  const picked = filters.length ? all.filter((f) => filters.some((p) => f.startsWith(p))) : all;
  return picked.map((f) => join(dir, f));
}
