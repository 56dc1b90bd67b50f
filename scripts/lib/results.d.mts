// Types of scripts/lib/results.mjs, for the tests.
import type { Expectation } from '../../lib/results/index.js';
export interface ResultRow extends Expectation { id: string; value: number | undefined; values: number[]; status: string }
export function loadExpected(): Record<string, Expectation>;
export function readRecorded(dir: string): Map<string, number[]>;
export function resultRows(expected: Record<string, Expectation>, recorded: Map<string, number[]>, lessonsRun: string[]): ResultRow[];
export function allOk(rows: ResultRow[]): boolean;
export function resultsMarkdown(rows: ResultRow[], runs: Array<{ lesson: string; ok: boolean; wall_s: number }>, meta: { date: string; backend: string; machine: string }): string;
