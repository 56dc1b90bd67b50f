/**
 * A ReLU whose gradient costs two kernels on native TensorFlow.
 *
 * tfjs's gradient of `tf.relu(x)` is `dy · step(x)`. tfjs-node 4.22 implements `Step` as six
 * TensorFlow ops over the whole tensor (`IsNan`, `Greater`, `Ones`, `Fill`, two `Select`s), and
 * its `Ones` is a JavaScript array filled and copied in at every call: measured here on
 * `[8, 1120, 128]` (the MoE bench's hidden layer), about 8 ms for `step` against 1.3 ms for
 * `sign` and a product (bench/README.md, the MoE section). Since `relu(x) ≥ 0`,
 * `sign(relu(x))` is 1 where x > 0 and 0 elsewhere, `step(x)` exactly: this op saves its output
 * and returns `dy · sign(y)`, the same values as tfjs's gradient. For a NaN input tfjs's gradient
 * is NaN; this one is NaN on tensorflow too (its `Sign` of NaN is NaN) but 0 on cpu and wasm (theirs
 * is 0), one reason the MoE layer uses it on tensorflow only.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * `max(x, 0)`, with the gradient `dy · sign(relu(x))` (= tfjs's `dy · step(x)`, in two kernels).
 * Values and gradients equal `tf.relu`'s for every non-NaN input (NaN: see the file header).
 */
export function reluSignGrad<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const y = tf.relu(args[0] as tf.Tensor);
    (args[1] as tf.GradSaveFunc)([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.sign(saved[0] as tf.Tensor)) };
  });
  return f(x) as T;
}
