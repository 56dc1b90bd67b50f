/**
 * Finding a file of the course's `datasets/` folder from wherever the code runs: a lesson's
 * folder, the repository root, the compiled lib, or a test. One function for every data set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Finds a file under datasets/: in `FRUGAL_DATASETS` when set, else in the current folder or any
 * folder above it, else next to this file's repository.
 * @throws Error listing where it looked.
 */
export function findDatasetFile(relative: string): string {
  const tried: string[] = [];
  const env = process.env['FRUGAL_DATASETS'];
  if (env) {
    const p = path.join(env, relative.replace(/^datasets[\\/]/, ''));
    if (fs.existsSync(p)) return p;
    tried.push(p);
  }
  const starts = [process.cwd()];
  if (typeof __dirname === 'string') starts.push(__dirname);
  for (const start of starts) {
    let dir = path.resolve(start);
    for (;;) {
      const p = path.join(dir, relative);
      if (fs.existsSync(p)) return p;
      tried.push(p);
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error(`${relative} not found; looked in ${tried.join(', ')} (set FRUGAL_DATASETS to the datasets folder)`);
}
