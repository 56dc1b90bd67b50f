#!/usr/bin/env node
// The course kernel: tslab 1.0.22's compiler, executor and Jupyter server, with the protocol
// gaps closed (docs/kernel.md). Jupyter runs it as:
//   node kernel/main.cjs --config-path <connection_file>
//
//   converter.cjs  tslab's converter with source maps (two verified edits, applied at load)
//   handler.cjs    execute: counts, execute_result, errors, async errors, interrupts
//   server.cjs     messages: dispatch, history, interrupt_request, comm_info
//   traceback.cjs  error content with frames at the cell's lines
//   tf-guard.cjs   TensorFlow.js scopes after an interrupt, tensor operations that stop
//   sigint.cjs     SIGINT noticed while an asynchronous cell blocks the event loop
//   repr.cjs       the last value's MIME bundle (via @frugal-ai/lib's richRepr)
//   history.cjs    history_request
//   process-errors.cjs  uncaught exceptions and rejections: the kernel's alone
'use strict';
const path = require('node:path');

const i = process.argv.indexOf('--config-path');
const configPath = i >= 0 ? process.argv[i + 1] : undefined;
if (!configPath) {
  console.error('usage: node kernel/main.cjs --config-path <connection_file>');
  process.exit(2);
}

const ROOT = path.join(__dirname, '..');
const TSLAB = path.join(ROOT, 'node_modules', 'tslab');
/** The tslab version whose private code (converter edits, executor wrapper) this kernel knows. */
const TSLAB_VERSION = '1.0.22';

// The kernel's own log: the real stderr (Jupyter's server log), before cells take it over.
const stderrWrite = process.stderr.write.bind(process.stderr);
const log = (line) => stderrWrite(`[frugal-ai kernel] ${line}\n`);

const tslabVersion = require(path.join(TSLAB, 'package.json')).version;
if (tslabVersion !== TSLAB_VERSION) log(`tslab ${tslabVersion} found, this kernel was written for ${TSLAB_VERSION}`);

const { createExecutor } = require(path.join(TSLAB, 'dist', 'executor.js'));
const jupyter = require(path.join(TSLAB, 'dist', 'jupyter.js'));
const tslabUtil = require(path.join(TSLAB, 'dist', 'util.js'));
const ts = require(require.resolve('@tslab/typescript-for-tslab', { paths: [TSLAB] }));
const { loadConverter, ConverterSet } = require('./converter.cjs');
const { Tracebacks } = require('./traceback.cjs');
const { defineHandler } = require('./handler.cjs');
const { defineServer } = require('./server.cjs');
const { createRepr } = require('./repr.cjs');
const { own: ownProcessErrors } = require('./process-errors.cjs');

const { converter, problem } = loadConverter(TSLAB);
if (problem) log(`${problem}: tracebacks will show compiled-JavaScript line numbers`);

const CourseHandler = defineHandler(jupyter.JupyterHandlerImpl, tslabUtil, jupyter);
const CourseServer = defineServer(jupyter.ZmqServer);

let handler = null;
const convs = new ConverterSet(converter, (result) => (handler ? handler.onConvert(result) : result));
convs.node; // warm the converter (several hundred ms), as tslab does
const executor = createExecutor(process.cwd(), convs, {
  log: (...a) => handler.sink.log(...a),
  error: (...a) => handler.sink.error(...a),
});
handler = new CourseHandler(executor, {
  tracebacks: new Tracebacks({
    root: ROOT,
    machinery: [path.join(TSLAB, 'dist') + path.sep, __dirname + path.sep],
  }),
  repr: createRepr(ROOT, (line) => process.stderr.write(`${line}\n`)),
  info: { tslab: tslabVersion, typescript: ts.version },
  log,
});
const server = new CourseServer(handler, configPath, log);

// Tracebacks reach the learner's cell below library frames (tfjs ops nest about ten deep).
Error.stackTraceLimit = Math.max(Error.stackTraceLimit, 50);

process.on('SIGINT', () => handler.interrupt());
// Uncaught exceptions and unhandled rejections go to the handler alone, whatever listeners a
// library adds (tfjs-backend-wasm's rethrow them, which would end the process).
ownProcessErrors((kind, err) => handler.onAsyncError(kind, err), log);

server.init().catch((e) => {
  log(`could not start: ${e?.stack ?? e}`);
  process.exit(1);
});
