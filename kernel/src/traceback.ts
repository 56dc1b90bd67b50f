// Jupyter `error` content (ename, evalue, traceback) for what a cell threw, with stack frames
// mapped back to the cell's own lines through the two source maps of its compiled code
// (see converter.ts), and to lib/*.ts for the course lib (lib/dist ships .js.map files).
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import util from 'node:util';
import type { CellMaps, RawSourceMap } from './converter';

/** Lines tslab puts before a cell's source (and an in-memory module's): "export {};\n". */
const SRC_PREFIX_LINES = 1;
/** How many compiled cells keep their maps (a function defined in a cell may throw later). */
const MAX_CELLS = 1000;
/** Lines shown before the failing line in the excerpt. */
const CONTEXT_LINES = 2;

/** Jupyter's `error` content. */
export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** A TypeScript diagnostic as tslab prints it (file empty for the cell itself). */
export interface CellDiagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** What `addScript` files for one compiled cell or local module. */
export interface ScriptInfo {
  /** How tracebacks name it, e.g. "In[5]" or "helper.ts". */
  label: string;
  /** The TypeScript source. */
  source: string;
  maps: CellMaps | null;
  /** Columns of wrapper code before the code on line 1. */
  firstLineOffset?: number;
  /** The line of the wrapper's call after the code: its frame is the kernel's, not the cell's. */
  wrapperLine?: number;
  /** Lines tslab put before the source ("export {};" for cells and in-memory modules, none for files on disk). */
  prefixLines?: number;
}

interface Script {
  label: string;
  lines: string[];
  esm: SourceMap | null;
  cjs: SourceMap | null;
  firstLineOffset: number;
  wrapperLine: number;
  prefixLines: number;
}

/** A mapped position; `lines` is the source when it is a cell's (for the excerpt). */
interface Located {
  label: string;
  line: number;
  col: number;
  lines?: string[];
  compiled?: boolean;
}

/** SourceMap.findEntry's result: empty when nothing maps there. */
interface Entry {
  originalSource?: string;
  originalLine?: number;
  originalColumn?: number;
}

export class Tracebacks {
  private readonly root: string;
  private readonly machinery: readonly string[];
  private readonly scripts = new Map<string, Script>();
  /** Source maps of lib/dist files, by path (null: none). */
  private readonly libMaps = new Map<string, { dir: string; map: SourceMap } | null>();

  /**
   * @param options.machinery path prefixes whose frames are the kernel's own (tslab, kernel/),
   *   dropped from tracebacks.
   */
  constructor({ root, machinery }: { root: string; machinery: readonly string[] }) {
    this.root = root;
    this.machinery = machinery;
  }

  /**
   * Files a compiled cell (or a local .ts module a cell imported).
   * @param file the script name its stack frames will carry
   */
  addScript(file: string, { label, source, maps, firstLineOffset = 0, wrapperLine = Infinity, prefixLines = SRC_PREFIX_LINES }: ScriptInfo): void {
    const load = (m: RawSourceMap | null | undefined): SourceMap | null => {
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
    if (this.scripts.size > MAX_CELLS) {
      const oldest = this.scripts.keys().next().value;
      if (oldest !== undefined) this.scripts.delete(oldest);
    }
  }

  /** The source map of a lib/dist file, loaded once. */
  private libMap(file: string): { dir: string; map: SourceMap } | null {
    if (!this.libMaps.has(file)) {
      let map: { dir: string; map: SourceMap } | null = null;
      const libDist = path.join(this.root, 'lib', 'dist') + path.sep;
      if (file.startsWith(libDist) && fs.existsSync(`${file}.map`)) {
        try {
          map = { dir: path.dirname(file), map: new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as RawSourceMap) };
        } catch {
          map = null;
        }
      }
      this.libMaps.set(file, map);
    }
    return this.libMaps.get(file) ?? null;
  }

