/**
 * The UCI optical digits (8×8, 10 classes, 1797 images; datasets/digits/README.md): loading with a
 * hash check, a seeded stratified split, and augmentation for 8×8 images driven by the course's
 * `Rng`.
 *
 * Images are `Float32Array`s of `n * 64` pixels in [0, 1], row-major (`x[i * 64 + r * 8 + c]`), so
 * that splitting and augmenting never depend on the tfjs backend; {@link digitsToTensors} makes the
 * tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Rng } from '../random';
import { findDatasetFile } from './files';

/** SHA-256 of datasets/digits/digits.csv.gz (scikit-learn 1.2.1's copy, Debian python3-sklearn). */
export const DIGITS_SHA256 = '46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a';
/** Image side: 8 pixels. */
export const DIGITS_SIDE = 8;
/** Pixels per image: 64. */
export const DIGITS_PIXELS = 64;
/** Classes: the digits 0..9. */
export const DIGITS_CLASSES = 10;
/** Examples in the file. */
export const DIGITS_COUNT = 1797;
/** The file's path relative to the repository root. */
export const DIGITS_RELATIVE_PATH = path.join('datasets', 'digits', 'digits.csv.gz');

/** A set of digit images and their labels. */
export interface DigitsData {
  /** `n * 64` pixels in [0, 1], row-major per image. */
  x: Float32Array;
  /** `n` labels 0..9. */
  y: Int32Array;
  /** Number of images. */
  n: number;
}

/** The three parts of {@link splitDigits}, plus the original indices of each part's examples. */
export interface DigitsSplit {
  train: DigitsData;
  val: DigitsData;
  test: DigitsData;
  /** For each part, the row of each example in the loaded file. */
  indices: { train: number[]; val: number[]; test: number[] };
}

/**
 * Finds datasets/digits/digits.csv.gz: in the folder of `FRUGAL_DATASETS` when set, else in
 * `datasets/` of the current folder or of any folder above it (lessons run in notebooks/), else
 * next to this file's repository (lib/dist/data -> ../../..).
 * @throws Error listing where it looked.
 */
export function findDigitsFile(): string {
  return findDatasetFile(DIGITS_RELATIVE_PATH);
}

/**
 * Loads the digits: checks the file's SHA-256, parses the CSV, scales pixels 0..16 to [0, 1].
 *
 * @param options `path`: the .csv.gz file (default: {@link findDigitsFile});
 *   `sha256`: the expected hash (default {@link DIGITS_SHA256}).
 * @returns `{ x, y, n }` with `n = 1797`, `x.length = 1797 * 64`.
 * @throws Error when the file is missing, its SHA-256 differs (both hashes named), or a row is
 *   malformed (row number named).
 */
export function loadDigits(options: { path?: string; sha256?: string } = {}): DigitsData {
  const file = options.path ?? findDigitsFile();
  const expected = options.sha256 ?? DIGITS_SHA256;
  const gz = fs.readFileSync(file);
  const got = createHash('sha256').update(gz).digest('hex');
  if (got !== expected) {
    throw new Error(`${file} has sha256 ${got}, expected ${expected}: the file is not the digits set this course was written for (see datasets/digits/README.md)`);
  }
  const lines = gunzipSync(gz).toString('utf8').split('\n').filter((l) => l.trim() !== '');
  const n = lines.length;
  const x = new Float32Array(n * DIGITS_PIXELS);
  const y = new Int32Array(n);
  lines.forEach((line, i) => {
    const cols = line.split(',').map(Number);
    if (cols.length !== DIGITS_PIXELS + 1) throw new Error(`${file} row ${i + 1} has ${cols.length} columns, expected ${DIGITS_PIXELS + 1}`);
    for (let j = 0; j < DIGITS_PIXELS; j++) {
      const v = cols[j] as number;
      if (!Number.isInteger(v) || v < 0 || v > 16) throw new Error(`${file} row ${i + 1} column ${j + 1} is ${v}, expected an integer 0..16`);
      x[i * DIGITS_PIXELS + j] = v / 16;
    }
    const label = cols[DIGITS_PIXELS] as number;
    if (!Number.isInteger(label) || label < 0 || label >= DIGITS_CLASSES) throw new Error(`${file} row ${i + 1} has label ${label}, expected 0..9`);
    y[i] = label;
  });
  return { x, y, n };
}

