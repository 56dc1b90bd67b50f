/**
 * The singular value decomposition of a small dense matrix, in float64 JavaScript.
 *
 * tfjs has no SVD on its cpu and wasm backends, and the course only factorises dense layers of a
 * few hundred units, so this is the one-sided Jacobi method (Hestenes 1958; Demmel & Veselić 1992):
 * rotate pairs of columns of A until they are orthogonal. Then A V = U Σ with V the product of the
 * rotations, the column norms are the singular values, and A = U Σ Vᵀ. It is accurate to about
 * machine precision relative to ‖A‖ and costs O(m n² · sweeps); a 256 × 256 kernel takes about a
 * second.
 */
import { assertPositiveInteger } from '../assert';

/** A thin SVD of an m × n matrix, k = min(m, n): A = U diag(s) Vᵀ. Row-major Float64Arrays. */
export interface Svd {
  /** Rows of A. */
  m: number;
  /** Columns of A. */
  n: number;
  /** m × k, orthonormal columns. */
  u: Float64Array;
  /** k singular values, in decreasing order. */
  s: Float64Array;
  /** n × k, orthonormal columns (V, not Vᵀ). */
  v: Float64Array;
}

/**
 * One-sided Jacobi SVD of the row-major m × n matrix `a` (not modified).
 * @param options.maxSweeps stop after this many sweeps (default 60; 6–12 are typical).
 * @param options.tol a pair of columns counts as orthogonal when |pᵀq| ≤ tol·‖p‖‖q‖ (default 1e-15).
 * @throws Error naming the argument when the sizes disagree or a value is not finite, and when
 *   the sweeps run out before convergence.
 */
export function svd(a: ArrayLike<number>, m: number, n: number, options: { maxSweeps?: number; tol?: number } = {}): Svd {
  assertPositiveInteger(m, 'm');
  assertPositiveInteger(n, 'n');
  if (a.length !== m * n) throw new Error(`a must have m*n = ${m * n} entries, got ${a.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`a[${i}] must be finite, got ${a[i]}`);
  }
  if (m < n) {
    // Decompose Aᵀ = U' Σ V'ᵀ, so A = V' Σ U'ᵀ.
    const t = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j] as number;
    const r = svd(t, n, m, options);
    return { m, n, u: r.v, s: r.s, v: r.u };
  }
  const maxSweeps = options.maxSweeps ?? 60;
  const tol = options.tol ?? 1e-15;
  // Work on columns: col[j] is column j of A (length m), stored contiguously for speed.
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = a[i * n + j] as number;
    cols.push(c);
  }
  const vcols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(n);
    c[j] = 1;
    vcols.push(c);
  }
  let converged = false;
  for (let sweep = 0; sweep < maxSweeps && !converged; sweep++) {
    converged = true;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const cp = cols[p] as Float64Array;
        const cq = cols[q] as Float64Array;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = cp[i] as number;
          const y = cq[i] as number;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        converged = false;
        // The rotation that zeroes the (p, q) entry of the 2 × 2 Gram matrix [[α, γ], [γ, β]].
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = cp[i] as number;
          const y = cq[i] as number;
          cp[i] = c * x - s * y;
          cq[i] = s * x + c * y;
        }
        const vp = vcols[p] as Float64Array;
        const vq = vcols[q] as Float64Array;
        for (let i = 0; i < n; i++) {
          const x = vp[i] as number;
          const y = vq[i] as number;
          vp[i] = c * x - s * y;
          vq[i] = s * x + c * y;
        }
      }
    }
  }
  if (!converged) throw new Error(`svd: no convergence after maxSweeps = ${maxSweeps} sweeps`);
  const norms = cols.map((c) => Math.sqrt(c.reduce((acc, x) => acc + x * x, 0)));
  const order = norms.map((_, j) => j).sort((i, j) => (norms[j] as number) - (norms[i] as number));
  const k = n;
  const u = new Float64Array(m * k);
  const s = new Float64Array(k);
  const v = new Float64Array(n * k);
  order.forEach((j, r) => {
    const sigma = norms[j] as number;
    s[r] = sigma;
    const c = cols[j] as Float64Array;
    const vc = vcols[j] as Float64Array;
    // A zero singular value leaves its column of U at zero; no truncation ever keeps it.
    for (let i = 0; i < m; i++) u[i * k + r] = sigma > 0 ? (c[i] as number) / sigma : 0;
    for (let i = 0; i < n; i++) v[i * k + r] = vc[i] as number;
  });
  return { m, n, u, s, v };
}

/**
 * The smallest rank whose singular values keep at least `energy` of Σσ² (the squared Frobenius
 * norm), e.g. 0.9 for 90 %.
 * @throws Error when energy is outside (0, 1].
 */
export function rankForEnergy(s: ArrayLike<number>, energy: number): number {
  if (!(energy > 0 && energy <= 1)) throw new Error(`energy must be in (0, 1], got ${energy}`);
  let total = 0;
  for (let i = 0; i < s.length; i++) total += (s[i] as number) ** 2;
  if (total === 0) return 1;
  let acc = 0;
  for (let r = 0; r < s.length; r++) {
    acc += (s[r] as number) ** 2;
    // A relative slack of 1e-12 so that energy = 1 is reached despite rounding.
    if (acc >= energy * total * (1 - 1e-12)) return r + 1;
  }
  return s.length;
}

/**
 * The best rank-r approximation (Eckart–Young) as two factors, A ≈ L R, with the singular values
 * split evenly: L = U_r √Σ_r (m × r), R = √Σ_r V_rᵀ (r × n). Row-major.
 * @throws Error when r is not an integer in [1, min(m, n)].
 */
export function truncate(d: Svd, r: number): { left: Float64Array; right: Float64Array } {
  const k = d.s.length;
  if (!Number.isInteger(r) || r < 1 || r > k) throw new Error(`rank must be an integer in [1, ${k}], got ${r}`);
  const left = new Float64Array(d.m * r);
  const right = new Float64Array(r * d.n);
  for (let j = 0; j < r; j++) {
    const g = Math.sqrt(d.s[j] as number);
    for (let i = 0; i < d.m; i++) left[i * r + j] = (d.u[i * k + j] as number) * g;
    for (let i = 0; i < d.n; i++) right[j * d.n + i] = (d.v[i * k + j] as number) * g;
  }
  return { left, right };
}

/** The Frobenius norm of what rank r discards: √(Σ_{i>r} σᵢ²). */
export function discardedNorm(s: ArrayLike<number>, r: number): number {
  let acc = 0;
  for (let i = r; i < s.length; i++) acc += (s[i] as number) ** 2;
  return Math.sqrt(acc);
}
