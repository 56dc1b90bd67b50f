/**
 * lib/data/digits.ts: the UCI digits file (hash check, parsing), the seeded stratified split and
 * the 8×8 augmentation.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import {
  augmentDigits,
  DIGITS_SHA256,
  digitsToTensors,
  findDigitsFile,
  loadDigits,
  shiftDigit,
  splitDigits,
} from '../lib/data/digits';
import { Rng } from '../lib/random';
import { expectNoLeak } from './helpers/leak';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

const data = loadDigits();

describe('loadDigits', () => {
  it('finds the committed file, checks its hash and parses 1797 × 64 pixels in [0, 1]', () => {
    expect(findDigitsFile()).toMatch(/datasets[/\\]digits[/\\]digits\.csv\.gz$/);
    // The committed file's bytes, hashed here, against the constant that loadDigits checks and
    // against the hash datasets/digits/README.md publishes (sha256sum of the file).
    const sha = createHash('sha256').update(fs.readFileSync(findDigitsFile())).digest('hex');
    expect(sha).toBe(DIGITS_SHA256);
    const readme = fs.readFileSync(path.join(path.dirname(findDigitsFile()), 'README.md'), 'utf8');
    expect(readme.match(/^\| `digits\.csv\.gz` \|.*\| `([0-9a-f]{64})` \|$/m)?.[1]).toBe(sha);
    expect(data.n).toBe(1797);
    expect(data.x.length).toBe(1797 * 64);
    expect(data.y.length).toBe(1797);
    expect(Math.min(...data.x)).toBe(0);
    expect(Math.max(...data.x)).toBe(1);
    // Reference: the file's first row is 0,0,5,13,9,1,0,0,... with label 0
    expect(Array.from(data.x.slice(0, 8))).toEqual([0, 0, 5, 13, 9, 1, 0, 0].map((v) => v / 16));
    expect(data.y[0]).toBe(0);
    // Reference: class counts of the file (datasets/digits/README.md)
    const counts = new Array(10).fill(0);
    for (const c of data.y) counts[c]++;
    expect(counts).toEqual([178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
  });

  it('refuses a file whose hash differs, naming both hashes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frugal-digits-'));
    try {
      const copy = path.join(dir, 'digits.csv.gz');
      const bytes = fs.readFileSync(findDigitsFile());
      bytes[100] = (bytes[100] as number) ^ 0xff;
      fs.writeFileSync(copy, bytes);
      expect(() => loadDigits({ path: copy })).toThrowError(
        new RegExp(`digits\\.csv\\.gz has sha256 [0-9a-f]{64}, expected ${DIGITS_SHA256}: the file is not the digits set`),
      );
      expect(() => loadDigits({ sha256: '0'.repeat(64) })).toThrowError(/has sha256 46abec6b.*, expected 0{64}/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes tensors [n, 64] or [n, 8, 8, 1] without leaking', () => {
    const t = expectNoLeak(() => digitsToTensors(data), 'digitsToTensors');
    expect(t.x.shape).toEqual([1797, 64]);
    expect(t.y.shape).toEqual([1797]);
    expect(t.y.dtype).toBe('int32');
    const img = expectNoLeak(() => digitsToTensors(data, { images: true }), 'images');
    expect(img.x.shape).toEqual([1797, 8, 8, 1]);
  });
});

describe('splitDigits', () => {
  it('splits 1797 into disjoint stratified parts of known sizes', () => {
    const s = splitDigits(data, { seed: 42 });
    // Per class: test = round(0.15 * count), val = round(0.15 * count), train = the rest.
    // Class counts 178,182,177,183,181,182,181,179,174,180 -> 27,27,27,27,27,27,27,27,26,27 = 269 each.
    expect([s.train.n, s.val.n, s.test.n]).toEqual([1259, 269, 269]);
    const all = [...s.indices.train, ...s.indices.val, ...s.indices.test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1797 }, (_, i) => i));
    // Stratified: every class has 26 or 27 examples in test.
    const testCounts = new Array(10).fill(0);
    for (const c of s.test.y) testCounts[c]++;
    for (const c of testCounts) expect([26, 27]).toContain(c);
    // The examples follow their indices.
    const k = s.indices.val[5] as number;
    expect(Array.from(s.val.x.slice(5 * 64, 6 * 64))).toEqual(Array.from(data.x.slice(k * 64, (k + 1) * 64)));
    expect(s.val.y[5]).toBe(data.y[k]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = splitDigits(data, { seed: 7 });
    const b = splitDigits(data, { seed: 7 });
    const c = splitDigits(data, { seed: 8 });
    expect(b.indices).toEqual(a.indices);
    expect(c.indices.test).not.toEqual(a.indices.test);
  });

  it('supports an unstratified split and other fractions', () => {
    const s = splitDigits(data, { seed: 1, valFraction: 0.1, testFraction: 0.2, stratify: false });
    // round(1797 * 0.2) = 359, round(1797 * 0.1) = 180, rest 1258
    expect([s.train.n, s.val.n, s.test.n]).toEqual([1258, 180, 359]);
  });

  it.each([
    [{ seed: 1, valFraction: -0.1 }, /^valFraction must be in \[0, 1\), got -0\.1$/],
    [{ seed: 1, testFraction: 1 }, /^testFraction must be in \[0, 1\), got 1$/],
    [{ seed: 1, valFraction: 0.5, testFraction: 0.5 }, /^valFraction \+ testFraction must be < 1, got 0\.5 \+ 0\.5$/],
    [{ seed: 1.5 }, /^seed must be an integer, got 1\.5$/],
  ])('rejects %o', (options, message) => {
    expect(() => splitDigits(data, options)).toThrowError(message);
  });
});

describe('augmentation', () => {
  const img = Float32Array.from({ length: 64 }, (_, i) => i / 63); // pixel (r, c) = (8r + c) / 63

  it('shiftDigit moves the image and fills with zeros (hand-checked)', () => {
    const right = shiftDigit(img, 1, 0);
    // Row 0 after shifting right by 1: [0, p(0,0), ..., p(0,6)]
    expect(Array.from(right.slice(0, 8))).toEqual([0, ...Array.from(img.slice(0, 7))]);
    const up = shiftDigit(img, 0, -1);
    // Shifting up by 1: row r takes row r + 1; the last row is zeros
    expect(Array.from(up.slice(0, 8))).toEqual(Array.from(img.slice(8, 16)));
    expect(Array.from(up.slice(56, 64))).toEqual(new Array(8).fill(0));
    expect(Array.from(shiftDigit(img, 0, 0))).toEqual(Array.from(img));
    expect(() => shiftDigit(img.slice(0, 10), 1, 0)).toThrowError(/^image must have 64 pixels, got 10$/);
  });

  it('augmentDigits is reproducible for a seed and leaves its input unchanged', () => {
    const x = data.x.slice(0, 64 * 16);
    const copy = x.slice();
    const a = augmentDigits(x, new Rng(3));
    const b = augmentDigits(x, new Rng(3));
    const c = augmentDigits(x, new Rng(4));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(x)).toEqual(Array.from(copy));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1);
  });

  it('without noise, each augmented image is one of the 9 shifts of its source', () => {
    const x = data.x.slice(0, 64 * 20);
    const out = augmentDigits(x, new Rng(5), { maxShift: 1, noiseStd: 0 });
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const src = x.subarray(i * 64, (i + 1) * 64);
      const got = Array.from(out.subarray(i * 64, (i + 1) * 64));
      const match = [-1, 0, 1].flatMap((dx) => [-1, 0, 1].map((dy) => [dx, dy] as const))
        .find(([dx, dy]) => Array.from(shiftDigit(src, dx, dy)).every((v, k) => v === got[k]));
      expect(match, `image ${i}`).toBeDefined();
      seen.add(String(match));
    }
    expect(seen.size).toBeGreaterThan(1); // the seed gives several different shifts
    // maxShift 0 and no noise: the identity
    expect(Array.from(augmentDigits(x, new Rng(5), { maxShift: 0, noiseStd: 0 }))).toEqual(Array.from(x));
  });

  it('noise without shift or clipping has the requested standard deviation', () => {
    const x = new Float32Array(64 * 200).fill(0.5);
    const out = augmentDigits(x, new Rng(6), { maxShift: 0, noiseStd: 0.1, clip: false });
    let sum = 0;
    let sq = 0;
    for (const v of out) {
      sum += v - 0.5;
      sq += (v - 0.5) ** 2;
    }
    const mean = sum / out.length;
    const std = Math.sqrt(sq / out.length - mean * mean);
    // 12800 draws with seed 6: sample mean within 4 standard errors (0.1 / sqrt(12800) = 8.8e-4) of 0
    expect(Math.abs(mean)).toBeLessThan(0.0036);
    expect(std).toBeGreaterThan(0.097);
    expect(std).toBeLessThan(0.103);
  });

  it('rejects bad options, naming them', () => {
    expect(() => augmentDigits(new Float32Array(10), new Rng(1))).toThrowError(/^x\.length must be a multiple of 64, got 10$/);
    expect(() => augmentDigits(img, new Rng(1), { maxShift: 8 })).toThrowError(/^maxShift must be an integer in \[0, 7\], got 8$/);
    expect(() => augmentDigits(img, new Rng(1), { noiseStd: -1 })).toThrowError(/^noiseStd must be a finite number >= 0, got -1$/);
  });
});

describe('tensors from a split train a step without leaking', () => {
  it('digitsToTensors of the train part feeds tf ops', () => {
    const s = splitDigits(data, { seed: 42 });
    const before = tf.memory().numTensors;
    const { x, y } = digitsToTensors(s.train);
    expect(x.shape).toEqual([1259, 64]);
    expect(y.shape).toEqual([1259]);
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
