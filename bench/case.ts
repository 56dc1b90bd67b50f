/**
 * What a benchmark case is. A case is a name, a `setup` that builds its inputs once and returns
 * a `step` (one iteration) and a `dispose`, and, optionally, the name of its PyTorch twin in
 * bench/torch_bench.py (or a sibling `torch_*.py` module). bench/README.md, "Adding a case",
 * says how to add one.
 */
import type * as tf from '@tensorflow/tfjs';

/** What one iteration returns: a tensor (waited for, checked, then disposed) or a number. */
export type StepResult = tf.Tensor | number;

/** A case, set up: one iteration, and the disposal of what `setup` made. */
export interface CaseInstance {
  /**
   * Runs one iteration. A returned tensor is downloaded (`await data()`, so an asynchronous
   * backend cannot stop the clock early) and disposed by the caller; its value (a scalar's
   * value, else its norm) is compared with PyTorch's. A number is the check value itself.
   */
  step(): StepResult | Promise<StepResult>;
  /** Frees every tensor and model `setup` made; the bench fails the case if any is left. */
  dispose(): void | Promise<void>;
}

/** What limits a case's speed on a CPU: the fixed cost per kernel, memory traffic, or arithmetic. */
export type Bound = 'kernels' | 'memory' | 'FLOPs';

/** A value sent to the PyTorch twin: numbers, or a list of integers (an order of rows, say). */
export type ParamValue = number | readonly number[];

/** One benchmark case. */
export interface BenchCase {
  /** Stable key: used by `--cases`, in the JSON and in the README. */
  id: string;
  /** The row label of the printed tables (short). */
  title: string;
  /** The family (its module under bench/cases, or a standalone module such as bench/grpo.ts). */
  family: string;
  /** One sentence: what one iteration does (the README's case table). */
  what: string;
  /** What bounds it on a CPU, and why, in a few words (the README's "bound" column). */
  bound: Bound;
  /** Why that bound, in a few words. */
  boundWhy: string;
  /** Shapes and settings: sent to the PyTorch twin, and written to the JSON. */
  params: Readonly<Record<string, ParamValue>>;
  /** Floating-point operations per iteration, for a GFLOP/s row. */
  flops?: number;
  /** Builds the inputs once; the bench checks that `dispose` leaves no tensor behind. */
  setup(): CaseInstance | Promise<CaseInstance>;
  /** The key of its PyTorch twin in CASES of bench/torch_bench.py (or of a `bench/torch_*.py`). */
  torch?: string;
  /**
   * false when the two sides cannot agree on the check value (sampling from different random
   * generators, say): the times and ratios are still reported, the values are not compared.
   */
  compare?: boolean;
  /** An onnxruntime-node twin (CPU, one thread): resolves to a runner of one iteration. */
  ort?: () => Promise<OrtInstance>;
}

/** A case, set up in onnxruntime-node: `step` resolves to the output's values. */
export interface OrtInstance {
  step(): Promise<Float32Array>;
  dispose(): Promise<void>;
}
