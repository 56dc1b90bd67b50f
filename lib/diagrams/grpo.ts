/**
 * The GRPO loop (DeepSeekMath §4.1, used for DeepSeek-R1): for each prompt the policy samples a
 * group of G answers, a rule scores each, each answer's advantage is its reward normalised by
 * the group's mean and standard deviation (no value network), and the policy is updated with a
 * clipped ratio and a KL penalty to a reference model.
 */
import { assert, isArray } from '../assert';
import { groupAdvantages } from '../rl/grpo';
import { COLORS, arrow, box, diagram, label, type Diagram } from './svg';

export interface GrpoDiagramOptions {
  /** Answers sampled per prompt, G (2 to 64). */
  groupSize: number;
  /** Optional rewards of the G answers, shown with their advantages (at most 8 drawn). */
  rewards?: readonly number[];
}

/**
 * The GRPO loop as a diagram.
 * @throws Error when `groupSize` is not an integer in [2, 64], or `rewards` is not `groupSize`
 *   finite numbers.
 */
export function grpoLoopDiagram(options: GrpoDiagramOptions): Diagram {
  const G = options.groupSize;
  assert(Number.isInteger(G) && G >= 2 && G <= 64, () => `groupSize must be an integer in [2, 64], got ${G}`);
  const { rewards } = options;
  if (rewards !== undefined) {
    assert(isArray(rewards) && rewards.length === G, () => `rewards must hold groupSize = ${G} values, got ${Array.isArray(rewards) ? rewards.length : String(rewards)}`);
    rewards.forEach((r, i) => assert(Number.isFinite(r), () => `rewards[${i}] must be a finite number, got ${r}`));
  }
  // The lib's own advantages (lib/rl/grpo.ts: sample std, as lesson 13 trains with).
  const adv = rewards ? groupAdvantages(rewards, G) : null;
  const shown = Math.min(G, 6);
  const row = 30;
  const top = 48;
  const height = top + (shown + (G > shown ? 1 : 0)) * row + 90;
  const mid = top + (shown * row) / 2;
  const parts: string[] = [];
  parts.push(box(16, mid - 26, 96, 52, ['prompt q', 'a question']));
  parts.push(arrow(112, mid, 140, mid));
  parts.push(box(140, mid - 30, 120, 60, ['policy π_θ', `samples G = ${G}`], { fill: '#eef6ee', stroke: COLORS.green, strokeWidth: 2 }));
  for (let i = 0; i < shown; i++) {
    const y = top + i * row;
    parts.push(arrow(260, mid, 300, y + row / 2, { color: COLORS.grey }));
    parts.push(box(300, y + 3, 110, row - 6, [`answer o_${i + 1}`], { fontSize: 12 }));
    parts.push(arrow(410, y + row / 2, 440, y + row / 2, { color: COLORS.grey }));
    const r = rewards?.[i];
    const a = adv?.[i];
    parts.push(box(440, y + 3, 96, row - 6, [r === undefined ? `r_${i + 1}` : `r = ${r}`], { fontSize: 12, fill: r === undefined ? COLORS.light : r > 0 ? '#eef6ee' : '#fbeeee' }));
    if (a !== undefined) parts.push(label(548, y + row / 2 + 4, `A = ${a >= 0 ? '+' : ''}${a.toFixed(2)}`, { anchor: 'start', size: 12, color: a > 0 ? COLORS.green : a < 0 ? COLORS.red : COLORS.grey }));
  }
  if (G > shown) parts.push(label(355, top + shown * row + 18, `… ${G - shown} more`, { size: 11, color: COLORS.grey }));
  parts.push(label(488, top - 8, 'rule reward', { size: 11, color: COLORS.grey }));
  const ax = 640;
  parts.push(box(ax, mid - 34, 190, 68, ['advantage', 'A_i = (r_i − mean r) / std r', 'per group: no critic']));
  parts.push(arrow(adv ? 620 : 540, mid, ax, mid));
  const uy = height - 58;
  parts.push(box(ax - 40, uy, 270, 50, ['update π_θ', 'clipped ratio · A − β·KL(π_θ ‖ π_ref)'], { fill: '#eef6ee', stroke: COLORS.green }));
  parts.push(arrow(ax + 95, mid + 34, ax + 95, uy));
  parts.push(arrow(ax - 40, uy + 25, 200, mid + 30, { via: [[200, uy + 25]], color: COLORS.green, label: 'next prompts' }));
  const text =
    `GRPO: prompt → policy samples G = ${G} answers → rule rewards → advantages A_i = (r_i − mean) / std within the group (sample std, divided by G − 1) → ` +
    `update with the clipped ratio and a KL penalty to the reference → repeat.` +
    (rewards && adv ? ` Rewards ${rewards.join(', ')} give advantages ${adv.map((a) => a.toFixed(2)).join(', ')}.` : '');
  return diagram('GRPO: group-relative policy optimisation', 880, height, parts, text);
}
