// Runs cells: tslab's JupyterHandlerImpl (inspect, complete, is_complete, its task queue)
// with an execute path that gives Jupyter what tslab leaves out: execution counts,
// `execute_input`, the last value as an `execute_result`, errors as `error` messages with a
// traceback at the cell's lines, asynchronous errors attributed to the running cell, and
// interrupts that leave TensorFlow.js consistent. See docs/kernel.md.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { mapsFor, clearMaps } = require('./converter.cjs');
const tfGuard = require('./tf-guard.cjs');
const sigint = require('./sigint.cjs');
const { History } = require('./history.cjs');

/** What tslab's executor wraps a cell's code in (executor.js), to offset columns on line 1. */
const WRAP_SYNC = '(function(exports, require) { ';
const WRAP_ASYNC = '(async function(exports, require) { ';
/** The end of that wrapper: how the kernel recognises tslab's own vm.runInThisContext call. */
const WRAP_END = '\n})(__tslab__.exports, __tslab__.require)';
/** tslab's diagnostic format (executor.js printDiagnostics). */
const DIAGNOSTIC_FORMAT = '%s%d:%d - %s';
/** How long an interrupted asynchronous cell gets to stop before the reply is sent. */
const INTERRUPT_GRACE_MS = Number(process.env.FRUGAL_INTERRUPT_GRACE_MS ?? 3000);

/** Thrown inside the task queue so that tslab's TaskQueue aborts the queued cells. */
class StopOnError {
  constructor(content) {
    this.content = content;
  }
}

/** Lets timers due now and rejections nobody handled fire while the cell still counts as running. */
function settle() {
  return new Promise((resolve) => setTimeout(() => setImmediate(resolve), 0));
}

/** Resolves with true once `p` settles, or with false after `ms`. */
function settledWithin(p, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    Promise.resolve(p).then(
      () => (clearTimeout(t), resolve(true)),
      () => (clearTimeout(t), resolve(true)),
    );
  });
}

/**
 * @param {typeof import('tslab/dist/jupyter').JupyterHandlerImpl} Base tslab's handler class
 * @param {{TaskCanceledError: Function}} tslabUtil tslab's dist/util.js
 * @param {object} jupyter tslab's dist/jupyter.js (its `lastWriteDisplayData` is the display hook)
 */
