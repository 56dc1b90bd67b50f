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

/**
 * Displays one output with several MIME types. With `displayId`, later calls with the same id
 * and `update: true` replace it in place (live progress).
 *
 * A burst of outputs (progress updates, a figure and its update, printed lines) needs no care
 * here: the course kernel queues every send on its sockets (kernel/src/server.ts,
 * `withQueuedSends`), so zeromq's "Socket is busy writing" never reaches this writer.
 */
export function displayBundle(bundle: MimeBundle, options: { displayId?: string; update?: boolean } = {}): void {
  const j = tslabJupyter();
  if (j && j.lastWriteDisplayData) {
    const transient = options.displayId ? { display_id: options.displayId } : {};
    j.lastWriteDisplayData({ data: bundle, metadata: {}, transient }, options.update ?? false);
    return;
  }
  const text = bundle['text/plain'];
  if (typeof text === 'string') process.stdout.write(`${text}\n`);
}
