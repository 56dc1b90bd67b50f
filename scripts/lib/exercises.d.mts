// Types of scripts/lib/exercises.mjs, for the tests (tests/student.test.ts).
export interface Notebook {
  nbformat?: number;
  nbformat_minor?: number;
  metadata?: Record<string, unknown>;
  cells: Array<{ cell_type: string; id?: string; metadata?: Record<string, unknown>; source: string | string[]; outputs?: unknown[]; execution_count?: number | null }>;
}
export interface Exercise { n: number; title: string; heading: number; solutions: number[]; check: number }
export interface Role { role: string; n?: number; from: number }
export interface CellError { ename: string; evalue: string }
export const EXERCISE_HEADING: RegExp;
export const CHECK_LINE: RegExp;
export const SETUP_TAG: string;
export const NOT_IMPLEMENTED: RegExp;
export function sourceOf(cell: { source: string | string[] }): string;
export function declaredNames(lines: string[], indent: string): Array<{ name: string; type: string; assigned?: boolean }>;
export function identifiers(code: string): Set<string>;
export function stubLines(n: number, indent: string, regionLines?: string[], used?: Set<string> | null): string[];
export function solutionRegions(source: string, where?: string): Array<{ begin: number; end: number; indent: string }>;
export function parseExercises(nb: Notebook, name?: string): Exercise[];
export function stubSource(source: string, n: number, where?: string, used?: Set<string> | null): string;
export function studentEdition(nb: Notebook, name?: string): Notebook;
export function checkNotebook(nb: Notebook, mode?: 'cheap' | 'full', name?: string): { nb: Notebook; roles: Role[] };
export function isMissingName(err: CellError): boolean;
export function topLevelNames(source: string): string[];
export function neededCells(cells: Notebook['cells'], first: number, last: number): Set<number>;
export function judge(
  roles: Role[],
  errors: Map<number, CellError>,
  name?: string,
): { exercises: Array<{ n: number; solution: string; student: string }>; problems: string[] };
