// @ts-check
// npm run setup: makes this checkout ready to run the course, on a fresh machine.
//  1. npm dependencies from the lock file (npm ci), unless they are already in place;
//  2. the lib, compiled to lib/dist (lessons import it as @frugal-ai/lib);
//  3. Jupyter, one part at a time: each missing part is installed with pip (into Jupyter's
//     Python, or python3 when there is no Jupyter yet), and if pip cannot, from Debian's
//     packages when running as root; JupyterLab, which Debian lacks, goes into the course's
//     own .venv when the Jupyter Python refuses pip; what still lacks is listed with the exact
//     command;
//  4. the course kernel `frugal-ai` registered for this user;
//  5. Chromium for the plots' static images (optional: without it plots stay interactive only).
// Bounded in time: pip gets no retries and a 15 s network time-out (an unreachable index fails
// in seconds, not minutes), and each install command is stopped after FRUGAL_SETUP_STEP_S
// seconds (default 900). Never ends in a stack trace: a failure prints what is missing and how
// to install it. docs/setup.md says how the three machine states were tried.
// Flags: --no-install (never install anything, only report), --skip-npm.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { COURSE_VENV, ROOT, findJupyter, forgetPythons, jupyterPython, jupyterStatus, run, which } from './lib/env.mjs';
import { registerKernel } from './register-kernel.mjs';

const args = new Set(process.argv.slice(2));
const mayInstall = !args.has('--no-install');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const started = Date.now();
const STEP_MS = 1000 * Number(process.env.FRUGAL_SETUP_STEP_S ?? 900);
/** pip without retries against an index it cannot reach (5 by default, minutes in all). */
const PIP_FLAGS = ['--retries', '0', '--timeout', '15', '--disable-pip-version-check', '--progress-bar', 'off'];
const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

/**
 * The parts of Jupyter the course uses, in install order. `pip` is the pip name, `apt` Debian's
 * package (which installs for /usr/bin/python3). `ok(st)` says whether the part is there.
 * @typedef {ReturnType<typeof jupyterStatus>} Status
 * @typedef {{ name: string, why: string, pip: string, apt: string | null, required: boolean, ok: (st: Status) => boolean }} Part
 * @type {Part[]}
 */
const PARTS = [
  {
    // Debian has no JupyterLab package. Where pip cannot install into the Jupyter Python there
    // (Debian's refuses: PEP 668), setup makes the course's own .venv for it (venvFallback).
    name: 'JupyterLab',
    why: 'the notebook front end; npm test runs a lesson in it',
    pip: 'jupyterlab',
    apt: null,
    required: true,
    ok: (st) => st.lab,
  },
  {
    name: 'plotly',
    why: "JupyterLab's plotly extension: interactive figures",
    pip: 'plotly',
    apt: 'python3-plotly',
    required: false,
    ok: (st) => st.plotly,
  },
  { name: 'nbconvert', why: 'HTML export of the lessons', pip: 'nbconvert', apt: 'jupyter-nbconvert', required: true, ok: (st) => st.nbconvert },
  { name: 'nbclient', why: 'headless lesson runs (npm run lessons)', pip: 'nbclient', apt: 'python3-nbclient', required: true, ok: (st) => st.nbclient },
  {
    name: 'jupyter_kernel_test',
    why: 'the kernel conformance suite (npm run test:kernel); any Python with jupyter_client will do',
    pip: 'jupyter_kernel_test',
    apt: 'python3-jupyter-kernel-test',
    required: true,
    ok: (st) => st.kernelTestPython !== null,
  },
];

/** @param {string} msg */
function step(msg) {
  console.log(`\n== ${msg}`);
}
const secs = (/** @type {number} */ t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/**
 * Runs a command with its output shown, stopped after STEP_MS; returns whether it succeeded.
 * @param {string} cmd
 * @param {string[]} argv
 * @param {import('node:child_process').SpawnSyncOptions} [opts]
 */
function sh(cmd, argv, opts = {}) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const t0 = Date.now();
  const r = run(cmd, argv, { stdio: 'inherit', cwd: ROOT, timeout: STEP_MS, ...opts });
  if (r.timedOut) console.log(`   stopped after ${STEP_MS / 1000} s (FRUGAL_SETUP_STEP_S)`);
  else if (r.status !== 0) console.log(`   failed (exit ${r.status}) after ${secs(t0)}`);
  else console.log(`   done in ${secs(t0)}`);
  return r.status === 0;
}

