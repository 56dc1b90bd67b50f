/**
 * lib/display: outputs sent through tslab's writer, at once and in order. A busy zeromq socket is
 * the kernel's to handle (it queues every send: tests/kernel-queue-sends.test.ts, and the burst
 * in tests/kernel/test_protocol.py DisplayBurstTests), not the lib's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { displayBundle } from '../lib/display';
import { nodeRequire } from '../lib/node-require';

type Writer = (msg: { data: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => void;
const jupyter = nodeRequire('tslab/dist/jupyter') as { lastWriteDisplayData: Writer | null };

afterEach(() => {
  jupyter.lastWriteDisplayData = null;
});

describe('displayBundle in a kernel', () => {
  it('sends each output at once, in order', () => {
    const sent: string[] = [];
    jupyter.lastWriteDisplayData = (m, update) => sent.push(`${String(m.data['text/plain'])}${update ? ' (update)' : ''}`);
    displayBundle({ 'text/plain': 'a' }, { displayId: 'x' });
    displayBundle({ 'text/plain': 'b' }, { displayId: 'x', update: true });
    expect(sent).toEqual(['a', 'b (update)']);
  });

  it('throws an error of the writer at the call', () => {
    jupyter.lastWriteDisplayData = () => {
      throw new Error('bad bundle');
    };
    expect(() => displayBundle({ 'text/plain': 'x' })).toThrow(/^bad bundle$/);
  });
});
