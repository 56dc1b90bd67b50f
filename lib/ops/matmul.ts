/**
 * A 2-D matrix product whose gradient avoids tfjs's transposed matMul.
 *
 * tfjs's own gradient of `a @ b` computes `dy @ bᵀ` and `aᵀ @ dy` with matMul's `transposeB` and
 * `transposeA` flags. On the WASM backend (tfjs 4.22) those flags, and batched (rank-3) products
 * (which lib/ops/wasm-matmul.ts now runs one batch at a time on XNNPACK), leave its fast kernel: measured here, `[1024, 64]ᵀ @ [1024, 128]` took 82 ms with
 * `transposeA` (0.2 GFLOP/s) against 0.9 ms as `tf.transpose` then a plain matMul (18 GFLOP/s),
 * and `[8, 512, 64] @ [8, 64, 128]` 139 ms (0.12 GFLOP/s). This product writes its gradient
 * with explicit transposes (a copy each, linear in the size) and plain 2-D matMuls, so a backward
 * pass costs about what the forward does.
 *
 * Only on wasm: on the other backends it is plain `tf.matMul`, whose transposed products are fast
 * there. On native TensorFlow the explicit transposes made the MoE bench's all-experts layer about
 * 1.25× slower (bench/README.md, issue 9), a handicap for the reference the sparse layer is
 * compared with.
 */
import * as tf from '@tensorflow/tfjs';
import { assert } from '../assert';

/**
 * `a @ b` for `a: [m, n]`, `b: [n, p]`. On wasm, {@link matMul2dExplicitGrad}; elsewhere `tf.matMul`.
 * @throws Error when the operands are not 2-D or their inner sizes differ.
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  checkOperands(a, b);
  return tf.getBackend() === 'wasm' ? matMul2dExplicitGrad(a, b) : tf.matMul(a, b);
}

/**
 * `a @ b` for `a: [m, n]`, `b: [n, p]`, with the gradient `[dy @ bᵀ, aᵀ @ dy]` computed by plain
 * matMuls of explicitly transposed operands, on any backend.
 * @throws Error when the operands are not 2-D or their inner sizes differ.
 */
export function matMul2dExplicitGrad(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  checkOperands(a, b);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor2D;
    const w = args[1] as tf.Tensor2D;
    (args[2] as tf.GradSaveFunc)([x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
      },
    };
  });
  return f(a, b) as tf.Tensor2D;
}

function checkOperands(a: tf.Tensor, b: tf.Tensor): void {
  assert(a.rank === 2 && b.rank === 2 && a.shape[1] === b.shape[0],
    () => `matMul2d needs [m, n] @ [n, p], got [${a.shape.join(', ')}] @ [${b.shape.join(', ')}]`);
}

