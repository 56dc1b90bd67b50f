/**
 * An MLP's forward pass through the fused Dense kernels (lib/ops/fused-dense.ts): one kernel per
 * layer forward and one per layer backward, in place of tfjs-layers' 3 to 4 forward and 5 to 8
 * backward. The lib's `train` uses it for models made only of Dense layers with a ReLU or linear
 * activation and a bias (such as {@link mlp}'s students without dropout), where the backend has the
 * kernels (wasm, cpu). Same values as `model.apply(x, { training: true })` under a tape, bit for bit
 * (tests/fused-dense-{cpu,wasm}.test.ts, through tests/helpers/fused-dense-suite.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { fusedDense, hasFusedDense, type FusedDenseActivation } from '../ops/fused-dense';

/** One Dense layer's variables and activation. */
interface DenseStep {
  kernel: tf.Variable;
  bias: tf.Variable;
  activation: FusedDenseActivation;
}

/**
 * The fused forward pass of `model`, or why there is none.
 * @returns a function mapping `x` float32 `[batch, inputs]` to the logits `[batch, outputs]`, or
 *   a sentence saying why the model or the backend does not qualify (`layer 2 (dropout_Dropout1)
 *   is a SeededDropout, not a Dense layer`).
 */
export function fusedMlpForward(model: tf.LayersModel, backendName: string = tf.getBackend()): ((x: tf.Tensor2D) => tf.Tensor2D) | string {
  if (!hasFusedDense(backendName)) return `backend ${backendName} has no fused Dense kernels`;
  const steps: DenseStep[] = [];
  for (const [k, layer] of model.layers.entries()) {
    const what = `layer ${k} (${layer.name})`;
    if (layer.getClassName() !== 'Dense') return `${what} is a ${layer.getClassName()}, not a Dense layer`;
    const config = layer.getConfig();
    const activation = config['activation'];
    if (activation !== 'relu' && activation !== 'linear') return `${what} has activation ${JSON.stringify(activation)}, not relu or linear`;
    if (config['useBias'] !== true) return `${what} has no bias`;
    const [kernel, bias] = layer.weights.map((w) => w.read() as tf.Variable);
    if (kernel === undefined || bias === undefined || kernel.rank !== 2 || bias.rank !== 1) return `${what} does not hold a [inputs, units] kernel and a [units] bias`;
    steps.push({ kernel, bias, activation });
  }
  if (steps.length === 0) return 'the model has no layers';
  return (x: tf.Tensor2D): tf.Tensor2D => {
    let h = x;
    steps.forEach((s, k) => {
      // [b, in] -> [b, units]; the data's input needs no gradient
      h = fusedDense(h, s.kernel as tf.Tensor2D, s.bias as tf.Tensor1D, { activation: s.activation, inputGrad: k > 0 });
    });
    return h;
  };
}
