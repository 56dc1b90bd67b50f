#!/usr/bin/env node
// node scripts/course-map.mjs: rewrites the README's course map from the lessons' first markdown
// cells (title, "In this lesson you will", prerequisites), keeping the times the last
// `npm run reproduce` measured (a lesson not yet timed shows "?"). `--check` only says whether
// the README is up to date (exit 1 if not). npm run reproduce rewrites it with fresh times.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, listLessons, writeFileAtomic } from './lib/env.mjs';
import { courseMapMarkdown, lessonInfo, readmeGoals, timesFromMap, withCourseMap } from './lib/course.mjs';

const path = join(ROOT, 'README.md');
const readme = readFileSync(path, 'utf8');
const note = readme.match(/^Times: [\s\S]*?(?=\n\n)/m)?.[0]?.replace(/\n/g, ' ') ?? 'Times: not measured yet (run `npm run reproduce`).';
const updated = withCourseMap(readme, courseMapMarkdown(listLessons([]).map(lessonInfo), timesFromMap(readme), note, readmeGoals(readme)));
if (process.argv.includes('--check')) {
  console.log(updated === readme ? 'course map: up to date' : 'course map: out of date (run node scripts/course-map.mjs)');
  process.exit(updated === readme ? 0 : 1);
}
writeFileAtomic(path, updated);
console.log(updated === readme ? 'course map: unchanged' : 'course map: README.md updated');
