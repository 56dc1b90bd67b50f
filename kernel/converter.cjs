// tslab's converter (TypeScript -> CommonJS), loaded with source maps turned on, so that a
// runtime error can be reported at the line of the cell that threw it.
//
// tslab compiles a cell in two steps, and neither keeps a source map: the cell goes through a
// TypeScript watch program to ES modules, then `esModuleToCommonJSModule` transpiles that to
// CommonJS. Both steps are private to node_modules/tslab/dist/converter.js (their options are
// object literals inside closures, and the TypeScript namespace's exports are getters that
// cannot be replaced), so this module reads that file and applies two edits before loading it:
//
//   1. the watch program gets `inlineSourceMap: true`: the ES-module output carries the map
//      TypeScript cell -> ES module;
//   2. the CommonJS step gets `sourceMap: true`, and hands both maps to `onCommonJS` below,
//      which strips the map comments from the code and files the maps under the code text.
//
// Each edit must match exactly once, or the edits are not applied: the kernel then runs
// tslab's converter unchanged and reports compiled-JavaScript line numbers (and says so on
// stderr). tslab is pinned (package.json), and tests/kernel/test_protocol.py checks the lines.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

/** The edits, as [what tslab 1.0.22 has, what replaces it]. */
const EDITS = [
  ['        declaration: true,\n', '        declaration: true,\n        inlineSourceMap: true,\n'],
  [
    '            noImplicitUseStrict: true,\n        },\n    }).outputText;\n    return out;\n',
    '            noImplicitUseStrict: true,\n            sourceMap: true,\n        },\n    });\n' +
      '    return exports.__onCommonJS ? exports.__onCommonJS(js, out) : out.outputText;\n',
  ],
];

const MAP_COMMENT = /\n?\/\/# sourceMappingURL=(\S*)\s*$/;

/**
 * Compiled code -> { esm, cjs }: the two raw source maps of that code (JSON objects), filed by
 * the patched converter. Entries are taken out by `takeMaps` right after each conversion.
 * @type {Map<string, {esm: object|null, cjs: object|null}>}
 */
const filed = new Map();

/** Strips every trailing `//# sourceMappingURL=` line; returns [code, last data-URL map]. */
function stripMapComments(code) {
  let map = null;
  for (let m = code.match(MAP_COMMENT); m; m = code.match(MAP_COMMENT)) {
    const url = m[1] ?? '';
    const b64 = url.match(/^data:application\/json;(?:charset=utf-8;)?base64,(.*)$/);
    if (b64 && map === null) map = JSON.parse(Buffer.from(b64[1], 'base64').toString('utf8'));
    code = code.slice(0, m.index) + '\n';
  }
  return [code, map];
}

/** Called by the patched esModuleToCommonJSModule with its input and transpile result. */
function onCommonJS(esmWithMap, result) {
  const [, esm] = stripMapComments(esmWithMap);
  const [code] = stripMapComments(result.outputText);
  let cjs = null;
  try {
    cjs = result.sourceMapText ? JSON.parse(result.sourceMapText) : null;
  } catch {
    cjs = null;
  }
  filed.set(code, { esm, cjs });
  return code;
}

/** The maps filed for `code` (a conversion's output, or one of its side outputs), or null. */
function mapsFor(code) {
  return filed.get(code) ?? null;
}

/** Forgets the filed maps (after each conversion has taken what it needs). */
function clearMaps() {
  filed.clear();
}

/**
 * Loads tslab's converter.js with the edits applied. Returns { converter, sourceMaps, problem }:
 * `sourceMaps` is false (and `problem` says why) when the edits did not apply.
 * @param {string} tslabDir node_modules/tslab
 */
function loadConverter(tslabDir) {
  const file = path.join(tslabDir, 'dist', 'converter.js');
  const original = fs.readFileSync(file, 'utf8');
  let text = original;
  for (const [from, to] of EDITS) {
    const n = text.split(from).length - 1;
    if (n !== 1) {
      return {
        converter: require(file),
        sourceMaps: false,
        problem: `tslab's converter.js changed (an edit matched ${n} times, expected 1)`,
      };
    }
    text = text.replace(from, to);
  }
  // A separate module instance with the same filename, so that its own requires
  // (@tslab/typescript-for-tslab, ./util, ./tspath) resolve as they do for tslab.
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  mod._compile(text, file);
  mod.exports.__onCommonJS = onCommonJS;
  return { converter: mod.exports, sourceMaps: true, problem: null };
}

/**
 * tslab's ConverterSetImpl (main.js, not exported) for this kernel: node and browser converters
 * created on first use; `onConvert` sees each conversion's result and may rewrite it.
 */
class ConverterSet {
  /**
   * @param {object} converterModule the converter module from loadConverter
   * @param {(result: object) => object} onConvert
   */
  constructor(converterModule, onConvert) {
    this.mod = converterModule;
    this.onConvert = onConvert;
    this._node = null;
    this._browser = null;
  }

  get node() {
    if (!this._node) {
      const conv = this.mod.createConverter({ isJS: false, isBrowser: false });
      this._node = { ...conv, convert: (prevDecl, src) => this.onConvert(conv.convert(prevDecl, src)) };
    }
    return this._node;
  }

  get browser() {
    if (!this._browser) this._browser = this.mod.createConverter({ isJS: false, isBrowser: true });
    return this._browser;
  }

  close() {
    this._node?.close();
    this._browser?.close();
  }
}

module.exports = { loadConverter, mapsFor, clearMaps, ConverterSet, stripMapComments };
