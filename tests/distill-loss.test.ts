/**
 * lib/distill: temperature, KL and the distillation loss. Validation messages, numerical
 * properties (the T^2 scaling, stability with extreme logits) and leaks. The PyTorch golden values
 * are in tests/distill-golden-{cpu,wasm}.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../lib/backend';
import { klDivergence } from '../lib/distill/kl';
import { crossEntropy, distillationLoss, distillationLossTerms } from '../lib/distill/loss';
import { entropy, logSoftmaxWithTemperature, softmaxWithTemperature, softTargets } from '../lib/distill/temperature';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

/** Seeded logits [b, c] with entries ~ N(0, scale^2). */
function randomLogits(rng: Rng, b: number, c: number, scale = 2): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: b * c }, () => rng.normal(0, scale)), [b, c]);
}

describe('temperature', () => {
  it('T = 1 is the ordinary softmax, and higher T raises the entropy towards ln C', () => {
    tf.tidy(() => {
      const z = tf.tensor2d([[3, 1, 0.2]]);
      expect(Array.from(softmaxWithTemperature(z, 1).dataSync())).toEqual(Array.from(tf.softmax(z).dataSync()));
      const h = [0.5, 1, 2, 4, 10, 100].map((T) => (entropy(softTargets(z, T)).dataSync()[0] as number));
      for (let i = 1; i < h.length; i++) expect(h[i]).toBeGreaterThan(h[i - 1] as number);
      // Reference: the uniform distribution over 3 classes has entropy ln 3 = 1.0986122886681098
      expect(h[h.length - 1]).toBeCloseTo(Math.log(3), 3);
    });
  });

  it('softmax at T of [2, 0] is [1/(1+e^(-2/T)), ...] (hand-computed)', () => {
    tf.tidy(() => {
      const p = softmaxWithTemperature(tf.tensor1d([2, 0]), 2).dataSync();
      // Reference: 1 / (1 + e^-1) = 0.7310585786300049
      expect(p[0]).toBeCloseTo(0.7310585786300049, 6);
      const lp = logSoftmaxWithTemperature(tf.tensor1d([2, 0]), 2).dataSync();
      // Reference: ln 0.7310585786300049 = -0.31326168751822286
      expect(lp[0]).toBeCloseTo(-0.31326168751822286, 6);
    });
  });

  it('entropy is 0 for a one-hot distribution, with a finite gradient at p = 0', () => {
    tf.tidy(() => {
      const p = tf.tensor2d([[1, 0, 0]]);
      expect(Math.abs(entropy(p).dataSync()[0] as number)).toBe(0);
      const g = tf.grad((x: tf.Tensor) => tf.sum(entropy(x)))(tf.tensor2d([[0.5, 0.5, 0]])).dataSync();
      // Reference (hand): d/dp (-p ln p) = -(ln p + 1) = -(ln 0.5 + 1) = -0.30685281944005466; 0 at p = 0
      expect(g[0]).toBeCloseTo(-0.30685281944005466, 6);
      expect(g[1]).toBeCloseTo(-0.30685281944005466, 6);
      expect(Math.abs(g[2] as number)).toBe(0);
    });
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects temperature %s, naming it', (T) => {
    const z = tf.tensor2d([[1, 2]]);
    expect(() => softmaxWithTemperature(z, T)).toThrowError(new RegExp(`^temperature must be a finite number > 0, got ${T}$`));
    expect(() => logSoftmaxWithTemperature(z, T)).toThrowError(/^temperature must be a finite number > 0/);
    expect(() => softTargets(z, T)).toThrowError(/^temperature must be a finite number > 0/);
    z.dispose();
  });

  it('rejects non-float logits and scalars, naming the argument', () => {
    const zi = tf.tensor2d([[1, 2]], [1, 2], 'int32');
    expect(() => softmaxWithTemperature(zi, 1)).toThrowError(/^logits must have dtype float32, got int32$/);
    expect(() => softTargets(zi, 1)).toThrowError(/^teacherLogits must have dtype float32, got int32$/);
    const s = tf.scalar(1);
    expect(() => softmaxWithTemperature(s, 1)).toThrowError(/^logits must have rank >= 1.*got shape \[\]$/);
    expect(() => entropy(s)).toThrowError(/^probs must have rank >= 1/);
    tf.dispose([zi, s]);
  });
});

