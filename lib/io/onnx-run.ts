/**
 * Running an exported ONNX model in onnxruntime-node (CPU), next to tfjs.
 *
 * onnxruntime-node 1.30 ships its CPU binaries inside the npm package; the project installs it
 * with `ONNXRUNTIME_NODE_INSTALL=skip` (see `.npmrc`), which only skips its CUDA add-on download.
 */
import * as tf from '@tensorflow/tfjs';
import type { InferenceSession } from 'onnxruntime-node';
import { assertPositiveInteger } from '../assert';
import { nodeRequire } from '../node-require';

type Ort = typeof import('onnxruntime-node');

function ort(): Ort {
  return nodeRequire('onnxruntime-node') as Ort;
}

/** Options of `OnnxModel.load`. */
export interface OnnxRunOptions {
  /** Threads inside one operator (default 1: the same single core tfjs-wasm uses in Node). */
  threads?: number;
  /**
   * onnxruntime's graph optimisation level (default 'all', its own default). At 'extended' and
   * above, onnxruntime 1.30 rewrites DequantizeLinear + a plain Gemm on int8 weights (the output
   * layer's; a Gemm fused with Relu is left alone) into its `MatMulNBits` kernel, which computes
   * in lower precision: on the digits student its logits differ from the dequantised float32
   * model by up to 7e-2 (tests/io-onnx.test.ts). 'basic' keeps the graph's exact semantics.
   */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** An ONNX classifier with one float input `input` [batch, features] and output `logits`. */
export class OnnxModel {
  private constructor(
    private readonly session: InferenceSession,
    /** Features per example, read from the graph's input. */
    readonly features: number,
  ) {}

  /**
   * Loads a model from a file path or from the bytes `exportOnnx` returned.
   * @throws Error naming the source when onnxruntime cannot load it.
   */
  static async load(source: string | Uint8Array, options: OnnxRunOptions = {}): Promise<OnnxModel> {
    const threads = options.threads ?? 1;
    assertPositiveInteger(threads, 'threads');
    const o = ort();
    const opts: InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
    };
    let session: InferenceSession;
    try {
      session = typeof source === 'string' ? await o.InferenceSession.create(source, opts) : await o.InferenceSession.create(source, opts);
    } catch (err) {
      const what = typeof source === 'string' ? source : `${source.length} bytes of ONNX`;
      throw new Error(`onnxruntime could not load ${what}: ${(err as Error).message}`, { cause: err });
    }
    const meta = session.inputMetadata[0] as { isTensor?: boolean; shape?: readonly (number | string)[] } | undefined;
    const last = meta?.shape?.[meta.shape.length - 1];
    return new OnnxModel(session, typeof last === 'number' ? last : -1);
  }

  /**
   * The logits for the rows of `x`: [batch, features] in, Float32Array of batch × classes out.
   * @throws Error when x's width differs from the model's input.
   */
  async logits(x: Float32Array, batch: number): Promise<Float32Array> {
    assertPositiveInteger(batch, 'batch');
    const features = x.length / batch;
    if (this.features > 0 && features !== this.features) {
      throw new Error(`x must have batch × ${this.features} = ${batch * this.features} values, got ${x.length}`);
    }
    const o = ort();
    const out = await this.session.run({ input: new o.Tensor('float32', x, [batch, features]) }, ['logits']);
    const t = out.logits;
    if (!t) throw new Error('the ONNX model has no output named logits');
    return t.data as Float32Array;
  }

  /** Logits of a tfjs tensor [batch, features], as a tfjs tensor [batch, classes]. */
  async predict(x: tf.Tensor2D): Promise<tf.Tensor2D> {
    const [b] = x.shape;
    const data = await this.logits((await x.data()) as Float32Array, b);
    return tf.tensor2d(data, [b, data.length / b]);
  }

  /** Frees the session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
