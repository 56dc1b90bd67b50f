// Runs cells: tslab's JupyterHandlerImpl (inspect, complete, is_complete, its task queue)
// with an execute path that gives Jupyter what tslab leaves out: execution counts,
// `execute_input`, the last value as an `execute_result`, errors as `error` messages with a
// traceback at the cell's lines, asynchronous errors attributed to the running cell, and
// interrupts that leave TensorFlow.js consistent. See docs/kernel.md.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import type { ConvertResult } from 'tslab/dist/converter';
import type { Executor } from 'tslab/dist/executor';
import type { JupyterHandlerImpl } from 'tslab/dist/jupyter';
import type { TaskCanceledError, TaskQueue } from 'tslab/dist/util';
import { clearMaps, mapsFor } from './converter';
import { History, type HistoryRequest } from './history';
import type { AsyncErrorKind } from './process-errors';
import type { Repr } from './repr';
import * as sigint from './sigint';
import * as tfGuard from './tf-guard';
import type { CellDiagnostic, ErrorContent, Tracebacks } from './traceback';

/** What tslab's executor wraps a cell's code in (executor.js), to offset columns on line 1. */
const WRAP_SYNC = '(function(exports, require) { ';
const WRAP_ASYNC = '(async function(exports, require) { ';
/** The end of that wrapper: how the kernel recognises tslab's own vm.runInThisContext call. */
const WRAP_END = '\n})(__tslab__.exports, __tslab__.require)';
/** tslab's diagnostic format (executor.js printDiagnostics). */
const DIAGNOSTIC_FORMAT = '%s%d:%d - %s';
/** How long an interrupted asynchronous cell gets to stop before the reply is sent. */
const INTERRUPT_GRACE_MS = Number(process.env.FRUGAL_INTERRUPT_GRACE_MS ?? 3000);

/** Sends IOPub messages with the current request as parent. */
export interface Publisher {
  publish(msgType: string, content: object): void;
}

/** The execute_reply content. */
export type ExecuteReplyContent = Record<string, unknown> & { status: string; execution_count: number };

/** What the kernel was asked to do (the fields of execute_request it reads). */
interface ExecuteRequest {
  code?: unknown;
  silent?: unknown;
  store_history?: unknown;
  stop_on_error?: unknown;
}

/** A display_data message as tslab's display API builds it. */
interface DisplayMessage {
  data?: object;
}

/** One cell being run. */
interface Run {
  cell: { file: string; label: string; code: string };
  capture: { hasValue: boolean; value: unknown; errors: unknown[]; diagnostics: CellDiagnostic[] };
  asyncErrors: { kind: AsyncErrorKind; err: unknown }[];
  interrupted: boolean;
  stopping: boolean;
  stopError: Error | null;
  async: boolean;
  done: boolean;
  ranPromise: Promise<unknown> | null;
}

/** Thrown inside the task queue so that tslab's TaskQueue aborts the queued cells. */
export class StopOnError extends Error {
  constructor(readonly content: ExecuteReplyContent) {
    super('the cell failed with stop_on_error: queued cells are aborted');
    this.name = 'StopOnError';
  }
}

