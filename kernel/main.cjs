#!/usr/bin/env node
// @ts-check
// The course kernel's entry, the file Jupyter starts (its kernel spec's argv):
//   node kernel/main.cjs --config-path <connection_file>
// It stays JavaScript because Jupyter runs it directly; the kernel itself is TypeScript in
// kernel/src, compiled to kernel/dist by `npm run build` (docs/kernel.md, "How it is built").
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, 'dist', 'main.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write(`[frugal-ai kernel] ${compiled} is missing: run npm run build (or npm run setup) in ${path.dirname(__dirname)}\n`);
  process.exit(1);
}
require(compiled).main(process.argv.slice(2), __dirname);
