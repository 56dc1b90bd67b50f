#!/usr/bin/env node
// The course kernel's entry point: tslab's kernel (compiler, executor, Jupyter server) started
// from this checkout's node_modules. Jupyter runs it as:
//   node kernel/main.cjs --config-path <connection_file>
'use strict';
const path = require('node:path');

const i = process.argv.indexOf('--config-path');
const configPath = i >= 0 ? process.argv[i + 1] : undefined;
if (!configPath) {
  console.error('usage: node kernel/main.cjs --config-path <connection_file>');
  process.exit(2);
}
const tslab = require(path.join(__dirname, '..', 'node_modules', 'tslab', 'dist', 'main.js'));
tslab.startKernel({ configPath, enableFindLocal: false, jsKernel: false });
