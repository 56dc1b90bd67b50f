/**
 * Export of the course's MLPs (Sequential models of Dense and Dropout layers) to ONNX, the
 * exchange format that onnxruntime, TensorRT and many compilers read.
 *
 * Each Dense layer becomes `Gemm` (x·W + b) or `MatMul` (no bias), then its activation (`Relu`,
 * `Tanh`, `Elu`, `Softmax`); Dropout is the identity at inference and is left out. The graph
 * outputs `logits` and, optionally, `probabilities` = `Softmax(logits)`. The batch dimension is
 * symbolic (`batch`), so one file serves batch 1 and batch 256.
 *
 * Weight formats:
 * - `float32`: initializers as stored by tfjs;
 * - `float16`: kernels and biases stored as float16 and `Cast` to float32 before use (half the bytes);
 * - `int8`: kernels stored as int8 with one float32 scale per output unit, turned back into
 *   float32 by `DequantizeLinear` (axis 1), the scheme of `lib/compress/quantize.ts`;
 * - `sparse: true` stores a kernel as a `Constant` with a sparse value (values + int64 positions)
 *   when that is smaller, which pays above 2/3 sparsity; onnxruntime densifies it when loading.
 *
 * The protobuf is written by `onnx-proto` (the ONNX 1.10 schema), with IR version 8 and opset 13.
 */
import type * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { onnx } from 'onnx-proto';
import { stringOf } from '../assert';
import { nodeRequire } from '../node-require';
import { isDropoutLayer } from '../models/dropout';
import { writeFileAtomic } from '../distill/teacher-cache';
import { quantizeInt8PerChannel, toFloat16, type WeightFormat, WEIGHT_FORMATS } from '../compress/quantize';

/** The ONNX IR version written (ONNX 1.10 writes 8). */
export const ONNX_IR_VERSION = 8;
/** The default-domain opset: 13 has per-axis DequantizeLinear and Softmax over one axis. */
export const ONNX_OPSET = 13;

/** Options of `exportOnnx`. */
export interface OnnxExportOptions {
  /** How the Dense kernels are stored (default 'float32'); biases stay float32 except in 'float16'. */
  weights?: WeightFormat;
  /** Store kernels with many zeros as sparse initializers when smaller (default false). */
  sparse?: boolean;
  /** Also output `probabilities` = Softmax(logits) (default true). */
  softmax?: boolean;
  /** The graph's name (default: the model's name). */
  name?: string;
}

/** onnx-proto, loaded on the first export (it costs ~70 ms, which lessons without ONNX skip). */
function onnxProto(): typeof onnx {
  return (nodeRequire('onnx-proto') as typeof import('onnx-proto')).onnx;
}

/** ONNX TensorProto data types (onnx.proto3: FLOAT = 1, INT8 = 3, INT64 = 7, FLOAT16 = 10). */
const DT = { FLOAT: 1, INT8: 3, INT64: 7, FLOAT16: 10 } as const;
/** ONNX AttributeProto types (onnx.proto3: FLOAT = 1, INT = 2, SPARSE_TENSOR = 11). */
const AT = { FLOAT: 1, INT: 2, SPARSE_TENSOR: 11 } as const;

function f32Bytes(x: ArrayLike<number>): Uint8Array {
  const a = Float32Array.from(x);
  return new Uint8Array(a.buffer);
}

function tensor(name: string, dims: number[], dataType: number, rawData: Uint8Array): onnx.ITensorProto {
  return { name, dims, dataType, rawData };
}

function valueInfo(name: string, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DT.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []): onnx.INodeProto {
  return { opType, input, output, name: output[0], attribute };
}

function intAttr(name: string, i: number): onnx.IAttributeProto {
  return { name, type: AT.INT, i };
}

function floatAttr(name: string, f: number): onnx.IAttributeProto {
  return { name, type: AT.FLOAT, f };
}

/**
 * The ONNX model of a Sequential MLP, as protobuf bytes.
 * @throws Error naming the layer when the model holds a layer or activation ONNX export does not
 *   handle, or naming the option when a format is unknown.
 */
