/**
 * Rotary position embedding (RoPE, Su et al. 2021, "RoFormer"): the feature pairs of a query or
 * key are rotated by an angle proportional to the token's position, so that the dot product of a
 * query at position m and a key at position n depends on m - n only.
 *
 * Convention: the "rotate-half" layout of GPT-NeoX and Llama. Feature i (i < d/2) is paired with
 * feature i + d/2, and the pair is rotated by θ_i(p) = p · base^(-2i/d):
 *
 *   out_i       = x_i cos θ_i - x_{i+d/2} sin θ_i
 *   out_{i+d/2} = x_i sin θ_i + x_{i+d/2} cos θ_i
 *
 * (RoFormer pairs neighbours (2i, 2i+1); the two layouts are the same rotation up to a fixed
 * permutation of the features, which learned projections absorb.)
 */
import * as tf from '@tensorflow/tfjs';
import { assertIntegerAtLeast, assertPositiveInteger } from '../assert';

/**
 * Checks that a RoPE dimension is even and positive.
 * @throws Error `${name} must be even for RoPE (features are rotated in pairs), got 7`.
 */
export function assertRopeDim(dim: number, name: string): void {
  assertPositiveInteger(dim, name);
  if (dim % 2 !== 0) throw new Error(`${name} must be even for RoPE (features are rotated in pairs), got ${dim}`);
}

/**
 * The rotation angles θ_i(p) for positions start..start+length-1, as a flat row-major
 * `[length, dim/2]` array (computed in float64, then stored as float32).
 * @throws Error when `dim` is odd or an argument is out of range.
 */
export function ropeAngles(start: number, length: number, dim: number, base = 10000): Float32Array {
  assertRopeDim(dim, 'dim');
  assertIntegerAtLeast(start, 'start', 0);
  assertPositiveInteger(length, 'length');
  if (!(base > 1)) throw new Error(`base must be > 1, got ${base}`);
  const half = dim / 2;
  const out = new Float32Array(length * half);
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < half; i++) out[t * half + i] = (start + t) * Math.pow(base, (-2 * i) / dim);
  }
  return out;
}

/**
 * The rotation angles θ_i(p) for arbitrary positions, as a flat row-major `[positions.length, dim/2]`
 * array (the same float64 formula as {@link ropeAngles}, so the same position gives the same angle).
 * Used for left-padded batches, where each row has its own positions.
 * @throws Error when `dim` is odd or a position is not a non-negative integer.
 */
export function ropeAnglesAt(positions: readonly number[], dim: number, base = 10000): Float32Array {
  assertRopeDim(dim, 'dim');
  if (!(base > 1)) throw new Error(`base must be > 1, got ${base}`);
  const half = dim / 2;
  const out = new Float32Array(positions.length * half);
  positions.forEach((p, k) => {
    assertIntegerAtLeast(p, `positions[${k}]`, 0);
    for (let i = 0; i < half; i++) out[k * half + i] = p * Math.pow(base, (-2 * i) / dim);
  });
  return out;
}

/**
 * `x` with the two halves of its last axis swapped (`[x2, x1]` for `x = [x1, x2]`), as one product
 * with a fixed 0/1 permutation matrix `P` (`[d, d]`, `P[j + d/2 mod d][j] = 1`). Each output is one
 * input times 1 plus zeros: the same floats as a split and a concatenation, for finite inputs (an
 * infinite feature would make its row NaN). Its gradient is the product with `Pᵀ`, the same swap.
 */
function swapHalves(x: tf.Tensor): tf.Tensor {
  const d = x.shape[x.rank - 1] as number;
  const half = d / 2;
  const p = new Float32Array(d * d);
  for (let j = 0; j < d; j++) p[((j + half) % d) * d + j] = 1; // row i feeds column j: out_j = x_{(j + d/2) mod d}
  return tf.reshape(tf.matMul(tf.reshape(x, [-1, d]), tf.tensor2d(p, [d, d])), x.shape); // [..., d] -> [n, d] @ [d, d] -> [..., d]
}

