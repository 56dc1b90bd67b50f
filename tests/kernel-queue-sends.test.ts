/**
 * kernel/src/server.ts withQueuedSends: zeromq 6 rejects a send while another is in progress
 * ("Socket is busy writing"); tslab sends without awaiting, so bursts of output failed cells on a
 * loaded machine. The fake socket below behaves like zeromq's: one send at a time, each taking a
 * few milliseconds, and a sealed object whose `send` is read-only (zeromq's sockets are).
 */
import { describe, expect, it } from 'vitest';
import { withQueuedSends } from '../kernel/src/server';

class BusySocket {
  sent: string[] = [];
  closed = false;
  busy = false;
  constructor() {
    Object.seal(this);
  }
  close(): void {
    this.closed = true;
  }
}
Object.defineProperty(BusySocket.prototype, 'send', {
  writable: false,
  value(this: BusySocket, frames: (Buffer | string)[]): Promise<void> {
    if (this.busy) return Promise.reject(new Error('Socket is busy writing; only one send operation may be in progress at any time'));
    this.busy = true;
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        this.busy = false;
        this.sent.push(String(frames[0]));
        resolve();
      }, 2),
    );
  },
});
type Sock = BusySocket & { send(frames: (Buffer | string)[]): Promise<void> };
const socket = () => new BusySocket() as Sock;

describe('withQueuedSends', () => {
  it('without it, a second send in progress is rejected (the failure it prevents), and the socket cannot be patched', async () => {
    const sock = socket();
    const first = sock.send(['a']);
    await expect(sock.send(['b'])).rejects.toThrow(/Socket is busy writing/);
    await first;
    expect(() => Object.defineProperty(sock, 'send', { value: () => undefined })).toThrow(/not extensible/);
  });
  it('with it, a burst of 50 sends all leave, in order', async () => {
    const sock = socket();
    const view = withQueuedSends(sock);
    await Promise.all(Array.from({ length: 50 }, (_, i) => view.send([`m${i}`])));
    expect(sock.sent).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });
  it('forwards everything else to the socket, bound to it', () => {
    const sock = socket();
    const view = withQueuedSends(sock);
    view.close();
    expect(sock.closed).toBe(true);
    expect(view.sent).toBe(sock.sent);
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
    const view = withQueuedSends(sock);
    await expect(view.send(['lost'])).rejects.toThrow(/socket closed/);
    await view.send(['next']);
    expect(sent).toEqual(['next']);
  });
});
