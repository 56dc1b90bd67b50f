import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import {
  BackendCandidate,
  NotInstalledError,
  explainLoadError,
  initBackend,
  keepBackend,
  parseBackendName,
  orderForWorkload,
  selectBackend,
  type Workload,
} from '../lib/backend';

/** A stub candidate: loads when `fails` is undefined, else throws it. */
function stub(name: BackendCandidate['name'], label: string, fails?: Error): BackendCandidate & { calls: number } {
  const c = {
    name,
    label,
    calls: 0,
    load: () => {
      c.calls++;
      return fails === undefined ? Promise.resolve() : Promise.reject(fails);
    },
  };
  return c;
}

describe('selectBackend (stubbed loaders)', () => {
  it('takes the first candidate that loads and says why the others were skipped', async () => {
    const gpu = stub('tensorflow', 'tfjs-node-gpu', new NotInstalledError('tfjs-node-gpu not installed'));
    const node = stub('tensorflow', 'tfjs-node', new Error('libcudart.so.11.0: cannot open shared object file'));
    const wasm = stub('wasm', 'wasm');
    const cpu = stub('cpu', 'cpu');
    const r = await selectBackend([gpu, node, wasm, cpu]);
    expect(r.backend).toBe('wasm');
    expect(r.forced).toBeNull();
    expect(cpu.calls).toBe(0);
    expect(r.attempts.map((a) => a.reason)).toEqual([
      'tfjs-node-gpu not installed',
      'CUDA libraries not found (libcudart.so.11.0: cannot open shared object file)',
      'first that loaded',
    ]);
  });

  it('prefers the native engine when it loads', async () => {
    const r = await selectBackend([stub('tensorflow', 'tfjs-node-gpu'), stub('wasm', 'wasm')]);
    expect(r.backend).toBe('tensorflow');
    expect(r.attempts).toHaveLength(1);
  });

  it('falls through to cpu when wasm fails', async () => {
    const r = await selectBackend([stub('wasm', 'wasm', new Error('WebAssembly.instantiate failed')), stub('cpu', 'cpu')]);
    expect(r.backend).toBe('cpu');
    expect(r.attempts[0]?.reason).toMatch(/wasm failed to load \(WebAssembly\.instantiate failed\)/);
  });

  it('loads only the forced backend and never falls back from it', async () => {
    const wasm = stub('wasm', 'wasm', new Error('boom'));
    const cpu = stub('cpu', 'cpu');
    await expect(selectBackend([wasm, cpu], 'wasm')).rejects.toThrow(/FRUGAL_BACKEND=wasm was requested but could not be loaded.*boom/);
    expect(cpu.calls).toBe(0);
    const r = await selectBackend([stub('wasm', 'wasm'), cpu], 'cpu');
    expect(r.backend).toBe('cpu');
    expect(r.attempts[0]?.reason).toBe('skipped: FRUGAL_BACKEND=cpu');
    expect(r.attempts[1]?.reason).toBe('forced by FRUGAL_BACKEND=cpu');
  });

  it('fails with every reason when nothing loads', async () => {
    await expect(selectBackend([stub('cpu', 'cpu', new Error('x'))])).rejects.toThrow(/no tfjs backend could be loaded \(cpu: cpu failed to load \(x\)\)/);
  });
});

describe('parseBackendName', () => {
  it('accepts the valid names in any case', () => {
    expect(parseBackendName('WASM')).toBe('wasm');
    expect(parseBackendName(' cpu ')).toBe('cpu');
    expect(parseBackendName('tensorflow')).toBe('tensorflow');
  });
  it('rejects an unknown name, listing the valid ones', () => {
    expect(() => parseBackendName('gpu')).toThrow(/^FRUGAL_BACKEND must be one of tensorflow, wasm, cpu, got "gpu"$/);
  });
});