function defineHandler(Base, tslabUtil, jupyter) {
  class CourseHandler extends Base {
    /**
     * @param {object} executor tslab's executor (createExecutor), whose console is `sink`
     * @param {object} options
     * @param {import('./traceback.cjs').Tracebacks} options.tracebacks
     * @param {(value: unknown, displayed: object[]) => Promise<object>} options.repr
     * @param {object} options.info versions for kernel_info
     * @param {(line: string) => void} options.log the kernel's own log (its real stderr)
     */
    constructor(executor, { tracebacks, repr, info, log }) {
      super(executor, false);
      this.tracebacks = tracebacks;
      this.repr = repr;
      this.info = info;
      this.log = log;
      this.history = new History();
      /** Serial number of compiled cells (also counts silent ones). */
      this.serial = 0;
      /** The cell being run: {cell, capture, asyncErrors, interrupted, done, ranPromise}. */
      this.current = null;
    }

    /** The console given to tslab's executor: the last value and errors come here. */
    get sink() {
      return {
        log: (value) => {
          if (this.current) Object.assign(this.current.capture, { hasValue: true, value });
        },
        error: (...args) => {
          const cap = this.current?.capture;
          if (!cap) return;
          if (args[0] === DIAGNOSTIC_FORMAT) {
            cap.diagnostics.push({ file: String(args[1]).trim(), line: args[2], col: args[3], message: String(args[4]) });
          } else cap.errors.push(args[0]);
        },
      };
    }

    handleKernel() {
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

    handleShutdown(req) {
      return { status: 'ok', restart: Boolean(req.restart) };
    }

    handleHistory(req) {
      return this.history.reply(req);
    }

    /** Called with every conversion of tslab's node converter (converter.cjs ConverterSet). */
    onConvert(result) {
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
    shouldStop(run) {
      if (!run.interrupted && !run.done && sigint.pending()) this.interrupt();
      return run.interrupted || run.stopping || run.asyncErrors.length > 0;
    }

    /** SIGINT, or an interrupt_request: stops the running cell, if any. */
    interrupt() {
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
    onAsyncError(kind, err) {
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
    async execute(req, io) {
      try {
        return await this.execQueue.add(() => this.runCell(req, io));
      } catch (e) {
        if (e instanceof StopOnError) {
          // tslab's own recovery: queued cells are now cancelled (TaskCanceledError); new ones
          // run again after 200 ms.
          this.execQueue.reset(200);
          return e.content;
        }
        if (e instanceof tslabUtil.TaskCanceledError) return { status: 'aborted', execution_count: this.execCount };
        this.log(`kernel error while executing: ${e?.stack ?? e}`);
        return { status: 'error', ename: 'KernelError', evalue: String(e), traceback: [String(e?.stack ?? e)], execution_count: this.execCount };
      }
    }

    async runCell(req, io) {
      const code = String(req.code ?? '');
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
      const displayed = [];
      jupyter.lastWriteDisplayData = (msg, update) => {
        if (!update && msg && msg.data) displayed.push(msg.data);
        io.publish(update ? 'update_display_data' : 'display_data', msg);
      };

      const serial = ++this.serial;
      const label = storeHistory ? `In[${count}]` : `In[silent ${serial}]`;
      const run = {
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

      let ok = false;
      const notes = [];
      let poll = null;
      try {
        const pending = this.runInExecutor(run);
        if (run.ranPromise) {
          // An asynchronous cell: from here on its code runs in callbacks, where SIGINT is
          // seen by the watchdog (sigint.cjs), polled here and before each tensor operation.
          sigint.start();
          const shouldStop = () => this.shouldStop(run);
          const onThrow = (err) => {
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
        if (run.capture.errors.some((e) => e && e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED')) run.interrupted = true;
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
          notes.push(
            `tfjs: closed ${fixed.scopes} tf.tidy scope(s) the cell left open, ` +
              `disposing ${fixed.disposed} tensor(s) they tracked`,
          );
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
      const content = { status: 'error', execution_count: count, ...error };
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
    runInExecutor(run) {
      const original = vm.runInThisContext;
      vm.runInThisContext = function (code, options) {
        if (typeof code !== 'string' || !code.endsWith(WRAP_END)) return original.call(this, code, options);
        if (sigint.stop()) {
          const err = new Error('interrupted before the cell started');
          err.code = 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
          throw err;
        }
        const result = original.call(this, code, { ...options, filename: run.cell.file });
        if (result && typeof result.then === 'function') run.ranPromise = result;
        return result;
      };
      sigint.start();
      try {
        return this.executor.execute(run.cell.code);
      } finally {
        vm.runInThisContext = original;
        sigint.stop();
      }
    }

    /** The `error` content for a failed cell, in order of what caused the failure. */
    errorContent(run) {
      const cap = run.capture;
      if (run.interrupted) {
        const sync = cap.errors.some((e) => e && e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED');
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
        const content = atOp ? this.tracebacks.fromThrown(atOp) : { traceback: [''] };
        content.traceback[0] = `KeyboardInterrupt: ${run.cell.label} was interrupted (${how})`;
        return { ename: 'KeyboardInterrupt', evalue: 'the cell was interrupted', traceback: content.traceback };
      }
      if (run.asyncErrors.length) {
        const [{ kind, err }, ...rest] = run.asyncErrors;
        const note =
          kind === 'rejection'
            ? `A promise rejected and nothing handled it, while ${run.cell.label} ran:`
            : `An exception was thrown in a callback (timer, event), while ${run.cell.label} ran:`;
        const content = this.tracebacks.fromThrown(err, { note });
        for (const r of rest) content.traceback.push('', 'and also:', ...this.tracebacks.fromThrown(r.err).traceback);
        return content;
      }
      if (cap.diagnostics.length) return this.tracebacks.fromDiagnostics(cap.diagnostics, run.cell.label, run.cell.code);
      if (cap.errors.length) return this.tracebacks.fromThrown(cap.errors[0]);
      return { ename: 'Error', evalue: 'the cell failed', traceback: ['Error: the cell failed (tslab gave no reason)'] };
    }

    /** A process.stdout/stderr.write that sends a stream message. */
    writer(name, io) {
      const decoder = new TextDecoder();
      return (chunk, encoding, cb) => {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        if (text) io.publish('stream', { name, text });
        const done = typeof encoding === 'function' ? encoding : cb;
        if (typeof done === 'function') process.nextTick(done);
        return true;
      };
    }
  }
  return CourseHandler;
}

module.exports = { defineHandler, StopOnError };
