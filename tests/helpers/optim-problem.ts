/**
 * The optimiser tests' problem: a 4-8-3 MLP's weights (two kernels, two biases) and a
 * distillation loss on fixed data, all from one seed, and the kernels an update runs on it
 * (tests/optim-flat.test.ts, tests/optim-fused-adam.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { distillationLoss } from '../../lib/distill/loss';
import { Rng } from '../../lib/random';

/** A 4-8-3 MLP's weights (two kernels, two biases) and a distillation loss on fixed data. */
export function optimProblem(seed: number): { vars: tf.Variable[]; loss: () => tf.Scalar; dispose: () => void } {
  const rng = new Rng(seed);
  const normal = (shape: number[], std: number): tf.Tensor =>
    tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal(0, std)), shape);
  const x = normal([16, 4], 1) as tf.Tensor2D;
  const teacher = normal([16, 3], 3) as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32');
  const vars = [normal([4, 8], 0.5), normal([8], 0.1), normal([8, 3], 0.5), normal([3], 0.1)].map((t) => {
    const v = tf.variable(t);
    t.dispose();
    return v;
  });
  const [w1, b1, w2, b2] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const kd = distillationLoss({ alpha: 0.5, temperature: 4, trusted: true });
  const loss = (): tf.Scalar => kd(labels, tf.add<tf.Tensor2D>(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2), teacher);
  return { vars, loss, dispose: () => tf.dispose([x, teacher, labels, ...vars]) };
}

/**
 * The kernels one update of `opt` dispatches on the problem (seed 5), after a first update that
 * creates the optimiser's state; `*__op` composites left out. Disposes `opt`.
 */
export async function updateKernels(opt: tf.Optimizer): Promise<string[]> {
  const p = optimProblem(5);
  const { value, grads } = tf.variableGrads(p.loss, p.vars);
  opt.applyGradients(grads); // first step: creates the state (not counted)
  const info = await tf.profile(() => opt.applyGradients(grads));
  tf.dispose([value, ...Object.values(grads)]);
  opt.dispose();
  p.dispose();
  return info.kernels.map((k) => k.name).filter((k) => !k.endsWith('__op'));
}
