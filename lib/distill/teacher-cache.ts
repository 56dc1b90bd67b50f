/**
 * The teacher's outputs stored in a file, so that training a student (many times, at several
 * temperatures) never reruns the teacher.
 *
 * A cache is two files in one folder:
 *
 * - `<name>.bin`: the logits, float32 little-endian, row-major `[examples, classes]`;
 * - `<name>.json`: the manifest ({@link TeacherCacheManifest}): shape, dtype, the SHA-256 of the
 *   `.bin` file, the SHA-256 of the dataset it was computed on, the SHA-256 of the teacher, and
 *   the creation time.
 *
 * Reading verifies everything, and a cache that does not match is an error that says what differs:
 * a part missing, a file corrupt (size or SHA-256), or stale (a different dataset or teacher). It is
 * never used silently. `{ rebuild: true }` rebuilds in those cases instead of throwing.
 *
 * Writes are atomic: each file is written to a temporary file in the same folder, fsync'd, then
 * renamed over the old one (and the folder fsync'd), so a crash leaves the old file or the new
 * one, never half of one. The `.bin` is replaced before the `.json`; a crash between the two
 * leaves a new `.bin` with the old manifest, which the SHA-256 check reports as corrupt.
 *
 * Several processes may build the same cache at once (two notebooks, two test workers): each
 * writes its own temporary files (named with its pid and a random suffix), and a builder removes
 * only the temporary files of writers that have exited, never a write still in progress. The last
 * builder's renames win; builders of the same teacher and data write the same bytes.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert, show } from './validate';

/** A teacher given as a function: a batch of inputs `[b, ...]` -> logits `[b, classes]` (the rank is checked at run time). */
export type TeacherFn = (x: tf.Tensor) => tf.Tensor;

/** A teacher: a function or a tfjs layers model (its `predict` gives logits). */
export type Teacher = TeacherFn | tf.LayersModel;

/** The format tag of the manifest. */
export const TEACHER_CACHE_FORMAT = 'frugal-ai/teacher-logits';
/** The manifest version this code writes and reads. */
export const TEACHER_CACHE_VERSION = 1;

/** The manifest, `<name>.json`. */
export interface TeacherCacheManifest {
  /** Always {@link TEACHER_CACHE_FORMAT}. */
  format: string;
  /** Always {@link TEACHER_CACHE_VERSION}. */
  version: number;
  /** The cache's name (file stem). */
  name: string;
  /** The data file, relative to the manifest's folder: `<name>.bin`. */
  dataFile: string;
  /** Shape of the logits, `[examples, classes]`. */
  shape: [number, number];
  /** Element type of the data file: float32, little-endian. */
  dtype: 'float32';
  /** Size of the data file in bytes (`examples * classes * 4`). */
  byteLength: number;
  /** SHA-256 (hex) of the data file's bytes. */
  dataSha256: string;
  /** SHA-256 (hex) of the dataset the teacher ran on ({@link hashDataset}). */
  datasetSha256: string;
  /** Shape of the dataset tensor. */
  datasetShape: number[];
  /** SHA-256 (hex) of the teacher ({@link hashTeacher}), or the key the caller gave for a function teacher. */
  teacherSha256: string;
  /** The batch size used to run the teacher (informative; it does not change the logits). */
  batchSize: number;
  /** Creation time, ISO 8601. */
  createdAt: string;
}

/** Why a cache was refused. */
export type TeacherCacheProblem = 'missing' | 'corrupt' | 'stale';

/** A cache that cannot be used; `problem` says why, the message says what differs. */
export class TeacherCacheError extends Error {
  constructor(
    readonly problem: TeacherCacheProblem,
    message: string,
  ) {
    super(message);
    this.name = 'TeacherCacheError';
  }
}

/** Where a cache lives, and how it was made. */
export interface TeacherCacheOptions {
  /** Folder of the two files; created if needed. */
  dir: string;
  /** File stem: letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Examples per teacher call (default 256). */
  batchSize?: number;
  /**
   * For a function teacher, what identifies it: its weights (hashed with {@link hashTeacher}) ...
   */
  teacherWeights?: readonly tf.Tensor[];
  /** ... or a key of your own (e.g. the SHA-256 of a checkpoint file). Ignored for a LayersModel. */
  teacherKey?: string;
  /** Rebuild a missing-part, corrupt or stale cache instead of throwing. Default false. */
  rebuild?: boolean;
  /** Fault injection for tests: called after half of a file's bytes are in its temporary file. */
  testHooks?: { afterPartialWrite?: (tmpPath: string) => void };
}

