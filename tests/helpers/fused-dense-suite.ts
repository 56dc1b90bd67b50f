/**
 * The fused Dense kernels (lib/ops/fused-dense.ts) and the fused MLP forward (lib/models/fused-mlp.ts)
 * against tfjs-layers' Dense under a gradient tape (the composed path), run once per backend by
 * tests/fused-dense-cpu.test.ts and tests/fused-dense-wasm.test.ts; also `gatherBatch`
 * (lib/ops/gather-batch.ts), the one-kernel batch gather `train` uses beside them. The reference is the composed
 * path itself: the fused one must give the same float32 values bit for bit (`Object.is`).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../lib/backend';
import { distillationLoss } from '../../lib/distill/loss';
import { fusedMlpForward } from '../../lib/models/fused-mlp';
import { mlp } from '../../lib/models/mlp';
import { GATHER_BATCH, gatherBatch, hasGatherBatch, registerGatherBatch } from '../../lib/ops/gather-batch';
import { FUSED_DENSE_GRAD, FUSED_DENSE_RELU, fusedDense, hasFusedDense, registerFusedDense } from '../../lib/ops/fused-dense';
import { flatAdam } from '../../lib/optim/flat';
import { Rng } from '../../lib/random';
import { train } from '../../lib/train/loop';
import { expectNoLeak } from './leak';

/** Seeded float32 [r, c] with entries ~ N(0, scale^2). */
function randomMatrix(rng: Rng, r: number, c: number, scale = 1): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: r * c }, () => rng.normal(0, scale)), [r, c]);
}

/** Every element equal, as `Object.is` sees it (so 0 and -0 differ, NaN equals NaN). */
function expectIdentical(actual: tf.Tensor, expected: tf.Tensor, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let differ = 0;
  let first = -1;
  for (let i = 0; i < e.length; i++) {
    if (!Object.is(a[i], e[i])) {
      differ++;
      if (first < 0) first = i;
    }
  }
  expect(differ, `${what}: ${differ} of ${e.length} elements differ, first at ${first}: ${a[first]} vs ${e[first]}`).toBe(0);
}

/** The backend's count of live data buffers: a kernel that allocates and then throws would raise it. */
const numDataIds = (): number => tf.engine().backend.numDataIds();

