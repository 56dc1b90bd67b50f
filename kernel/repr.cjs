// The MIME bundle of a cell's last value: the course lib's `richRepr` (tensors, DataFrames,
// plot figures; lib/repr.ts) when it has one, and always a text/plain from util.inspect.
//
// The lib is required from the project root (`@frugal-ai/lib`, built to lib/dist by
// `npm run build`): the same module instance the lessons import. Loading it costs about a
// second (it loads tfjs), so it is loaded only when the lessons already did, or when the value
// looks like something it renders.
'use strict';
const Module = require('node:module');
const path = require('node:path');
const util = require('node:util');

/** Duck types of what lib/repr.ts renders: tensors, frames, plotly figures. */
function looksRich(v) {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v.shape) && typeof v.dtype === 'string') return true;
  if ('columns' in v && 'index' in v && 'values' in v) return true;
  return Array.isArray(v.data) && v.layout !== null && typeof v.layout === 'object';
}

/** util.inspect as the plain-text view of any value. */
function inspectText(value) {
  return util.inspect(value, { depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });
}

/**
 * One line for a Node timer handle (what `setTimeout`, `setInterval` and `setImmediate` return,
 * often a cell's last value), instead of util.inspect's 14-line `Timeout {…}`; null otherwise.
 */
function timerText(v) {
  if (v === null || typeof v !== 'object' || typeof v.hasRef !== 'function') return null;
  const kind = v.constructor?.name;
  if (kind === 'Immediate') return 'Immediate (setImmediate handle)';
  if (kind !== 'Timeout' || typeof v.refresh !== 'function') return null;
  const id = Number(v);
  const what = v._repeat ? 'setInterval' : 'setTimeout';
  return `Timeout ${id} (${what} handle: clear${what === 'setInterval' ? 'Interval' : 'Timeout'}(${id}) cancels it)`;
}

/**
 * @param {string} root the project root
 * @param {(line: string) => void} warn where to say, once, that rich display is unavailable
 * @returns {(value: unknown, displayed: object[]) => Promise<Record<string, unknown>>}
 */
function createRepr(root, warn) {
  const req = Module.createRequire(path.join(root, 'package.json'));
  let libPath = null;
  try {
    libPath = req.resolve('@frugal-ai/lib');
  } catch {
    libPath = null;
  }
  let lib = null;
  let warned = false;

  function loadLib(force) {
    if (lib || !libPath) return lib;
    if (!force && !require.cache[libPath]) return null;
    try {
      lib = req('@frugal-ai/lib');
    } catch (e) {
      if (!warned) warn(`rich display is off: @frugal-ai/lib did not load (${String(e).split('\n')[0]})`);
      warned = true;
      libPath = null;
    }
    return lib;
  }

  return async function repr(value, displayed) {
    const timer = timerText(value);
    if (timer) return { 'text/plain': timer };
    let bundle = null;
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

module.exports = { createRepr, looksRich, inspectText, timerText };
