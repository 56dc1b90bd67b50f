/**
 * kernel/src/process-errors.ts and the timer line of kernel/src/repr.ts, without a kernel: the
 * kernel's handler alone receives uncaught exceptions and unhandled rejections, whatever
 * listeners a library registered (tfjs-backend-wasm's rethrow them). The protocol tests
 * (tests/kernel/test_protocol.py, AfterWasm and the others) check the same in a live kernel.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { own, type EmittingProcess } from '../kernel/src/process-errors';
import { timerText } from '../kernel/src/repr';

function fakeProcess(): EventEmitter & EmittingProcess {
  return new EventEmitter() as EventEmitter & EmittingProcess;
}

describe('own (the kernel owns the process error events)', () => {
  it('hands both events to the kernel and never calls a library listener that rethrows', () => {
    const proc = fakeProcess();
    // What emscripten registers once tfjs-backend-wasm loads.
    proc.on('uncaughtException', (ex: unknown) => {
      throw ex;
    });
    proc.on('unhandledRejection', (reason: unknown) => {
      throw reason;
    });
    const seen: [string, unknown][] = [];
    const logs: string[] = [];
    const restore = own(
      (kind, err) => seen.push([kind, err]),
      (l) => logs.push(l),
      proc,
    );
    const boom = new Error('nope');
    expect(proc.emit('unhandledRejection', boom, Promise.resolve())).toBe(true);
    expect(proc.emit('uncaughtException', boom)).toBe(true);
    expect(seen).toEqual([
      ['rejection', boom],
      ['exception', boom],
    ]);
    // Each set-aside listener is logged once.
    expect(logs.filter((l) => /set aside/.test(l))).toHaveLength(2);
    proc.emit('unhandledRejection', boom, Promise.resolve());
    expect(logs.filter((l) => /set aside/.test(l))).toHaveLength(2);
    // Once restored, the library's listener runs again (and rethrows): the hook was what stopped it.
    restore();
    expect(() => proc.emit('uncaughtException', boom)).toThrow('nope');
  });

  it('passes every other event through unchanged', () => {
    const proc = fakeProcess();
    const got: unknown[] = [];
    proc.on('message', (m: unknown) => got.push(m));
    own(
      () => {},
      () => {},
      proc,
    );
    expect(proc.emit('message', 42)).toBe(true);
    expect(proc.emit('nobody-listens')).toBe(false);
    expect(got).toEqual([42]);
  });

  it('survives a kernel handler that throws, and says so in its log', () => {
    const proc = fakeProcess();
    const logs: string[] = [];
    own(
      () => {
        throw new Error('handler bug');
      },
      (l) => logs.push(l),
      proc,
    );
    expect(proc.emit('uncaughtException', new Error('x'))).toBe(true);
    expect(logs.some((l) => /uncaughtException handler failed: Error: handler bug/.test(l))).toBe(true);
  });
});

describe("timerText (a timer handle as a cell's last value)", () => {
  it('is one line naming the handle and how to cancel it', () => {
    const t = setTimeout(() => {}, 10_000);
    const i = setInterval(() => {}, 10_000);
    const im = setImmediate(() => {});
    try {
      const id = Number(t);
      expect(timerText(t)).toBe(`Timeout ${id} (setTimeout handle: clearTimeout(${id}) cancels it)`);
      expect(timerText(i)).toMatch(/^Timeout \d+ \(setInterval handle: clearInterval\(\d+\) cancels it\)$/);
      expect(timerText(im)).toBe('Immediate (setImmediate handle)');
    } finally {
      clearTimeout(t);
      clearInterval(i);
      clearImmediate(im);
    }
  });

  it('leaves other values to util.inspect', () => {
    expect(timerText({ hasRef: 1 })).toBeNull();
    expect(timerText(42)).toBeNull();
    expect(timerText(null)).toBeNull();
  });
});
