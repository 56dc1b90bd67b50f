/**
 * The seven steps of knowledge distillation (seed 000 of the course): teacher and data, soft
 * labels cached in a file, a smaller student, the combined loss, training, evaluation, deployment.
 */
import { assert } from '../assert';
import { COLORS, arrow, box, diagram, label, type Diagram } from './svg';

/** One step of the workflow: a title and two short lines of detail. */
export interface WorkflowStep {
  title: string;
  detail: readonly [string, string];
}

/** The seven steps, in order (step n is `DISTILLATION_STEPS[n - 1]`). */
export const DISTILLATION_STEPS: readonly WorkflowStep[] = [
  { title: '1 · Teacher and data', detail: ['choose both; preprocess:', 'normalise, augment'] },
  { title: '2 · Soft labels', detail: ['run the teacher once;', 'cache its logits in a file'] },
  { title: '3 · Student', detail: ['a smaller net; or prune,', 'or low-rank factorise'] },
  { title: '4 · Loss', detail: ['α·CE(y, q) + (1 − α)', '· T²·KL(p_T ‖ q_T)'] },
  { title: '5 · Train', detail: ['Adam, LAMB, RMSprop;', 'schedules, augmentation'] },
  { title: '6 · Evaluate', detail: ['accuracy lost vs compute', 'saved; quantise'] },
  { title: '7 · Deploy', detail: ['ONNX, TFLite, XLA;', 'measure latency, cost'] },
];

export interface WorkflowOptions {
  /** The step a lesson is at (1 to 7), drawn in orange; default none. */
  highlight?: number;
}

/**
 * The distillation workflow as a diagram: steps 1–4 on the first row, 5–7 on the second.
 * @throws Error when `highlight` is not an integer in [1, 7].
 */
export function distillationWorkflowDiagram(options: WorkflowOptions = {}): Diagram {
  const { highlight } = options;
  assert(highlight === undefined || (Number.isInteger(highlight) && highlight >= 1 && highlight <= 7), () => `highlight must be an integer in [1, 7], got ${highlight}`);
  const w = 160;
  const h = 72;
  const gap = 28;
  const x0 = 16;
  const rows = [44, 160];
  const pos = (i: number): [number, number] => (i < 4 ? [x0 + i * (w + gap), rows[0] as number] : [x0 + (i - 4) * (w + gap) + (w + gap) / 2, rows[1] as number]);
  const parts: string[] = [];
  DISTILLATION_STEPS.forEach((s, i) => {
    const [x, y] = pos(i);
    const on = highlight === i + 1;
    parts.push(box(x, y, w, h, [s.title, ...s.detail], on ? { stroke: COLORS.orange, strokeWidth: 3, fill: '#fff4e8' } : { dashed: i === 1 }));
    if (i === 0 || i === 4) return;
    const [px, py] = pos(i - 1);
    parts.push(arrow(px + w, py + h / 2, x, y + h / 2));
  });
  // 4 -> 5: down from the end of the first row to the start of the second.
  const [x3, y3] = pos(3);
  const [x4, y4] = pos(4);
  parts.push(arrow(x3 + w / 2, y3 + h, x4 + w / 2, y4, { via: [[x3 + w / 2, y3 + h + 22], [x4 + w / 2, y3 + h + 22]] }));
  parts.push(label(x0, (rows[1] as number) + h + 26, 'Iterate from step 6 back to 2: distil again at another temperature, or distil the student into a smaller one.', { anchor: 'start', size: 11, color: COLORS.grey }));
  const width = x0 * 2 + 4 * w + 3 * gap;
  const text = [
    'The distillation workflow:',
    ...DISTILLATION_STEPS.map((s, i) => `${highlight === i + 1 ? '> ' : '  '}${s.title}: ${s.detail.join(' ')}`),
  ].join('\n');
  return diagram('Knowledge distillation, step by step', width, 272, parts, text);
}
