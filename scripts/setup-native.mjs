// @ts-check
// npm run setup:native [-- --from-wheel]: installs the native TensorFlow backend,
// @tensorflow/tfjs-node 4.22.0, into this checkout's node_modules (not saved to package.json:
// it stays optional, and `npm ci` removes it again).
//
//  1. The normal way first: `npm install @tensorflow/tfjs-node`, whose install script downloads
//     libtensorflow 2.9.1 from storage.googleapis.com. Bounded by --timeout (default 180 s).
//  2. Where that download fails (no network but the npm registry), the same package is built
//     against the TensorFlow C library that the official `tensorflow-cpu` wheel ships:
//     - `pip download tensorflow-cpu` (the local wheel mirror here; PyPI elsewhere), about
//       250 MB;
//     - its `tensorflow/include` and `libtensorflow_cc.so.2` + `libtensorflow_framework.so.2`
//       go under the package's `deps/`, with the `libtensorflow.so*` names the addon links to;
//     - `npm rebuild @tensorflow/tfjs-node` compiles the addon with node-gyp (about 20 s).
//  3. A check: the `tensorflow` backend loads and a matmul agrees with the wasm backend.
//
// --from-wheel skips step 1. Exit code 0 only when step 3 passes. Never a stack trace: a failure
// prints what is missing and the command to run.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, run, which } from './lib/env.mjs';

const TFJS_NODE = '@tensorflow/tfjs-node@4.22.0';
const WHEEL = 'tensorflow-cpu==2.21.0';
const { values: opts } = parseArgs({
  options: {
    'from-wheel': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '180' },
  },
});
const timeoutMs = Number(opts.timeout) * 1000;
if (!(timeoutMs > 0)) fail(`--timeout must be a positive number of seconds, got ${opts.timeout}`);
const started = Date.now();
const pkgDir = join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
const outDir = join(ROOT, 'out', 'native');

/** @param {string} msg @returns {never} */
function fail(msg) {
  console.error(`setup:native failed: ${msg}`);
  process.exit(1);
}
/** @param {string} msg */
function step(msg) {
  console.log(`\n== ${msg} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
/**
 * @param {string} cmd @param {string[]} argv @param {Parameters<typeof run>[2]} [o]
 * @returns {ReturnType<typeof run>}
 */
function sh(cmd, argv, o = {}) {
  console.log(`$ ${cmd} ${argv.join(' ')}`);
  return run(cmd, argv, { cwd: ROOT, stdio: 'inherit', ...o });
}

/** True when `require('@tensorflow/tfjs-node')` gives a working `tensorflow` backend. */
function check() {
  const probe = `
    const tf = require('@tensorflow/tfjs-node');
    require('@tensorflow/tfjs-backend-wasm');
    (async () => {
      await tf.setBackend('tensorflow'); await tf.ready();
      const a = tf.randomUniform([256, 256], -1, 1, 'float32', 1), b = tf.randomUniform([256, 256], -1, 1, 'float32', 2);
      const av = await a.data(), bv = await b.data();
      const native = await tf.matMul(a, b).data();
      await tf.setBackend('wasm'); await tf.ready();
      const ref = await tf.matMul(tf.tensor(av, [256, 256]), tf.tensor(bv, [256, 256])).data();
      let d = 0; for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ref[i] - native[i]));
      console.log('tensorflow backend: matmul 256x256 max |native - wasm| = ' + d.toExponential(2));
      process.exit(d < 1e-3 ? 0 : 1);
    })().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });`;
  return sh(process.execPath, ['-e', probe], { timeout: 120_000 }).status === 0;
}

// 1. the normal way
if (!opts['from-wheel']) {
  step(`npm install ${TFJS_NODE} (its script downloads libtensorflow)`);
  const r = sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', TFJS_NODE], { timeout: timeoutMs });
  if (r.status === 0 && check()) {
    console.log(`\nsetup:native done the normal way in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    process.exit(0);
  }
  console.log('the normal install did not give a working backend: building against the tensorflow-cpu wheel');
}

// 2. from the tensorflow-cpu wheel
step(`npm install --ignore-scripts ${TFJS_NODE}`);
if (sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', TFJS_NODE]).status !== 0) {
  fail(`npm could not install ${TFJS_NODE}: check that the npm registry is reachable`);
}
step(`pip download ${WHEEL}`);
const python = which('python3') ?? which('python');
if (!python) fail('python3 not found: it is needed to download the tensorflow-cpu wheel (pip)');
mkdirSync(outDir, { recursive: true });
let wheel = readdirSync(outDir).find((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'));
if (!wheel) {
  const r = sh(python, ['-m', 'pip', 'download', '--no-deps', '--retries', '0', '--timeout', '30', '-d', outDir, WHEEL], {
    timeout: 15 * 60_000,
  });
  wheel = readdirSync(outDir).find((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'));
  if (r.status !== 0 || !wheel) fail(`pip could not download ${WHEEL}: run  ${python} -m pip download --no-deps -d out/native ${WHEEL}`);
} else console.log(`using ${join(outDir, wheel)}`);

step('unpacking the C library and its headers into node_modules/@tensorflow/tfjs-node/deps');
const deps = join(pkgDir, 'deps');
rmSync(deps, { recursive: true, force: true });
mkdirSync(join(deps, 'lib'), { recursive: true });
const unpack = `
import sys, zipfile, os, shutil
whl, deps = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
for n in z.namelist():
    if n.startswith('tensorflow/include/') and not n.endswith('/'):
        dst = os.path.join(deps, 'include', n[len('tensorflow/include/'):])
    elif n in ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'):
        dst = os.path.join(deps, 'lib', os.path.basename(n))
    else:
        continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with z.open(n) as src, open(dst, 'wb') as out:
        shutil.copyfileobj(src, out)
`;
if (sh(python, ['-c', unpack, join(outDir, wheel), deps]).status !== 0) fail(`could not unpack ${wheel}`);
const lib = join(deps, 'lib');
for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) {
  if (!existsSync(join(lib, f))) fail(`${f} is missing from ${wheel}`);
}
// The addon links -ltensorflow -ltensorflow_framework; tfjs-node's install script looks for
// libtensorflow.so.2.9.1 to decide that libtensorflow is present (then it builds, not downloads).
/** @type {[string, string][]} */
const LINKS = [
  ['libtensorflow.so', 'libtensorflow_cc.so.2'],
  ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
  ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
  ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
  ['libtensorflow_framework.so.2.9.1', 'libtensorflow_framework.so.2'],
];
for (const [name, target] of LINKS) symlinkSync(target, join(lib, name));

step('npm rebuild @tensorflow/tfjs-node (node-gyp)');
if (sh('npm', ['rebuild', '@tensorflow/tfjs-node'], { timeout: 10 * 60_000 }).status !== 0) {
  fail('node-gyp could not build the addon: it needs g++, make and python3 (apt-get install -y g++ make python3)');
}

// 3. the check
step('check');
if (!check()) fail('the tensorflow backend does not load or disagrees with wasm (see above)');
console.log(`\nsetup:native done from the wheel in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
console.log('Lessons now pick `tensorflow` for matmul-bound work (initBackend({ workload: "large" })).');
