// Jupyter `error` content (ename, evalue, traceback) for what a cell threw, with stack frames
// mapped back to the cell's own lines through the two source maps of its compiled code
// (see converter.cjs), and to lib/*.ts for the course lib (lib/dist ships .js.map files).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { SourceMap } = require('node:module');

/** Lines tslab puts before a cell's source (and an in-memory module's): "export {};\n". */
const SRC_PREFIX_LINES = 1;
/** How many compiled cells keep their maps (a function defined in a cell may throw later). */
const MAX_CELLS = 1000;
/** Lines shown before the failing line in the excerpt. */
const CONTEXT_LINES = 2;

class Tracebacks {
  /**
   * @param {{ root: string, machinery: string[] }} options `machinery`: path prefixes whose
   *   frames are the kernel's own (tslab, this folder), dropped from tracebacks.
   */
  constructor({ root, machinery }) {
    this.root = root;
    this.machinery = machinery;
    /** @type {Map<string, {label: string, lines: string[], esm: SourceMap|null, cjs: SourceMap|null, firstLineOffset: number, wrapperLine: number, prefixLines: number}>} */
    this.scripts = new Map();
    /** Source maps of lib/dist files, by path (null: none). */
    this.libMaps = new Map();
  }

  /**
   * Files a compiled cell (or a local .ts module a cell imported).
   * @param {string} file the script name its stack frames will carry
   * @param {object} script
   * @param {string} script.label how tracebacks name it, e.g. "In[5]" or "helper.ts"
   * @param {string} script.source the TypeScript source
   * @param {{esm: object|null, cjs: object|null}|null} script.maps
   * @param {number} [script.firstLineOffset] columns of wrapper code before the code on line 1
   * @param {number} [script.wrapperLine] the line of the wrapper's call after the code: its
   *   frame is the kernel's, not the cell's
   * @param {number} [script.prefixLines] lines tslab put before the source when it compiled it
   *   ("export {};" for cells and in-memory modules, none for files on disk)
   */
  addScript(file, { label, source, maps, firstLineOffset = 0, wrapperLine = Infinity, prefixLines = SRC_PREFIX_LINES }) {
    const load = (m) => {
      try {
        return m ? new SourceMap(m) : null;
      } catch {
        return null;
      }
    };
    this.scripts.set(file, {
      label,
      lines: source.split('\n'),
      esm: load(maps?.esm),
      cjs: load(maps?.cjs),
      firstLineOffset,
      wrapperLine,
      prefixLines,
    });
    if (this.scripts.size > MAX_CELLS) this.scripts.delete(this.scripts.keys().next().value);
  }

