/**
 * lib/io/onnx.ts and onnx-run.ts: the course's MLPs exported to ONNX (float32, float16, int8,
 * sparse, low-rank), validated by the ONNX checker (full_check, in Python), and run in
 * onnxruntime-node with outputs equal to tfjs's on the whole digits test set.
 *
 * The checker needs Python's `onnx` package (Debian `python3-onnx`, or `pip install onnx`); the
 * test fails, never skips, when it is missing. `FRUGAL_ONNX_PYTHON` names another interpreter.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { lowRank } from '../lib/compress/low-rank';
import { magnitudePrune } from '../lib/compress/prune';
import { quantizeModel } from '../lib/compress/quantize';
import { digitsExperiment, newStudent, type DigitsExperiment } from '../lib/course/digits-experiment';
import { crossEntropy } from '../lib/distill/loss';
import { exportOnnx, saveOnnx } from '../lib/io/onnx';
import { OnnxModel } from '../lib/io/onnx-run';
import { mlp } from '../lib/models/mlp';
import { Rng } from '../lib/random';
import { train } from '../lib/train/loop';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-onnx-'));
let exp: DigitsExperiment;
let student: tf.Sequential;

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
  exp = digitsExperiment(42);
  student = newStudent(42);
  const opt = tf.train.adam(1e-2);
  // A few epochs, so the weights look like a trained student's (not a test of accuracy).
  await train(student, exp.train, { epochs: 5, batchSize: 64, optimizer: opt, loss: (b, l) => crossEntropy(b.y, l), rng: new Rng(1), progress: false });
  opt.dispose();
}, 60_000);
afterAll(() => {
  exp.dispose();
  student.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

function python(): string {
  if (process.env.FRUGAL_ONNX_PYTHON) return process.env.FRUGAL_ONNX_PYTHON;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Runs the ONNX checker on the files; fails with install instructions when onnx is missing. */
function onnxChecker(files: string[]): { file: string; ok: boolean; error?: string; onnx: string }[] {
  const py = python();
  const r = spawnSync(py, [path.join(__dirname, '..', 'scripts', 'check-onnx.py'), ...files], { encoding: 'utf8' });
  if (r.error || r.status === 2) {
    throw new Error(
      `the ONNX checker needs Python's onnx package, not found with ${py} (${r.error?.message ?? r.stdout.trim()}): ` +
        'install it with `sudo apt-get install python3-onnx` or `pip install onnx`, or set FRUGAL_ONNX_PYTHON',
    );
  }
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; ok: boolean; error?: string; onnx: string });
}

/** max |a − b| over two equal-length arrays. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

/** Logits of the tfjs model and of its ONNX export on the whole test set. */
async function parity(model: tf.Sequential, file: string, optimization: 'basic' | 'all' = 'all'): Promise<number> {
  const ref = tf.tidy(() => model.predict(exp.test.x) as tf.Tensor2D);
  const onnx = await OnnxModel.load(file, { optimization });
  const got = await onnx.logits(exp.test.x.dataSync() as Float32Array, exp.test.x.shape[0]);
  await onnx.dispose();
  const d = maxAbsDiff(ref.dataSync(), got);
  ref.dispose();
  return d;
}

