/**
 * A stub policy for RL plumbing tests: the same logits at every position, whatever the context
 * (one trainable bias per token id).
 */
import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../../lib/rl/policy';

/** A policy whose next-token logits are `bias` at every position. */
export class ConstantPolicy implements Policy {
  readonly vocabSize: number;
  readonly bias: tf.Variable;

  constructor(logits: readonly number[], name = 'stub') {
    this.vocabSize = logits.length;
    this.bias = tf.variable(tf.tensor1d(logits as number[]), true, `${name}_bias_${Math.random().toString(36).slice(2)}`);
  }

  get trainableVariables(): tf.Variable[] {
    return [this.bias];
  }

  logits(tokens: tf.Tensor2D): tf.Tensor3D {
    const [n, t] = tokens.shape;
    return tf.tidy(() => tf.add<tf.Tensor3D>(tf.zeros([n, t, this.vocabSize]), this.bias));
  }

  /** The current bias, as numbers. */
  values(): number[] {
    return Array.from(this.bias.dataSync());
  }

  dispose(): void {
    this.bias.dispose();
  }
}
