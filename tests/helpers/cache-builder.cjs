// A second process for tests/distill-teacher-cache.test.ts ("two concurrent builders"): loads
// lib/distill/teacher-cache.ts through TypeScript's transpiler (CommonJS) and builds one cache.
//   node tests/helpers/cache-builder.cjs <dir> <name> [<hold-file> <go-file>]
// With a hold file: after half of the .bin is in its temporary file, writes <hold-file> and waits
// (up to 60 s) until <go-file> exists, so that another builder can run in the meantime.
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};

const tf = require('@tensorflow/tfjs');
const { buildTeacherCache } = require('../../lib/distill/teacher-cache.ts');

const [dir, name, holdFile, goFile] = process.argv.slice(2);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function main() {
  await tf.setBackend('cpu');
  // The same teacher and data in every process: logits = x W, [64, 8] x [8, 4] -> [64, 4].
  const w = tf.tensor2d(Array.from({ length: 32 }, (_, i) => Math.sin(i)), [8, 4]);
  const x = tf.tensor2d(Array.from({ length: 512 }, (_, i) => Math.cos(i)), [64, 8]);
  let held = false;
  const testHooks = {
    afterPartialWrite: () => {
      if (!holdFile || held) return;
      held = true;
      fs.writeFileSync(holdFile, 'holding');
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(goFile)) {
        if (Date.now() > deadline) throw new Error(`no ${goFile} after 60 s`);
        sleep(20);
      }
    },
  };
  const { logits } = await buildTeacherCache((b) => tf.matMul(b, w), x, { dir, name, teacherKey: 'shared-teacher', testHooks });
  logits.dispose();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`builder failed: ${err && err.message}`);
    process.exit(1);
  },
);
