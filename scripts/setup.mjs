// npm run setup: makes this checkout ready to run the course, on a fresh machine.
//  1. npm dependencies from the lock file (npm ci), unless they are already in place;
//  2. the lib, compiled to lib/dist (lessons import it as @frugal-ai/lib);
//  3. Jupyter: found, or installed with pip where pip reaches its index, else with Debian's
//     apt packages when running as root, else the exact commands are printed;
//  4. the course kernel `frugal-ai` registered for this user;
//  5. Chromium for the plots' static images (optional: without it plots stay interactive only).
// Flags: --no-install (never install system packages, only report), --skip-npm.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, jupyterStatus, run, which } from './lib/env.mjs';
import { registerKernel } from './register-kernel.mjs';

const args = new Set(process.argv.slice(2));
const mayInstall = !args.has('--no-install');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const started = Date.now();
const APT_JUPYTER = ['jupyter-notebook', 'jupyter-client', 'jupyter-nbconvert', 'python3-nbclient', 'python3-jupyter-kernel-test'];
const PIP_JUPYTER = ['jupyterlab', 'plotly', 'nbconvert', 'nbclient', 'jupyter_kernel_test'];

function step(msg) {
  console.log(`\n== ${msg}`);
}
function sh(cmd, argv, opts = {}) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  const r = run(cmd, argv, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed with exit code ${r.status}`);
}

// 1. npm dependencies
step('npm dependencies');
const lock = join(ROOT, 'package-lock.json');
const installed = join(ROOT, 'node_modules', '.package-lock.json');
if (args.has('--skip-npm')) console.log('skipped (--skip-npm)');
else if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) {
  console.log('node_modules matches package-lock.json: nothing to do');
} else sh('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } }); // no CUDA add-on download (see .npmrc)

// 2. the lib
step('lib -> lib/dist');
sh('npm', ['run', '-s', 'build']);

// 3. Jupyter
step('Jupyter');
let st = jupyterStatus();
const missing = () => !st.jupyter || !st.nbconvert || !st.nbclient || !(st.notebook || st.lab);
if (missing() && mayInstall) {
  const pip = which('pip3') || which('pip');
  const pipReaches =
    pip !== null &&
    run(pip, ['download', '--no-deps', '--quiet', '-d', join(ROOT, 'out', '.pip-probe'), 'jupyterlab'], { timeout: 60_000 }).status === 0;
  if (pipReaches) {
    sh(pip, ['install', ...PIP_JUPYTER]);
  } else if (isRoot && which('apt-get')) {
    console.log('pip cannot reach its index here: installing Debian packages instead');
    sh('apt-get', ['update', '-qq']);
    sh('apt-get', ['install', '-y', '-qq', ...APT_JUPYTER], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  st = jupyterStatus();
}
if (missing()) {
  console.error(
    [
      'Jupyter is missing or incomplete. Install it with one of:',
      `  pip install ${PIP_JUPYTER.join(' ')}`,
      `  sudo apt-get install -y ${APT_JUPYTER.join(' ')}`,
      'then run npm run setup again.',
    ].join('\n'),
  );
  process.exit(1);
}
console.log(`jupyter: ${st.jupyter} (python: ${st.python})`);
console.log(`JupyterLab: ${st.lab ? 'yes' : 'no (pip install jupyterlab plotly for interactive plots)'}; classic Notebook: ${st.notebook ? 'yes' : 'no'}`);
console.log(`nbconvert: ${st.nbconvert ? 'yes' : 'no'}; nbclient: ${st.nbclient ? 'yes' : 'no'}; jupyter_kernel_test: ${st.kernelTest ? 'yes' : 'no'}`);

// 3b. Python's onnx package: the ONNX checker of tests/io-onnx.test.ts (lesson 05's export)
step('ONNX checker (Python onnx package)');
const onnxPython = process.env.FRUGAL_ONNX_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const hasOnnx = () => run(onnxPython, ['-c', 'import onnx']).status === 0;
if (!hasOnnx() && mayInstall && isRoot && which('apt-get')) {
  sh('apt-get', ['install', '-y', '-qq', 'python3-onnx'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
console.log(hasOnnx() ? `onnx: found for ${onnxPython}` : `onnx: missing for ${onnxPython} (npm test will fail): sudo apt-get install -y python3-onnx, or pip install onnx and set FRUGAL_ONNX_PYTHON`);

// 4. the kernel
step('kernel');
console.log(registerKernel());

// 5. Chromium for static plot images and the browser check
step('Chromium (static images of plots)');
const chromium = process.env.FRUGAL_CHROMIUM || (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null);
if (chromium) console.log(`found ${chromium}`);
else if (mayInstall && isRoot && which('apt-get')) {
  sh('apt-get', ['install', '-y', '-qq', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
} else {
  console.log('not found: plots will show without a PNG fallback. Install: sudo apt-get install -y chromium');
}

console.log(`\nsetup done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next: npm test, or npm start to open the lessons.`);