/** The Python that pip installs into: Jupyter's if there is a jupyter command, else python3 on PATH. */
function pipPython() {
  const py = (findJupyter() ? jupyterPython() : null) ?? which('python3');
  if (!py) return null;
  return run(py, ['-m', 'pip', '--version']).status === 0 ? py : null;
}

let aptUpdated = false;
/** @param {string} pkg */
function aptInstall(pkg) {
  const argv = ['install', '-y', '-qq', '--no-install-recommends', pkg];
  if (sh('apt-get', argv, { env: APT_ENV })) return true;
  if (aptUpdated) return false;
  aptUpdated = true; // the package lists may be missing or stale: refresh once, then retry
  return sh('apt-get', ['update', '-qq'], { env: APT_ENV }) && sh('apt-get', argv, { env: APT_ENV });
}

/**
 * The course's own Python environment for JupyterLab, for when the Jupyter Python refuses pip:
 * a venv at .venv from the first python3 that makes one, with jupyterlab and plotly from pip.
 * findJupyter() prefers it from then on. Returns whether JupyterLab runs from it.
 */
function venvFallback() {
  console.log(`   trying the course's own environment: ${COURSE_VENV}`);
  const venvPy = join(COURSE_VENV, 'bin', 'python');
  if (!existsSync(venvPy)) {
    const makers = [which('python3'), '/usr/bin/python3'].filter((p, i, a) => p && existsSync(p) && a.indexOf(p) === i);
    if (!makers.some((py) => sh(/** @type {string} */ (py), ['-m', 'venv', COURSE_VENV]))) {
      console.log('   no python3 here can make a venv (Debian: sudo apt-get install -y python3-venv)');
      return false;
    }
  }
  return sh(venvPy, ['-m', 'pip', 'install', ...PIP_FLAGS, 'jupyterlab', 'plotly']) && existsSync(join(COURSE_VENV, 'bin', 'jupyter'));
}

/** @param {Part} part @param {string | null} py */
function howToInstall(part, py) {
  const ways = [];
  if (part.pip === 'jupyterlab') ways.push(`python3 -m venv ${COURSE_VENV} && ${COURSE_VENV}/bin/pip install jupyterlab plotly`);
  if (py) ways.push(`${py} -m pip install ${part.pip}`);
  else ways.push(`pip install ${part.pip}`);
  if (part.apt) ways.push(`sudo apt-get install -y ${part.apt}`);
  return ways.join('   or   ');
}