/** Lets timers due now and rejections nobody handled fire while the cell still counts as running. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(() => setImmediate(resolve), 0));
}

/** Resolves with true once `p` settles, or with false after `ms`. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(
      () => (clearTimeout(t), resolve(true)),
      () => (clearTimeout(t), resolve(true)),
    );
  });
}

/** True for the error vm raises when SIGINT stopped a script (or the kernel's own twin). */
function isInterruptedError(e: unknown): boolean {
  return e !== null && typeof e === 'object' && (e as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
}

/** The options of the course handler. */
export interface HandlerOptions {
  tracebacks: Tracebacks;
  repr: Repr;
  /** Versions for kernel_info. */
  info: { tslab: string; typescript: string };
  /** The kernel's own log (its real stderr). */
  log: (line: string) => void;
}

/** What the server and main use of a handler. */
export interface CourseHandlerInstance {
  readonly sink: { log: (...a: unknown[]) => void; error: (...a: unknown[]) => void };
  execute(req: ExecuteRequest, io: Publisher): Promise<ExecuteReplyContent>;
  handleHistory(req: HistoryRequest): object;
  interrupt(): boolean;
  onConvert(result: ConvertResult): ConvertResult;
  onAsyncError(kind: AsyncErrorKind, err: unknown): void;
}

/** tslab's JupyterHandlerImpl with the members it declares private, as used here. */
interface HandlerBase {
  execCount: number;
  executor: Executor;
  execQueue: TaskQueue;
  handleKernel(): { language_info: object };
}

/** tslab's dist/jupyter.js: its `lastWriteDisplayData` is the display hook (a mutable export). */
interface JupyterModule {
  lastWriteDisplayData: (msg: Parameters<typeof import('tslab/dist/jupyter').lastWriteDisplayData>[0], update: boolean) => void;
}

/**
 * @param Base tslab's handler class
 * @param tslabUtil tslab's dist/util.js (for TaskCanceledError)
 * @param jupyter tslab's dist/jupyter.js
 */
export function defineHandler(
  Base: typeof JupyterHandlerImpl,
  tslabUtil: { TaskCanceledError: typeof TaskCanceledError },
  jupyter: JupyterModule,
): new (executor: Executor, options: HandlerOptions) => CourseHandlerInstance {
  const B = Base as unknown as new (executor: Executor, isJs: boolean) => HandlerBase;
  class CourseHandler extends B implements CourseHandlerInstance {
    readonly tracebacks: Tracebacks;
    readonly repr: Repr;
    readonly info: HandlerOptions['info'];
    readonly log: (line: string) => void;
    readonly history = new History();
    /** Serial number of compiled cells (also counts silent ones). */
    serial = 0;
    /** The cell being run. */
    current: Run | null = null;

    constructor(executor: Executor, { tracebacks, repr, info, log }: HandlerOptions) {
      super(executor, false);
      this.tracebacks = tracebacks;
      this.repr = repr;
      this.info = info;
      this.log = log;
    }

    /** The console given to tslab's executor: the last value and errors come here. */
    get sink(): CourseHandlerInstance['sink'] {
      return {
        log: (value: unknown) => {
          if (this.current) Object.assign(this.current.capture, { hasValue: true, value });
        },
        error: (...args: unknown[]) => {
          const cap = this.current?.capture;
          if (!cap) return;
          if (args[0] === DIAGNOSTIC_FORMAT) {
            cap.diagnostics.push({ file: String(args[1]).trim(), line: Number(args[2]), col: Number(args[3]), message: String(args[4]) });
          } else cap.errors.push(args[0]);
        },
      };
    }

    override handleKernel(): { language_info: object } & Record<string, unknown> {
      const base = super.handleKernel();
      return {
        status: 'ok',
        protocol_version: '5.3',
        implementation: 'tslab',
        implementation_version: this.info.tslab,
        language_info: { ...base.language_info, version: this.info.typescript },
        banner:
          `TypeScript ${this.info.typescript} on Node.js ${process.version}: tslab ${this.info.tslab}` +
          ' with the frugal-ai course kernel (kernel/)',
        help_links: [
          { text: 'tslab', url: 'https://github.com/yunabe/tslab' },
          { text: 'TensorFlow.js API', url: 'https://js.tensorflow.org/api/latest/' },
        ],
        debugger: false,
      };
    }

    handleShutdown(req: { restart?: unknown }): { status: 'ok'; restart: boolean } {
      return { status: 'ok', restart: Boolean(req.restart) };
    }

    handleHistory(req: HistoryRequest): object {
      return this.history.reply(req);
    }

    /** Called with every conversion of tslab's node converter (converter.ts ConverterSet). */
    onConvert(result: ConvertResult): ConvertResult {
      const run = this.current;
      if (run && result.output) {
        run.async = Boolean(result.hasToplevelAwait);
        const offset = (run.async ? WRAP_ASYNC : WRAP_SYNC).length;
        // The executor runs WRAP_SYNC/WRAP_ASYNC + output + WRAP_END: the call is on the line after.
        const wrapperLine = result.output.split('\n').length + 1;
        const { file, label, code } = run.cell;
        this.tracebacks.addScript(file, { label, source: code, maps: mapsFor(result.output), firstLineOffset: offset, wrapperLine });
      }
      for (const side of result.sideOutputs ?? []) {
        // A .ts file next to the notebook, read from disk as it is; or a `//%module` cell's
        // module, which tslab keeps in memory with its "export {};" line first.
        const ts = side.path.replace(/\.js$/, '.ts');
        const onDisk = fs.existsSync(ts);
        this.tracebacks.addScript(side.path, {
          label: path.relative(process.cwd(), ts),
          source: onDisk ? fs.readFileSync(ts, 'utf8') : '',
          maps: mapsFor(side.data),
          prefixLines: onDisk ? 0 : 1,
        });
      }
      clearMaps();
      return result;
    }

    /**
     * Asked while an asynchronous cell runs (every 100 ms, and before each tensor operation):
     * notices a SIGINT held by the watchdog, and says whether the cell's tensor operations
     * must now throw (interrupted, or failed by an asynchronous error).
     */
    shouldStop(run: Run): boolean {
      if (!run.interrupted && !run.done && sigint.pending()) this.interrupt();
      return run.interrupted || run.stopping || run.asyncErrors.length > 0;
    }

    /** SIGINT, or an interrupt_request: stops the running cell, if any. */
    interrupt(): boolean {
      const run = this.current;
      if (!run || run.done) return false;
      run.interrupted = true;
      this.executor.interrupt();
      return true;
    }

    /**
     * An uncaught exception or unhandled rejection. While a cell runs it fails that cell (and
     * stops waiting for it); otherwise it is printed to stderr as tslab did, with the prefix
     * that scripts/lib/execute_notebook.py looks for.
     */
    onAsyncError(kind: AsyncErrorKind, err: unknown): void {
      const run = this.current;
      if (run && !run.done) {
        if (run.stopping) return;
        run.asyncErrors.push({ kind, err });
        if (run.asyncErrors.length === 1) this.executor.interrupt();
        return;
      }
      const prefix = kind === 'rejection' ? 'UnhandledPromiseRejection:' : 'UncaughtException:';
      const { traceback } = this.tracebacks.fromThrown(err);
      process.stderr.write(`${prefix} ${traceback.join('\n')}\n`);
    }

    /**
     * Runs one execute_request. `io.publish(msgType, content)` sends on IOPub with this
     * request as parent. Returns the execute_reply content.
     */
    async execute(req: ExecuteRequest, io: Publisher): Promise<ExecuteReplyContent> {
      try {
        return await this.execQueue.add(() => this.runCell(req, io));
      } catch (e) {
        if (e instanceof StopOnError) {
          // The cells queued behind this one are now cancelled (TaskCanceledError: `aborted`).
          // A cell sent after this reply runs, as in ipykernel, once those are settled. (tslab's
          // own recovery, reset(200), refused every cell for 200 ms: JupyterLab's next cell,
          // run at once after an interrupted one, came back aborted.)
          const queue = this.execQueue as unknown as { prev: Promise<unknown> };
          queue.prev = queue.prev.then(
            () => undefined,
            () => undefined,
          );
          return e.content;
        }
        if (e instanceof tslabUtil.TaskCanceledError) return { status: 'aborted', execution_count: this.execCount };
        const text = e instanceof Error ? (e.stack ?? String(e)) : String(e);
        this.log(`kernel error while executing: ${text}`);
        return { status: 'error', ename: 'KernelError', evalue: String(e), traceback: [text], execution_count: this.execCount };
      }
    }

    async runCell(req: ExecuteRequest, io: Publisher): Promise<ExecuteReplyContent> {
      const code = typeof req.code === 'string' ? req.code : '';
      const silent = Boolean(req.silent);
      const storeHistory = !silent && req.store_history !== false;
      if (storeHistory) this.execCount++;
      const count = this.execCount;
      if (!silent) io.publish('execute_input', { code, execution_count: count });
      const entry = storeHistory ? this.history.add(count, code) : null;

      // Streams and display go to this cell (and keep going to it after it ends, as tslab and
      // ipykernel do, for output from timers).
      process.stdout.write = this.writer('stdout', io);
      process.stderr.write = this.writer('stderr', io);
      const displayed: object[] = [];
      jupyter.lastWriteDisplayData = (msg: DisplayMessage, update: boolean) => {
        if (!update && msg && msg.data) displayed.push(msg.data);
        io.publish(update ? 'update_display_data' : 'display_data', msg);
      };

      const serial = ++this.serial;
      const label = storeHistory ? `In[${count}]` : `In[silent ${serial}]`;
      const run: Run = {
        cell: { file: `frugal-cell-${serial}.js`, label, code },
        capture: { hasValue: false, value: undefined, errors: [], diagnostics: [] },
        asyncErrors: [],
        interrupted: false,
        stopping: false,
        stopError: null,
        async: false,
        done: false,
        ranPromise: null,
      };
      this.current = run;
      const tfBefore = tfGuard.snapshot();

      let ok: boolean;
      const notes: string[] = [];
      let poll: NodeJS.Timeout | undefined;
      try {
        const pending = this.runInExecutor(run);
        if (run.ranPromise) {
          // An asynchronous cell: from here on its code runs in callbacks, where SIGINT is
          // seen by the watchdog (sigint.ts), polled here and before each tensor operation.
          sigint.start();
          const shouldStop = (): boolean => this.shouldStop(run);
          const onThrow = (err: Error): void => {
            run.stopError ??= err;
          };
          tfGuard.watch(shouldStop, onThrow);
          poll = setInterval(() => {
            shouldStop();
            tfGuard.watch(shouldStop, onThrow); // in case the cell loaded tfjs after an await
          }, 100);
        }
        ok = await pending;
        await settle();
        // A synchronous stretch stopped by SIGINT (vm's breakOnSigint: the signal never reaches
        // the process's SIGINT listener).
        if (run.capture.errors.some(isInterruptedError)) run.interrupted = true;
        if (run.interrupted || run.asyncErrors.length) {
          ok = false;
          if (run.ranPromise) {
            // The rest of the cell may still be scheduled: its tensor operations now throw;
            // give it a moment to unwind. What it throws meanwhile is part of stopping.
            run.stopping = true;
            if (!(await settledWithin(run.ranPromise, INTERRUPT_GRACE_MS))) {
              notes.push(
                `the cell's remaining asynchronous code did not stop within ${INTERRUPT_GRACE_MS} ms ` +
                  '(it made no tensor operation); it may still be running',
              );
            }
          }
        }
      } finally {
        clearInterval(poll);
        tfGuard.unwatch();
        sigint.stop();
        run.done = true;
      }
      if (!ok) {
        const fixed = tfGuard.repair(tfBefore);
        if (fixed) {
          if (fixed.completed) notes.push(`tfjs: completed ${fixed.completed}, which the interrupt had cut in half`);
          notes.push(
            `tfjs: closed ${fixed.scopes} tf.tidy scope(s) the cell left open, ` + `disposing ${fixed.disposed} tensor(s) they tracked`,
          );
          if (fixed.broken.length) {
            notes.push(`tfjs: the data of variable(s) ${fixed.broken.join(', ')} is lost: create them again (please report this)`);
          }
        }
      }

      const cap = run.capture;
      if (ok) {
        if (cap.diagnostics.length) {
          // A `//%module` cell: tslab registers it despite errors and prints them.
          for (const d of cap.diagnostics) process.stderr.write(`${d.file ? `${d.file} ` : ''}${d.line}:${d.col} - ${d.message}\n`);
        }
        if (cap.hasValue && !silent) {
          const data = await this.repr(cap.value, displayed);
          io.publish('execute_result', { execution_count: count, data, metadata: {} });
          if (entry) entry.output = typeof data['text/plain'] === 'string' ? data['text/plain'] : null;
        }
        return { status: 'ok', execution_count: count, payload: [], user_expressions: {} };
      }

      const error = this.errorContent(run);
      if (notes.length) error.traceback.push('', ...notes);
      io.publish('error', error);
      const content: ExecuteReplyContent = { status: 'error', execution_count: count, ...error };
      if (req.stop_on_error !== false) throw new StopOnError(content);
      return content;
    }

    /**
     * tslab's executor.execute(code), with its vm.runInThisContext call given this cell's
     * script name (for tracebacks) and its result kept (an asynchronous cell's promise). The
     * replacement lives only for the synchronous part of execute(), which is where tslab
     * converts and starts the cell, and only touches the call that tslab makes.
     *
     * While tslab compiles (tens to hundreds of ms), the SIGINT watchdog records an interrupt
     * that the process's listener could only see after the cell, too late for an endless
     * synchronous loop; such a cell is then not started. The watchdog is off again during
     * vm's run, which has its own (breakOnSigint).
     */
    runInExecutor(run: Run): Promise<boolean> {
      const original = vm.runInThisContext;
      const replacement = function (this: unknown, code: string, options?: vm.RunningScriptOptions | string): unknown {
        if (typeof code !== 'string' || !code.endsWith(WRAP_END)) return original.call(this, code, options);
        if (sigint.stop()) {
          const err = Object.assign(new Error('interrupted before the cell started'), { code: 'ERR_SCRIPT_EXECUTION_INTERRUPTED' });
          throw err;
        }
        const opts = typeof options === 'string' ? { filename: run.cell.file } : { ...options, filename: run.cell.file };
        // The part of the cell that SIGINT can terminate: journal tfjs's bookkeeping (tf-guard).
        tfGuard.setJournal(true);
        let result: unknown;
        try {
          result = original.call(this, code, opts);
        } finally {
          tfGuard.setJournal(false);
        }
        if (result && typeof (result as { then?: unknown }).then === 'function') run.ranPromise = result as Promise<unknown>;
        return result;
      };
      vm.runInThisContext = replacement as typeof vm.runInThisContext;
      sigint.start();
      try {
        return this.executor.execute(run.cell.code);
      } finally {
        vm.runInThisContext = original;
        sigint.stop();
      }
    }

    /** The `error` content for a failed cell, in order of what caused the failure. */
    errorContent(run: Run): ErrorContent {
      const cap = run.capture;
      if (run.interrupted) {
        const sync = cap.errors.some(isInterruptedError);
        // Stopped by the tensor-operation guard: its error knows where the loop was.
        const atOp = run.stopError;
        const early = cap.errors.some((e) => e instanceof Error && e.message === 'interrupted before the cell started');
        const how = early
          ? 'while it was being compiled: it did not run'
          : sync
            ? 'its synchronous code was stopped by SIGINT'
            : atOp
              ? 'at a tensor operation'
              : 'while awaiting';
        const traceback = atOp ? this.tracebacks.fromThrown(atOp).traceback : [''];
        traceback[0] = `KeyboardInterrupt: ${run.cell.label} was interrupted (${how})`;
        return { ename: 'KeyboardInterrupt', evalue: 'the cell was interrupted', traceback };
      }
      const [firstAsync, ...rest] = run.asyncErrors;
      if (firstAsync) {
        const note =
          firstAsync.kind === 'rejection'
            ? `A promise rejected and nothing handled it, while ${run.cell.label} ran:`
            : `An exception was thrown in a callback (timer, event), while ${run.cell.label} ran:`;
        const content = this.tracebacks.fromThrown(firstAsync.err, { note });
        for (const r of rest) content.traceback.push('', 'and also:', ...this.tracebacks.fromThrown(r.err).traceback);
        return content;
      }
      if (cap.diagnostics.length) return this.tracebacks.fromDiagnostics(cap.diagnostics, run.cell.label, run.cell.code);
      if (cap.errors.length) return this.tracebacks.fromThrown(cap.errors[0]);
      return { ename: 'Error', evalue: 'the cell failed', traceback: ['Error: the cell failed (tslab gave no reason)'] };
    }

    /** A process.stdout/stderr.write that sends a stream message. */
    writer(name: 'stdout' | 'stderr', io: Publisher): typeof process.stdout.write {
      const decoder = new TextDecoder();
      const write = (chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean => {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        if (text) io.publish('stream', { name, text });
        const done = typeof encoding === 'function' ? encoding : cb;
        if (typeof done === 'function') process.nextTick(done);
        return true;
      };
      return write;
    }
  }
  return CourseHandler;
}
