import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy } from '../lib/distill/loss';
import { digitsAugment, digitsExperiment, newStudent, STUDENT_CONFIG, TEACHER_CONFIG } from '../lib/course/digits-experiment';
import { countParams } from '../lib/models/mlp';
import { loadDigits, shiftDigit } from '../lib/data/digits';
import { Rng } from '../lib/random';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the distillation lessons experiment', () => {
  it('splits 1797 digits 70/15/15 and disposes its tensors', () => {
    const before = tf.memory().numTensors;
    const exp = digitsExperiment(0);
    // Reference: stratified rounding of 15 % per class gives 1259 / 269 / 269 (sum 1797).
    expect([exp.train.x.shape[0], exp.val.x.shape[0], exp.test.x.shape[0]]).toEqual([1259, 269, 269]);
    expect(exp.train.x.shape[1]).toBe(64);
    exp.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('has a student far smaller than the teacher', () => {
    const s = newStudent(1);
    // Reference, by hand: 64·8 + 8 + 8·10 + 10 = 610 parameters.
    expect(countParams(s)).toBe(610);
    expect(STUDENT_CONFIG.hidden).toEqual([8]);
    expect(TEACHER_CONFIG.hidden).toEqual([256, 256]);
    s.dispose();
  });

  it('computes cross-entropy like a hand computation', async () => {
    // Reference, by hand: logits [0, ln 3] -> p = [1/4, 3/4]; CE for label 1 = -ln(3/4) = 0.2876821.
    const l = crossEntropy(tf.tensor1d([1], 'int32'), tf.tensor2d([[0, Math.log(3)]]));
    expect((await l.data())[0]).toBeCloseTo(0.2876821, 6);
  });

  it('augments: each image becomes one of its 9 one-pixel shifts plus light noise, reproducibly', async () => {
    const data = loadDigits();
    const src = data.x.slice(0, 64 * 12); // 12 real digits
    const x = tf.tensor2d(src, [12, 64]);
    const a = digitsAugment(x, new Rng(4));
    const b = digitsAugment(x, new Rng(4));
    const c = digitsAugment(x, new Rng(5));
    expect(a.shape).toEqual([12, 64]);
    const [av, bv, cv] = [await a.data(), await b.data(), await c.data()];
    tf.dispose([x, a, b, c]);
    expect(Array.from(av)).toEqual(Array.from(bv));
    expect(Array.from(av)).not.toEqual(Array.from(cv));
    // It does something: noise of std 0.05 alone moves an unclipped pixel by 0.04 on average
    // (0.05·sqrt(2/π)); clipping at 0 halves that on blank pixels. An identity gives 0.
    let moved = 0;
    for (let k = 0; k < av.length; k++) moved += Math.abs((av[k] as number) - (src[k] as number));
    expect(moved / av.length).toBeGreaterThan(0.01);
    // Each image is within noise of a shift by at most one pixel of its own source: 0.3 is six
    // noise standard deviations. Another digit, or a two-pixel shift, is much further away.
    const shifts = [-1, 0, 1].flatMap((dx) => [-1, 0, 1].map((dy) => [dx, dy] as const));
    for (let i = 0; i < 12; i++) {
      const img = src.subarray(i * 64, (i + 1) * 64);
      const got = av.subarray(i * 64, (i + 1) * 64);
      const dist = Math.min(
        ...shifts.map(([dx, dy]) => {
          const s = shiftDigit(img, dx, dy);
          return Math.max(...Array.from(s, (v, k) => Math.abs(v - (got[k] as number))));
        }),
      );
      expect(dist, `image ${i}: max pixel distance to the nearest shift`).toBeLessThan(0.3);
    }
  });
});
