// The input history of this kernel session, answering `history_request` (tail, range, search)
// the way IPython's HistoryManager does, kept in memory: one session, not saved across restarts.

/** The session number in replies; 0 in a request also means "this session". */
export const SESSION = 1;

/** One executed input, with the text/plain of its result once known. */
export interface HistoryEntry {
  line: number;
  input: string;
  output: string | null;
}

/** The fields of a `history_request` that the kernel reads. */
export interface HistoryRequest {
  hist_access_type: string;
  output?: boolean;
  session?: number;
  start?: number;
  stop?: number | null;
  n?: number | null;
  pattern?: string;
  unique?: boolean;
}

/** A glob (`*`, `?`, `[...]`), anchored at both ends like SQLite's GLOB that IPython uses. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('^') ? `\\${body}` : body}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export class History {
  readonly entries: HistoryEntry[] = [];

  /** Records an executed input under its execution count; returns the entry (to add output). */
  add(line: number, input: string): HistoryEntry {
    const entry: HistoryEntry = { line, input, output: null };
    this.entries.push(entry);
    return entry;
  }

  /** The `history_reply` content for a `history_request`. */
  reply(req: HistoryRequest): { status: 'ok'; history: unknown[] } {
    let picked: HistoryEntry[];
    switch (req.hist_access_type) {
      case 'tail': {
        const n = req.n ?? 10;
        picked = n > 0 ? this.entries.slice(-n) : [];
        break;
      }
      case 'range': {
        const session = req.session ?? 0;
        const start = req.start ?? 1;
        const stop = req.stop ?? null;
        picked =
          session === 0 || session === SESSION
            ? this.entries.filter((e) => e.line >= start && (stop === null || e.line < stop))
            : [];
        break;
      }
      case 'search': {
        const re = globToRegExp(req.pattern ?? '*');
        picked = this.entries.filter((e) => re.test(e.input));
        if (req.unique) {
          const last = new Map(picked.map((e) => [e.input, e]));
          picked = picked.filter((e) => last.get(e.input) === e);
        }
        if (req.n != null) picked = req.n > 0 ? picked.slice(-req.n) : [];
        break;
      }
      default:
        picked = [];
    }
    const history = picked.map((e) => (req.output ? [SESSION, e.line, [e.input, e.output]] : [SESSION, e.line, e.input]));
    return { status: 'ok', history };
  }
}
