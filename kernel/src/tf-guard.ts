// Keeps TensorFlow.js consistent when a cell is interrupted.
//
// A synchronous cell is interrupted by V8 terminating it (vm's breakOnSigint): no `catch` and
// no `finally` runs, so a `tf.tidy` cut short leaves its scope open on the engine's scope
// stack. Every tensor made after that, in any later cell, would be tracked by the dead scope
// and never freed by a tidy. `snapshot` records the engine's bookkeeping before a cell and
// `repair` closes what the interrupted cell left open, disposing what those scopes tracked,
// exactly as the tidy would have done on an exception.
//
// The termination can also land inside tfjs's own bookkeeping, which is several statements
// long: `Variable.assign` releases the old data, points the variable at the new data, then
// counts a reference to it; `Tensor.dispose` releases the data, then marks the tensor
// disposed. Cut in between, the variable points at data that closing the scopes frees (the
// next step then fails in the engine with "Cannot read properties of undefined (reading
// 'backend')"), or a tensor is released twice. So the few engine operations that do such
// bookkeeping are journalled (`protect`): each records, before it starts, what it will change
// and the counters as they were, and removes its record in a `finally` (which a termination
// skips). `repair` first completes the operation that a termination left recorded, from those
// records and the backend's reference counts, and only then closes the scopes.
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
// `state.numDataMovesStack`, the counters and `state.tensorInfo`; the methods `runKernel`,
// `makeTensor`, `startScope` (shadowed by own properties while watched, deleted after);
// `trackTensor`, `incRef`, `disposeTensor`, `disposeVariable`, `makeVariable` and
// `Variable.prototype.assign` (shadowed for good once tfjs is loaded, by `protect`). The
// completion code follows tfjs-core 4.22's engine.js and tensor.js statement by statement.

/** A tfjs tensor as the engine sees it (tensor.js): what the journal reads and writes. */
interface TensorLike {
  dataId: object;
  id: number;
  dtype: string;
  size: number;
  shape: number[];
  scopeId?: number;
  isDisposedInternal?: boolean;
  kept?: boolean;
  name?: string;
}

