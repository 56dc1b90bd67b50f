/**
 * Compute per token of an MoE layer and of dense FFNs, counted as FLOPs of the matrix products
 * (2 per multiply-add; biases and activations, a few per hidden unit, are left out). Training
 * costs about 3× the forward pass (the backward pass is two products per forward product).
 */
import { assertPositiveInteger } from '../assert';

/** The sizes that set an MoE layer's compute. */
export interface MoESize {
  /** Token width d. */
  units: number;
  /** Routed experts E. */
  experts: number;
  /** Experts per token k. */
  topK: number;
  /** Hidden width of each routed expert. */
  expertHidden: number;
  /** Shared experts (default 0). */
  sharedExperts?: number;
  /** Hidden width of each shared expert (default expertHidden). */
  sharedHidden?: number;
}

/** FLOPs per token of an MoE layer's forward pass, by part. */
export interface MoEFlops {
  /** Router: `2 · d · E`. */
  router: number;
  /** The k chosen routed experts: `k · 4 · d · h`. */
  routed: number;
  /** The shared experts: `S · 4 · d · h_s`. */
  shared: number;
  /** The sum. */
  total: number;
}

/** FLOPs per token of a dense FFN d → hidden → d: `4 · d · hidden`. */
export function ffnFlopsPerToken(units: number, hidden: number): number {
  assertPositiveInteger(units, 'units');
  assertPositiveInteger(hidden, 'hidden');
  return 4 * units * hidden;
}

/**
 * FLOPs per token of an MoE layer that runs only the chosen experts (sparse dispatch).
 * @throws Error when a size is not a positive integer.
 */
export function moeFlopsPerToken(s: MoESize): MoEFlops {
  assertPositiveInteger(s.units, 'units');
  assertPositiveInteger(s.experts, 'experts');
  assertPositiveInteger(s.topK, 'topK');
  const router = 2 * s.units * s.experts;
  const routed = s.topK * ffnFlopsPerToken(s.units, s.expertHidden);
  const S = s.sharedExperts ?? 0;
  const shared = S > 0 ? S * ffnFlopsPerToken(s.units, s.sharedHidden ?? s.expertHidden) : 0;
  return { router, routed, shared, total: router + routed + shared };
}

/** Parameters of the layer (weights and biases): router + E routed + S shared experts. */
export function moeParams(s: MoESize, useBias = true): { total: number; active: number } {
  const ffn = (h: number) => 2 * s.units * h + (useBias ? h + s.units : 0);
  const S = s.sharedExperts ?? 0;
  const shared = S > 0 ? ffn(S * (s.sharedHidden ?? s.expertHidden)) : 0;
  const router = s.units * s.experts;
  return { total: router + s.experts * ffn(s.expertHidden) + shared, active: router + s.topK * ffn(s.expertHidden) + shared };
}