  /** The source map of a lib/dist file, loaded once. */
  libMap(file) {
    if (!this.libMaps.has(file)) {
      let map = null;
      const libDist = path.join(this.root, 'lib', 'dist') + path.sep;
      if (file.startsWith(libDist) && fs.existsSync(`${file}.map`)) {
        try {
          map = { dir: path.dirname(file), map: new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8'))) };
        } catch {
          map = null;
        }
      }
      this.libMaps.set(file, map);
    }
    return this.libMaps.get(file);
  }

  /**
   * Maps a generated position (1-based line and column) to where it came from.
   * @returns {{label: string, line: number, col: number, lines?: string[], compiled?: boolean}|{wrapper: true}|null}
   */
  locate(file, line, col) {
    const s = this.scripts.get(file);
    if (s) {
      if (line >= s.wrapperLine) return { wrapper: true };
      const c = line === 1 ? Math.max(1, col - s.firstLineOffset) : col;
      if (!s.esm || !s.cjs) return { label: s.label, line, col: c, compiled: true };
      const e1 = s.cjs.findEntry(line - 1, c - 1);
      if (e1.originalLine === undefined) return { label: s.label, line, col: c, compiled: true };
      const e2 = s.esm.findEntry(e1.originalLine, e1.originalColumn);
      if (e2.originalLine === undefined) return { label: s.label, line, col: c, compiled: true };
      const srcLine = e2.originalLine - s.prefixLines + 1;
      return { label: s.label, line: Math.max(1, srcLine), col: e2.originalColumn + 1, lines: s.lines };
    }
    const lib = this.libMap(file);
    if (lib) {
      const e = lib.map.findEntry(line - 1, col - 1);
      if (e.originalSource !== undefined) {
        const src = e.originalSource.startsWith('file://')
          ? new URL(e.originalSource).pathname
          : path.resolve(lib.dir, e.originalSource);
        return { label: path.relative(this.root, src), line: e.originalLine + 1, col: e.originalColumn + 1 };
      }
    }
    return null;
  }

  /** True for frames of the kernel itself (tslab's executor, node:vm, this folder). */
  isMachinery(file) {
    if (file.startsWith('node:internal/') || file === 'node:vm' || file.startsWith('evalmachine.')) return true;
    return this.machinery.some((p) => file.startsWith(p));
  }

  /**
   * Rewrites the frames of a V8 stack: cell and lib positions mapped, kernel frames dropped,
   * other paths shown relative to the project. Returns { frames, first } where `first` is the
   * innermost mapped cell position (for the excerpt).
   */
  frames(stack) {
    const out = [];
    let first = null;
    for (const raw of String(stack ?? '').split('\n')) {
      const m = raw.match(/^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/);
      if (!m) {
        const plain = raw.match(/^\s*at (.*)$/);
        if (plain && !/\((node:internal\/|evalmachine\.)/.test(raw)) out.push(`    at ${plain[1]}`);
        continue;
      }
      const [, fn, file, l, c] = m;
      if (this.isMachinery(file)) continue;
      const loc = this.locate(file, Number(l), Number(c));
      if (loc && loc.wrapper) continue;
      let where;
      if (loc) {
        where = `${loc.label}${loc.compiled ? ' (compiled JS)' : ''}:${loc.line}:${loc.col}`;
        if (!first && loc.lines) first = loc;
      } else {
        where = file.startsWith(this.root + path.sep) ? `${path.relative(this.root, file)}:${l}:${c}` : `${file}:${l}:${c}`;
      }
      // A function from an earlier cell is called through tslab's `exports` proxy.
      const name = fn?.replace(/^Proxy\./, '');
      out.push(name ? `    at ${name} (${where})` : `    at ${where}`);
    }
    return { frames: out, first };
  }

  /** The lines of a cell around `line`, with an arrow and a caret at `col`. */
  excerpt(label, lines, line, col) {
    const from = Math.max(1, line - CONTEXT_LINES);
    const width = String(line).length;
    const out = [`${label}, line ${line}:`];
    for (let i = from; i <= Math.min(line, lines.length); i++) {
      const mark = i === line ? '--> ' : '    ';
      out.push(`${mark}${String(i).padStart(width)} | ${lines[i - 1] ?? ''}`);
    }
    if (col >= 1) out.push(`    ${' '.repeat(width)} | ${' '.repeat(col - 1)}^`);
    return out;
  }

  /**
   * The error content for a thrown value.
   * @param {unknown} err
   * @param {{note?: string}} [options] `note`: a line put first (e.g. "thrown in a timer").
   * @returns {{ename: string, evalue: string, traceback: string[]}}
   */
  fromThrown(err, options = {}) {
    let ename;
    let evalue;
    let stack = '';
    if (err instanceof Error || (err && typeof err === 'object' && typeof err.stack === 'string')) {
      ename = String(err.name ?? 'Error');
      const ctor = err.constructor?.name;
      if (ename === 'Error' && ctor && ctor !== 'Error' && ctor !== 'Object') ename = ctor;
      evalue = String(err.message ?? '');
      stack = err.stack;
    } else {
      ename = 'Uncaught';
      evalue = util.inspect(err);
    }
    const { frames, first } = this.frames(stack);
    const traceback = [];
    if (options.note) traceback.push(options.note);
    traceback.push(evalue ? `${ename}: ${evalue}` : ename, ...frames);
    if (first) traceback.push('', ...this.excerpt(first.label, first.lines, first.line, first.col));
    const cause = err && typeof err === 'object' ? err.cause : undefined;
    if (cause !== undefined) {
      const c = this.fromThrown(cause);
      traceback.push('', 'Caused by:', ...c.traceback);
    }
    return { ename, evalue, traceback };
  }

  /**
   * The error content for TypeScript diagnostics (the cell did not compile).
   * @param {{file: string, line: number, col: number, message: string}[]} diags
   * @param {string} label the cell's label
   * @param {string} source the cell's source
   */
  fromDiagnostics(diags, label, source) {
    const lines = source.split('\n');
    const first = diags[0];
    const more = diags.length > 1 ? ` (and ${diags.length - 1} more)` : '';
    const traceback = [`TSError: the cell does not compile: ${diags.length} error${diags.length > 1 ? 's' : ''}`];
    for (const d of diags) traceback.push(`    ${d.file || label}:${d.line}:${d.col} - ${d.message}`);
    const inCell = diags.find((d) => !d.file);
    if (inCell) traceback.push('', ...this.excerpt(label, lines, inCell.line, inCell.col));
    return {
      ename: 'TSError',
      evalue: `${first.file ? `${first.file}:` : ''}${first.line}:${first.col} - ${first.message}${more}`,
      traceback,
    };
  }
}

module.exports = { Tracebacks };