export function fusedDenseSuite(backend: BackendName): void {
  describe(`fused Dense kernels (backend ${backend})`, () => {
    beforeAll(async () => {
      const report = await initBackend({ force: backend });
      expect(report.backend).toBe(backend);
    });

    it('is registered for this backend, and registering again changes nothing', () => {
      expect(hasFusedDense()).toBe(true);
      const forward = tf.getKernel(FUSED_DENSE_RELU, backend);
      const grad = tf.getKernel(FUSED_DENSE_GRAD, backend);
      registerFusedDense();
      expect(tf.getKernel(FUSED_DENSE_RELU, backend)).toBe(forward);
      expect(tf.getKernel(FUSED_DENSE_GRAD, backend)).toBe(grad);
      expect(hasFusedDense('webgl')).toBe(false);
    });

    // Equivalence with tfjs-layers' Dense: output and the gradients of a weighted sum of it with
    // respect to x, kernel and bias; shapes cover the course's student layers (64 -> 8, 8 -> 10,
    // the [64, 64] operand past the wasm transpose threshold), one row, and a wide layer.
    const shapes: Array<[number, number, number]> = [
      // [batch, inputs, units]
      [64, 64, 8],
      [64, 8, 10],
      [1, 5, 3],
      [7, 300, 20],
      [33, 16, 64],
    ];
    for (const activation of ['relu', 'linear'] as const) {
      it.each(shapes)(`${activation}: equals tfjs-layers' Dense bit for bit, batch %i, inputs %i, units %i`, (b, i, o) => {
        const rng = new Rng(b * 10000 + i * 100 + o);
        const layer = tf.layers.dense({ units: o, activation, inputShape: [i] });
        layer.build([null, i]);
        tf.tidy(() => {
          const x = randomMatrix(rng, b, i);
          // A non-zero bias, so its add is exercised.
          layer.setWeights([randomMatrix(rng, i, o, 0.5), tf.tensor1d(Array.from({ length: o }, () => rng.normal(0, 0.5)))]);
          const [kernel, bias] = layer.weights.map((w) => w.read()) as [tf.Variable<tf.Rank.R2>, tf.Variable<tf.Rank.R1>];
          const w = randomMatrix(rng, b, o); // weights of the sum whose gradients are taken
          // Under a tape, as in training (tfjs-layers fuses the ReLU only without one).
          const outputs: tf.Tensor[] = [];
          const run = (f: () => tf.Tensor2D) =>
            tf.variableGrads(() => {
              const y = f();
              outputs.push(tf.keep(y.clone()));
              return tf.sum(tf.mul(y, w));
            }, [kernel, bias]).grads;
          const gl = run(() => layer.apply(x) as tf.Tensor2D);
          const gf = run(() => fusedDense(x, kernel, bias, { activation }));
          expectIdentical(outputs[1] as tf.Tensor, outputs[0] as tf.Tensor, 'output');
          expectIdentical(gf[kernel.name] as tf.Tensor, gl[kernel.name] as tf.Tensor, 'gradient w.r.t. the kernel');
          expectIdentical(gf[bias.name] as tf.Tensor, gl[bias.name] as tf.Tensor, 'gradient w.r.t. the bias');
          // The input's gradient (a hidden layer's), against tfjs-layers' call on a traced input.
          const dl = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, w)))(x);
          const df = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(fusedDense(xx as tf.Tensor2D, kernel, bias, { activation }), w)))(x);
          expectIdentical(df, dl, 'gradient w.r.t. x');
          tf.dispose(outputs);
        });
        layer.weights.forEach((v) => v.dispose());
      });
    }

    it('trains an MLP bit for bit like tfjs-layers (train, distillation loss, flatAdam, 3 epochs)', async () => {
      const run = async (fusedDenseOption: boolean): Promise<{ weights: tf.Tensor[]; loss: number[] }> => {
        const model = mlp({ inputs: 20, hidden: [16, 12], outputs: 5, rng: new Rng(3) });
        const rng = new Rng(9);
        const x = randomMatrix(rng, 100, 20);
        const y = tf.tensor1d(Array.from({ length: 100 }, (_, k) => (k * 3) % 5), 'int32');
        const t = randomMatrix(rng, 100, 5, 2);
        const loss = distillationLoss({ alpha: 0.5, temperature: 4 });
        const opt = flatAdam(0.01);
        const history = await train(model, { x, y, teacherLogits: t }, {
          epochs: 3,
          batchSize: 32,
          optimizer: opt,
          progress: false,
          rng: new Rng(7),
          fusedDense: fusedDenseOption,
          loss: (batch, logits) => loss(batch.y, logits, batch.teacherLogits as tf.Tensor2D),
        });
        const weights = model.getWeights().map((w) => w.clone());
        opt.dispose();
        model.dispose();
        tf.dispose([x, y, t]);
        return { weights, loss: history.loss };
      };
      const before = tf.memory().numTensors;
      const composed = await run(false);
      const fused = await run(true);
      expect(fused.loss).toEqual(composed.loss);
      fused.weights.forEach((w, k) => expectIdentical(w, composed.weights[k] as tf.Tensor, `weight ${k}`));
      tf.dispose([...composed.weights, ...fused.weights]);
      expect(tf.memory().numTensors, 'tensors left by two training runs').toBe(before);
    });

    it('dispatches one kernel per layer forward and one per layer backward', async () => {
      const model = mlp({ inputs: 64, hidden: [8], outputs: 10, rng: new Rng(1) });
      const forward = fusedMlpForward(model);
      expect(typeof forward, String(forward)).toBe('function');
      if (typeof forward !== 'function') return;
      const x = tf.ones<tf.Rank.R2>([4, 64]);
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const info = await tf.profile(() => tf.tidy(() => tf.variableGrads(() => tf.sum(forward(x)), vars).value));
      const names = info.kernels.map((k) => k.name);
      expect(names.filter((n) => n.startsWith('FrugalDense')).length, names.join(' ')).toBe(4);
      // None of tfjs-layers' own kernels: products, activation, its gradient, the bias gradient's Sum.
      expect(names.filter((n) => ['BatchMatMul', '_FusedMatMul', 'Relu', 'Step', 'Add'].includes(n)).length, names.join(' ')).toBe(0);
      x.dispose();
      model.dispose();
    });

    it('leaks nothing: forward, gradients, and an input gradient not asked for', () => {
      tf.tidy(() => {
        const rng = new Rng(5);
        const x = randomMatrix(rng, 6, 4);
        const k = tf.variable(randomMatrix(rng, 4, 3));
        const b = tf.variable(tf.zeros<tf.Rank.R1>([3]));
        expectNoLeak(() => fusedDense(x, k, b, { activation: 'relu' }), 'forward');
        // inputGrad false: the backward kernel computes no dx; only the variables' gradients.
        expectNoLeak(() => tf.variableGrads(() => tf.sum(fusedDense(x, k, b, { activation: 'relu', inputGrad: false })), [k, b]), 'variableGrads');
        expectNoLeak(() => tf.grads((xx: tf.Tensor) => tf.sum(fusedDense(xx as tf.Tensor2D, k, b)))([x]), 'grads w.r.t. x');
        k.dispose();
        b.dispose();
      });
    });

    it('throws on bad input, naming the argument and the value, and leaves no buffer behind', () => {
      tf.tidy(() => {
        const x = tf.ones<tf.Rank.R2>([4, 3]);
        const k = tf.ones<tf.Rank.R2>([3, 2]);
        const b = tf.ones<tf.Rank.R1>([2]);
        const k5 = tf.ones<tf.Rank.R2>([5, 2]);
        const b3 = tf.ones<tf.Rank.R1>([3]);
        const x3 = tf.ones([4, 3, 1]) as unknown as tf.Tensor2D;
        const xi = tf.ones<tf.Rank.R2>([4, 3], 'int32');
        const dy5 = tf.ones([4, 5]);
        const dy2 = tf.ones([4, 2]);
        const ids = numDataIds();
        expect(() => fusedDense(x, k5, b)).toThrow(/kernel must be float32 \[3, units\] \(x has 3 columns\), got dtype float32 shape \[5, 2\]/);
        expect(() => fusedDense(x, k, b3)).toThrow(/bias must be float32 \[2\] \(kernel's units\), got dtype float32 shape \[3\]/);
        expect(() => fusedDense(x3, k, b)).toThrow(/x must be float32 \[batch, inputs\], got dtype float32 shape \[4, 3, 1\]/);
        expect(() => fusedDense(xi, k, b)).toThrow(/x must be float32 \[batch, inputs\], got dtype int32 shape \[4, 3\]/);
        expect(() => fusedDense(x, k, b, { activation: 'tanh' as never })).toThrow(/activation must be 'relu' or 'linear', got tanh/);
        expect(() => fusedDense(x, k, b, { inputGrad: 1 as never })).toThrow(/inputGrad must be a boolean, got 1/);
        // The kernel itself checks too (a direct runKernel): dy of the wrong shape.
        expect(() => tf.engine().runKernel(FUSED_DENSE_GRAD, { dy: dy5, x, kernel: k }, { activation: 'linear', inputGrad: true })).toThrow(
          /dy must be float32 \[4, 2\], got dtype float32 shape \[4, 5\]/,
        );
        expect(() => tf.engine().runKernel(FUSED_DENSE_GRAD, { dy: dy2, x, kernel: k }, { activation: 'relu', inputGrad: true })).toThrow(
          /FrugalDenseGrad needs inputs dy, x, kernel and y, got dy, x, kernel/,
        );
        expect(numDataIds(), 'buffers left by the failed calls').toBe(ids);
        // Asking for x's gradient when the layer was told it needs none (tfjs keeps the tape's
        // saved copies when a gradient throws, so no buffer count here).
        expect(() => tf.grads((xx: tf.Tensor) => tf.sum(fusedDense(xx as tf.Tensor2D, k, b, { inputGrad: false })))([x])).toThrow(
          /fusedDense was called with inputGrad: false, so it has no gradient with respect to x/,
        );
      });
    });

    it('train: fusedDense must be a boolean; models with dropout or tanh fall back to tfjs-layers', async () => {
      const model = mlp({ inputs: 4, hidden: [3], outputs: 2, rng: new Rng(1) });
      const data = { x: tf.ones<tf.Rank.R2>([4, 4]), y: tf.tensor1d([0, 1, 0, 1], 'int32') };
      const opt = flatAdam(0.01);
      await expect(
        train(model, data, { epochs: 1, batchSize: 2, optimizer: opt, progress: false, rng: new Rng(1), fusedDense: 'yes' as never, loss: () => tf.scalar(0) }),
      ).rejects.toThrow(/fusedDense must be a boolean, got yes/);
      const dropout = mlp({ inputs: 4, hidden: [3], outputs: 2, dropout: 0.5, rng: new Rng(1) });
      expect(fusedMlpForward(dropout)).toMatch(/layer 1 \(.*\) is a SeededDropout, not a Dense layer/);
      const tanh = mlp({ inputs: 4, hidden: [3], outputs: 2, activation: 'tanh', rng: new Rng(1) });
      expect(fusedMlpForward(tanh)).toMatch(/layer 0 \(.*\) has activation "tanh", not relu or linear/);
      expect(fusedMlpForward(model, 'webgl')).toBe('backend webgl has no fused Dense kernels');
      opt.dispose();
      tf.dispose([model, dropout, tanh].map((m) => { m.dispose(); return []; }).flat());
      tf.dispose([data.x, data.y]);
    });
  });

  describe(`gatherBatch: a batch's rows of several tensors in one kernel (backend ${backend})`, () => {
    it('is registered for this backend, and registering again changes nothing', () => {
      expect(hasGatherBatch()).toBe(true);
      const k = tf.getKernel(GATHER_BATCH, backend);
      registerGatherBatch();
      expect(tf.getKernel(GATHER_BATCH, backend)).toBe(k);
      expect(hasGatherBatch('webgl')).toBe(false);
    });

    it('equals tf.gather for float32 and int32 tensors of rank 1 to 3, with repeated indices, in one kernel', async () => {
      const rng = new Rng(2);
      const a = randomMatrix(rng, 20, 7);
      const b = tf.tensor1d(Array.from({ length: 20 }, (_, k) => k * 3 - 11), 'int32');
      const c = tf.tensor3d(Array.from({ length: 20 * 2 * 3 }, () => rng.normal(0, 1)), [20, 2, 3]);
      const idx = [19, 0, 5, 5, 12, 3];
      const got = expectNoLeak(() => gatherBatch([a, b, c], idx), 'gatherBatch');
      void got;
      tf.tidy(() => {
        const out = gatherBatch([a, b, c], idx);
        const ix = tf.tensor1d(idx, 'int32');
        [a, b, c].forEach((t, j) => {
          expect(out[j]?.dtype).toBe(t.dtype);
          expectIdentical(out[j] as tf.Tensor, tf.gather(t, ix), `tensor ${j}`);
        });
      });
      const info = await tf.profile(() => tf.tidy(() => gatherBatch([a, b, c], idx)));
      expect(info.kernels.map((k) => k.name)).toEqual([GATHER_BATCH]);
      tf.dispose([a, b, c]);
    });

    it('throws on bad input, naming the argument and the value, and leaves no buffer behind', () => {
      tf.tidy(() => {
        const a = tf.ones<tf.Rank.R2>([4, 3]);
        const b = tf.ones<tf.Rank.R1>([5]);
        const s = tf.scalar(1);
        const bo = tf.tensor1d([true, false, true, true], 'bool');
        const ids = numDataIds();
        expect(() => gatherBatch([a], [0, 4])).toThrow(/indices must be integers in \[0, 4\), got 4 at position 1/);
        expect(() => gatherBatch([a], [0, -1])).toThrow(/indices must be integers in \[0, 4\), got -1 at position 1/);
        expect(() => gatherBatch([a], [1.5])).toThrow(/indices must be integers in \[0, 4\), got 1.5 at position 0/);
        expect(() => gatherBatch([a, b], [0])).toThrow(/t1 must be float32 or int32 with 4 rows \(as t0\), got dtype float32 shape \[5\]/);
        expect(() => gatherBatch([a, bo], [0])).toThrow(/t1 must be float32 or int32 with 4 rows \(as t0\), got dtype bool shape \[4\]/);
        expect(() => gatherBatch([s], [0])).toThrow(/t0 must have rank >= 1 \(rows first\), got dtype float32 shape \[\]/);
        expect(() => gatherBatch([], [0])).toThrow(/tensors must hold at least 1 tensor, got 0/);
        expect(numDataIds(), 'buffers left by the failed calls').toBe(ids);
      });
    });

    it('train gives the same weights with one gather kernel as with tf.gather (fusedGather false)', async () => {
      const run = async (fusedGather: boolean): Promise<tf.Tensor[]> => {
        const model = mlp({ inputs: 6, hidden: [5], outputs: 3, rng: new Rng(4) });
        const rng = new Rng(8);
        const data = { x: randomMatrix(rng, 50, 6), y: tf.tensor1d(Array.from({ length: 50 }, (_, k) => k % 3), 'int32'), teacherLogits: randomMatrix(rng, 50, 3) };
        const loss = distillationLoss({ alpha: 0.3, temperature: 2 });
        const opt = flatAdam(0.02);
        await train(model, data, {
          epochs: 2, batchSize: 16, optimizer: opt, progress: false, rng: new Rng(1), fusedGather,
          loss: (batch, logits) => loss(batch.y, logits, batch.teacherLogits as tf.Tensor2D),
        });
        const weights = model.getWeights().map((w) => w.clone());
        opt.dispose();
        model.dispose();
        tf.dispose([data.x, data.y, data.teacherLogits]);
        return weights;
      };
      const before = tf.memory().numTensors;
      const composed = await run(false);
      const fused = await run(true);
      fused.forEach((w, k) => expectIdentical(w, composed[k] as tf.Tensor, `weight ${k}`));
      tf.dispose([...composed, ...fused]);
      expect(tf.memory().numTensors, 'tensors left by two training runs').toBe(before);
    });
  });
}