describe('klDivergence', () => {
  it('is 0 for equal distributions, invariant to a per-row shift of the logits, and > 0 otherwise', () => {
    tf.tidy(() => {
      const rng = new Rng(1);
      const t = randomLogits(rng, 4, 6);
      const s = randomLogits(rng, 4, 6);
      expect(Math.abs(klDivergence(t, t, 2).dataSync()[0] as number)).toBeLessThan(1e-6);
      const a = klDivergence(t, s, 2).dataSync()[0] as number;
      const b = klDivergence(tf.add<tf.Tensor2D>(t, 5), tf.sub<tf.Tensor2D>(s, 3), 2).dataSync()[0] as number;
      expect(a).toBeGreaterThan(0);
      expect(Math.abs(a - b) / a).toBeLessThan(1e-5);
    });
  });

  it('stays exact with extreme logits, where a clipped-probability log would give ~16', () => {
    tf.tidy(() => {
      // teacher: class 0 with certainty; student: class 1, with a logit gap of 1000.
      const t = tf.tensor2d([[0, -1000]]);
      const s = tf.tensor2d([[-1000, 0]]);
      // Reference (hand): p = [1, e^-1000 = 0], ln q_0 = -1000, so KL = 1 * (0 - (-1000)) = 1000.
      // A version with log(clip(q, 1e-7)) would give -ln(1e-7) = 16.1.
      expect(klDivergence(t, s, 1).dataSync()[0]).toBeCloseTo(1000, 3);
      // at T = 10 the gap is 100: KL = 1 * (0 - ln q_0) = 100 + ln(1 + e^-100) = 100
      expect(klDivergence(t, s, 10).dataSync()[0]).toBeCloseTo(100, 4);
      const g = tf.grad((x: tf.Tensor) => klDivergence(t, x as tf.Tensor2D, 1))(s).dataSync();
      // d KL / d s = (q - p) / batch = ([0, 1] - [1, 0]) / 1
      expect(Array.from(g)).toEqual([-1, 1]);
    });
  });

  it('rejects a shape mismatch naming both shapes, rank 1 inputs, and NaN/Inf naming the argument', () => {
    const t: tf.Tensor2D = tf.zeros([4, 10]);
    const s: tf.Tensor2D = tf.zeros([4, 5]);
    const bad = tf.tensor2d([[0, Number.NaN, 1, Number.POSITIVE_INFINITY]]);
    const ok: tf.Tensor2D = tf.zeros([1, 4]);
    const r1 = tf.zeros([3]);
    expect(() => klDivergence(t, s, 1)).toThrowError(/^teacherLogits shape \[4, 10\] must equal studentLogits shape \[4, 5\]$/);
    expect(() => klDivergence(ok, bad, 1)).toThrowError(/^studentLogits contains NaN or Inf \(2 non-finite values, first at flat index 1: NaN\)$/);
    expect(() => klDivergence(bad, ok, 1)).toThrowError(/^teacherLogits contains NaN or Inf/);
    expect(() => klDivergence(r1 as tf.Tensor2D, ok, 1)).toThrowError(/^teacherLogits must have rank 2 \(\[batch, classes\]\), got shape \[3\]$/);
    expect(() => klDivergence(ok, ok, -1)).toThrowError(/^temperature must be a finite number > 0, got -1$/);
    // checkFinite: false skips the read-back (the NaN then flows into the result)
    const v = klDivergence(ok, bad, 1, { checkFinite: false });
    expect(Number.isNaN(v.dataSync()[0])).toBe(true);
    tf.dispose([t, s, bad, ok, r1, v]);
  });
});

