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
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import type { Converter, ConvertResult } from 'tslab/dist/converter';
import type { ConverterSet as TslabConverterSet } from 'tslab/dist/executor';

/** A raw source map (the JSON of a .map file). */
export type RawSourceMap = import('node:module').SourceMapPayload;
/** The two maps of one compiled cell: TypeScript -> ES module -> CommonJS. */
export interface CellMaps {
  esm: RawSourceMap | null;
  cjs: RawSourceMap | null;
}

/** tslab's converter module, as loaded (with `__onCommonJS` once edited). */
export interface ConverterModule {
  createConverter(options: { isJS: boolean; isBrowser: boolean }): Converter;
  __onCommonJS?: (esm: string, result: { outputText: string; sourceMapText?: string }) => string;
}

/** The edits, as [what tslab 1.0.22 has, what replaces it]. */
const EDITS: readonly (readonly [string, string])[] = [
  ['        declaration: true,\n', '        declaration: true,\n        inlineSourceMap: true,\n'],
  [
    '            noImplicitUseStrict: true,\n        },\n    }).outputText;\n    return out;\n',
    '            noImplicitUseStrict: true,\n            sourceMap: true,\n        },\n    });\n' +
      '    return exports.__onCommonJS ? exports.__onCommonJS(js, out) : out.outputText;\n',
  ],
];

const MAP_COMMENT = /\n?\/\/# sourceMappingURL=(\S*)\s*$/;

/**
 * Compiled code -> the two raw source maps of that code, filed by the patched converter.
 * Entries are taken out by `clearMaps` right after each conversion.
 */
const filed = new Map<string, CellMaps>();

/** Strips every trailing `//# sourceMappingURL=` line; returns [code, last data-URL map]. */
export function stripMapComments(code: string): [string, RawSourceMap | null] {
  let map: RawSourceMap | null = null;
  for (let m = code.match(MAP_COMMENT); m; m = code.match(MAP_COMMENT)) {
    const url = m[1] ?? '';
    const b64 = url.match(/^data:application\/json;(?:charset=utf-8;)?base64,(.*)$/);
    if (b64 && map === null) map = JSON.parse(Buffer.from(b64[1] ?? '', 'base64').toString('utf8')) as RawSourceMap;
    code = code.slice(0, m.index) + '\n';
  }
  return [code, map];
}

/** A source map's JSON text parsed, or null when there is none or it does not parse. */
function parseMap(text: string | undefined): RawSourceMap | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as RawSourceMap;
  } catch {
    return null;
  }
}

/** Called by the patched esModuleToCommonJSModule with its input and transpile result. */
function onCommonJS(esmWithMap: string, result: { outputText: string; sourceMapText?: string }): string {
  const [, esm] = stripMapComments(esmWithMap);
  const [code] = stripMapComments(result.outputText);
  filed.set(code, { esm, cjs: parseMap(result.sourceMapText) });
  return code;
}

/** The maps filed for `code` (a conversion's output, or one of its side outputs), or null. */
export function mapsFor(code: string): CellMaps | null {
  return filed.get(code) ?? null;
}

/** Forgets the filed maps (after each conversion has taken what it needs). */
export function clearMaps(): void {
  filed.clear();
}

/** Node's Module internals that loading a module from edited text needs. */
interface InternalModule {
  filename: string;
  paths: string[];
  exports: ConverterModule;
  _compile(text: string, file: string): void;
}
interface InternalModuleClass {
  new (id: string, parent?: unknown): InternalModule;
  _nodeModulePaths(dir: string): string[];
}

/**
 * Loads tslab's converter.js with the edits applied. `sourceMaps` is false (and `problem` says
 * why) when the edits did not apply.
 * @param tslabDir node_modules/tslab
 */
export function loadConverter(tslabDir: string): { converter: ConverterModule; sourceMaps: boolean; problem: string | null } {
  const file = path.join(tslabDir, 'dist', 'converter.js');
  const original = fs.readFileSync(file, 'utf8');
  let text = original;
  for (const [from, to] of EDITS) {
    const n = text.split(from).length - 1;
    if (n !== 1) {
      return {
        converter: Module.createRequire(file)(file) as ConverterModule,
        sourceMaps: false,
        problem: `tslab's converter.js changed (an edit matched ${n} times, expected 1)`,
      };
    }
    text = text.replace(from, to);
  }
  // A separate module instance with the same filename, so that its own requires
  // (@tslab/typescript-for-tslab, ./util, ./tspath) resolve as they do for tslab.
  const M = Module as unknown as InternalModuleClass;
  const mod = new M(file, module);
  mod.filename = file;
  mod.paths = M._nodeModulePaths(path.dirname(file));
  mod._compile(text, file);
  mod.exports.__onCommonJS = onCommonJS;
  return { converter: mod.exports, sourceMaps: true, problem: null };
}

/**
 * tslab's ConverterSetImpl (main.js, not exported) for this kernel: node and browser converters
 * created on first use; `onConvert` sees each conversion's result and may rewrite it.
 */
export class ConverterSet implements TslabConverterSet {
  private nodeConv: Converter | null = null;
  private browserConv: Converter | null = null;

  constructor(
    private readonly mod: ConverterModule,
    private readonly onConvert: (result: ConvertResult) => ConvertResult,
  ) {}

  get node(): Converter {
    if (!this.nodeConv) {
      const conv = this.mod.createConverter({ isJS: false, isBrowser: false });
      this.nodeConv = {
        ...conv,
        convert: (prevDecl: string, src: string) => this.onConvert(conv.convert(prevDecl, src)),
      };
    }
    return this.nodeConv;
  }

  get browser(): Converter {
    if (!this.browserConv) this.browserConv = this.mod.createConverter({ isJS: false, isBrowser: true });
    return this.browserConv;
  }

  close(): void {
    this.nodeConv?.close();
    this.browserConv?.close();
  }
}
