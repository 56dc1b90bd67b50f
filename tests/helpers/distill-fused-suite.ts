/**
 * The fused distillation-loss kernel (lib/distill/fused-loss.ts) against the composed tf ops
 * (`distillationLoss({ fused: false })`), run once per backend by tests/distill-fused-cpu.test.ts
 * and tests/distill-fused-wasm.test.ts. The PyTorch goldens of both paths are in
 * tests/helpers/distill-golden-suite.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../lib/backend';
import {
  FUSED_DISTILLATION_LOSS,
  fusedDistillationLossKernel,
  hasFusedDistillationLoss,
  registerFusedDistillationLoss,
} from '../../lib/distill/fused-loss';
import { distillationLoss } from '../../lib/distill/loss';
import { mlp } from '../../lib/models/mlp';
import { Rng } from '../../lib/random';
import { train } from '../../lib/train/loop';
import { expectNoLeak } from './leak';

/** Seeded logits [b, c] with entries ~ N(0, scale^2). */
function randomLogits(rng: Rng, b: number, c: number, scale: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: b * c }, () => rng.normal(0, scale)), [b, c]);
}

/** The existing tests' tolerance for the loss and its gradient: 1e-6 absolute + 1e-5 relative. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    expect(Math.abs((actual[i] as number) - e), `${what}, entry ${i}: ${actual[i]} vs ${e}`).toBeLessThan(1e-6 + 1e-5 * Math.abs(e));
  }
}

/** The backend's count of live data buffers: a kernel that allocates and then throws would raise it. */
const numDataIds = (): number => tf.engine().backend.numDataIds();

