/**
 * lib/display: outputs sent through tslab's writer, and waiting (in order) when the kernel's
 * zeromq socket is busy instead of failing the cell (seen in lesson 04 under load: "Socket is
 * busy writing; only one send operation may be in progress at any time").
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
  it('sends at once when the socket is free', () => {
    const sent: string[] = [];
    jupyter.lastWriteDisplayData = (m, update) => sent.push(`${String(m.data['text/plain'])}${update ? ' (update)' : ''}`);
    displayBundle({ 'text/plain': 'a' }, { displayId: 'x' });
    displayBundle({ 'text/plain': 'b' }, { displayId: 'x', update: true });
    expect(sent).toEqual(['a', 'b (update)']);
  });

  it('waits for a busy socket and keeps the order of the outputs', async () => {
    const sent: string[] = [];
    let busy = 3;
    jupyter.lastWriteDisplayData = (m) => {
      if (busy-- > 0) throw new Error('Socket is busy writing; only one send operation may be in progress at any time');
      sent.push(String(m.data['text/plain']));
    };
    displayBundle({ 'text/plain': 'first' });
    displayBundle({ 'text/plain': 'second' });
    expect(sent).toEqual([]); // nothing thrown, nothing lost yet
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toEqual(['first', 'second']);
  });

  it('still throws any other error of the writer', () => {
    jupyter.lastWriteDisplayData = () => {
      throw new Error('bad bundle');
    };
    expect(() => displayBundle({ 'text/plain': 'x' })).toThrow(/^bad bundle$/);
  });
});
