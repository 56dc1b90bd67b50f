/**
 * `(a or aᵀ) @ (b or bᵀ)` in float64 loops, the reference of the matMul tests (tests/native-tf,
 * tests/ops-wasm-matmul). Operands are row-major `[...batch, r, c]`; the batch dimensions
 * broadcast as numpy's do (missing leading ones added, size-1 dimensions repeated).
 */
export function matMulReference(a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[], transposeA = false, transposeB = false): Float64Array {
  const [ar, ac] = aShape.slice(-2) as [number, number];
  const [br, bc] = bShape.slice(-2) as [number, number];
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const n = transposeB ? br : bc;
  if ((transposeB ? bc : br) !== k) throw new Error(`matMulReference: inner sizes differ (${k} and ${transposeB ? bc : br})`);
  const rank = Math.max(aShape.length, bShape.length) - 2;
  const pad = (s: readonly number[]): number[] => [...Array.from({ length: rank - (s.length - 2) }, () => 1), ...s.slice(0, -2)];
  const aDims = pad(aShape);
  const bDims = pad(bShape);
  const outDims = aDims.map((d, i) => Math.max(d, bDims[i] as number));
  const batch = outDims.reduce((p, d) => p * d, 1);
  /** Flat batch index of an operand with batch dims `dims`, for the output's batch index `i`. */
  const flatIn = (dims: number[], i: number): number => {
    let rest = i;
    let flat = 0;
    let stride = 1;
    for (let d = outDims.length - 1; d >= 0; d--) {
      const idx = rest % (outDims[d] as number);
      rest = Math.floor(rest / (outDims[d] as number));
      flat += (dims[d] === 1 ? 0 : idx) * stride;
      stride *= dims[d] as number;
    }
    return flat;
  };
  const out = new Float64Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    const ao = flatIn(aDims, i) * ar * ac;
    const bo = flatIn(bDims, i) * br * bc;
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let j = 0; j < k; j++) {
          const x = a[ao + (transposeA ? j * ac + r : r * ac + j)] as number;
          const y = b[bo + (transposeB ? c * bc + j : j * bc + c)] as number;
          acc += x * y;
        }
        out[(i * m + r) * n + c] = acc;
      }
    }
  }
  return out;
}
