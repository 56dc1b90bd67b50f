/**
 * Raw kernel speed: a square matrix product (bound by arithmetic), and a chain of tiny adds
 * (bound by the fixed cost of one kernel).
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchCase } from '../case.js';
import { hashFill } from '../fill.js';

function matmulCase(n: number): BenchCase {
  return {
    id: `matmul-${n}`,
    title: `matmul ${n}²`,
    family: 'matmul',
    what: `\`A @ B\` with \`A\`, \`B\` of shape [${n}, ${n}], float32; GFLOP/s = 2·${n}³ / time`,
    bound: 'FLOPs',
    boundWhy: `${((2 * n ** 3) / 1e6).toFixed(0)} MFLOP in one kernel`,
    params: { n },
    flops: 2 * n ** 3,
    torch: 'matmul',
    setup: () => {
      const a = hashFill(n, n, 1, 1); // [n, n]
      const b = hashFill(n, n, 2, 1); // [n, n]
      return { step: () => tf.matMul(a, b), dispose: () => tf.dispose([a, b]) }; // -> [n, n]
    },
  };
}

/** `ops` element-wise adds in a chain on a [rows, cols] tensor. */
const OP_CHAIN = { ops: 100, rows: 64, cols: 8 } as const;

/** Matrix products: 256² and 1024². */
export const matmulCases: BenchCase[] = [matmulCase(256), matmulCase(1024)];

/** The fixed cost of one op. */
export const opOverheadCases: BenchCase[] = [
  {
    id: 'op-overhead',
    title: '100 tiny adds',
    family: 'matmul',
    what: '100 chained element-wise adds on [64, 8]: the fixed cost of one op',
    bound: 'kernels',
    boundWhy: '512 additions per kernel take nanoseconds',
    params: OP_CHAIN,
    torch: 'op-chain',
    setup: () => {
      const a = hashFill(OP_CHAIN.rows, OP_CHAIN.cols, 5, 1); // [64, 8]
      const b = hashFill(OP_CHAIN.rows, OP_CHAIN.cols, 6, 1); // [64, 8]
      const step = (): tf.Tensor =>
        tf.tidy(() => {
          let t: tf.Tensor = a;
          for (let i = 0; i < OP_CHAIN.ops; i++) t = tf.add(t, b);
          return t;
        }); // -> [rows, cols]
      return { step, dispose: () => tf.dispose([a, b]) };
    },
  },
];
