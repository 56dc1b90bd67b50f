// The course kernel: tslab 1.0.22's compiler, executor and Jupyter server, with the protocol
// gaps closed (docs/kernel.md). Compiled to kernel/dist by `npm run build`; Jupyter runs the
// thin entry kernel/main.cjs, which loads kernel/dist/main.js:
//   node kernel/main.cjs --config-path <connection_file>
//
//   converter.ts       tslab's converter with source maps (two verified edits, applied at load)
//   handler.ts         execute: counts, execute_result, errors, async errors, interrupts
//   server.ts          messages: dispatch, history, interrupt_request, comm_info
//   traceback.ts       error content with frames at the cell's lines
//   tf-guard.ts        TensorFlow.js scopes after an interrupt, tensor operations that stop
//   sigint.ts          SIGINT noticed while an asynchronous cell blocks the event loop
//   repr.ts            the last value's MIME bundle (via @frugal-ai/lib's richRepr)
//   history.ts         history_request
//   process-errors.ts  uncaught exceptions and rejections: the kernel's alone
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as TslabExecutor from 'tslab/dist/executor';
import type * as TslabJupyter from 'tslab/dist/jupyter';
import type * as TslabUtil from 'tslab/dist/util';
import { ConverterSet, loadConverter } from './converter';
import { defineHandler, type CourseHandlerInstance } from './handler';
import { own as ownProcessErrors } from './process-errors';
import { createRepr } from './repr';
import { defineServer } from './server';
import { Tracebacks } from './traceback';

/** The tslab version whose private code (converter edits, executor wrapper) this kernel knows. */
const TSLAB_VERSION = '1.0.22';

/** Starts the kernel on a connection file; `kernelDir` is kernel/ (the thin entry's folder). */
export function main(argv: readonly string[], kernelDir: string): void {
  const i = argv.indexOf('--config-path');
  const configPath = i >= 0 ? argv[i + 1] : undefined;
  if (!configPath) {
    console.error('usage: node kernel/main.cjs --config-path <connection_file>');
    process.exit(2);
  }

  const ROOT = path.join(kernelDir, '..');
  const TSLAB = path.join(ROOT, 'node_modules', 'tslab');

  // The kernel's own log: the real stderr (Jupyter's server log), before cells take it over.
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const log = (line: string): void => {
    stderrWrite(`[frugal-ai kernel] ${line}\n`);
  };

  // tslab's files, from this checkout's node_modules (absolute paths, as tslab's own main does).
  const load = createRequire(path.join(TSLAB, 'package.json'));
  const tslabVersion = (load(path.join(TSLAB, 'package.json')) as { version: string }).version;
  if (tslabVersion !== TSLAB_VERSION) log(`tslab ${tslabVersion} found, this kernel was written for ${TSLAB_VERSION}`);

  const { createExecutor } = load(path.join(TSLAB, 'dist', 'executor.js')) as typeof TslabExecutor;
  const jupyter = load(path.join(TSLAB, 'dist', 'jupyter.js')) as typeof TslabJupyter;
  const tslabUtil = load(path.join(TSLAB, 'dist', 'util.js')) as typeof TslabUtil;
  const ts = load('@tslab/typescript-for-tslab') as { version: string };

  const { converter, problem } = loadConverter(TSLAB);
  if (problem) log(`${problem}: tracebacks will show compiled-JavaScript line numbers`);

  const CourseHandler = defineHandler(jupyter.JupyterHandlerImpl, tslabUtil, jupyter);
  const CourseServer = defineServer(jupyter.ZmqServer);

  let handler: CourseHandlerInstance | null = null;
  const convs = new ConverterSet(converter, (result) => (handler ? handler.onConvert(result) : result));
  void convs.node; // warm the converter (several hundred ms), as tslab does
  const executor = createExecutor(process.cwd(), convs, {
    log: (...a: unknown[]) => handler?.sink.log(...a),
    error: (...a: unknown[]) => handler?.sink.error(...a),
  });
  const h = new CourseHandler(executor, {
    tracebacks: new Tracebacks({
      root: ROOT,
      machinery: [path.join(TSLAB, 'dist') + path.sep, kernelDir + path.sep],
    }),
    repr: createRepr(ROOT, (line) => process.stderr.write(`${line}\n`)),
    info: { tslab: tslabVersion, typescript: ts.version },
    log,
  });
  handler = h;
  const server = new CourseServer(h, configPath, log);

  // Tracebacks reach the learner's cell below library frames (tfjs ops nest about ten deep).
  Error.stackTraceLimit = Math.max(Error.stackTraceLimit, 50);

  process.on('SIGINT', () => h.interrupt());
  // Uncaught exceptions and unhandled rejections go to the handler alone, whatever listeners a
  // library adds (tfjs-backend-wasm's rethrow them, which would end the process).
  ownProcessErrors((kind, err) => h.onAsyncError(kind, err), log);

  server.init().catch((e: unknown) => {
    log(`could not start: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
  });
}