function main() {
  // 1. npm dependencies
  step('npm dependencies');
  const lock = join(ROOT, 'package-lock.json');
  const installed = join(ROOT, 'node_modules', '.package-lock.json');
  if (args.has('--skip-npm')) console.log('skipped (--skip-npm)');
  else if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) {
    console.log('node_modules matches package-lock.json: nothing to do');
  } else if (!sh('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } })) {
    // ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's postinstall downloads CUDA add-ons the
    // course never uses (its CPU binary ships in the npm package); .npmrc says the same.
    return fail(['the npm dependencies did not install: run `npm ci` and read its error, then npm run setup again']);
  }

  // 2. the lib
  step('lib -> lib/dist');
  if (!sh('npm', ['run', '-s', 'build'])) return fail(['the lib did not compile: run `npm run build` and read its errors']);

  // 3. Jupyter, part by part
  step('Jupyter');
  let st = jupyterStatus();
  /** @type {string[]} */
  const installedNow = [];
  for (const part of PARTS) {
    if (part.ok(st)) {
      console.log(`${part.name}: found`);
      continue;
    }
    console.log(`${part.name}: missing (${part.why})`);
    if (!mayInstall) continue;
    const t0 = Date.now();
    const py = pipPython();
    let done = false;
    if (py) {
      done = sh(py, ['-m', 'pip', 'install', ...PIP_FLAGS, part.pip]) && (forgetPythons(), (st = jupyterStatus()), part.ok(st));
      if (done) installedNow.push(`${part.pip} (pip, ${py}, ${secs(t0)})`);
    } else console.log('   no pip here');
    // Debian's package serves /usr/bin/python3. For plotly it only helps Debian's own Jupyter.
    const aptUseful = part.apt !== null && (part.name !== 'plotly' || jupyterPython() === '/usr/bin/python3');
    if (!done && part.pip === 'jupyterlab') {
      const t1 = Date.now();
      done = venvFallback() && (forgetPythons(), (st = jupyterStatus()), part.ok(st));
      if (done) installedNow.push(`jupyterlab and plotly (pip, into ${COURSE_VENV}, ${secs(t1)})`);
    }
    if (!done && aptUseful && part.apt && isRoot && which('apt-get')) {
      const t1 = Date.now();
      const aptOk = aptInstall(part.apt);
      done = aptOk && (forgetPythons(), (st = jupyterStatus()), part.ok(st));
      if (done) installedNow.push(`${part.apt} (apt, ${secs(t1)})`);
      else if (aptOk) console.log(`   apt reports ${part.apt} installed, yet no Python finds it: sudo apt-get install --reinstall -y ${part.apt}`);
    }
    if (!done) console.log(`   ${part.name} is still missing`);
  }
  const missing = PARTS.filter((p) => !p.ok(st));
  const py = pipPython();
  console.log(`\njupyter: ${st.jupyter ?? 'not found'} (python: ${st.python ?? 'none'})`);
  console.log(`JupyterLab: ${st.lab ? 'yes' : 'no'}; classic Notebook: ${st.notebook ? 'yes' : 'no'}; nbconvert: ${st.nbconvert ? 'yes' : 'no'}; nbclient: ${st.nbclient ? 'yes' : 'no'}; plotly: ${st.plotly ? 'yes' : 'no'}`);
  console.log(`conformance suite runs under: ${st.kernelTestPython ?? 'no Python has jupyter_kernel_test'}`);
  console.log(`installed by this run: ${installedNow.length ? installedNow.join(', ') : 'nothing'}`);
  for (const p of missing.filter((p) => !p.required)) console.log(`optional, missing: ${p.name} (${p.why}): ${howToInstall(p, py)}`);
  const missingRequired = missing.filter((p) => p.required);

  // 3b. Python's onnx package: the ONNX checker of tests/io-onnx.test.ts (lesson 05's export)
  step('ONNX checker (Python onnx package)');
  const onnxPython = process.env.FRUGAL_ONNX_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const hasOnnx = () => run(onnxPython, ['-c', 'import onnx']).status === 0;
  if (!hasOnnx() && mayInstall && isRoot && which('apt-get') && aptInstall('python3-onnx')) {
    installedNow.push('python3-onnx (apt)');
  }
  if (hasOnnx()) console.log(`onnx: found for ${onnxPython}`);
  else {
    missingRequired.push({ name: `onnx (for ${onnxPython})`, why: 'the ONNX checker of tests/io-onnx.test.ts', pip: 'onnx', apt: 'python3-onnx', required: true, ok: hasOnnx });
  }

  // 4. the kernel (needs the jupyter command)
  step('kernel');
  if (st.jupyter) {
    try {
      console.log(registerKernel());
    } catch (e) {
      return fail([`the kernel spec could not be registered: ${e instanceof Error ? e.message : String(e)}`]);
    }
  } else console.log('not registered: there is no jupyter command yet');

  // 5. Chromium for static plot images and the browser check
  step('Chromium (static images of plots)');
  const chromium = process.env.FRUGAL_CHROMIUM || (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null);
  if (chromium) console.log(`found ${chromium}`);
  else if (mayInstall && isRoot && which('apt-get') && aptInstall('chromium')) console.log('installed chromium (apt)');
  else console.log('not found: plots will show without a PNG fallback. Install: sudo apt-get install -y chromium');

  if (missingRequired.length) {
    return fail([
      'Jupyter is incomplete. Missing:',
      ...missingRequired.map((p) => `  ${p.name} (${p.why}): ${howToInstall(p, py)}`),
      'then run npm run setup again.',
    ]);
  }
  console.log(`\nsetup done in ${secs(started)}. Next: npm test, or npm start to open the lessons.`);
  return 0;
}

/** @param {string[]} lines */
function fail(lines) {
  console.error(`\nsetup stopped after ${secs(started)}:\n${lines.join('\n')}`);
  return 1;
}

let code = 1;
try {
  code = main();
} catch (e) {
  // Should not happen; still no stack trace for the learner, only what went wrong.
  console.error(`setup failed: ${e instanceof Error ? e.message : String(e)} (FRUGAL_DEBUG=1 for details)`);
  if (process.env.FRUGAL_DEBUG) console.error(e);
}
process.exit(code);
