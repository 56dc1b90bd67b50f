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

/**
 * `a @ bᵀ` over a batch, `a: [b, m, n]`, `b: [b, p, n]` -> `[b, m, p]`: the scores of m queries
 * against p rows stored as rows (a KV cache). On wasm, `(b @ aᵀ)ᵀ`, two transposes around a plain
 * product, since tfjs-wasm's `transposeB` product leaves XNNPACK; elsewhere `tf.matMul` with
 * `transposeB`, which native TensorFlow runs without a copy. Measured 2026-12-02 with a = `[1, 8,
 * 288]` (MLA's absorbed queries) and b = `[1, T, 288]`, medians of 9 interleaved rounds: on wasm
 * the transposed form took 72, 149 and 513 µs at T = 257, 1025 and 4097 against 246, 1403 and
 * 5807 µs with `transposeB`; on tensorflow `transposeB` took 67, 155 and 215 µs against 262, 335
 * and 360 µs. The two forms sum in different orders (they differed by 5e-5 at most there, with
 * scores of size about 20).
 * @throws Error when the operands are not rank 3 or their batch or inner sizes differ.
 */
export function matMulTransposeB(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  assert(a.rank === 3 && b.rank === 3 && a.shape[0] === b.shape[0] && a.shape[2] === b.shape[2],
    () => `matMulTransposeB needs [b, m, n] and [b, p, n], got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, false, true);
  return tf.tidy(() => tf.transpose<tf.Tensor3D>(tf.matMul<tf.Tensor3D>(b, tf.transpose(a, [0, 2, 1])), [0, 2, 1]));
}