describe('distillationLoss', () => {
  const rng = new Rng(7);
  const student = randomLogits(rng, 8, 5);
  const teacher = randomLogits(rng, 8, 5);
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32');

  it('equals alpha * CE + (1 - alpha) * T^2 * KL built from the parts, and its terms add up', () => {
    tf.tidy(() => {
      const alpha = 0.3;
      const T = 3;
      const total = distillationLoss({ alpha, temperature: T })(labels, student, teacher).dataSync()[0] as number;
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 5), student).dataSync()[0] as number;
      const kl = klDivergence(teacher, student, T).dataSync()[0] as number;
      // Reference: the definition, with tfjs's own softmaxCrossEntropy for the hard term
      expect(total).toBeCloseTo(alpha * ce + (1 - alpha) * T * T * kl, 5);
      const terms = distillationLossTerms(labels, student, teacher, { alpha, temperature: T });
      expect(terms.hard.dataSync()[0]).toBeCloseTo(alpha * ce, 5);
      expect(terms.soft.dataSync()[0]).toBeCloseTo((1 - alpha) * T * T * kl, 5);
      expect(terms.total.dataSync()[0]).toBeCloseTo(total, 6);
    });
  });

  it('T^2: without it, the soft term\'s gradient norm scales ~1/T^2 at high T; with it, it levels off', () => {
    tf.tidy(() => {
      const gradNorm = (T: number): number =>
        tf.norm(tf.grad((s: tf.Tensor) => klDivergence(teacher, s as tf.Tensor2D, T))(student)).dataSync()[0] as number;
      const temps = [5, 10, 20, 40, 80];
      const norms = temps.map(gradNorm);
      // Doubling T divides the raw KL gradient by ~4 (1/T^2): ratios tend to 4 as T grows.
      const ratios = norms.slice(1).map((n, i) => (norms[i] as number) / n);
      expect(ratios[ratios.length - 1]).toBeGreaterThan(3.95);
      expect(ratios[ratios.length - 1]).toBeLessThan(4.05);
      for (const r of ratios.slice(1)) expect(r).toBeGreaterThan(3.5);
      // With T^2 the scaled norm converges: T=40 and T=80 agree within 1%.
      const scaled = norms.map((n, i) => n * (temps[i] as number) ** 2);
      expect(Math.abs((scaled[3] as number) - (scaled[4] as number)) / (scaled[4] as number)).toBeLessThan(0.01);
      // The loss applies T^2: its soft-only gradient (alpha = 0) is T^2 times the raw KL gradient.
      const lossGrad = tf.norm(tf.grad((s: tf.Tensor) =>
        distillationLoss({ alpha: 0, temperature: 40 })(labels, s as tf.Tensor2D, teacher))(student)).dataSync()[0] as number;
      expect(Math.abs(lossGrad - (scaled[3] as number)) / lossGrad).toBeLessThan(1e-5);
    });
  });

  it.each([
    [{ alpha: 1.5, temperature: 2 }, /^alpha must be in \[0, 1\], got 1\.5$/],
    [{ alpha: -0.1, temperature: 2 }, /^alpha must be in \[0, 1\], got -0\.1$/],
    [{ alpha: Number.NaN, temperature: 2 }, /^alpha must be in \[0, 1\], got NaN$/],
    [{ alpha: 0.5, temperature: 0 }, /^temperature must be a finite number > 0, got 0$/],
    [{ alpha: 0.5, temperature: -1 }, /^temperature must be a finite number > 0, got -1$/],
  ])('rejects config %o', (config, message) => {
    expect(() => distillationLoss(config)).toThrowError(message);
    expect(() => distillationLossTerms(labels, student, teacher, config)).toThrowError(message);
  });

  it('rejects bad inputs, naming the argument and the value', () => {
    const loss = distillationLoss({ alpha: 0.5, temperature: 2 });
    const t3: tf.Tensor2D = tf.zeros([8, 3]);
    const outOfRange = tf.tensor1d([0, 1, 2, 12, 4, 0, 1, 2], 'int32');
    const negative = tf.tensor1d([0, 1, 2, 3, 4, 0, -1, 2], 'int32');
    const floatLabels = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'float32');
    const short = tf.tensor1d([0, 1], 'int32');
    const nanStudent = tf.tensor2d(Array.from({ length: 40 }, (_, i) => (i === 13 ? Number.NaN : 0)), [8, 5]);
    const infTeacher = tf.tensor2d(Array.from({ length: 40 }, (_, i) => (i === 2 ? Number.NEGATIVE_INFINITY : 0)), [8, 5]);
    expect(() => loss(labels, student, t3)).toThrowError(/^teacherLogits shape \[8, 3\] must equal studentLogits shape \[8, 5\]$/);
    expect(() => loss(outOfRange, student, teacher)).toThrowError(/^labels must be class indices in \[0, 5\), got 12 at index 3$/);
    expect(() => loss(negative, student, teacher)).toThrowError(/^labels must be class indices in \[0, 5\), got -1 at index 6$/);
    expect(() => loss(floatLabels, student, teacher)).toThrowError(/^labels must be a tf\.Tensor1D of int32 class indices, got dtype float32 shape \[8\]$/);
    expect(() => loss(short, student, teacher)).toThrowError(/^labels length 2 must equal the batch size of studentLogits 8$/);
    expect(() => loss(labels, nanStudent, teacher)).toThrowError(/^studentLogits contains NaN or Inf \(1 non-finite value, first at flat index 13: NaN\)$/);
    expect(() => loss(labels, student, infTeacher)).toThrowError(/^teacherLogits contains NaN or Inf \(1 non-finite value, first at flat index 2: -Infinity\)$/);
    tf.dispose([t3, outOfRange, negative, floatLabels, short, nanStudent, infTeacher]);
  });

  it('has the gradient of the traced form: the written-out gradient == autodiff through the terms', () => {
    // Equivalence: distillationLoss writes dL/ds out (tf.customGrad); distillationLossTerms is
    // differentiated by tfjs's autodiff through logSoftmax. Both must agree for any alpha and T.
    for (const [alpha, T] of [[0, 1], [0.3, 3], [1, 2], [0.5, 20]] as const) {
      tf.tidy(() => {
        const fused = tf.grad((s: tf.Tensor) => distillationLoss({ alpha, temperature: T })(labels, s as tf.Tensor2D, teacher))(student);
        const traced = tf.grad((s: tf.Tensor) => distillationLossTerms(labels, s as tf.Tensor2D, teacher, { alpha, temperature: T }).total)(student);
        const a = fused.dataSync();
        const b = traced.dataSync();
        a.forEach((v, i) => expect(Math.abs(v - (b[i] as number)), `alpha ${alpha}, T ${T}, entry ${i}`).toBeLessThan(1e-6 + 1e-5 * Math.abs(b[i] as number)));
      });
    }
  });

  it('treats the teacher as a constant: asking for its gradient throws', () => {
    const loss = distillationLoss({ alpha: 0.5, temperature: 2 });
    expect(() => tf.grad((t: tf.Tensor) => loss(labels, student, t as tf.Tensor2D))(teacher)).toThrow(/Cannot compute gradient of y=f\(x\) with respect to x/);
  });

  it('leaks no tensors: every function returns only what the caller owns', () => {
    const loss = distillationLoss({ alpha: 0.5, temperature: 4 });
    expectNoLeak(() => softmaxWithTemperature(student, 2), 'softmaxWithTemperature');
    expectNoLeak(() => logSoftmaxWithTemperature(student, 2), 'logSoftmaxWithTemperature');
    expectNoLeak(() => softTargets(teacher, 2), 'softTargets');
    const probs = softTargets(teacher, 2);
    expectNoLeak(() => entropy(probs), 'entropy');
    probs.dispose();
    expectNoLeak(() => klDivergence(teacher, student, 2), 'klDivergence');
    expectNoLeak(() => loss(labels, student, teacher), 'distillationLoss');
    expectNoLeak(() => distillationLossTerms(labels, student, teacher, { alpha: 0.5, temperature: 4 }), 'distillationLossTerms');
    expectNoLeak(() => tf.grad((s: tf.Tensor) => loss(labels, s as tf.Tensor2D, teacher))(student), 'grad of the loss');
    // A call that throws leaks nothing either.
    const bad = tf.tensor1d([9, 0, 0, 0, 0, 0, 0, 0], 'int32');
    const before = tf.memory().numTensors;
    expect(() => loss(bad, student, teacher)).toThrow();
    expect(tf.memory().numTensors).toBe(before);
    bad.dispose();
  });
});

