/**
 * kernel/src/server.ts queueSends: zeromq 6 rejects a send while another is in progress
 * ("Socket is busy writing"); tslab sends without awaiting, so bursts of output failed cells on a
 * loaded machine. The fake socket below behaves like zeromq's: one send at a time, each taking a
 * few milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { queueSends } from '../kernel/src/server';

function busySocket() {
  const sent: string[] = [];
  let busy = false;
  const sock = {
    send(frames: (Buffer | string)[]): Promise<void> {
      if (busy) return Promise.reject(new Error('Socket is busy writing; only one send operation may be in progress at any time'));
      busy = true;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          busy = false;
          sent.push(String(frames[0]));
          resolve();
        }, 2),
      );
    },
  };
  return { sock, sent };
}

describe('queueSends', () => {
  it('without it, a second send in progress is rejected (the failure it prevents)', async () => {
    const { sock } = busySocket();
    const first = sock.send(['a']);
    await expect(sock.send(['b'])).rejects.toThrow(/Socket is busy writing/);
    await first;
  });
  it('with it, a burst of 50 sends all leave, in order', async () => {
    const { sock, sent } = busySocket();
    queueSends(sock);
    const all = Array.from({ length: 50 }, (_, i) => sock.send([`m${i}`]));
    await Promise.all(all);
    expect(sent).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });
  it('is idempotent', async () => {
    const { sock, sent } = busySocket();
    queueSends(sock);
    const wrapped = sock.send;
    queueSends(sock);
    expect(sock.send).toBe(wrapped);
    await Promise.all([sock.send(['x']), sock.send(['y'])]);
    expect(sent).toEqual(['x', 'y']);
  });
  it('a failed send rejects its own promise and does not block the next', async () => {
    let calls = 0;
    const sent: string[] = [];
    const sock = {
      send(frames: (Buffer | string)[]): Promise<void> {
        calls++;
        if (calls === 1) return Promise.reject(new Error('socket closed'));
        sent.push(String(frames[0]));
        return Promise.resolve();
      },
    };
    queueSends(sock);
    await expect(sock.send(['lost'])).rejects.toThrow(/socket closed/);
    await sock.send(['next']);
    expect(sent).toEqual(['next']);
  });
  it('leaves a socket that is not extensible (zeromq 6 native sockets here) as it is, without throwing', () => {
    const { sock } = busySocket();
    const send = sock.send;
    Object.preventExtensions(sock);
    expect(() => queueSends(sock)).not.toThrow();
    expect(sock.send).toBe(send);
  });
});
