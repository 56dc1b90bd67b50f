import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy } from '../lib/distill/loss';
import { digitsAugment, digitsExperiment, newStudent, STUDENT_CONFIG, TEACHER_CONFIG } from '../lib/course/digits-experiment';
import { countParams } from '../lib/models/mlp';
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

  it('augments reproducibly and keeps the shape', async () => {
    const x = tf.ones([2, 64]) as tf.Tensor2D;
    const a = digitsAugment(x, new Rng(4));
    const b = digitsAugment(x, new Rng(4));
    expect(a.shape).toEqual([2, 64]);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([x, a, b]);
  });
});