/** A backend (cpu, wasm, tensorflow): the reference counts of its data. */
interface Backend {
  refCount(dataId: object): number;
  incRef(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** One entry of the engine's map from data to its backend (engine.js trackTensor). */
interface TensorInfo {
  backend: Backend;
  dtype: string;
  shape: number[];
  bytes: number;
}

/** A tidy scope on the engine's scope stack. */
interface Scope {
  track: TensorLike[];
  id: number;
}

/** The parts of tfjs-core's Engine (engine.js) that the guard reads and writes. */
interface Engine {
  state: {
    scopeStack: Scope[];
    activeScope: Scope | null;
    gradientDepth: number;
    kernelDepth: number;
    numTensors: number;
    numBytes: number;
    numStringTensors: number;
    numDataBuffers: number;
    tensorInfo: WeakMap<object, TensorInfo>;
    registeredVariables: Record<string, TensorLike>;
    activeTape: { saved?: { dispose(): void }[] }[] | null;
    numDataMovesStack: unknown[];
  };
  backend: Backend;
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
  protect();
  journal.length = 0;
  lastDone = null;
  pendingSaved = [];
  pendingOutputs.length = 0;
  return {
    scopes: e.state.scopeStack.length,
    gradientDepth: e.state.gradientDepth,
    kernelDepth: e.state.kernelDepth,
    dataMoves: e.state.numDataMovesStack.length,
  };
}

/** What `repair` did. */
export interface Repaired {
  /** tf.tidy scopes closed. */
  scopes: number;
  /** Tensors that closing them disposed. */
  disposed: number;
  /** The engine operation the termination cut in half and `repair` completed, or null. */
  completed: string | null;
  /** Registered variables whose data the engine no longer has (none, unless tfjs changes). */
  broken: string[];
}

/**
 * Completes an engine operation that a termination cut in half, closes the scopes an
 * interrupted cell left open (disposing the tensors they tracked) and resets gradient and
 * kernel depths. Returns what it did, or null when there was nothing to do.
 */
export function repair(before: Snapshot): Repaired | null {
  const e = engine();
  if (!e) return null;
  const s = e.state;
  const completed = completeJournal(e);
  // endScope cut between popping its scope and pointing activeScope at the parent.
  const top = s.scopeStack[s.scopeStack.length - 1] ?? null;
  const active = s.activeScope !== top;
  s.activeScope = top;
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
  const broken = brokenVariables(e);
  if (scopes === 0 && !depths && !completed && !active && broken.length === 0) return null;
  return { scopes, disposed: numTensors - s.numTensors, completed, broken };
}

/** Names of the registered variables whose data the engine does not know. */
export function brokenVariables(e: Engine): string[] {
  const s = e.state;
  return Object.entries(s.registeredVariables)
    .filter(([, v]) => !v.isDisposedInternal && !s.tensorInfo.has(v.dataId))
    .map(([name]) => name);
}

// ---------------------------------------------------------------------------------------------
// The journal of engine operations a termination can cut in half.

/** The engine's counters when a journalled operation began. */
interface Counters {
  numTensors: number;
  numBytes: number;
  numStringTensors: number;
  numDataBuffers: number;
}

/** Engine.disposeTensor(t): uncount t, release its data, forget the data once freed. */
interface DisposeEntry {
  kind: 'disposeTensor';
  t: TensorLike;
  /** The data released (a variable's changes during `assign`). */
  dataId: object;
  /** The engine's record of that data; undefined: disposeTensor does nothing. */
  info: TensorInfo | undefined;
  /** The backend's reference count of the data before. */
  ref: number;
  c: Counters;
}

/** Engine.trackTensor(t): count t, record its data, track it in the active scope. */
interface TrackEntry {
  kind: 'trackTensor';
  t: TensorLike;
  backend: Backend | null | undefined;
  /** The engine knew t's data before. */
  had: boolean;
  scope: Scope | null;
  c: Counters;
}

/** Engine.incRef(t): trackTensor(t), then one more backend reference to its data. */
interface IncRefEntry {
  kind: 'incRef';
  track: TrackEntry;
  ref: number;
}

/** Variable.assign(value): disposeTensor(v), v.dataId = value.dataId, incRef(v). */
interface AssignEntry {
  kind: 'Variable.assign';
  dispose: DisposeEntry;
  newDataId: object;
  /** The backend's reference count of the new data before. */
  ref: number;
}

/** Engine.disposeVariable(v): disposeTensor(v), then unregister v. */
interface DisposeVariableEntry {
  kind: 'disposeVariable';
  dispose: DisposeEntry;
}

/**
 * Engine.endScope(result): dispose what the scope tracked (but the result), pop it, make its
 * parent active, track the result's tensors in the parent.
 */
interface EndScopeEntry {
  kind: 'endScope';
  scope: Scope | null;
  /** The scope stack's length before. */
  depth: number;
  result: unknown;
}

/**
 * Engine.saveTensorsForBackwardMode(tensors): a kept copy of each, for the tape node that
 * runKernel adds next. Kept tensors belong to no scope: until that node holds them, nothing
 * else would free them.
 */
interface SaveEntry {
  kind: 'saveTensorsForBackwardMode';
  kept: TensorLike[];
}

/**
 * A registered kernel's kernelFunc: writes its outputs' data (backend.write), or counts one more
 * reference to an input's data (Identity, Reshape), and returns TensorInfos.
 */
interface KernelEntry {
  kind: 'kernel';
  backend: Backend;
  /** The inputs' data and the backend's reference counts of it before. */
  inputs: { dataId: object; ref: number }[];
  /** Data the kernel wrote so far. */
  written: object[];
  /** Its outputs' data, once it returned (then also in `pendingOutputs`). */
  outputs: object[];
}

/** Engine.makeTensor(values): backend.write, then trackTensor. */
interface MakeTensorEntry {
  kind: 'makeTensor';
  /** Data written so far (by backend.write). */
  written: object[];
  backend: Backend | null;
}

type Entry =
  | DisposeEntry
  | TrackEntry
  | IncRefEntry
  | AssignEntry
  | DisposeVariableEntry
  | EndScopeEntry
  | SaveEntry
  | KernelEntry
  | MakeTensorEntry;

/** Operations begun and not yet returned, outermost first (more than one only when nested). */
const journal: Entry[] = [];
/**
 * The tensor of the last disposeTensor or disposeVariable that returned, while nothing was
 * journalled after it; `flag`: its caller (Tensor.dispose, Variable.dispose) marks it disposed
 * next, which a termination can skip.
 */
let lastDone: { t: TensorLike; flag: boolean } | null = null;
/** The copies saved for a tape node that runKernel has not added yet. */
let pendingSaved: TensorLike[] = [];
/**
 * Outputs that a kernel returned (data written, or a reference counted for a kernel that shares
 * its input's data, as Identity and Reshape do) and that runKernel has not yet made tensors of.
 */
const pendingOutputs: { dataId: object; backend: Backend }[] = [];
const JOURNALLED = Symbol.for('frugal-ai.tf-guard.journalled');
/**
 * Whether the wrappers journal. Only a cell's synchronous part (vm's breakOnSigint) can be
 * terminated; elsewhere (callbacks, an asynchronous cell after its first `await`, which the
 * guard stops with an exception that `finally` blocks see) they call through at the cost of one
 * test.
 */
let journalling = false;

/** How many kernel outputs wait to become tensors (0 between top-level kernels; for tests). */
export function pendingOutputCount(): number {
  return pendingOutputs.length;
}

/** Turns the journal on for a cell's synchronous part, and off after it. */
export function setJournal(on: boolean): void {
  journalling = on;
}

function counters(e: Engine): Counters {
  const { numTensors, numBytes, numStringTensors, numDataBuffers } = e.state;
  return { numTensors, numBytes, numStringTensors, numDataBuffers };
}

function isVariable(t: TensorLike): boolean {
  return 'trainable' in t && typeof (t as { assign?: unknown }).assign === 'function';
}

/** Bytes that trackTensor and disposeTensor count for t (engine.js; strings are counted apart). */
function bytesOf(t: TensorLike): number {
  if (t.dtype === 'complex64' || t.dtype === 'string') return 0;
  return t.size * (t.dtype === 'bool' ? 1 : 4);
}

function disposeEntry(e: Engine, t: TensorLike): DisposeEntry {
  const info = e.state.tensorInfo.get(t.dataId);
  return { kind: 'disposeTensor', t, dataId: t.dataId, info, ref: info ? info.backend.refCount(t.dataId) : 0, c: counters(e) };
}

function trackEntry(e: Engine, t: TensorLike, backend: Backend | null | undefined): TrackEntry {
  if (pendingOutputs.length) {
    // A kernel's output becomes a tensor: from here on the scopes own its data.
    const i = pendingOutputs.findIndex((o) => o.dataId === t.dataId);
    if (i >= 0) pendingOutputs.splice(i, 1);
  }
  return { kind: 'trackTensor', t, backend, had: e.state.tensorInfo.has(t.dataId), scope: e.state.activeScope, c: counters(e) };
}

/** Brings the engine to where disposeTensor would have left it, from what it was before. */
function finishDispose(e: Engine, d: DisposeEntry): void {
  const s = e.state;
  const info = d.info;
  if (!info) return;
  s.numTensors = d.c.numTensors - 1;
  s.numStringTensors = d.c.numStringTensors - (d.t.dtype === 'string' ? 1 : 0);
  s.numBytes = d.c.numBytes - (d.t.dtype === 'string' ? info.bytes : bytesOf(d.t));
  // The backend's count still as before: disposeData was not called. Lower: it was, and freed the
  // data if the count reached 0. A count of 0 with the data still held means a termination
  // inside disposeData, between the decrement and the free. The CPU backend's data is a map
  // entry, deleted here; other backends' buffers are left to them (a leak) rather than risk
  // freeing one twice, which WASM's allocator does not survive.
  const ref = info.backend.refCount(d.dataId);
  const freed = ref === d.ref ? info.backend.disposeData(d.dataId) : ref <= 0;
  const cpuData = (info.backend as { data?: { has?: unknown } }).data;
  if (freed && ref <= 0 && typeof cpuData?.has === 'function' && (cpuData as { has(id: object): boolean }).has(d.dataId)) {
    info.backend.disposeData(d.dataId, true);
  }
  if (freed && s.tensorInfo.get(d.dataId) === info) s.tensorInfo.delete(d.dataId);
  s.numDataBuffers = d.c.numDataBuffers - (freed ? 1 : 0);
}

/** Brings the engine to where trackTensor would have left it, from counters `c`. */
function finishTrack(e: Engine, k: TrackEntry, c: Counters, had: boolean): void {
  const s = e.state;
  const t = k.t;
  s.numTensors = c.numTensors + 1;
  s.numStringTensors = c.numStringTensors + (t.dtype === 'string' ? 1 : 0);
  s.numBytes = c.numBytes + bytesOf(t);
  if (!had && !s.tensorInfo.has(t.dataId)) {
    s.tensorInfo.set(t.dataId, { backend: k.backend ?? e.backend, dtype: t.dtype, shape: t.shape, bytes: bytesOf(t) });
  }
  s.numDataBuffers = c.numDataBuffers + (had ? 0 : 1);
  if (k.scope && !isVariable(t)) {
    t.scopeId = k.scope.id;
    if (!k.scope.track.includes(t)) k.scope.track.push(t);
  }
}

/** The tensors in a tidy's result (tfjs's getTensorsInContainer: arrays and plain objects). */
function tensorsIn(result: unknown, found: TensorLike[] = [], seen = new Set<unknown>()): TensorLike[] {
  if (result === null || typeof result !== 'object' || seen.has(result)) return found;
  seen.add(result);
  if ('dataId' in result && 'shape' in result) found.push(result as TensorLike);
  else if (Array.isArray(result) || Object.getPrototypeOf(result) === Object.prototype) {
    for (const v of Object.values(result)) tensorsIn(v, found, seen);
  }
  return found;
}

/** Completes one journalled operation, whose inner operations are complete. */
function complete(e: Engine, entry: Entry): void {
  const s = e.state;
  switch (entry.kind) {
    case 'disposeTensor':
      finishDispose(e, entry);
      // Only Tensor.dispose disposes a tensor that is not a variable, and marks it next.
      if (!isVariable(entry.t)) entry.t.isDisposedInternal = true;
      break;
    case 'trackTensor':
      finishTrack(e, entry, entry.c, entry.had);
      break;
    case 'incRef':
      finishTrack(e, entry.track, entry.track.c, entry.track.had);
      if (e.backend.refCount(entry.track.t.dataId) === entry.ref) e.backend.incRef(entry.track.t.dataId);
      break;
    case 'Variable.assign': {
      const v = entry.dispose.t;
      if (entry.dispose.dataId === entry.newDataId) {
        // Assigned a tensor that shares the variable's data: the counts end where they began.
        Object.assign(s, entry.dispose.c);
        v.dataId = entry.newDataId;
        const ref = e.backend.refCount(v.dataId);
        if (ref > 0 && ref < entry.ref) e.backend.incRef(v.dataId);
        break;
      }
      finishDispose(e, entry.dispose);
      v.dataId = entry.newDataId;
      const c = counters(e);
      finishTrack(e, { kind: 'trackTensor', t: v, backend: null, had: true, scope: null, c }, c, s.tensorInfo.has(v.dataId));
      if (e.backend.refCount(v.dataId) === entry.ref) e.backend.incRef(v.dataId);
      break;
    }
    case 'disposeVariable': {
      const v = entry.dispose.t;
      finishDispose(e, entry.dispose);
      if (v.name !== undefined && s.registeredVariables[v.name] === v) delete s.registeredVariables[v.name];
      v.isDisposedInternal = true;
      break;
    }
    case 'saveTensorsForBackwardMode':
      disposeAll(entry.kept);
      break;
    case 'makeTensor':
      // Written, and cut before trackTensor began: no tensor owns the data.
      for (const dataId of entry.written) if (!s.tensorInfo.has(dataId)) (entry.backend ?? e.backend).disposeData(dataId, true);
      break;
    case 'kernel':
      // Cut inside the kernel: no tensor will own what it made. Give back the references it
      // counted on its inputs' data and free the data it wrote that no tensor owns; its
      // outputs are released here, not a second time as pending ones.
      for (const dataId of entry.outputs) {
        const i = pendingOutputs.findIndex((o) => o.dataId === dataId);
        if (i >= 0) pendingOutputs.splice(i, 1);
      }
      for (const { dataId, ref } of entry.inputs) {
        for (let n = entry.backend.refCount(dataId) - ref; n > 0; n--) entry.backend.disposeData(dataId);
      }
      for (const dataId of entry.written) if (!s.tensorInfo.has(dataId)) entry.backend.disposeData(dataId, true);
      break;
    case 'endScope': {
      const scope = entry.scope;
      if (!scope) break;
      const results = tensorsIn(entry.result);
      const keep = new Set(results.map((t) => t.id));
      for (const t of scope.track) if (!t.kept && !keep.has(t.id) && !t.isDisposedInternal) (t as unknown as { dispose(): void }).dispose();
      if (s.scopeStack.length === entry.depth && s.scopeStack[entry.depth - 1] === scope) s.scopeStack.pop();
      s.activeScope = s.scopeStack[s.scopeStack.length - 1] ?? null;
      const parent = s.activeScope;
      for (const t of results) {
        if (t.kept || t.scopeId !== scope.id || !parent) continue;
        t.scopeId = parent.id;
        if (!parent.track.includes(t)) parent.track.push(t);
      }
      break;
    }
  }
}

function disposeAll(tensors: TensorLike[]): void {
  for (const t of tensors) if (!t.isDisposedInternal) (t as unknown as { dispose(): void }).dispose();
}

/**
 * Marks the tensor of a returned disposal disposed (its caller's next statement), then completes
 * the journalled operations, innermost first (an outer one finds its inner ones done). Returns
 * the outermost operation's name, or null when none was cut.
 */
function completeJournal(e: Engine): string | null {
  const entries = journal.splice(0);
  const done = lastDone;
  lastDone = null;
  let what: string | null = null;
  if (done && done.flag && !done.t.isDisposedInternal) {
    done.t.isDisposedInternal = true;
    what = isVariable(done.t) ? 'Variable.dispose' : 'Tensor.dispose';
  }
  for (let i = entries.length - 1; i >= 0; i--) complete(e, entries[i] as Entry);
  // Kernel outputs that no tensor owns: release what the kernel wrote or counted for them.
  for (const o of pendingOutputs.splice(0)) {
    o.backend.disposeData(o.dataId);
    what ??= 'runKernel';
  }
  // Copies saved for a tape node that was never added: the gradient they were for is abandoned.
  const saved = pendingSaved;
  pendingSaved = [];
  if (saved.length) {
    disposeAll(saved);
    what ??= 'saveTensorsForBackwardMode';
  }
  return entries[0]?.kind ?? what;
}

/**
 * Replaces `target[name]` by a function that journals its call: `begin` records what the call
 * will change (null: nothing to record), the record is removed in a `finally` (skipped by a
 * termination), and `after` runs once the call returned.
 */
function journalled(
  target: Record<string, unknown>,
  name: string,
  begin: (self: unknown, args: unknown[]) => Entry | null,
  after?: (self: unknown, args: unknown[], result: unknown) => void,
): void {
  const original = target[name];
  if (typeof original !== 'function' || (original as { [JOURNALLED]?: boolean })[JOURNALLED]) return;
  const fn = original as (...args: unknown[]) => unknown;
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    if (!journalling) return fn.apply(this, args);
    const depth = journal.length;
    const entry = begin(this, args);
    if (entry) journal.push(entry);
    lastDone = null;
    try {
      const result = fn.apply(this, args);
      after?.(this, args, result);
      return result;
    } finally {
      journal.length = depth;
    }
  };
  (wrapper as { [JOURNALLED]?: boolean })[JOURNALLED] = true;
  target[name] = wrapper;
}

/** tfjs's kernel registry (globalThis._tfGlobals, kernel_registry.js), if loaded. */
function kernelRegistry(): Map<string, { kernelFunc?: unknown }> | null {
  const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  const registry = globals?.get('kernelRegistry');
  return registry instanceof Map ? (registry as Map<string, { kernelFunc?: unknown }>) : null;
}

/**
 * Records the outputs of every registered kernel (of the backends loaded so far) until runKernel
 * makes them tensors. A kernel returns TensorInfos (dataId, shape, dtype) whose data it has
 * written, or whose reference it has counted; cut before the tensors exist, that data would have
 * no owner.
 */
function protectKernels(e: Engine): void {
  for (const config of kernelRegistry()?.values() ?? []) {
    const original = config.kernelFunc;
    if (typeof original !== 'function' || (original as { [JOURNALLED]?: boolean })[JOURNALLED]) continue;
    const fn = original as (args: { backend: Backend; inputs?: Record<string, unknown> }) => unknown;
    const wrapper = function (this: unknown, args: { backend: Backend; inputs?: Record<string, unknown> }): unknown {
      if (!journalling) return fn.call(this, args);
      const backend = args.backend;
      const inputs: KernelEntry['inputs'] = [];
      for (const x of Object.values(args.inputs ?? {})) {
        const dataId = (x as Partial<TensorLike> | null)?.dataId;
        if (dataId) inputs.push({ dataId, ref: backend.refCount(dataId) });
      }
      const depth = journal.length;
      // A kernel that another kernel calls directly (the lib's fused kernels call the backend's
      // matmul this way) returns its outputs to that kernel, which owns them: they never become
      // tensors, so they are not pending (tracking them grew the list for the whole cell, and
      // every trackTensor searched it: lesson 14 ran more than 8 times slower).
      const nested = journal[depth - 1]?.kind === 'kernel';
      const entry: KernelEntry = { kind: 'kernel', backend, inputs, written: [], outputs: [] };
      journal.push(entry);
      try {
        const out = fn.call(this, args);
        for (const info of Array.isArray(out) ? out : [out]) {
          // A Tensor (which has a rank) is already owned; a TensorInfo is not yet.
          const o = info as { dataId?: object; rank?: unknown } | null;
          if (o?.dataId && o.rank === undefined) entry.outputs.push(o.dataId);
        }
        if (!nested) for (const dataId of entry.outputs) pendingOutputs.push({ dataId, backend });
        return out;
      } finally {
        journal.length = depth;
      }
    };
    (wrapper as { [JOURNALLED]?: boolean })[JOURNALLED] = true;
    config.kernelFunc = wrapper;
  }
  // The data each backend writes while a kernel runs.
  const backends = Object.values((e as { registry?: Record<string, unknown> }).registry ?? {});
  for (const b of backends) {
    const backend = b as Record<string, unknown>;
    const write = backend.write;
    if (typeof write !== 'function' || (write as { [JOURNALLED]?: boolean })[JOURNALLED]) continue;
    const w = write as (...args: unknown[]) => object;
    const wrapper = function (this: unknown, ...args: unknown[]): object {
      const dataId = w.apply(this, args);
      if (!journalling) return dataId;
      const top = journal[journal.length - 1];
      if (top?.kind === 'kernel' || top?.kind === 'makeTensor') top.written.push(dataId);
      return dataId;
    };
    (wrapper as { [JOURNALLED]?: boolean })[JOURNALLED] = true;
    backend.write = wrapper;
  }
}

/** Journals `assign` of the class of variable `v` (once per class). */
function protectVariableClass(e: Engine, v: unknown): void {
  let proto: unknown = v !== null && typeof v === 'object' ? Object.getPrototypeOf(v) : null;
  while (proto && !Object.prototype.hasOwnProperty.call(proto, 'assign')) proto = Object.getPrototypeOf(proto);
  if (!proto) return;
  journalled(proto as Record<string, unknown>, 'assign', (self, [value]) => {
    const dataId = (value as Partial<TensorLike> | undefined)?.dataId;
    if (!dataId) return null;
    return { kind: 'Variable.assign', dispose: disposeEntry(e, self as TensorLike), newDataId: dataId, ref: e.backend.refCount(dataId) };
  }, () => {
    lastDone = null;
  });
}

/**
 * Journals the engine operations that a termination can cut in half (see the top of this
 * file), once per engine and per variable class. Returns false when tfjs is not loaded (yet).
 */
export function protect(): boolean {
  const e = engine();
  if (!e) return false;
  journalled(e, 'trackTensor', (_, [t, backend]) => trackEntry(e, t as TensorLike, backend as Backend | null | undefined));
  journalled(e, 'incRef', (_, [t, backend]) => ({
    kind: 'incRef',
    track: trackEntry(e, t as TensorLike, backend as Backend | null | undefined),
    ref: e.backend.refCount((t as TensorLike).dataId),
  }));
  journalled(
    e,
    'disposeTensor',
    (_, [t]) => disposeEntry(e, t as TensorLike),
    (_, [t]) => {
      lastDone = { t: t as TensorLike, flag: !isVariable(t as TensorLike) };
    },
  );
  journalled(
    e,
    'disposeVariable',
    (_, [v]) => ({ kind: 'disposeVariable', dispose: disposeEntry(e, v as TensorLike) }),
    (_, [v]) => {
      lastDone = { t: v as TensorLike, flag: true };
    },
  );
  journalled(e, 'endScope', (_, [result]) => ({
    kind: 'endScope',
    scope: e.state.activeScope,
    depth: e.state.scopeStack.length,
    result,
  }));
  journalled(
    e,
    'saveTensorsForBackwardMode',
    () => ({ kind: 'saveTensorsForBackwardMode', kept: [] }),
    (_, __, saved) => {
      pendingSaved = Array.isArray(saved) ? (saved as TensorLike[]) : [];
    },
  );
  journalled(e, 'addTapeNode', () => null, () => {
    pendingSaved = [];
  });
  if (typeof e.keep === 'function' && !(e.keep as { [JOURNALLED]?: boolean })[JOURNALLED]) {
    // The copies saveTensorsForBackwardMode has kept so far, for a cut in the middle of it.
    const keep = e.keep as (t: TensorLike) => TensorLike;
    const wrapper = function (this: unknown, t: TensorLike): TensorLike {
      const kept = keep.call(this, t);
      if (!journalling) return kept;
      const top = journal[journal.length - 1];
      if (top?.kind === 'saveTensorsForBackwardMode') top.kept.push(kept);
      return kept;
    };
    (wrapper as { [JOURNALLED]?: boolean })[JOURNALLED] = true;
    e.keep = wrapper;
  }
  journalled(e, 'makeVariable', () => null, (_, __, v) => protectVariableClass(e, v));
  journalled(e, 'makeTensor', (_, [, , , backend]) => ({ kind: 'makeTensor', written: [], backend: (backend as Backend | undefined) ?? null }));
  protectKernels(e);
  for (const v of Object.values(e.state.registeredVariables)) protectVariableClass(e, v);
  return true;
}

/** The error a guarded tensor operation throws after an interrupt. */
function interruptError(): Error {
  const err = new Error('the cell was interrupted: tensor operations are stopped until it ends');
  err.name = 'KeyboardInterrupt';
  return err;
}

const GUARDED = ['runKernel', 'makeTensor', 'startScope'] as const;
let watched: Engine | null = null;
/** The engine's own properties that the guards shadow (the journal's makeTensor), to restore. */
const shadowed = new Map<string, unknown>();

/**
 * Makes every tensor operation call `shouldStop()` first, and throw when it returns true,
 * until `unwatch`. Returns false when tfjs is not loaded (yet).
 * @param onThrow sees each error before it is thrown
 */
export function watch(shouldStop: () => boolean, onThrow: (err: Error) => void = () => {}): boolean {
  const e = engine();
  if (!e) return false;
  protect(); // in case the cell loaded tfjs
  if (watched) return true;
  watched = e;
  for (const name of GUARDED) {
    const original = e[name] as (...args: unknown[]) => unknown;
    if (Object.prototype.hasOwnProperty.call(e, name)) shadowed.set(name, original);
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

/** Restores the engine's methods (the journal's, or the prototype's). */
export function unwatch(): void {
  if (!watched) return;
  for (const name of GUARDED) {
    if (shadowed.has(name)) watched[name] = shadowed.get(name);
    else delete watched[name];
  }
  shadowed.clear();
  watched = null;
}