/** The examples of `data` at `indices`, in that order. */
export function selectDigits(data: DigitsData, indices: readonly number[]): DigitsData {
  const x = new Float32Array(indices.length * DIGITS_PIXELS);
  const y = new Int32Array(indices.length);
  indices.forEach((src, k) => {
    if (!Number.isInteger(src) || src < 0 || src >= data.n) throw new Error(`indices[${k}] must be an integer in [0, ${data.n}), got ${src}`);
    x.set(data.x.subarray(src * DIGITS_PIXELS, (src + 1) * DIGITS_PIXELS), k * DIGITS_PIXELS);
    y[k] = data.y[src] as number;
  });
  return { x, y, n: indices.length };
}

/**
 * A seeded train/val/test split. Stratified by default: each class is shuffled and cut in the
 * same proportions (per-class counts rounded), so every part keeps the class balance; then each
 * part is shuffled. The same seed gives the same split on any machine.
 *
 * @param data from {@link loadDigits}.
 * @param options `seed` (integer), `valFraction` and `testFraction` (each in [0, 1), sum < 1;
 *   defaults 0.15 and 0.15), `stratify` (default true).
 * @throws Error naming a bad fraction or seed.
 */
export function splitDigits(
  data: DigitsData,
  options: { seed: number; valFraction?: number; testFraction?: number; stratify?: boolean },
): DigitsSplit {
  const valF = options.valFraction ?? 0.15;
  const testF = options.testFraction ?? 0.15;
  for (const [name, f] of [['valFraction', valF], ['testFraction', testF]] as const) {
    if (typeof f !== 'number' || !(f >= 0 && f < 1)) throw new Error(`${name} must be in [0, 1), got ${f}`);
  }
  if (valF + testF >= 1) throw new Error(`valFraction + testFraction must be < 1, got ${valF} + ${testF}`);
  const rng = new Rng(options.seed); // throws `seed must be an integer, got ...`
  const groups: number[][] = [];
  if (options.stratify ?? true) {
    for (let c = 0; c < DIGITS_CLASSES; c++) groups.push([]);
    for (let i = 0; i < data.n; i++) groups[data.y[i] as number]?.push(i);
  } else {
    groups.push(Array.from({ length: data.n }, (_, i) => i));
  }
  const train: number[] = [];
  const val: number[] = [];
  const test: number[] = [];
  for (const g of groups) {
    rng.shuffle(g);
    const nTest = Math.round(g.length * testF);
    const nVal = Math.round(g.length * valF);
    test.push(...g.slice(0, nTest));
    val.push(...g.slice(nTest, nTest + nVal));
    train.push(...g.slice(nTest + nVal));
  }
  rng.shuffle(train);
  rng.shuffle(val);
  rng.shuffle(test);
  return {
    train: selectDigits(data, train),
    val: selectDigits(data, val),
    test: selectDigits(data, test),
    indices: { train, val, test },
  };
}

/**
 * Tensors for a set of digits: `x` float32 `[n, 64]` (or `[n, 8, 8, 1]` with `images: true`),
 * `y` int32 `[n]`. The caller disposes them.
 */
export function digitsToTensors(data: DigitsData, options: { images?: boolean } = {}): { x: tf.Tensor; y: tf.Tensor1D } {
  const shape = options.images ? [data.n, DIGITS_SIDE, DIGITS_SIDE, 1] : [data.n, DIGITS_PIXELS];
  return { x: tf.tensor(data.x, shape, 'float32'), y: tf.tensor1d(data.y, 'int32') };
}

