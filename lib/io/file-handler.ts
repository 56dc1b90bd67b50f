/**
 * A `file://` handler for `tf.io` in plain Node, without tfjs-node.
 *
 * Plain `@tensorflow/tfjs` 4.22 registers no save or load handler for `file://` URLs. This one
 * writes tfjs-node's layout, a folder with `model.json` (topology + weights manifest) and
 * `weights.bin` (all weights, concatenated), so the files load in tfjs-node, in the browser and in
 * the tfjs converter. Both files are written atomically (temporary file, fsync, rename), weights
 * first, so a crash never leaves a `model.json` that points at missing weights. `model.json` also
 * records the byte size and SHA-256 of `weights.bin`; loading checks both, so a truncated or
 * corrupt file fails with an error naming it instead of loading wrong weights.
 *
 * `registerFileHandler()` (called when this module loads) makes these work:
 *
 * ```ts
 * await model.save('file:///tmp/student');                       // a folder
 * const m = await tf.loadLayersModel('file:///tmp/student/model.json'); // or the folder
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../distill/teacher-cache';
import { toFloat16 } from '../compress/quantize';

/** The URL scheme this handler answers. */
export const FILE_SCHEME = 'file://';
/** The name of the topology + manifest file inside a saved model's folder. */
export const MODEL_JSON = 'model.json';
/** The name of the weights file inside a saved model's folder. */
export const WEIGHTS_BIN = 'weights.bin';

/** Thrown when a saved model's files are missing, truncated or corrupt; names the file. */
export class ModelFileError extends Error {
  constructor(
    /** The file at fault. */
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ModelFileError';
  }
}

/** What `model.json` records about `weights.bin` beyond tfjs's own fields. */
interface WeightsCheck {
  /** The weights file, relative to `model.json`. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Its SHA-256, hex. */
  sha256: string;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `file:///a/b` -> `/a/b`. @throws Error when `url` does not start with `file://`. */
export function filePathOf(url: string): string {
  if (typeof url !== 'string' || !url.startsWith(FILE_SCHEME)) {
    throw new Error(`url must start with ${FILE_SCHEME}, got ${JSON.stringify(url)}`);
  }
  const p = url.slice(FILE_SCHEME.length);
  if (p.length === 0) throw new Error(`url must name a path after ${FILE_SCHEME}, got ${JSON.stringify(url)}`);
  return path.resolve(p);
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buf = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  return new Uint8Array(buf);
}

/** Options of a `FileHandler`. */
export interface FileHandlerOptions {
  /**
   * How float32 weights are stored when saving (default 'float32'). 'float16' halves
   * `weights.bin` with tfjs's own float16 quantisation entry in the manifest, which every tfjs
   * loader decodes back to float32 (each weight rounded to the nearest float16).
   */
  weights?: 'float32' | 'float16';
}

/** float32 entries of a weights buffer re-encoded as float16, with their manifest entries. */
function toFloat16Weights(specs: tf.io.WeightsManifestEntry[], data: Uint8Array): { specs: tf.io.WeightsManifestEntry[]; data: Uint8Array } {
  const parts: Uint8Array[] = [];
  const out: tf.io.WeightsManifestEntry[] = [];
  let off = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = specBytes(spec);
    const chunk = data.slice(off, off + bytes);
    off += bytes;
    if (spec.dtype === 'float32' && !spec.quantization) {
      const h = toFloat16(new Float32Array(chunk.buffer, chunk.byteOffset, n));
      parts.push(new Uint8Array(h.buffer));
      out.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      parts.push(chunk);
      out.push(spec);
    }
  }
  const all = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return { specs: out, data: all };
}

/**
 * A `tf.io` handler that saves to, and loads from, the folder `dir` (tfjs-node's layout). Loading
 * also accepts the path of `model.json` itself. Pass one to `model.save` for options:
 * `await model.save(new FileHandler('/tmp/m', { weights: 'float16' }))`.
 */
export class FileHandler implements tf.io.IOHandler {
  /** The folder holding `model.json` and `weights.bin`. */
  readonly dir: string;
  private readonly options: FileHandlerOptions;

  /** @throws Error naming the option when `weights` is not 'float32' or 'float16'. */
  constructor(target: string, options: FileHandlerOptions = {}) {
    const p = target.startsWith(FILE_SCHEME) ? filePathOf(target) : path.resolve(target);
    this.dir = path.basename(p) === MODEL_JSON ? path.dirname(p) : p;
    const w = options.weights ?? 'float32';
    if (w !== 'float32' && w !== 'float16') throw new Error(`weights must be 'float32' or 'float16', got ${JSON.stringify(w)}`);
    this.options = { weights: w };
  }