describe('explainLoadError', () => {
  it('names a missing libtensorflow', () => {
    expect(explainLoadError('tfjs-node', new Error('libtensorflow.so.2: cannot open'))).toMatch(/^libtensorflow not found/);
  });
  it('recognises a missing module by its code', () => {
    const e = Object.assign(new Error("Cannot find module '@tensorflow/tfjs-node-gpu'"), { code: 'MODULE_NOT_FOUND' });
    expect(explainLoadError('@tensorflow/tfjs-node-gpu', e)).toBe('@tensorflow/tfjs-node-gpu not installed');
  });
});

describe('initBackend (real tfjs)', () => {
  it('rejects an unknown FRUGAL_BACKEND before loading anything', () => {
    expect(() => initBackend({ env: { FRUGAL_BACKEND: 'cuda' } })).toThrow(/FRUGAL_BACKEND must be one of tensorflow, wasm, cpu, got "cuda"/);
  });
  it('reports the native engines as not installed here, and the danfojs alias as not the engine', async () => {
    const r = await initBackend({ force: 'cpu' });
    expect(r.backend).toBe('cpu');
    const auto = await initBackend({ force: 'wasm', workload: 'large' });
    expect(auto.backend).toBe('wasm');
    expect(auto.attempts.map((a) => a.label)).toEqual([
      '@tensorflow/tfjs-node-gpu',
      '@tensorflow/tfjs-node',
      '@tensorflow/tfjs-backend-wasm',
    ]);
  });
});

describe('orderForWorkload', () => {
  const names = (cs: readonly BackendCandidate[]) => cs.map((c) => c.label);
  const all = [stub('tensorflow', 'gpu'), stub('tensorflow', 'node'), stub('wasm', 'wasm'), stub('cpu', 'cpu')];
  it('large keeps native TensorFlow first', () => {
    expect(names(orderForWorkload(all, 'large'))).toEqual(['gpu', 'node', 'wasm', 'cpu']);
  });
  it('small puts wasm first and keeps the rest in order', () => {
    expect(names(orderForWorkload(all, 'small'))).toEqual(['wasm', 'gpu', 'node', 'cpu']);
  });
  it('small picks wasm even where native TensorFlow loads', async () => {
    const r = await selectBackend(orderForWorkload(all, 'small'));
    expect(r.label).toBe('wasm');
  });
  it('rejects an unknown workload, naming it', () => {
    expect(() => orderForWorkload(all, 'huge' as Workload)).toThrow(/workload must be one of small, large, got "huge"/);
  });
  it('initBackend reports the workload and why; small is the default', async () => {
    const r = await initBackend({ force: 'cpu' });
    expect(r.workload).toBe('small');
    expect(r.why).toMatch(/per-kernel overhead/);
  });
});

describe('initBackend reasons', () => {
  it('names the argument that forced the backend', async () => {
    const r = await initBackend({ force: 'cpu' });
    expect(r.attempts.at(-1)?.reason).toMatch(/^forced by force=cpu;/);
    expect(r.attempts[0]?.reason).toBe('skipped: force=cpu');
  });
});

describe('keepBackend', () => {
  it('puts back the backend that a package selected when loaded (as tfjs-node does), before any other op', async () => {
    await tf.setBackend('wasm');
    await tf.setBackend('cpu'); // both initialised, as after initBackend tried one and a package the other
    const value = keepBackend('a stub', () => {
      void tf.setBackend('wasm'); // what '@tensorflow/tfjs-node' does on import, with 'tensorflow'
      expect(tf.getBackend()).toBe('wasm');
      return 42;
    });
    expect(value).toBe(42);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('leaves the backend alone when the package does not touch it', async () => {
    await tf.setBackend('cpu');
    expect(keepBackend('a stub', () => 'x')).toBe('x');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('names both backends when the one that was active cannot be restored', async () => {
    tf.registerBackend('doomed', () => new (tf.findBackend('cpu').constructor as new () => tf.KernelBackend)());
    await tf.setBackend('doomed');
    expect(() =>
      keepBackend('a stub', () => {
        void tf.setBackend('cpu');
        tf.removeBackend('doomed');
      }),
    ).toThrowError(/loading a stub moved the tfjs backend from doomed to cpu, and doomed could not be restored/);
    expect(tf.getBackend()).toBe('cpu');
  });
});