describe('crossEntropy checks its labels', () => {
  it('rejects a label outside [0, classes), naming the value and its index', () => {
    const logits: tf.Tensor2D = tf.zeros([2, 4]);
    // Before the fix: [0, 7] with 4 classes gave 0.693 = ln 4 / 2 (oneHot makes a zero row for 7).
    expect(() => crossEntropy(tf.tensor1d([0, 7], 'int32'), logits)).toThrowError(/^labels must be class indices in \[0, 4\), got 7 at index 1$/);
    expect(() => crossEntropy(tf.tensor1d([-1, 0], 'int32'), logits)).toThrowError(/^labels must be class indices in \[0, 4\), got -1 at index 0$/);
    expect(() => crossEntropy(tf.tensor1d([0, 1], 'float32'), logits)).toThrowError(/^labels must be a tf\.Tensor1D of int32 class indices, got dtype float32 shape \[2\]$/);
    expect(() => crossEntropy(tf.tensor1d([0, 1, 2], 'int32'), logits)).toThrowError(/^labels length 3 must equal the batch size of logits 2$/);
  });

  it('equals ln 4 for uniform logits (hand computation), with checks on or off', () => {
    const logits: tf.Tensor2D = tf.zeros([2, 4]);
    const y = tf.tensor1d([0, 3], 'int32');
    // Reference: -ln(1/4) = 1.3862943611198906
    expect(crossEntropy(y, logits).dataSync()[0]).toBeCloseTo(1.3862943611198906, 6);
    expect(crossEntropy(y, logits, { trusted: true }).dataSync()[0]).toBeCloseTo(1.3862943611198906, 6);
  });
});

