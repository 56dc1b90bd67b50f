// Types of scripts/lib/course.mjs, for the tests.
export interface LessonInfo { id: string; name: string; file: string; title: string; goals: string[]; prerequisites: string[]; dependsOn: string[] }
export function listAfter(md: string, re: RegExp): string[];
export function lessonRefs(s: string): string[];
export function lessonInfo(path: string): LessonInfo;
export function formatSeconds(s: number): string;
export const MAP_START: string;
export const MAP_END: string;
export function courseMapMarkdown(infos: LessonInfo[], times: Record<string, number>, note: string, fallbackGoals?: Record<string, string>): string;
export function readmeGoals(readme: string): Record<string, string>;
export function timesFromMap(readme: string): Record<string, number>;
export function wrap(text: string, width: number): string;
export function withCourseMap(readme: string, map: string): string;
