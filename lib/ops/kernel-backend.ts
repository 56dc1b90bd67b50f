/**
 * What the lib's own registered kernels (lib/distill/fused-loss, lib/optim/fused-kernels,
 * lib/ops/fused-dense, lib/ops/gather-batch, lib/ops/native-tf) need of tfjs's kernel calls and of
 * the wasm, cpu and tensorflow backends (tfjs-backend-wasm / -cpu, tfjs-node 4.22), typed once.
 */
import type * as tf from '@tensorflow/tfjs';

/** The argument tfjs passes a registered kernel function. */
export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** A registered kernel function, as the lib writes them. */
export type KernelFunc = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** What a kernel needs of the wasm backend (BackendWasm). */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** What a kernel needs of the cpu backend (MathBackendCPU). */
export interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array | Int32Array): tf.TensorInfo;
}

/**
 * The internals of tfjs-backend-wasm 4.22 (pinned) that lib/ops/wasm-matmul's per-batch products
 * use: the module's exported C functions, the tensor registry of its C side, and the JavaScript
 * map from a tensor's data id to its id and heap offset.
 */
export interface WasmInternalsLike extends WasmBackendLike {
  wasm: {
    cwrap(name: string, returnType: null, argTypes: string[]): (...args: unknown[]) => void;
    tfjs: { registerTensor: (id: number, size: number, memoryOffset: number) => void; disposeData: (id: number) => void };
  };
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
}

/** Either backend, for a kernel function shared by both: wasm has the first two, cpu the others. */
export type WasmOrCpuBackendLike = Partial<WasmBackendLike> & Partial<CpuBackendLike>;

/** `[2, 3]`, for error messages. */
export const shapeText = (info: { shape: readonly number[] }): string => `[${info.shape.join(', ')}]`;

/** What lib/ops/native-tf needs of tfjs-node's backend (NodeJSKernelBackend, tfjs-node 4.22). */
export interface NodeBackendLike {
  binding: { TF_ATTR_BOOL: number; TF_ATTR_TYPE: number; TF_FLOAT: number; TF_INT32: number; TF_BOOL: number };
  executeSingleOutput(name: string, attrs: Array<{ name: string; type: number; value: unknown }>, inputs: tf.TensorInfo[]): tf.TensorInfo;
  write(values: Int32Array, shape: number[], dtype: 'int32'): tf.DataId;
  disposeData(dataId: tf.DataId): boolean;
}
