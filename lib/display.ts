/**
 * Sends rich output to the notebook from lib code. Inside the tslab kernel one output carries
 * several MIME types (e.g. plotly JSON + PNG + text), so every front end shows its best one.
 * Outside a kernel (tests, scripts) the text/plain part goes to stdout.
 */
import { nodeRequire } from './node-require';

/** A Jupyter MIME bundle: MIME type -> data (string, or JSON for `application/*+json`). */
export type MimeBundle = Record<string, unknown>;

interface TslabJupyter {
  lastWriteDisplayData:
    | null
    | ((msg: { data: MimeBundle; metadata: object; transient: { display_id?: string } }, update: boolean) => void);
}

function tslabJupyter(): TslabJupyter | null {
  try {
    // tslab's internal API (see docs/kernel.md): the kernel's own writer, set while a cell runs.
    const j = nodeRequire('tslab/dist/jupyter') as TslabJupyter;
    return j.lastWriteDisplayData ? j : null;
  } catch {
    return null;
  }
}

/** True when running inside a tslab kernel cell. */
export function inKernel(): boolean {
  return tslabJupyter() !== null;
}

/** zeromq refuses a send while an earlier one on the socket is still being written. */
function isSocketBusy(e: unknown): boolean {
  return e instanceof Error && /Socket is busy writing/.test(e.message);
}

/** Display messages waiting for the kernel's IOPub socket, in order. */
const pending: Array<() => void> = [];
let retryTimer: NodeJS.Timeout | null = null;
/** When the oldest waiting message first met a busy socket. */
let busySince = 0;
/** How long a message may wait for the socket before it is dropped (with a notice on stderr). */
const BUSY_LIMIT_MS = 5_000;

/** Sends the waiting messages in order; on a busy socket, tries again in 2 ms. */
function flush(): void {
  retryTimer = null;
  while (pending.length > 0) {
    const send = pending[0] as () => void;
    try {
      send();
    } catch (e) {
      if (!isSocketBusy(e)) {
        pending.shift();
        throw e;
      }
      if (Date.now() - busySince > BUSY_LIMIT_MS) {
        pending.shift();
        process.stderr.write(`display: dropped an output after ${BUSY_LIMIT_MS} ms of a busy kernel socket\n`);
        busySince = Date.now();
        continue;
      }
      retryTimer = setTimeout(flush, 2);
      return;
    }
    pending.shift();
    busySince = Date.now();
  }
}

/**
 * Displays one output with several MIME types. With `displayId`, later calls with the same id
 * and `update: true` replace it in place (live progress).
 *
 * The kernel's IOPub socket (zeromq) throws "Socket is busy writing" when a burst of outputs
 * (progress updates, a figure and its update, printed lines) outruns it; such an output waits
 * and is sent a few milliseconds later, in order, instead of failing the cell.
 */
export function displayBundle(bundle: MimeBundle, options: { displayId?: string; update?: boolean } = {}): void {
  const j = tslabJupyter();
  if (j && j.lastWriteDisplayData) {
    const write = j.lastWriteDisplayData; // this cell's writer, kept for a delayed send
    const transient = options.displayId ? { display_id: options.displayId } : {};
    const send = () => write({ data: bundle, metadata: {}, transient }, options.update ?? false);
    if (pending.length === 0) {
      try {
        send();
        return;
      } catch (e) {
        if (!isSocketBusy(e)) throw e;
        busySince = Date.now();
      }
    }
    pending.push(send);
    retryTimer ??= setTimeout(flush, 2);
    return;
  }
  const text = bundle['text/plain'];
  if (typeof text === 'string') process.stdout.write(`${text}\n`);
}
