// Noticing SIGINT (Jupyter's interrupt) while an asynchronous cell runs, even while its code
// keeps the event loop busy.
//
// A `process.on('SIGINT')` listener runs only when the event loop is free: a cell that awaited
// something and then loops synchronously (`await tf.setBackend('wasm'); for (...) step();`)
// never lets it run. vm's `breakOnSigint` covers only the cell's first synchronous stretch.
// Node's SIGINT watchdog, which the REPL and `breakOnSigint` use, records the signal from its
// own thread instead: `start()` turns it on, `pending()` reads it (the kernel polls it, and its
// TensorFlow.js guard asks it before each tensor operation), `stop()` turns it off.
//
// The watchdog lives in the `contextify` binding, reached through `process.binding`
// (deprecated, still provided by Node 20 and 22). Without it, this module does nothing and
// the kernel relies on its SIGINT listener alone.

/** The three functions of Node's contextify binding that this module uses. */
interface Watchdog {
  startSigintWatchdog(): void;
  stopSigintWatchdog(): boolean;
  watchdogHasPendingSigint(): boolean;
}

function loadWatchdog(): Watchdog | null {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<Watchdog> }).binding('contextify');
    if (
      typeof binding.startSigintWatchdog === 'function' &&
      typeof binding.stopSigintWatchdog === 'function' &&
      typeof binding.watchdogHasPendingSigint === 'function'
    ) {
      return binding as Watchdog;
    }
  } catch {
    // no binding: the kernel relies on its SIGINT listener
  }
  return null;
}

const binding = loadWatchdog();
let active = false;

/** True when the watchdog is available in this Node. */
export function available(): boolean {
  return binding !== null;
}

/** Starts recording SIGINT (the process's SIGINT listeners are not called until `stop`). */
export function start(): boolean {
  if (!binding || active) return false;
  binding.startSigintWatchdog();
  active = true;
  return true;
}

/** True once a SIGINT arrived since `start`. */
export function pending(): boolean {
  return active && binding !== null && binding.watchdogHasPendingSigint();
}

/**
 * Stops recording; returns whether a SIGINT arrived. The watchdog leaves SIGINT with Node's
 * exit handler, so the process's listeners are removed and added again, which installs
 * libuv's handler again (what node:vm does after a `breakOnSigint` run).
 */
export function stop(): boolean {
  if (!active || !binding) return false;
  active = false;
  const had = binding.stopSigintWatchdog();
  const listeners = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  for (const l of listeners) process.on('SIGINT', l);
  return had;
}
