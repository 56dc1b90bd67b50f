// The kernel owns the process's two error events, `uncaughtException` and `unhandledRejection`.
//
// Libraries a cell loads may listen to them as if they owned the process. Emscripten-built
// modules do: once tfjs-backend-wasm has loaded, its listeners rethrow every uncaught exception
// and every unhandled rejection, and a listener that throws ends the process, so one
// `Promise.reject(new Error('nope'))` in a cell killed the kernel, taking every variable with it.
//
// Removing such listeners after the fact is a race (a library can add one in the same cell
// that then throws), and blocking `process.on` misses `addListener`, `prependListener` and
// `EventEmitter.prototype.on.call(process, ...)`. Node itself raises both events through
// `process.emit(name, ...)`, looked up on `process` each time, so `own` replaces `process.emit`
// with a function that hands these two events to the kernel's handler alone and passes every
// other event through unchanged. Other listeners stay registered (a library that checks for
// them still finds them) but are never called; the kernel logs, once per listener, that it
// set one aside.

export const EVENTS: ReadonlySet<string> = new Set(['uncaughtException', 'unhandledRejection']);

/** What failed asynchronously: an uncaught exception or an unhandled rejection. */
export type AsyncErrorKind = 'exception' | 'rejection';

/** The part of `process` that `own` touches (a stand-in in tests). */
export interface EmittingProcess {
  emit: (this: unknown, name: string | symbol, ...args: unknown[]) => boolean;
  listeners: (name: string) => ((...args: never[]) => unknown)[];
}

/**
 * Routes `uncaughtException` and `unhandledRejection` to `handle` only, whatever listeners
 * other code registers. Returns a function that restores `process.emit`.
 * @param handle the kernel's handler
 * @param log the kernel's own log
 */
export function own(
  handle: (kind: AsyncErrorKind, err: unknown) => void,
  log: (line: string) => void,
  proc: EmittingProcess = process as unknown as EmittingProcess,
): () => void {
  const original = proc.emit;
  const seen = new WeakSet<object>();
  function emit(this: unknown, name: string | symbol, ...args: unknown[]): boolean {
    if (typeof name === 'string' && EVENTS.has(name)) {
      for (const l of proc.listeners(name)) {
        if (!seen.has(l)) {
          seen.add(l);
          const src = String(l).replace(/\s+/g, ' ').slice(0, 80);
          log(`a library's process.on('${name}') listener is set aside (the kernel reports these errors in the cell): ${src}`);
        }
      }
      try {
        handle(name === 'unhandledRejection' ? 'rejection' : 'exception', args[0]);
      } catch (e) {
        log(`the kernel's ${name} handler failed: ${e instanceof Error ? e.stack : String(e)}`);
      }
      return true;
    }
    return original.call(this, name, ...args);
  }
  proc.emit = emit;
  return () => {
    if (proc.emit === emit) proc.emit = original;
  };
}
