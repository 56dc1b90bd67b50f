// The MIME bundle of a cell's last value: the course lib's `richRepr` (tensors, DataFrames,
// plot figures; lib/repr.ts) when it has one, and always a text/plain from util.inspect.
//
// The lib is required from the project root (`@frugal-ai/lib`, built to lib/dist by
// `npm run build`): the same module instance the lessons import. Loading it costs about a
// second (it loads tfjs), so it is loaded only when the lessons already did, or when the value
// looks like something it renders.
import Module from 'node:module';
import path from 'node:path';
import util from 'node:util';

/** A MIME bundle: MIME type -> data. */
export type Bundle = Record<string, unknown>;
/** Renders a cell's last value; `displayed` holds the bundles the cell already showed. */
export type Repr = (value: unknown, displayed: object[]) => Promise<Bundle>;

interface Lib {
  richRepr?: (value: unknown, options: { displayed: object[] }) => Promise<Bundle | null> | Bundle | null;
}

/** Duck types of what lib/repr.ts renders: tensors, frames, plotly figures. */
export function looksRich(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.shape) && typeof o.dtype === 'string') return true;
  if ('columns' in o && 'index' in o && 'values' in o) return true;
  return Array.isArray(o.data) && o.layout !== null && typeof o.layout === 'object';
}

/** util.inspect as the plain-text view of any value. */
export function inspectText(value: unknown): string {
  return util.inspect(value, { depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });
}

/**
 * One line for a Node timer handle (what `setTimeout`, `setInterval` and `setImmediate` return,
 * often a cell's last value), instead of util.inspect's 14-line `Timeout {…}`; null otherwise.
 */
export function timerText(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || typeof (v as { hasRef?: unknown }).hasRef !== 'function') return null;
  const kind = v.constructor?.name;
  if (kind === 'Immediate') return 'Immediate (setImmediate handle)';
  if (kind !== 'Timeout' || typeof (v as { refresh?: unknown }).refresh !== 'function') return null;
  const id = Number(v);
  const what = (v as { _repeat?: unknown })._repeat ? 'setInterval' : 'setTimeout';
  return `Timeout ${id} (${what} handle: clear${what === 'setInterval' ? 'Interval' : 'Timeout'}(${id}) cancels it)`;
}

/**
 * @param root the project root
 * @param warn where to say, once, that rich display is unavailable
 */
export function createRepr(root: string, warn: (line: string) => void): Repr {
  const req = Module.createRequire(path.join(root, 'package.json'));
  let libPath: string | null = null;
  try {
    libPath = req.resolve('@frugal-ai/lib');
  } catch {
    libPath = null;
  }
  let lib: Lib | null = null;
  let warned = false;

  function loadLib(force: boolean): Lib | null {
    if (lib || !libPath) return lib;
    if (!force && !require.cache[libPath]) return null;
    try {
      lib = req('@frugal-ai/lib') as Lib;
    } catch (e) {
      if (!warned) warn(`rich display is off: @frugal-ai/lib did not load (${String(e).split('\n')[0]})`);
      warned = true;
      libPath = null;
    }
    return lib;
  }

  return async function repr(value: unknown, displayed: object[]): Promise<Bundle> {
    const timer = timerText(value);
    if (timer) return { 'text/plain': timer };
    let bundle: Bundle | null = null;
    if (value !== null && typeof value === 'object') {
      const l = loadLib(looksRich(value));
      if (l && typeof l.richRepr === 'function') {
        try {
          bundle = await l.richRepr(value, { displayed });
        } catch (e) {
          warn(`richRepr failed: ${String(e).split('\n')[0]}`);
          bundle = null;
        }
      } else if (l && !warned && looksRich(value)) {
        warn('rich display is off: @frugal-ai/lib has no richRepr (run npm run build)');
        warned = true;
      }
    }
    return bundle ? { 'text/plain': inspectText(value), ...bundle } : { 'text/plain': inspectText(value) };
  };
}