/**
 * Rotates `x` ([..., d], d even) by the tables `cos` and `sin`, which broadcast against
 * `[..., d/2]` (rotate-half layout). Runs in `tf.tidy`.
 *
 * Computed as `x · [cos, cos] + swap(x) · [−sin, sin]`, where `swap` exchanges the two halves (one
 * product with a permutation matrix, see {@link swapHalves}): the same floats as
 * `[x1 cos − x2 sin, x1 sin + x2 cos]` (checked bit for bit in tests/attention.test.ts). Forward,
 * 6 kernels (two of them reshapes) instead of a split, four products, two sums and a
 * concatenation (8); forward and backward of a sum over it, 30 kernels instead of 43 (`tf.profile`
 * on cpu, `[2, 3, 5, 8]`). Measured 2026-12-02, the rotation alone (tables built outside), forward
 * + backward of `[16, 8, 64, 8]` (lesson 11's queries): 3.7 ms → 1.1 ms on wasm, 2.0 → 0.83 ms on
 * native TensorFlow; of `[16, 8, 128, 32]`: 15.3 → 7.7 ms on wasm, 6.1 → 4.5 ms on native
 * TensorFlow (median of 11 interleaved rounds each).
 */
export function rotateHalf<T extends tf.Tensor>(x: T, cos: tf.Tensor, sin: tf.Tensor): T {
  return tf.tidy(() => rotate(x, tf.concat([cos, cos], -1), tf.concat([tf.neg(sin), sin], -1))); // [..., d/2] -> [..., d]
}

/**
 * `x · c + swap(x) · s` for full-width tables `c = [cos, cos]` and `s = [−sin, sin]` that
 * broadcast against `x` (the one formula {@link rotateHalf} and {@link applyRope} share). The
 * caller runs it in `tf.tidy`.
 */
function rotate<T extends tf.Tensor>(x: T, c: tf.Tensor, s: tf.Tensor): T {
  return tf.add<T>(tf.mul(x, c), tf.mul(swapHalves(x), s));
}

/**
 * cos θ and sin θ for `positions`, as tensors of `shape` (whose size is positions.length · dim/2),
 * ready to broadcast in {@link rotateHalf}: e.g. `[b, 1, t, dim/2]` for `[b, h, t, dim]` inputs.
 */
export function ropeTables(positions: readonly number[], dim: number, base: number, shape: number[]): { cos: tf.Tensor; sin: tf.Tensor } {
  const ang = ropeAnglesAt(positions, dim, base);
  return { cos: tf.tensor(ang.map(Math.cos), shape), sin: tf.tensor(ang.map(Math.sin), shape) };
}

/**
 * Rotates `x` ([..., t, d], d even) for positions start..start+t-1 (rotate-half layout, see the
 * file comment). Runs in `tf.tidy`; differentiable in `x`.
 * @throws Error when the last dimension is odd.
 */
export function applyRope<T extends tf.Tensor>(x: T, start = 0, base = 10000): T {
  const d = x.shape[x.rank - 1] as number;
  const t = x.shape[x.rank - 2] as number;
  assertRopeDim(d, 'RoPE dimension (last axis of x)');
  return tf.tidy(() => {
    const half = d / 2;
    const ang = ropeAngles(start, t, d, base);
    // [cos, cos] and [−sin, sin], [t, d], broadcast over the leading axes, written here rather
    // than concatenated (three kernels fewer than rotateHalf's tables)
    const c = new Float32Array(t * d);
    const s = new Float32Array(t * d);
    for (let p = 0; p < t; p++) {
      for (let i = 0; i < half; i++) {
        const a = ang[p * half + i] as number;
        c[p * d + i] = c[p * d + half + i] = Math.cos(a);
        const sn = Math.sin(a);
        s[p * d + i] = -sn;
        s[p * d + half + i] = sn;
      }
    }
    return rotate(x, tf.tensor2d(c, [t, d]), tf.tensor2d(s, [t, d]));
  });
}
