/**
 * Mixture-of-Experts routing for one token: the router's softmax gives each expert a gate, the
 * top k experts run, and their outputs are summed, weighted by their gates (renormalised over the
 * chosen k with `normalize`). Experts are numbered from 0, as `route` numbers them.
 */
import { assert, isArray } from '../assert';
import { COLORS, arrow, box, diagram, label, type Diagram } from './svg';

export interface MoeRoutingOptions {
  /** The router's probabilities, one per expert (2 to 16 of them), summing to 1. */
  gates: readonly number[];
  /** How many experts run (1 to the number of experts). */
  topK: number;
  /** The token's name (default "token x"). */
  token?: string;
  /**
   * Renormalise the kept gates to sum to 1 (GShard's top-2; `route`'s `normalize: true`).
   * Default false, as `route`: the kept experts are weighted by their gates as they are.
   */
  normalize?: boolean;
}

/**
 * The top-k experts (0-based indices, by decreasing gate, ties to the lower index) and their
 * weights: the gates renormalised over the k when `normalize` (the default here), else the gates.
 */
export function topKRouting(gates: readonly number[], k: number, normalize = true): { experts: number[]; weights: number[] } {
  const experts = gates
    .map((g, i) => [g, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
  const sum = experts.reduce((s, i) => s + (gates[i] as number), 0);
  return { experts, weights: experts.map((i) => (gates[i] as number) / (normalize ? sum : 1)) };
}

/**
 * The routing of one token as a diagram: token → router → gate bars → the chosen experts
 * (coloured; the others dashed, idle) → the weighted sum.
 * @throws Error when `gates` has fewer than 2 or more than 16 values, a gate is not in [0, 1],
 *   they do not sum to 1 (± 1e-3), or `topK` is not an integer in [1, gates.length].
 */
export function moeRoutingDiagram(options: MoeRoutingOptions): Diagram {
  const { gates, topK } = options;
  assert(isArray(gates) && gates.length >= 2 && gates.length <= 16, () => `gates must hold 2 to 16 probabilities, got ${Array.isArray(gates) ? gates.length : String(gates)}`);
  gates.forEach((g, i) => assert(Number.isFinite(g) && g >= 0 && g <= 1, () => `gates[${i}] must be a probability in [0, 1], got ${g}`));
  const total = gates.reduce((a, b) => a + b, 0);
  assert(Math.abs(total - 1) <= 1e-3, () => `gates must sum to 1 (a softmax), got ${total.toFixed(4)}`);
  const n = gates.length;
  assert(Number.isInteger(topK) && topK >= 1 && topK <= n, () => `topK must be an integer in [1, ${n}], got ${topK}`);
  const normalize = options.normalize ?? false;
  const { experts, weights } = topKRouting(gates, topK, normalize);
  const row = 30;
  const top = 48;
  const height = Math.max(top + n * row + 24, 230);
  const mid = top + (n * row) / 2;
  const parts: string[] = [];
  parts.push(box(16, mid - 28, 110, 56, [options.token ?? 'token x', 'hidden state']));
  parts.push(arrow(126, mid, 156, mid));
  parts.push(box(156, mid - 28, 120, 56, ['router', 'softmax(W_r · x)']));
  const barX = 330;
  const barW = 120;
  const expX = 500;
  parts.push(label(barX + barW / 2, top - 8, 'gate g_i', { size: 11, color: COLORS.grey }));
  gates.forEach((g, i) => {
    const y = top + i * row;
    const chosen = experts.indexOf(i);
    const on = chosen >= 0;
    parts.push(arrow(276, mid, barX - 4, y + row / 2, { color: on ? COLORS.orange : '#c7ccd6' }));
    parts.push(`<rect x="${barX}" y="${y + 8}" width="${Math.max(1, g * barW).toFixed(1)}" height="${row - 16}" fill="${on ? COLORS.orange : '#c7ccd6'}"/>`);
    parts.push(label(barX + barW + 6, y + row / 2 + 4, g.toFixed(2), { anchor: 'start', size: 11 }));
    parts.push(box(expX, y + 3, 110, row - 6, [`expert ${i}`], on ? { fill: '#fff4e8', stroke: COLORS.orange, fontSize: 12 } : { dashed: true, color: COLORS.grey, stroke: '#c7ccd6', fill: 'white', fontSize: 12 }));
    if (on) parts.push(arrow(expX + 110, y + row / 2, 690, mid, { color: COLORS.orange }));
  });
  parts.push(box(690, mid - 34, 150, 68, ['Σ w_i · E_i(x)', `top-${topK} of ${n} experts`, normalize ? 'w = gates renormalised' : 'w = the gates']));
  const width = 856;
  const chosenText = experts.map((e, j) => `expert ${e} (gate ${(gates[e] as number).toFixed(2)}, weight ${(weights[j] as number).toFixed(2)})`).join(', ');
  const text = `MoE routing of one token: router softmax over ${n} experts; top-${topK}: ${chosenText}; ${topK} of ${n} experts run (${((100 * topK) / n).toFixed(0)} % of the expert compute).`;
  return diagram(`Mixture-of-Experts routing: top-${topK} of ${n}`, width, height, parts, text);
}