/**
 * One 8×8 image shifted by `dx` columns (right if > 0) and `dy` rows (down if > 0); pixels shifted
 * in are 0.
 * @param image 64 pixels, row-major.
 * @throws Error when `image` does not have 64 pixels or a shift is not an integer.
 */
export function shiftDigit(image: ArrayLike<number>, dx: number, dy: number): Float32Array {
  if (image.length !== DIGITS_PIXELS) throw new Error(`image must have ${DIGITS_PIXELS} pixels, got ${image.length}`);
  if (!Number.isInteger(dx) || !Number.isInteger(dy)) throw new Error(`dx and dy must be integers, got ${dx} and ${dy}`);
  const out = new Float32Array(DIGITS_PIXELS);
  for (let r = 0; r < DIGITS_SIDE; r++) {
    const sr = r - dy; // source row
    if (sr < 0 || sr >= DIGITS_SIDE) continue;
    for (let c = 0; c < DIGITS_SIDE; c++) {
      const sc = c - dx; // source column
      if (sc < 0 || sc >= DIGITS_SIDE) continue;
      out[r * DIGITS_SIDE + c] = image[sr * DIGITS_SIDE + sc] as number;
    }
  }
  return out;
}

/** Options of {@link augmentDigits}. */
export interface DigitAugmentOptions {
  /** Largest shift in pixels, each axis: shifts are drawn uniformly from [-maxShift, maxShift]. Default 1. */
  maxShift?: number;
  /** Standard deviation of the Gaussian pixel noise (pixels are in [0, 1]). Default 0.05; 0 = none. */
  noiseStd?: number;
  /** Clip the result to [0, 1]. Default true. */
  clip?: boolean;
}

/**
 * Augments a batch of 8×8 digits: a random integer shift per image (zero fill), then Gaussian
 * noise per pixel, all drawn from `rng` in a fixed order (so a seed reproduces the batch).
 *
 * @param x `n * 64` pixels.
 * @param rng the generator (e.g. `rng().fork('augment')`).
 * @returns a new array; `x` is not changed.
 * @throws Error when `x.length` is not a multiple of 64, `maxShift` is not an integer in [0, 7],
 *   or `noiseStd` is not a finite number >= 0.
 */
export function augmentDigits(x: Float32Array, rng: Rng, options: DigitAugmentOptions = {}): Float32Array {
  if (x.length % DIGITS_PIXELS !== 0) throw new Error(`x.length must be a multiple of ${DIGITS_PIXELS}, got ${x.length}`);
  const maxShift = options.maxShift ?? 1;
  if (!Number.isInteger(maxShift) || maxShift < 0 || maxShift >= DIGITS_SIDE) throw new Error(`maxShift must be an integer in [0, ${DIGITS_SIDE - 1}], got ${maxShift}`);
  const noiseStd = options.noiseStd ?? 0.05;
  if (!Number.isFinite(noiseStd) || noiseStd < 0) throw new Error(`noiseStd must be a finite number >= 0, got ${noiseStd}`);
  const clip = options.clip ?? true;
  const n = x.length / DIGITS_PIXELS;
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const img = x.subarray(i * DIGITS_PIXELS, (i + 1) * DIGITS_PIXELS);
    const dx = maxShift > 0 ? rng.int(2 * maxShift + 1) - maxShift : 0;
    const dy = maxShift > 0 ? rng.int(2 * maxShift + 1) - maxShift : 0;
    out.set(shiftDigit(img, dx, dy), i * DIGITS_PIXELS);
  }
  if (noiseStd > 0 || clip) {
    for (let k = 0; k < out.length; k++) {
      let v = out[k] as number;
      if (noiseStd > 0) v += rng.normal(0, noiseStd);
      out[k] = clip ? Math.min(1, Math.max(0, v)) : v;
    }
  }
  return out;
}