  /** Maps a generated position (1-based line and column) to where it came from. */
  locate(file: string, line: number, col: number): Located | { wrapper: true } | null {
    const s = this.scripts.get(file);
    if (s) {
      if (line >= s.wrapperLine) return { wrapper: true };
      const c = line === 1 ? Math.max(1, col - s.firstLineOffset) : col;
      if (!s.esm || !s.cjs) return { label: s.label, line, col: c, compiled: true };
      const e1 = s.cjs.findEntry(line - 1, c - 1) as Entry;
      if (e1.originalLine === undefined || e1.originalColumn === undefined) return { label: s.label, line, col: c, compiled: true };
      const e2 = s.esm.findEntry(e1.originalLine, e1.originalColumn) as Entry;
      if (e2.originalLine === undefined || e2.originalColumn === undefined) return { label: s.label, line, col: c, compiled: true };
      const srcLine = e2.originalLine - s.prefixLines + 1;
      return { label: s.label, line: Math.max(1, srcLine), col: e2.originalColumn + 1, lines: s.lines };
    }
    const lib = this.libMap(file);
    if (lib) {
      const e = lib.map.findEntry(line - 1, col - 1) as Entry;
      if (e.originalSource !== undefined && e.originalLine !== undefined && e.originalColumn !== undefined) {
        const src = e.originalSource.startsWith('file://') ? new URL(e.originalSource).pathname : path.resolve(lib.dir, e.originalSource);
        return { label: path.relative(this.root, src), line: e.originalLine + 1, col: e.originalColumn + 1 };
      }
    }
    return null;
  }

  /** True for frames of the kernel itself (tslab's executor, node:vm, kernel/). */
  isMachinery(file: string): boolean {
    if (file.startsWith('node:internal/') || file === 'node:vm' || file.startsWith('evalmachine.')) return true;
    return this.machinery.some((p) => file.startsWith(p));
  }

  /**
   * Rewrites the frames of a V8 stack: cell and lib positions mapped, kernel frames dropped,
   * other paths shown relative to the project. `first` is the innermost mapped cell position
   * (for the excerpt).
   */
  frames(stack: unknown): { frames: string[]; first: (Located & { lines: string[] }) | null } {
    const out: string[] = [];
    let first: (Located & { lines: string[] }) | null = null;
    for (const raw of (typeof stack === 'string' ? stack : '').split('\n')) {
      const m = raw.match(/^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/);
      if (!m) {
        const plain = raw.match(/^\s*at (.*)$/);
        if (plain && !/\((node:internal\/|evalmachine\.)/.test(raw)) out.push(`    at ${plain[1] ?? ''}`);
        continue;
      }
      const [, fn, file = '', l = '0', c = '0'] = m;
      if (this.isMachinery(file)) continue;
      const loc = this.locate(file, Number(l), Number(c));
      if (loc && 'wrapper' in loc) continue;
      let where: string;
      if (loc) {
        where = `${loc.label}${loc.compiled ? ' (compiled JS)' : ''}:${loc.line}:${loc.col}`;
        if (!first && loc.lines) first = { ...loc, lines: loc.lines };
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
  excerpt(label: string, lines: readonly string[], line: number, col: number): string[] {
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
   * @param options.note a line put first (e.g. "thrown in a timer")
   */
  fromThrown(err: unknown, options: { note?: string } = {}): ErrorContent {
    let ename: string;
    let evalue: string;
    let stack: unknown = '';
    const obj = err !== null && typeof err === 'object' ? (err as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown }) : null;
    if (obj && (err instanceof Error || typeof obj.stack === 'string')) {
      ename = typeof obj.name === 'string' ? obj.name : 'Error';
      const ctor = (obj as object).constructor?.name;
      if (ename === 'Error' && ctor && ctor !== 'Error' && ctor !== 'Object') ename = ctor;
      evalue = typeof obj.message === 'string' ? obj.message : '';
      stack = obj.stack;
    } else {
      ename = 'Uncaught';
      evalue = util.inspect(err);
    }
    const { frames, first } = this.frames(stack);
    const traceback: string[] = [];
    if (options.note) traceback.push(options.note);
    traceback.push(evalue ? `${ename}: ${evalue}` : ename, ...frames);
    if (first) traceback.push('', ...this.excerpt(first.label, first.lines, first.line, first.col));
    const cause = obj ? obj.cause : undefined;
    if (cause !== undefined) {
      const c = this.fromThrown(cause);
      traceback.push('', 'Caused by:', ...c.traceback);
    }
    return { ename, evalue, traceback };
  }

  /**
   * The error content for TypeScript diagnostics (the cell did not compile).
   * @param label the cell's label
   * @param source the cell's source
   */
  fromDiagnostics(diags: readonly CellDiagnostic[], label: string, source: string): ErrorContent {
    const lines = source.split('\n');
    const first = diags[0];
    if (!first) return { ename: 'TSError', evalue: 'the cell does not compile', traceback: ['TSError: the cell does not compile'] };
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