export function exportOnnx(model: tf.Sequential, options: OnnxExportOptions = {}): Uint8Array {
  const format = options.weights ?? 'float32';
  if (!WEIGHT_FORMATS.includes(format)) throw new Error(`weights must be one of ${WEIGHT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let x = 'input';
  let inputs = -1;
  let width = -1;
  const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
  if (dense.length === 0) throw new Error(`model ${model.name} has no Dense layer to export`);
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (isDropoutLayer(layer)) continue; // the identity at inference
    if (cls !== 'Dense') throw new Error(`exportOnnx handles Dense and Dropout layers, got ${cls} (${layer.name})`);
    const [kernel, bias] = layer.getWeights();
    if (!kernel) throw new Error(`Dense layer ${layer.name} has no kernel`);
    const [fanIn, units] = kernel.shape as [number, number];
    if (inputs < 0) inputs = fanIn;
    width = units;
    const n = layer.name;
    const w = kernel.dataSync() as Float32Array;
    const wName = `${n}.kernel`;
    if (format === 'int8') {
      const q = quantizeInt8PerChannel(w, fanIn, units);
      inits.push(tensor(`${n}.kernel_q`, [fanIn, units], DT.INT8, new Uint8Array(q.q.buffer)));
      inits.push(tensor(`${n}.kernel_scale`, [units], DT.FLOAT, f32Bytes(q.scales)));
      inits.push(tensor(`${n}.kernel_zero`, [units], DT.INT8, new Uint8Array(units)));
      nodes.push(node('DequantizeLinear', [`${n}.kernel_q`, `${n}.kernel_scale`, `${n}.kernel_zero`], [wName], [intAttr('axis', 1)]));
    } else if (format === 'float16') {
      const h = toFloat16(w);
      inits.push(tensor(`${n}.kernel_f16`, [fanIn, units], DT.FLOAT16, new Uint8Array(h.buffer)));
      nodes.push(node('Cast', [`${n}.kernel_f16`], [wName], [intAttr('to', DT.FLOAT)]));
    } else {
      const nz: number[] = [];
      for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz.push(i);
      // Sparse: 4 bytes per value + 8 per int64 position, against 4 per weight dense.
      if (options.sparse && nz.length * 12 < w.length * 4) {
        // A Constant with a sparse value outputs the dense kernel (a sparse_initializer would
        // stay a sparse tensor, which Gemm does not take).
        const sparseValue: onnx.ISparseTensorProto = {
          values: tensor(`${wName}.values`, [nz.length], DT.FLOAT, f32Bytes(nz.map((i) => w[i] as number))),
          indices: tensor(`${wName}.indices`, [nz.length], DT.INT64, new Uint8Array(BigInt64Array.from(nz.map((i) => BigInt(i))).buffer)),
          dims: [fanIn, units],
        };
        nodes.push(node('Constant', [], [wName], [{ name: 'sparse_value', type: AT.SPARSE_TENSOR, sparseTensor: sparseValue }]));
      } else inits.push(tensor(wName, [fanIn, units], DT.FLOAT, f32Bytes(w)));
    }
    const pre = `${n}.linear`;
    if (bias) {
      if (format === 'float16') {
        inits.push(tensor(`${n}.bias_f16`, [units], DT.FLOAT16, new Uint8Array(toFloat16(bias.dataSync()).buffer)));
        nodes.push(node('Cast', [`${n}.bias_f16`], [`${n}.bias`], [intAttr('to', DT.FLOAT)]));
      } else inits.push(tensor(`${n}.bias`, [units], DT.FLOAT, f32Bytes(bias.dataSync())));
      nodes.push(node('Gemm', [x, wName, `${n}.bias`], [pre]));
    } else nodes.push(node('MatMul', [x, wName], [pre]));
    const act = stringOf(layer.getConfig().activation ?? 'linear');
    x = pre;
    if (act === 'relu') nodes.push(node('Relu', [pre], [(x = `${n}.out`)]));
    else if (act === 'tanh') nodes.push(node('Tanh', [pre], [(x = `${n}.out`)]));
    else if (act === 'elu') nodes.push(node('Elu', [pre], [(x = `${n}.out`)], [floatAttr('alpha', 1)]));
    else if (act === 'softmax') nodes.push(node('Softmax', [pre], [(x = `${n}.out`)], [intAttr('axis', -1)]));
    else if (act !== 'linear') throw new Error(`exportOnnx: activation ${act} of layer ${n} is not handled`);
  }
  nodes.push(node('Identity', [x], ['logits']));
  const outputs = [valueInfo('logits', ['batch', width])];
  if (options.softmax ?? true) {
    nodes.push(node('Softmax', ['logits'], ['probabilities'], [intAttr('axis', -1)]));
    outputs.push(valueInfo('probabilities', ['batch', width]));
  }
  const proto = onnxProto();
  const m = proto.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'frugal-ai',
    producerVersion: '0.1.0',
    graph: {
      name: options.name ?? model.name,
      node: nodes,
      initializer: inits,
      input: [valueInfo('input', ['batch', inputs])],
      output: outputs,
    },
  });
  return proto.ModelProto.encode(m).finish();
}

/**
 * Exports `model` to the file `file` (atomically) and returns its size in bytes.
 * @throws what `exportOnnx` throws, or the fs error.
 */
export function saveOnnx(model: tf.Sequential, file: string, options: OnnxExportOptions = {}): number {
  const bytes = exportOnnx(model, options);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(path.resolve(file), bytes);
  return bytes.length;
}