  /**
   * Writes `weights.bin` then `model.json`, each atomically. The writes are synchronous; the
   * promise is tfjs' `IOHandler` contract (it rejects with what `write` throws).
   */
  save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    return new Promise((resolve) => resolve(this.write(artifacts)));
  }

  private write(artifacts: tf.io.ModelArtifacts): tf.io.SaveResult {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error('FileHandler.save: binary model topologies (graph models as protobuf) are not supported');
    }
    fs.mkdirSync(this.dir, { recursive: true });
    let weights = weightBytes(artifacts.weightData);
    let specs = artifacts.weightSpecs ?? [];
    if (this.options.weights === 'float16') ({ specs, data: weights } = toFloat16Weights(specs, weights));
    const check: WeightsCheck = { path: WEIGHTS_BIN, bytes: weights.length, sha256: sha256(weights) };
    const modelJson: tf.io.ModelJSON & { frugalAiWeights: WeightsCheck } = {
      modelTopology: artifacts.modelTopology as object,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: specs }],
      frugalAiWeights: check,
    };
    if (artifacts.trainingConfig !== undefined) modelJson.trainingConfig = artifacts.trainingConfig;
    if (artifacts.signature !== undefined) modelJson.signature = artifacts.signature;
    if (artifacts.userDefinedMetadata !== undefined) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
    if (artifacts.modelInitializer !== undefined) modelJson.modelInitializer = artifacts.modelInitializer;
    const jsonBytes = new TextEncoder().encode(`${JSON.stringify(modelJson)}\n`);
    writeFileAtomic(path.join(this.dir, WEIGHTS_BIN), weights);
    writeFileAtomic(path.join(this.dir, MODEL_JSON), jsonBytes);
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        modelTopologyBytes: jsonBytes.length,
        weightSpecsBytes: JSON.stringify(specs).length,
        weightDataBytes: weights.length,
      },
    };
  }

  /**
   * Reads `model.json` and its weights, checking sizes and hashes.
   * @throws ModelFileError naming the file when one is missing, is not valid JSON, lacks a field,
   * or when a weights file's size or SHA-256 differs from what `model.json` records.
   */
  async load(): Promise<tf.io.ModelArtifacts> {
    const jsonPath = path.join(this.dir, MODEL_JSON);
    let text: string;
    try {
      text = fs.readFileSync(jsonPath, 'utf8');
    } catch (err) {
      throw new ModelFileError(jsonPath, `cannot read (${(err as Error).message})`);
    }
    let modelJson: tf.io.ModelJSON & { frugalAiWeights?: WeightsCheck };
    try {
      modelJson = JSON.parse(text) as typeof modelJson;
    } catch (err) {
      throw new ModelFileError(jsonPath, `is not valid JSON, truncated or corrupt? (${(err as Error).message})`);
    }
    if (modelJson === null || typeof modelJson !== 'object' || modelJson.modelTopology == null) {
      throw new ModelFileError(jsonPath, 'has no modelTopology field: not a tfjs model.json');
    }
    if (!Array.isArray(modelJson.weightsManifest)) {
      throw new ModelFileError(jsonPath, 'has no weightsManifest array: not a tfjs model.json');
    }
    const check = modelJson.frugalAiWeights;
    return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const parts: Uint8Array[] = [];
      for (const group of manifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = path.join(this.dir, p);
          let bytes: Uint8Array;
          try {
            bytes = await fs.promises.readFile(file);
          } catch (err) {
            throw new ModelFileError(file, `cannot read weights named in ${jsonPath} (${(err as Error).message})`);
          }
          if (check && path.normalize(p) === path.normalize(check.path)) {
            if (bytes.length !== check.bytes) {
              throw new ModelFileError(file, `has ${bytes.length} bytes, ${MODEL_JSON} records ${check.bytes}: truncated or corrupt`);
            }
            if (sha256(bytes) !== check.sha256) {
              throw new ModelFileError(file, `SHA-256 differs from the one ${MODEL_JSON} records: corrupt`);
            }
          }
          parts.push(bytes);
        }
      }
      const total = parts.reduce((s, b) => s + b.length, 0);
      const expected = specs.reduce((s, w) => s + specBytes(w), 0);
      if (total !== expected) {
        const names = manifest.flatMap((g) => g.paths.map((p) => path.join(this.dir, p))).join(', ');
        throw new ModelFileError(names, `hold ${total} bytes of weights, the manifest in ${jsonPath} needs ${expected}: truncated or corrupt`);
      }
      const all = new Uint8Array(total);
      let off = 0;
      for (const b of parts) {
        all.set(b, off);
        off += b.length;
      }
      return [specs, all.buffer];
    });
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, uint16: 2 };

/** Bytes a manifest entry occupies in the weights file (quantised entries included). */
function specBytes(w: tf.io.WeightsManifestEntry): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (w.quantization) return n * (DTYPE_BYTES[w.quantization.dtype] ?? 4);
  if (w.dtype === 'string') throw new Error(`weight ${w.name}: string weights are not supported`);
  return n * (DTYPE_BYTES[w.dtype] ?? 4);
}

/** A save/load handler for `file://` URLs, or null for other URLs (the router's contract). */
export function fileRouter(url: string | string[]): tf.io.IOHandler | null {
  if (Array.isArray(url) || typeof url !== 'string' || !url.startsWith(FILE_SCHEME)) return null;
  return new FileHandler(url);
}

// Set while a router asks tf.io which other handlers answer a URL, so that it does not count itself.
let probing = false;

/**
 * A router that answers `file://` only when no other registered router does: tfjs-node (loaded
 * later by the backend selection, on machines that have it) registers its own, and tfjs refuses a
 * URL that two handlers answer.
 */
function deferringRouter(kind: 'save' | 'load'): (url: string | string[]) => tf.io.IOHandler {
  const route = (url: string | string[]): tf.io.IOHandler | null => {
    if (probing || fileRouter(url) === null) return null;
    probing = true;
    try {
      const others = kind === 'load' ? tf.io.getLoadHandlers(url) : tf.io.getSaveHandlers(url);
      if (others.length > 0) return null;
    } finally {
      probing = false;
    }
    return fileRouter(url);
  };
  // tfjs types a router as always returning a handler, but its registry skips null answers.
  return route as (url: string | string[]) => tf.io.IOHandler;
}

let registered = false;

/**
 * Registers the `file://` save and load routers with `tf.io` (once; later calls do nothing), so
 * that `model.save('file://dir')` and `tf.loadLayersModel('file://dir/model.json')` work. Where
 * another handler answers `file://` (tfjs-node's), that one is used.
 */
export function registerFileHandler(): void {
  if (registered) return;
  tf.io.registerSaveRouter(deferringRouter('save'));
  tf.io.registerLoadRouter(deferringRouter('load'));
  registered = true;
}

registerFileHandler();
