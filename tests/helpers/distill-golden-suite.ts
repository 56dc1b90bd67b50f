/**
 * The golden-value suite of lib/distill, run once per backend by
 * tests/distill-golden-cpu.test.ts and tests/distill-golden-wasm.test.ts.
 *
 * Reference: tests/golden/distill.json, written by scripts/golden/distill_golden.py (PyTorch
 * float64 from float32-exact inputs). Tolerance: relative 1e-5 (+ 1e-7 absolute near 0), see
 * tests/helpers/golden.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../lib/backend';
import { klDivergence } from '../../lib/distill/kl';
import { hasFusedDistillationLoss } from '../../lib/distill/fused-loss';
import { distillationLoss } from '../../lib/distill/loss';
import { entropy, logSoftmaxWithTemperature, softmaxWithTemperature, softTargets } from '../../lib/distill/temperature';
import { compareClose, entropyAtol, loadGolden, logSoftmaxAtol, RTOL } from './golden';

export function distillGoldenSuite(backend: BackendName): void {
  const golden = loadGolden();

  describe(`distill golden values vs PyTorch ${golden.torch_version} (backend ${backend})`, () => {
    beforeAll(async () => {
      const report = await initBackend({ force: backend });
      expect(report.backend).toBe(backend);
      expect(tf.getBackend()).toBe(backend);
    });

    for (const c of golden.cases) {
      const [batch, classes] = c.shape;
      const rowsElems = c.rows * classes;
      const student = () => tf.tensor2d(c.student, [batch, classes], 'float32');
      const teacher = () => tf.tensor2d(c.teacher, [batch, classes], 'float32');
      const labels = () => tf.tensor1d(c.labels, 'int32');

      for (const g of c.temperatures) {
        describe(`${c.name} [${batch}, ${classes}] T=${g.T}`, () => {
          it('softmaxWithTemperature and logSoftmaxWithTemperature match torch.softmax / log_softmax', () => {
            tf.tidy(() => {
              const s = student();
              const p = softmaxWithTemperature(s, g.T).slice([0, 0], [c.rows, classes]).dataSync();
              const lp = logSoftmaxWithTemperature(s, g.T).slice([0, 0], [c.rows, classes]).dataSync();
              expect(p.length).toBe(rowsElems);
              // Reference: F.softmax(s / T) in float64
              expect(compareClose(p, g.softmax_student)).toBeNull();
              // Reference: F.log_softmax(s / T) in float64; absolute slack ~1 float32 ulp of max|s/T|
              const atol = logSoftmaxAtol(c.student.slice(0, rowsElems).map((z) => z / g.T));
              expect(compareClose(lp, g.log_softmax_student, RTOL, atol)).toBeNull();
            });
          });

          it('entropy(softTargets(teacher, T)) matches -(p * log_softmax(t / T)).sum(-1)', () => {
            tf.tidy(() => {
              const h = entropy(softTargets(teacher(), g.T)).dataSync();
              // Reference: per-row entropy in nats, float64; atol: see entropyAtol
              expect(compareClose(h, g.entropy_teacher, RTOL, entropyAtol(classes))).toBeNull();
            });
          });

          it('klDivergence matches F.kl_div(..., log_target=True, reduction="batchmean")', () => {
            tf.tidy(() => {
              const kl = klDivergence(teacher(), student(), g.T).dataSync();
              // Reference: F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True, reduction='batchmean')
              expect(compareClose(kl, [g.kl_batchmean])).toBeNull();
            });
          });

          // fused: the one-kernel path (lib/distill/fused-loss.ts: wasm, cpu); false: the composed tf ops.
          for (const fused of hasFusedDistillationLoss(backend) ? [true, false] : [false]) {
            it(`distillationLoss value for alpha 0, 0.5, 1 and its gradient w.r.t. the student logits (fused: ${fused})`, () => {
              tf.tidy(() => {
                for (const [alphaText, expected] of Object.entries(g.loss)) {
                  const loss = distillationLoss({ alpha: Number(alphaText), temperature: g.T, fused });
                  const v = loss(labels(), student(), teacher()).dataSync();
                  // Reference: alpha * F.cross_entropy(s, y) + (1 - alpha) * T^2 * KL, float64
                  expect(compareClose(v, [expected]), `alpha=${alphaText}`).toBeNull();
                }
                const loss = distillationLoss({ alpha: golden.grad_alpha, temperature: g.T, fused });
                const y = labels();
                const t = teacher();
                const grad = tf.grad((s: tf.Tensor) => loss(y, s as tf.Tensor2D, t))(student());
                const rows = grad.slice([0, 0], [c.rows, classes]).dataSync();
                // Reference: torch autograd of the same loss (alpha = 0.5), float64
                expect(compareClose(rows, g.grad_student)).toBeNull();
              });
            });
          }
        });
      }
    }
  });
}