export function distillFusedSuite(backend: BackendName): void {
  describe(`fused distillation loss (backend ${backend})`, () => {
    beforeAll(async () => {
      const report = await initBackend({ force: backend });
      expect(report.backend).toBe(backend);
    });

    it('is registered for this backend, and registering again changes nothing', () => {
      expect(hasFusedDistillationLoss()).toBe(true);
      const kernel = tf.getKernel(FUSED_DISTILLATION_LOSS, backend);
      registerFusedDistillationLoss();
      expect(tf.getKernel(FUSED_DISTILLATION_LOSS, backend)).toBe(kernel);
      expect(hasFusedDistillationLoss('webgl')).toBe(false);
    });

    // Equivalence: the one-kernel loss and its gradient equal the composed tf ops (which the
    // PyTorch goldens also check), for shapes and configs that cover alpha at 0 and 1, T = 1,
    // large T, two classes, one row and the course's [64, 10].
    const cases: Array<[number, number, number, number, number]> = [
      // [batch, classes, alpha, T, logit scale]
      [64, 10, 0.5, 4, 3],
      [8, 5, 0, 1, 2],
      [8, 5, 1, 2, 2],
      [3, 7, 0.3, 20, 5],
      [1, 10, 0.7, 0.5, 1],
      [5, 2, 0.5, 3, 1],
      [16, 300, 0.5, 2, 10],
    ];
    it.each(cases)('equals the composed ops: batch %i, classes %i, alpha %f, T %f, logits ~ N(0, %f²)', (batch, classes, alpha, T, scale) => {
      tf.tidy(() => {
        const rng = new Rng(batch * 1000 + classes);
        const s = randomLogits(rng, batch, classes, scale);
        const t = randomLogits(rng, batch, classes, scale);
        const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 7) % classes), 'int32');
        const fused = distillationLoss({ alpha, temperature: T, fused: true });
        const composed = distillationLoss({ alpha, temperature: T, fused: false });
        expectClose(fused(y, s, t).dataSync(), composed(y, s, t).dataSync(), 'loss');
        const gf = tf.grad((x: tf.Tensor) => fused(y, x as tf.Tensor2D, t))(s);
        const gc = tf.grad((x: tf.Tensor) => composed(y, x as tf.Tensor2D, t))(s);
        expectClose(gf.dataSync(), gc.dataSync(), 'gradient');
        // The kernel's own second output is the gradient at dy = 1.
        const [value, grad] = fusedDistillationLossKernel(y, s, t, alpha, T);
        expectClose(value.dataSync(), fused(y, s, t).dataSync(), 'kernel value');
        expectClose(grad.dataSync(), gf.dataSync(), 'kernel gradient output');
      });
    });

    it('stays exact with extreme logits (log-sum-exp with the row maximum subtracted)', () => {
      tf.tidy(() => {
        // teacher: class 0 with certainty; student: class 1, with a logit gap of 1000; label 0.
        const t = tf.tensor2d([[0, -1000]]);
        const s = tf.tensor2d([[-1000, 0]]);
        const y = tf.tensor1d([0], 'int32');
        // Reference (hand): CE = lse(s) - s_0 = 0 - (-1000) = 1000; KL at T = 10 is
        // 100 + ln(1 + e^-100) = 100, times T^2 = 10000; alpha 0.5: 500 + 5000 = 5500.
        const v = distillationLoss({ alpha: 0.5, temperature: 10, fused: true })(y, s, t).dataSync()[0];
        expect(v).toBeCloseTo(5500, 2);
        const g = tf.grad((x: tf.Tensor) => distillationLoss({ alpha: 0.5, temperature: 10, fused: true })(y, x as tf.Tensor2D, t))(s).dataSync();
        // Reference (hand): 0.5 (q - onehot) + 0.5 * 10 (q_T - p) = 0.5 ([0, 1] - [1, 0]) + 5 ([0, 1] - [1, 0])
        expectClose(g, [-5.5, 5.5], 'gradient at a gap of 1000');
        expect(Number.isFinite(v)).toBe(true);
      });
    });

    it('dispatches one kernel forward and two more with a gradient, against about 30 composed', async () => {
      const rng = new Rng(5);
      const s = randomLogits(rng, 64, 10, 3);
      const t = randomLogits(rng, 64, 10, 3);
      const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32');
      const names = async (f: () => tf.TensorContainer): Promise<string[]> => {
        const info = await tf.profile(f);
        tf.dispose(info.result);
        // tf.profile also lists tf.customGrad's scope ('forward', 'unnamed scope'): not kernels.
        return info.kernels.map((k) => k.name).filter((n) => tf.getKernel(n, backend) !== undefined);
      };
      const fused = distillationLoss({ alpha: 0.5, temperature: 4, trusted: true });
      const composed = distillationLoss({ alpha: 0.5, temperature: 4, trusted: true, fused: false });
      expect(await names(() => fused(y, s, t))).toEqual([FUSED_DISTILLATION_LOSS]);
      // With a tape: the kernel, the Identity that saves its gradient output, the Multiply by dy.
      expect(await names(() => tf.grad((x: tf.Tensor) => fused(y, x as tf.Tensor2D, t))(s))).toEqual([FUSED_DISTILLATION_LOSS, 'Identity', 'Multiply']);
      expect((await names(() => composed(y, s, t))).length).toBeGreaterThanOrEqual(30);
      tf.dispose([s, t, y]);
    });

    it('has a registered gradient: tapes differentiate the kernel w.r.t. the student, not the teacher', () => {
      tf.tidy(() => {
        const rng = new Rng(9);
        const s = randomLogits(rng, 6, 4, 2);
        const t = randomLogits(rng, 6, 4, 2);
        const y = tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32');
        // d(3 L)/ds = 3 grad: the registered gradient scales the saved gradient by dy.
        const g = tf.grad((x: tf.Tensor) => tf.mul(fusedDistillationLossKernel(y, x as tf.Tensor2D, t, 0.4, 3)[0], 3))(s);
        const [, grad] = fusedDistillationLossKernel(y, s, t, 0.4, 3);
        expectClose(g.dataSync(), tf.mul(grad, 3).dataSync(), 'registered gradient');
        expect(() => tf.grad((x: tf.Tensor) => fusedDistillationLossKernel(y, s, x as tf.Tensor2D, 0.4, 3)[0])(t)).toThrow(/Cannot backprop through input teacherLogits/);
        // distillationLoss keeps the teacher off the tape, as its composed path does.
        const loss = distillationLoss({ alpha: 0.4, temperature: 3 });
        expect(() => tf.grad((x: tf.Tensor) => loss(y, s, x as tf.Tensor2D))(t)).toThrow(/Cannot compute gradient of y=f\(x\) with respect to x/);
      });
    });

    it('rejects a label out of range even when trusted, naming it, and leaves nothing allocated', () => {
      const rng = new Rng(2);
      const s = randomLogits(rng, 4, 3, 1);
      const t = randomLogits(rng, 4, 3, 1);
      const bad = tf.tensor1d([0, 1, 3, 2], 'int32');
      const negative = tf.tensor1d([0, -1, 1, 2], 'int32');
      const trusted = distillationLoss({ alpha: 0.5, temperature: 2, trusted: true });
      const tensors = tf.memory().numTensors;
      const buffers = numDataIds();
      expect(() => trusted(bad, s, t)).toThrowError(/^labels must be class indices in \[0, 3\), got 3 at index 2$/);
      expect(() => trusted(negative, s, t)).toThrowError(/^labels must be class indices in \[0, 3\), got -1 at index 1$/);
      expect(() => tf.grad((x: tf.Tensor) => trusted(bad, x as tf.Tensor2D, t))(s)).toThrowError(/^labels must be class indices/);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(numDataIds()).toBe(buffers);
      tf.dispose([s, t, bad, negative]);
    });

    it('rejects bad kernel inputs and attributes, naming the argument and the value', () => {
      tf.tidy(() => {
        const s = tf.zeros<tf.Rank.R2>([2, 3]);
        const y = tf.tensor1d([0, 1], 'int32');
        expect(() => fusedDistillationLossKernel(y, s, tf.zeros<tf.Rank.R2>([2, 4]), 0.5, 1))
          .toThrowError(/^teacherLogits must be float32 of studentLogits' shape \[2, 3\], got dtype float32 shape \[2, 4\]$/);
        expect(() => fusedDistillationLossKernel(tf.tensor1d([0, 1, 2], 'int32'), s, s, 0.5, 1))
          .toThrowError(/^labels must be int32 \[2\] \(one per row of studentLogits\), got dtype int32 shape \[3\]$/);
        expect(() => fusedDistillationLossKernel(tf.tensor1d([0, 1]), s, s, 0.5, 1))
          .toThrowError(/^labels must be int32 \[2\] \(one per row of studentLogits\), got dtype float32 shape \[2\]$/);
        expect(() => fusedDistillationLossKernel(y, tf.zeros<tf.Rank.R2>([2, 3], 'int32'), s, 0.5, 1))
          .toThrowError(/^studentLogits must be float32 \[batch, classes\], got dtype int32 shape \[2, 3\]$/);
        expect(() => fusedDistillationLossKernel(y, s, s, 2, 1)).toThrowError(/^alpha must be in \[0, 1\], got 2$/);
        expect(() => fusedDistillationLossKernel(y, s, s, 0.5, 0)).toThrowError(/^temperature must be a finite number > 0, got 0$/);
        expect(() => distillationLoss({ alpha: 0.5, temperature: 2, fused: 'yes' as unknown as boolean })).toThrowError(/^fused must be a boolean, got "yes"$/);
      });
    });

    it('leaks no tensors: the loss, its gradient and the raw kernel', () => {
      const rng = new Rng(4);
      const s = randomLogits(rng, 8, 5, 2);
      const t = randomLogits(rng, 8, 5, 2);
      const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32');
      const loss = distillationLoss({ alpha: 0.5, temperature: 4 });
      const buffers = numDataIds();
      expectNoLeak(() => loss(y, s, t), 'fused distillationLoss');
      expectNoLeak(() => tf.grad((x: tf.Tensor) => loss(y, x as tf.Tensor2D, t))(s), 'grad of the fused loss');
      expectNoLeak(() => fusedDistillationLossKernel(y, s, t, 0.5, 4), 'fusedDistillationLossKernel');
      expectNoLeak(() => tf.grad((x: tf.Tensor) => fusedDistillationLossKernel(y, x as tf.Tensor2D, t, 0.5, 4)[0])(s), 'grad through the raw kernel');
      expect(numDataIds()).toBe(buffers);
      tf.dispose([s, t, y]);
    });

    it('trains a student through the lib\'s train to the same weights as the composed loss', async () => {
      const rng = new Rng(11);
      const x = randomLogits(rng, 48, 6, 1);
      const y = tf.tensor1d(Array.from({ length: 48 }, (_, i) => i % 4), 'int32');
      const teacherLogits = randomLogits(rng, 48, 4, 2);
      const weights = async (fused: boolean): Promise<Float32Array[]> => {
        const model = mlp({ inputs: 6, hidden: [5], outputs: 4, rng: new Rng(3) });
        const optimizer = tf.train.adam(0.05);
        const loss = distillationLoss({ alpha: 0.5, temperature: 3, trusted: true, fused });
        await train(model, { x, y, teacherLogits }, {
          epochs: 3, batchSize: 16, optimizer, progress: false, rng: new Rng(1),
          loss: (batch, logits) => loss(batch.y, logits, batch.teacherLogits as tf.Tensor2D),
        });
        const out = model.getWeights().map((w) => w.dataSync() as Float32Array);
        optimizer.dispose();
        model.dispose();
        return out;
      };
      const a = await weights(true);
      const b = await weights(false);
      expect(a.length).toBe(4);
      // 9 Adam steps at lr 0.05 from the same start: float32 rounding differences only.
      a.forEach((w, i) => w.forEach((v, j) => expect(Math.abs(v - (b[i]?.[j] as number)), `weight ${i}[${j}]`).toBeLessThan(1e-5)));
      tf.dispose([x, y, teacherLogits]);
    });
  });
}
