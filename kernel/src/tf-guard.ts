// Keeps TensorFlow.js consistent when a cell is interrupted.
//
// A synchronous cell is interrupted by V8 terminating it (vm's breakOnSigint): no `catch` and
// no `finally` runs, so a `tf.tidy` cut short leaves its scope open on the engine's scope
// stack. Every tensor made after that, in any later cell, would be tracked by the dead scope
// and never freed by a tidy. `snapshot` records the engine's bookkeeping before a cell and
// `repair` closes what the interrupted cell left open, disposing what those scopes tracked,
// exactly as the tidy would have done on an exception.
//
// An asynchronous cell cannot be terminated: after its first `await` it runs in callbacks.
// While it runs, `watch(shouldStop)` asks `shouldStop()` before each tensor operation and, once
// it says yes (an interrupt, or the cell failed), throws a KeyboardInterrupt error there: a
// training loop stops at its next op and unwinds through its own tidy scopes (which do run
// `finally` then). `unwatch` restores the engine.
//
// The engine is tfjs-core's process-wide singleton, globalThis._tfengine; nothing here loads
// tfjs. Only the engine's public-in-practice state is touched: `state.scopeStack`,
// `state.activeScope`, `state.gradientDepth`, `state.kernelDepth`, `state.activeTape`,
// `state.numDataMovesStack`, and the methods `runKernel`, `makeTensor`, `startScope` (shadowed
// by own properties while watched, deleted after).

/** The parts of tfjs-core's Engine (engine.js) that the guard reads and writes. */
interface Engine {
  state: {
    scopeStack: unknown[];
    gradientDepth: number;
    kernelDepth: number;
    numTensors: number;
    activeTape: { saved?: { dispose(): void }[] }[] | null;
    numDataMovesStack: unknown[];
  };
  endScope(): void;
  [method: string]: unknown;
}

/** The engine's bookkeeping before a cell runs. */
export interface Snapshot {
  scopes: number;
  gradientDepth: number;
  kernelDepth: number;
  dataMoves: number;
}

/** tfjs-core's engine if tfjs is loaded, else null. */
export function engine(): Engine | null {
  const e = (globalThis as { _tfengine?: Partial<Engine> })._tfengine;
  return e && e.state && Array.isArray(e.state.scopeStack) ? (e as Engine) : null;
}

/** The engine's bookkeeping before a cell runs. */
export function snapshot(): Snapshot {
  const e = engine();
  if (!e) return { scopes: 0, gradientDepth: 0, kernelDepth: 0, dataMoves: 0 };
  return {
    scopes: e.state.scopeStack.length,
    gradientDepth: e.state.gradientDepth,
    kernelDepth: e.state.kernelDepth,
    dataMoves: e.state.numDataMovesStack.length,
  };
}

/**
 * Closes the scopes an interrupted cell left open (disposing the tensors they tracked) and
 * resets gradient and kernel depths. Returns what it did, or null when there was nothing to do.
 */
export function repair(before: Snapshot): { scopes: number; disposed: number } | null {
  const e = engine();
  if (!e) return null;
  const s = e.state;
  const numTensors = s.numTensors;
  let scopes = 0;
  while (s.scopeStack.length > before.scopes) {
    e.endScope();
    scopes++;
  }
  const depths = s.gradientDepth !== before.gradientDepth || s.kernelDepth !== before.kernelDepth;
  s.gradientDepth = before.gradientDepth;
  s.kernelDepth = before.kernelDepth;
  if (s.gradientDepth === 0 && s.activeTape) {
    // What gradients() does when the outermost tape ends: free the tensors saved for backprop.
    for (const node of s.activeTape) for (const t of node.saved ?? []) t.dispose();
    s.activeTape = null;
  }
  if (s.numDataMovesStack.length > before.dataMoves) s.numDataMovesStack.length = before.dataMoves;
  if (scopes === 0 && !depths) return null;
  return { scopes, disposed: numTensors - s.numTensors };
}

/** The error a guarded tensor operation throws after an interrupt. */
function interruptError(): Error {
  const err = new Error('the cell was interrupted: tensor operations are stopped until it ends');
  err.name = 'KeyboardInterrupt';
  return err;
}

const GUARDED = ['runKernel', 'makeTensor', 'startScope'] as const;
let watched: Engine | null = null;

/**
 * Makes every tensor operation call `shouldStop()` first, and throw when it returns true,
 * until `unwatch`. Returns false when tfjs is not loaded (yet).
 * @param onThrow sees each error before it is thrown
 */
export function watch(shouldStop: () => boolean, onThrow: (err: Error) => void = () => {}): boolean {
  const e = engine();
  if (!e) return false;
  if (watched) return true;
  watched = e;
  for (const name of GUARDED) {
    const original = e[name] as (...args: unknown[]) => unknown;
    e[name] = function (this: unknown, ...args: unknown[]): unknown {
      if (shouldStop()) {
        const err = interruptError();
        onThrow(err);
        throw err;
      }
      return original.apply(this, args);
    };
  }
  return true;
}

/** Restores the engine's methods (the prototype's, which the guards shadowed). */
export function unwatch(): void {
  if (!watched) return;
  for (const name of GUARDED) delete watched[name];
  watched = null;
}