describe('ONNX export', () => {
  it('every variant passes the ONNX checker (full_check) and matches tfjs on the 269 test digits', async () => {
    const variants: { name: string; model: tf.Sequential; file: string; options: Parameters<typeof exportOnnx>[1]; tol: number }[] = [];
    const add = (name: string, model: tf.Sequential, options: Parameters<typeof exportOnnx>[1], tol = 1e-4) =>
      variants.push({ name, model, file: path.join(root, `${name}.onnx`), options, tol });
    add('student-f32', student, {});
    // A teacher-shaped MLP: two hidden layers, dropout (left out of the graph), no softmax output.
    const teacher = mlp({ inputs: 64, hidden: [32, 32], outputs: 10, dropout: 0.2, rng: new Rng(3), name: 'teacher' });
    add('teacher-f32', teacher, { softmax: false });
    const pruned = quantizeModel(student, 'float32').model as tf.Sequential;
    const masks = magnitudePrune(pruned, { sparsity: 0.8 });
    add('student-pruned-sparse', pruned, { sparse: true });
    const lr = lowRank(student, { rank: 4, layers: [student.layers[0]!.name] });
    add('student-lowrank', lr.model, {});
    // int8 / float16 files: compared with the tfjs model holding the same dequantised weights.
    const q8 = quantizeModel(student, 'int8').model as tf.Sequential;
    const q16 = quantizeModel(student, 'float16').model as tf.Sequential;
    variants.push({ name: 'student-int8', model: q8, file: path.join(root, 'student-int8.onnx'), options: { weights: 'int8' }, tol: 1e-4 });
    variants.push({ name: 'student-f16', model: q16, file: path.join(root, 'student-f16.onnx'), options: { weights: 'float16' }, tol: 1e-4 });

    const sizes: Record<string, number> = {};
    for (const v of variants) {
      // int8/float16 export quantises the original student; q8/q16 hold the same weights dequantised.
      const src = v.name === 'student-int8' || v.name === 'student-f16' ? student : v.model;
      sizes[v.name] = saveOnnx(src, v.file, v.options);
    }
    const checked = onnxChecker(variants.map((v) => v.file));
    for (const c of checked) expect(c, `ONNX checker on ${c.file}: ${c.error}`).toMatchObject({ ok: true });
    expect(checked.length).toBe(variants.length);

    for (const v of variants) {
      // int8 at 'basic': at 'all' onnxruntime swaps in its lower-precision MatMulNBits kernel (below).
      const d = await parity(v.model, v.file, v.options?.weights === 'int8' ? 'basic' : 'all');
      console.log(`${v.name}: max |tfjs − onnxruntime| = ${d.toExponential(2)}`);
      expect(d, `${v.name}: max |tfjs − onnxruntime| over the test set`).toBeLessThanOrEqual(v.tol);
    }
    // Measured 7.2e-2 on this student: the fused kernel is not the graph's exact arithmetic.
    const fused = await parity(q8, path.join(root, 'student-int8.onnx'), 'all');
    console.log(`student-int8 at onnxruntime's level 'all': max |tfjs − onnxruntime| = ${fused.toExponential(2)}`);
    expect(fused).toBeGreaterThan(1e-4);
    // Smaller files for the compressed variants (the graph and names are a fixed overhead).
    expect(sizes['student-int8']!).toBeLessThan(sizes['student-f16']!);
    expect(sizes['student-f16']!).toBeLessThan(sizes['student-f32']!);
    expect(sizes['student-pruned-sparse']!).toBeLessThan(sizes['student-f32']!);

    masks.dispose();
    [teacher, pruned, lr.model, q8, q16].forEach((m) => m.dispose());
  }, 60_000);

  it('int8 dequantised by the graph differs from the float32 student by at most the weight error allows', async () => {
    const f32 = path.join(root, 'a.onnx');
    const i8 = path.join(root, 'b.onnx');
    saveOnnx(student, f32);
    saveOnnx(student, i8, { weights: 'int8' });
    const x = exp.test.x.dataSync() as Float32Array;
    const n = exp.test.x.shape[0];
    const [a, b] = [await OnnxModel.load(f32), await OnnxModel.load(i8)];
    const d = maxAbsDiff(await a.logits(x, n), await b.logits(x, n));
    // not equal (the weights did change), but close: logits of order 10 move by well under 1
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(1);
    await a.dispose();
    await b.dispose();
  });

  it('a file the checker rejects is reported by name (the check can fail)', () => {
    const bad = path.join(root, 'bad.onnx');
    fs.writeFileSync(bad, exportOnnx(student).subarray(0, 100));
    const [c] = onnxChecker([bad]);
    expect(c).toMatchObject({ file: bad, ok: false });
  });

  it('rejects what it cannot export, naming it', () => {
    expect(() => exportOnnx(student, { weights: 'int4' as 'int8' })).toThrow(/weights must be one of float32, float16, int8, got "int4"/);
    const conv = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] })] });
    expect(() => exportOnnx(conv)).toThrow(/has no Dense layer to export/);
    conv.add(tf.layers.dense({ units: 2 }));
    expect(() => exportOnnx(conv)).toThrow(/handles Dense and Dropout layers, got Flatten/);
    conv.dispose();
  });

  it('onnxruntime reports an unloadable file by name, and a wrong input width clearly', async () => {
    await expect(OnnxModel.load(path.join(root, 'bad.onnx'))).rejects.toThrow(/onnxruntime could not load .*bad\.onnx/);
    const m = await OnnxModel.load(exportOnnx(student));
    await expect(m.logits(new Float32Array(10), 1)).rejects.toThrow(/x must have batch × 64 = 64 values, got 10/);
    await m.dispose();
  });

  it('export and the tensor path of predict leak nothing', async () => {
    const before = tf.memory().numTensors;
    const bytes = exportOnnx(student, { weights: 'int8' });
    expect(tf.memory().numTensors).toBe(before);
    const m = await OnnxModel.load(bytes);
    const y = await m.predict(exp.test.x);
    expect(y.shape).toEqual([269, 10]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await m.dispose();
  });
});