/** What {@link cachedTeacherLogits} did. */
export interface TeacherCacheResult {
  /** The logits `[examples, classes]`; the caller disposes them. */
  logits: tf.Tensor2D;
  manifest: TeacherCacheManifest;
  /** `hit`: read from the files; `built`: no cache existed; `rebuilt`: replaced an invalid one. */
  status: 'hit' | 'built' | 'rebuilt';
  /** For `rebuilt`: the error that the rebuild replaced. */
  reason?: string;
}

function sha256(...chunks: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function isLayersModel(t: Teacher): t is tf.LayersModel {
  return t instanceof tf.LayersModel;
}

/**
 * SHA-256 of a dataset tensor: its dtype and shape, then its bytes (little-endian, row-major).
 * @param data any tensor.
 * @returns 64 hex characters.
 * @throws Error when `data` is not a tf.Tensor.
 */
export function hashDataset(data: tf.Tensor): string {
  assert(data instanceof tf.Tensor, () => `data must be a tf.Tensor, got ${show(data)}`);
  const header = new TextEncoder().encode(`${JSON.stringify({ dtype: data.dtype, shape: data.shape })}\n`);
  return sha256(header, bytesOf(data.dataSync()));
}

/** A layer's config without its name (names carry process-wide counters like `dense_Dense3`). */
function layerSignature(layer: tf.layers.Layer): string {
  const config: Record<string, unknown> = { ...layer.getConfig() };
  delete config['name'];
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${layer.getClassName()}${JSON.stringify(sorted)}`;
}

/**
 * SHA-256 of a teacher. For a LayersModel: each layer's class and config (names left out, so a
 * rebuilt identical model hashes the same), then every weight's shape, dtype and bytes, in order.
 * For a list of tensors: their shapes, dtypes and bytes, in order.
 *
 * @throws Error when `teacher` is neither a tf.LayersModel nor an array of tensors.
 */
export function hashTeacher(teacher: tf.LayersModel | readonly tf.Tensor[]): string {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let weights: readonly tf.Tensor[];
  if (teacher instanceof tf.LayersModel) {
    for (const layer of teacher.layers) chunks.push(enc.encode(`${layerSignature(layer)}\n`));
    weights = teacher.getWeights(); // the model's own tensors: not disposed here
  } else {
    assert(Array.isArray(teacher) && teacher.every((t) => t instanceof tf.Tensor),
      () => `teacher must be a tf.LayersModel or an array of tf.Tensor, got ${show(teacher)}`);
    weights = teacher;
  }
  for (const w of weights) {
    chunks.push(enc.encode(`${JSON.stringify({ dtype: w.dtype, shape: w.shape })}\n`));
    chunks.push(bytesOf(w.dataSync()));
  }
  return sha256(...chunks);
}

/**
 * Writes `bytes` to `file` atomically: a temporary file in the same folder, fsync, rename over
 * `file`, fsync of the folder. On any error the temporary file is removed and `file` is untouched.
 *
 * @param hooks `afterPartialWrite` runs once half the bytes are written (tests throw there to
 *   simulate a crash mid-write).
 * @throws the underlying fs error, or whatever a hook throws.
 */
export function writeFileAtomic(
  file: string,
  bytes: Uint8Array,
  hooks: { afterPartialWrite?: (tmpPath: string) => void } = {},
): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  let closed = false;
  try {
    const half = Math.floor(bytes.length / 2);
    writeAll(fd, bytes.subarray(0, half));
    hooks.afterPartialWrite?.(tmp);
    writeAll(fd, bytes.subarray(half));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot fsync a folder; the rename is still atomic there.
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

function checkOptions(options: TeacherCacheOptions): { dir: string; name: string; batchSize: number } {
  assert(options !== null && typeof options === 'object', () => `options must be an object { dir, name, ... }, got ${show(options)}`);
  const { dir, name } = options;
  assert(typeof dir === 'string' && dir.length > 0, () => `dir must be a non-empty path, got ${show(dir)}`);
  assert(typeof name === 'string' && /^[A-Za-z0-9._-]+$/.test(name) && !name.startsWith('.'),
    () => `name must be letters, digits, '.', '_' or '-' (not starting with '.'), got ${show(name)}`);
  const batchSize = options.batchSize ?? 256;
  assert(Number.isInteger(batchSize) && batchSize >= 1, () => `batchSize must be a positive integer, got ${show(batchSize)}`);
  return { dir, name, batchSize };
}

/** The paths of a cache's two files. */
export function teacherCachePaths(dir: string, name: string): { manifest: string; data: string } {
  return { manifest: path.join(dir, `${name}.json`), data: path.join(dir, `${name}.bin`) };
}

/** The teacher's identity: its hash, or the caller's key for a function teacher. */
function teacherIdentity(teacher: Teacher, options: TeacherCacheOptions): string {
  if (isLayersModel(teacher)) return hashTeacher(teacher);
  assert(typeof teacher === 'function', () => `teacher must be a function or a tf.LayersModel, got ${show(teacher)}`);
  if (options.teacherKey !== undefined) {
    assert(typeof options.teacherKey === 'string' && options.teacherKey.length > 0,
      () => `teacherKey must be a non-empty string, got ${show(options.teacherKey)}`);
    return options.teacherKey;
  }
  assert(options.teacherWeights !== undefined,
    () => 'a function teacher needs teacherWeights (its tensors, to hash) or teacherKey (a string that identifies it), got neither');
  return hashTeacher(options.teacherWeights);
}

/**
 * Runs the teacher over `data` in batches: `[examples, ...] -> [examples, classes]`, without
 * writing anything.
 * @throws Error when the teacher's output is not `[batch, classes]` with a constant number of
 *   classes, or holds NaN/Inf (the batch is named).
 */
export async function runTeacher(teacher: Teacher, data: tf.Tensor, batchSize = 256): Promise<{ values: Float32Array; shape: [number, number] }> {
  assert(data instanceof tf.Tensor && data.rank >= 1 && (data.shape[0] ?? 0) >= 1,
    () => `data must be a tf.Tensor [examples, ...] with at least one example, got ${data instanceof tf.Tensor ? `shape [${data.shape.join(', ')}]` : show(data)}`);
  assert(Number.isInteger(batchSize) && batchSize >= 1, () => `batchSize must be a positive integer, got ${show(batchSize)}`);
  const n = data.shape[0];
  let classes = -1;
  let values = new Float32Array(0);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const out = tf.tidy(() => {
      const begin = data.shape.map((_, i) => (i === 0 ? start : 0));
      const extent = data.shape.map((d, i) => (i === 0 ? size : d));
      const xb = tf.slice(data, begin, extent); // [size, ...]
      const y = isLayersModel(teacher) ? teacher.predict(xb) : teacher(xb);
      assert(y instanceof tf.Tensor, () => `the teacher must return one tf.Tensor of logits, got ${Array.isArray(y) ? 'an array' : show(y)}`);
      return tf.cast(y, 'float32');
    });
    try {
      const batchName = `batch at examples [${start}, ${start + size})`;
      assert(out.rank === 2 && out.shape[0] === size,
        () => `the teacher must return logits [${size}, classes] for the ${batchName}, got shape [${out.shape.join(', ')}]`);
      if (classes < 0) {
        classes = out.shape[1] as number;
        values = new Float32Array(n * classes);
      }
      assert(out.shape[1] === classes, () => `the teacher returned ${out.shape[1]} classes for the ${batchName}, ${classes} before`);
      const v = (await out.data()) as Float32Array;
      for (let i = 0; i < v.length; i++) {
        assert(Number.isFinite(v[i]), () => `the teacher returned NaN or Inf for the ${batchName} (flat index ${i}: ${v[i]})`);
      }
      values.set(v, start * classes);
    } finally {
      out.dispose();
    }
  }
  return { values, shape: [n, classes] };
}

/** How old a temporary file must be before it counts as stale even if its pid is running (a reused pid). */
const STALE_TMP_MS = 24 * 3600 * 1000;

/** Whether process `pid` is running on this machine. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, but is not ours
  }
}

/**
 * Removes the temporary files that writers which have exited (crashed) left for this cache.
 * Temporary names carry the writer's pid (`.<file>.<pid>.<random>.tmp`, see
 * {@link writeFileAtomic}): a file whose writer is still running is another builder's write in
 * progress, and is left alone, unless it is older than a day (its pid was reused).
 */
function removeLeftovers(dir: string, name: string): void {
  const pattern = new RegExp(`^\\.${name.replace(/[.]/g, '\\.')}\\.(bin|json)\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
  for (const f of fs.readdirSync(dir)) {
    const m = pattern.exec(f);
    if (!m) continue;
    const file = path.join(dir, f);
    const pid = Number(m[2]);
    let age: number;
    try {
      age = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      continue; // renamed or removed by its writer meanwhile
    }
    if (processAlive(pid) && age < STALE_TMP_MS) continue;
    fs.rmSync(file, { force: true });
  }
}

/**
 * Runs the teacher over `data` and writes the cache (replacing any old one), atomically.
 *
 * @param teacher a function `x -> logits` or a tf.LayersModel.
 * @param data the dataset `[examples, ...]`, in a fixed order (the cache is row-aligned with it).
 * @param options `{ dir, name, batchSize?, teacherWeights? | teacherKey? }`.
 * @returns the logits `[examples, classes]` (the caller disposes them) and the manifest written.
 * @throws Error on bad options, a function teacher with neither `teacherWeights` nor `teacherKey`,
 *   a bad teacher output (see {@link runTeacher}), or a file-system error (the old cache is then
 *   left as it was, except in the window between the two renames, which reading detects).
 */
export async function buildTeacherCache(
  teacher: Teacher,
  data: tf.Tensor,
  options: TeacherCacheOptions,
): Promise<{ logits: tf.Tensor2D; manifest: TeacherCacheManifest }> {
  const { dir, name, batchSize } = checkOptions(options);
  const teacherSha256 = teacherIdentity(teacher, options);
  const datasetSha256 = hashDataset(data);
  const { values, shape } = await runTeacher(teacher, data, batchSize);
  const bytes = bytesOf(values);
  const paths = teacherCachePaths(dir, name);
  const manifest: TeacherCacheManifest = {
    format: TEACHER_CACHE_FORMAT,
    version: TEACHER_CACHE_VERSION,
    name,
    dataFile: path.basename(paths.data),
    shape,
    dtype: 'float32',
    byteLength: bytes.byteLength,
    dataSha256: sha256(bytes),
    datasetSha256,
    datasetShape: [...data.shape],
    teacherSha256,
    batchSize,
    createdAt: new Date().toISOString(),
  };
  fs.mkdirSync(dir, { recursive: true });
  removeLeftovers(dir, name);
  writeFileAtomic(paths.data, bytes, options.testHooks);
  writeFileAtomic(paths.manifest, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`), options.testHooks);
  return { logits: tf.tensor2d(values, shape, 'float32'), manifest };
}

/**
 * Reads a cache and checks it against the dataset and teacher it must belong to.
 *
 * @param dir folder of the cache.
 * @param name file stem.
 * @param expected the hashes the cache must carry: `datasetSha256` ({@link hashDataset}) and
 *   `teacherSha256` ({@link hashTeacher} or your key).
 * @returns the logits (the caller disposes them) and the manifest.
 * @throws TeacherCacheError `missing` (a file absent), `stale` (dataset or teacher hash differs;
 *   both hashes given), `corrupt` (unreadable manifest, size or SHA-256 of the data file differs).
 */
export function readTeacherCache(
  dir: string,
  name: string,
  expected: { datasetSha256: string; teacherSha256: string },
): { logits: tf.Tensor2D; manifest: TeacherCacheManifest } {
  const paths = teacherCachePaths(dir, name);
  if (!fs.existsSync(paths.manifest)) {
    throw new TeacherCacheError('missing', `teacher cache manifest ${paths.manifest} is missing${fs.existsSync(paths.data) ? ` (the data file ${paths.data} exists without it)` : ''}`);
  }
  let manifest: TeacherCacheManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(paths.manifest, 'utf8')) as TeacherCacheManifest;
  } catch (err) {
    throw new TeacherCacheError('corrupt', `teacher cache manifest ${paths.manifest} is not valid JSON (${(err as Error).message})`);
  }
  const shapeOk = Array.isArray(manifest.shape) && manifest.shape.length === 2 && manifest.shape.every((d) => Number.isInteger(d) && d >= 1);
  if (manifest.format !== TEACHER_CACHE_FORMAT || manifest.version !== TEACHER_CACHE_VERSION || manifest.dtype !== 'float32' || !shapeOk) {
    throw new TeacherCacheError('corrupt',
      `teacher cache manifest ${paths.manifest} is not a ${TEACHER_CACHE_FORMAT} v${TEACHER_CACHE_VERSION} float32 manifest (format ${show(manifest.format)}, version ${show(manifest.version)}, dtype ${show(manifest.dtype)}, shape ${show(manifest.shape)})`);
  }
  const stale: string[] = [];
  if (manifest.datasetSha256 !== expected.datasetSha256) {
    stale.push(`the dataset differs (cache built for dataset sha256 ${manifest.datasetSha256}, this dataset is ${expected.datasetSha256})`);
  }
  if (manifest.teacherSha256 !== expected.teacherSha256) {
    stale.push(`the teacher differs (cache built for teacher sha256 ${manifest.teacherSha256}, this teacher is ${expected.teacherSha256})`);
  }
  if (stale.length > 0) throw new TeacherCacheError('stale', `teacher cache ${paths.manifest} is stale: ${stale.join('; ')}`);
  if (!fs.existsSync(paths.data)) {
    throw new TeacherCacheError('missing', `teacher cache data file ${paths.data} is missing (its manifest exists)`);
  }
  const buf = fs.readFileSync(paths.data);
  const [n, classes] = manifest.shape;
  const wantBytes = n * classes * 4;
  if (buf.byteLength !== wantBytes || manifest.byteLength !== wantBytes) {
    throw new TeacherCacheError('corrupt',
      `teacher cache data file ${paths.data} has ${buf.byteLength} bytes, expected ${wantBytes} (shape [${n}, ${classes}] float32)`);
  }
  const got = sha256(buf);
  if (got !== manifest.dataSha256) {
    throw new TeacherCacheError('corrupt', `teacher cache data file ${paths.data} is corrupt: sha256 ${got}, manifest says ${manifest.dataSha256}`);
  }
  // Copy into an aligned Float32Array (a Buffer's offset in its pool need not be a multiple of 4).
  const values = new Float32Array(n * classes);
  new Uint8Array(values.buffer).set(buf);
  return { logits: tf.tensor2d(values, [n, classes], 'float32'), manifest };
}

/**
 * The teacher's logits for `data`, from the cache when it is valid, else computed and cached.
 *
 * - No cache files at all: builds it (`status: 'built'`).
 * - A valid cache for this dataset and teacher: reads it (`status: 'hit'`).
 * - A part missing, corrupt, or stale: throws a {@link TeacherCacheError} naming what differs,
 *   or with `rebuild: true` rebuilds it (`status: 'rebuilt'`, `reason` = that error's message).
 *
 * @param teacher a function `x -> logits` (give `teacherWeights` or `teacherKey`) or a tf.LayersModel.
 * @param data the dataset `[examples, ...]`; its bytes are hashed on every call.
 * @param options see {@link TeacherCacheOptions}.
 * @throws TeacherCacheError as above; Error on bad options or a bad teacher output.
 */
export async function cachedTeacherLogits(
  teacher: Teacher,
  data: tf.Tensor,
  options: TeacherCacheOptions,
): Promise<TeacherCacheResult> {
  const { dir, name } = checkOptions(options);
  const paths = teacherCachePaths(dir, name);
  if (!fs.existsSync(paths.manifest) && !fs.existsSync(paths.data)) {
    return { ...(await buildTeacherCache(teacher, data, options)), status: 'built' };
  }
  const expected = { datasetSha256: hashDataset(data), teacherSha256: teacherIdentity(teacher, options) };
  try {
    return { ...readTeacherCache(dir, name, expected), status: 'hit' };
  } catch (err) {
    if (!(err instanceof TeacherCacheError) || options.rebuild !== true) throw err;
    return { ...(await buildTeacherCache(teacher, data, options)), status: 'rebuilt', reason: err.message };
  }
}
