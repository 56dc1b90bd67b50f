/**
 * Every case of `npm run bench`, in the order of its tables. A new family is one module under
 * bench/cases (or a standalone bench/<name>.ts) exporting a `BenchCase[]`, appended here.
 */
import type { BenchCase } from '../case.js';
import { grpoCases } from '../grpo.js';
import { attentionCases } from './attention.js';
import { distillCases, studentInferCases } from './distill.js';
import { klCases } from './kl.js';
import { matmulCases, opOverheadCases } from './matmul.js';
import { moeCases } from './moe.js';
import { tinyLmCases } from './tinylm.js';

/** All cases: the order of the tables (raw kernels first, then the course's workloads). */
export const CASES: readonly BenchCase[] = [
  ...matmulCases,
  ...klCases,
  ...opOverheadCases,
  ...distillCases,
  ...studentInferCases,
  ...moeCases,
  ...attentionCases,
  ...tinyLmCases,
  ...grpoCases,
];

for (const [i, c] of CASES.entries()) {
  if (CASES.findIndex((o) => o.id === c.id) !== i) throw new Error(`two bench cases have the id ${c.id}`);
}
