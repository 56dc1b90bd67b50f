/**
 * A CommonJS `require` that works both in the compiled lib (CommonJS, inside tslab) and in
 * vitest (ESM), for optional packages that must be loaded only when present.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

export const nodeRequire: NodeJS.Require =
  typeof require === 'function' ? require : createRequire(path.join(process.cwd(), 'noop.js'));
