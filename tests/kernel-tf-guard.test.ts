/**
 * kernel/src/tf-guard.ts, without a kernel: an interrupt (V8 terminating a synchronous cell)
 * that lands inside TensorFlow.js's own bookkeeping, then `repair`. The interrupts here are real
 * terminations, made deterministic: a hook on one of tfjs's bookkeeping steps (a counter set, a
 * backend call, `w.dataId` set...) sends SIGINT to this process while the step runs under vm's
 * breakOnSigint, as tslab runs a cell, and spins until V8 terminates it there. No `catch` and no
 * `finally` runs, as in the kernel. Every step of one training step is cut in turn.
 *
 * The bug this pins (CI, 2026-12-02): a cut inside `Variable.assign`, after `this.dataId =
 * newValue.dataId` and before the reference is counted, then `repair` closing the tidy scope,
 * freed the data the variable pointed at; the next step threw "Cannot read properties of
 * undefined (reading 'backend')" in Engine.moveData. tests/kernel/stress_interrupts.py checks
 * the same through a live kernel.
 */
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fusedDense } from '../lib/ops/fused-dense';
import { pendingOutputCount, protect, repair, setJournal, snapshot, type Snapshot } from '../kernel/src/tf-guard';

/** The engine state these tests read (tfjs-core 4.22 engine.js). */
interface State {
  numTensors: number;
  numBytes: number;
  numDataBuffers: number;
  scopeStack: unknown[];
  activeScope: unknown;
  tensorInfo: WeakMap<object, unknown>;
}
interface CpuBackend {
  refCount(dataId: object): number;
  numDataIds(): number;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  data: { delete(dataId: object): boolean; set(dataId: object, v: unknown): void };
}
const engine = () => tf.engine() as unknown as { state: State; backend: CpuBackend } & Record<string, unknown>;

let onEvent: (name: string) => void = () => {};
/** The bookkeeping steps that can be cut, in the order one step() passes them. */
function hook(target: Record<string, unknown>, name: string, label: string): void {
  const original = target[name] as (...a: unknown[]) => unknown;
  target[name] = function (this: unknown, ...args: unknown[]): unknown {
    onEvent(`before ${label}`);
    const r = original.apply(this, args);
    onEvent(`after ${label}`);
    return r;
  };
}

let w: tf.Variable;
/** One training step, as in the protocol test: the update made in a tidy and assigned to w. */
function step(): void {
  tf.tidy(() => {
    w.assign(w.add(1).relu());
  });
}

/** Runs `f` (step) as tslab runs a cell, cut at bookkeeping step `k` (none: -1). */
function runCut(k: number, f: () => void = step): { cut: string | null; events: string[] } {
  const events: string[] = [];
  let cut: string | null = null;
  onEvent = (name) => {
    events.push(name);
    if (events.length - 1 !== k) return;
    cut = name;
    process.kill(process.pid, 'SIGINT');
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      // V8 terminates the script here, at this loop's interrupt check.
    }
    throw new Error(`SIGINT did not terminate the script within 5 s (at ${name})`);
  };
  (globalThis as { __frugalStep?: () => void }).__frugalStep = f;
  try {
    vm.runInThisContext('globalThis.__frugalStep()', { breakOnSigint: true });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_INTERRUPTED') throw err;
  } finally {
    onEvent = () => {};
  }
  return { cut, events };
}

const value = (): number => w.dataSync()[0] ?? NaN;

/** A new variable w whose `dataId` assignment is a step that can be cut. */
function newVariable(name: string): void {
  w = tf.variable(tf.zeros([3]), true, name);
  let dataId = (w as unknown as { dataId: object }).dataId;
  Object.defineProperty(w, 'dataId', {
    get: () => dataId,
    set: (d: object) => {
      dataId = d;
      onEvent('w.dataId = new');
    },
  });
  step(); // from here on every step() passes the same bookkeeping steps
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const e = engine();
  // Hooks on every step of tfjs's bookkeeping that one step() goes through.
  for (const name of ['numTensors', 'numBytes', 'numDataBuffers'] as const) {
    let v = e.state[name];
    Object.defineProperty(e.state, name, {
      get: () => v,
      set: (x: number) => {
        v = x;
        onEvent(`${name} = ${x}`);
      },
      configurable: true,
    });
  }
  hook(e.state.tensorInfo as unknown as Record<string, unknown>, 'set', 'tensorInfo.set');
  hook(e.state.tensorInfo as unknown as Record<string, unknown>, 'delete', 'tensorInfo.delete');
  hook(e.backend as unknown as Record<string, unknown>, 'disposeData', 'backend.disposeData');
  hook(e.backend as unknown as Record<string, unknown>, 'incRef', 'backend.incRef');
  hook(e.backend.data, 'delete', 'backend data delete');
  hook(e.backend.data, 'set', 'backend data set');
  hook(e, 'track', 'engine.track');
  hook(e, 'removeDataId', 'engine.removeDataId');
  const proto = Object.getPrototypeOf(tf.tensor1d([1])) as object; // Tensor.prototype
  const flag = Symbol('isDisposedInternal');
  Object.defineProperty(proto, 'isDisposedInternal', {
    get(this: Record<symbol, boolean>) {
      return this[flag];
    },
    set(this: Record<symbol, boolean>, x: boolean) {
      this[flag] = x;
      if (x) onEvent('tensor marked disposed');
    },
    configurable: true,
  });
  newVariable('w');
});