describe('trusted: true skips every per-call check (no read-back)', () => {
  /** Counts tensor read-backs (dataSync, data, arraySync, array) while `fn` runs. */
  function readBacks(fn: () => void): number {
    const spies = (['dataSync', 'data', 'arraySync', 'array'] as const).map((m) => vi.spyOn(tf.Tensor.prototype, m));
    try {
      fn();
      return spies.reduce((n, s) => n + s.mock.calls.length, 0);
    } finally {
      for (const s of spies) s.mockRestore();
    }
  }
  const y = tf.tensor1d([0, 2], 'int32');
  const s = tf.tensor2d([[1, 2, 3], [0, 1, 0]]);
  const t = tf.tensor2d([[3, 2, 1], [1, 0, 0]]);

  it('checkFinite: false still reads the labels back (one read-back), as documented', () => {
    const loss = distillationLoss({ alpha: 0.5, temperature: 2, checkFinite: false });
    expect(readBacks(() => loss(y, s, t).dispose())).toBe(1);
  });

  it('distillationLoss, distillationLossTerms and crossEntropy read nothing back when trusted', () => {
    const loss = distillationLoss({ alpha: 0.5, temperature: 2, trusted: true });
    expect(readBacks(() => loss(y, s, t).dispose())).toBe(0);
    expect(readBacks(() => tf.dispose(Object.values(distillationLossTerms(y, s, t, { alpha: 0.5, temperature: 2, trusted: true }))))).toBe(0);
    expect(readBacks(() => crossEntropy(y, s, { trusted: true }).dispose())).toBe(0);
    // The checked default reads the labels and both logits' finiteness back.
    expect(readBacks(() => distillationLoss({ alpha: 0.5, temperature: 2 })(y, s, t).dispose())).toBe(3);
  });

  it('gives the same value trusted or checked', () => {
    const a = distillationLoss({ alpha: 0.3, temperature: 4 })(y, s, t);
    const b = distillationLoss({ alpha: 0.3, temperature: 4, trusted: true })(y, s, t);
    expect(b.dataSync()[0]).toBe(a.dataSync()[0]);
    tf.dispose([a, b]);
  });

  it('rejects a trusted flag that is not a boolean', () => {
    expect(() => distillationLoss({ alpha: 0.5, temperature: 2, trusted: 'yes' as unknown as boolean })).toThrowError(/^trusted must be a boolean, got "yes"$/);
  });
});