describe('an interrupt inside tfjs bookkeeping, then repair', () => {
  it('without the journal, a cut between w.dataId = new and its reference count frees w (the CI failure)', () => {
    // Runs before protect() is ever called in this process: repair as it was.
    const before: Snapshot = { scopes: 0, gradientDepth: 0, kernelDepth: 0, dataMoves: 0 };
    const { events } = runCut(-1);
    const k = events.indexOf('w.dataId = new');
    expect(k).toBeGreaterThan(0);
    expect(runCut(k).cut).toBe('w.dataId = new');
    repair(before);
    expect(() => w.dataSync()).toThrow(/reading 'backend'/);
    w.dispose(); // unregisters it
    // Start again with a sound variable for the next tests.
    newVariable('w2');
  });

  it('with the journal, every cut of a training step leaves a readable variable and exact counts', () => {
    protect();
    setJournal(true); // as the kernel does while a cell's synchronous part runs
    const e = engine();
    const { events } = runCut(-1);
    expect(events.length).toBeGreaterThan(40);
    const cutsAt: string[] = [];
    for (let k = 0; k < events.length; k++) {
      const before = snapshot();
      const old = value();
      const counts = { numTensors: e.state.numTensors, numBytes: e.state.numBytes, numDataBuffers: e.state.numDataBuffers };
      const buffers = e.backend.numDataIds();
      const { cut } = runCut(k);
      expect(cut, `cut ${k} did not land`).not.toBeNull();
      cutsAt.push(String(cut));
      repair(before);
      const where = `cut ${k} (at ${cut})`;
      const now = value(); // throws "reading 'backend'" for a freed variable
      expect([old, old + 1], where).toContain(now);
      expect(e.backend.refCount((w as unknown as { dataId: object }).dataId), where).toBe(1);
      expect({ numTensors: e.state.numTensors, numBytes: e.state.numBytes, numDataBuffers: e.state.numDataBuffers }, where).toEqual(counts);
      expect(e.state.scopeStack.length, where).toBe(0);
      expect(e.state.activeScope, where).toBeNull();
      // No buffer that no tensor owns (a kernel's output cut before its tensor was made), but
      // for a cut inside backend.write, between storing the data and returning its id.
      expect(e.backend.numDataIds() - buffers, `${where}: backend buffers`).toBe(cut === 'after backend data set' ? 1 : 0);
      step();
      expect(value(), `${where}: the next step`).toBe(now + 1);
    }
    // The windows of the bug were among the cuts: inside assign, and a tensor released but not
    // yet marked disposed.
    expect(cutsAt).toContain('w.dataId = new');
    expect(cutsAt).toContain('after backend.disposeData');
  });

  it('with the journal, every cut of an Adam step (tape, gradients, three assigns) leaves every variable sound and exact counts', () => {
    const e = engine();
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const a = tf.variable(tf.ones([2, 2]), true, 'a');
    const opt = tf.train.adam(0.1);
    const adam = (): void => {
      tf.tidy(() => {
        opt.minimize(() => tf.matMul(x, a).square().mean<tf.Scalar>(), false, [a]);
      });
    };
    adam(); // makes Adam's moment variables
    adam();
    const registered = (): tf.Variable[] => Object.values((e.state as unknown as { registeredVariables: Record<string, tf.Variable> }).registeredVariables);
    expect(registered().length).toBe(6); // w2, a, a's two moments, Adam's two powers of beta
    const { events } = runCut(-1, adam);
    expect(events.length).toBeGreaterThan(200);
    for (let k = 0; k < events.length; k++) {
      const before = snapshot();
      const counts = { numTensors: e.state.numTensors, numBytes: e.state.numBytes, numDataBuffers: e.state.numDataBuffers };
      const buffers = e.backend.numDataIds();
      const { cut } = runCut(k, adam);
      repair(before);
      const where = `cut ${k} (at ${cut})`;
      for (const v of registered()) {
        expect(() => v.dataSync(), `${where}: variable ${v.name}`).not.toThrow();
        expect(e.backend.refCount((v as unknown as { dataId: object }).dataId), `${where}: variable ${v.name}`).toBe(1);
      }
      const got = { numTensors: e.state.numTensors, numBytes: e.state.numBytes, numDataBuffers: e.state.numDataBuffers };
      expect(got, where).toEqual(counts);
      expect([e.state.scopeStack.length, e.state.activeScope], where).toEqual([0, null]);
      expect(e.backend.numDataIds() - buffers, `${where}: backend buffers`).toBe(cut === 'after backend data set' ? 1 : 0);
      adam();
    }
  });
});

describe('the journal stays small in a long cell', () => {
  it('a kernel that another kernel calls directly leaves nothing pending (it grew with every call, and every trackTensor searched it)', () => {
    protect();
    snapshot();
    const x = tf.ones<tf.Rank.R2>([4, 3]);
    const k = tf.ones<tf.Rank.R2>([3, 2]);
    const b = tf.zeros<tf.Rank.R1>([2]);
    setJournal(true);
    try {
      for (let i = 0; i < 20; i++) tf.dispose(fusedDense(x, k, b, { activation: 'relu' })); // calls the backend's BatchMatMul itself
      expect(pendingOutputCount()).toBe(0);
    } finally {
      setJournal(false);
    }
    tf.dispose([x, k, b]);
  });
});
