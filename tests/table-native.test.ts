// A table must not move a lesson off the backend initBackend chose. danfojs-node (lib/table)
// requires '@tensorflow/tfjs-node'; where `npm run setup:native` installed the real one, loading
// it calls tf.setBackend('tensorflow'). lib/table's danfo() puts the backend back (keepBackend).
// Its own file: Node caches danfojs-node per process, so the first load must happen here.
// Skipped where tfjs-node is not installed, unless FRUGAL_REQUIRE_NATIVE=1 (set by .ci/run).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../lib/backend';
import { frame } from '../lib/table';
import { nativeInstalled } from './helpers/native';

describe('a table keeps the backend with the native engine installed', () => {
  it.skipIf(!nativeInstalled() && process.env.FRUGAL_REQUIRE_NATIVE !== '1')('frame() on wasm stays on wasm', async () => {
    expect(nativeInstalled(), 'FRUGAL_REQUIRE_NATIVE=1 but @tensorflow/tfjs-node is not installed').toBe(true);
    const report = await initBackend({ force: 'wasm' });
    expect(report.backend).toBe('wasm');
    expect(tf.findBackend('tensorflow')).toBeNull(); // tfjs-node not loaded yet
    const df = frame([{ backend: 'wasm', n: 1 }]);
    expect(df.shape).toEqual([1, 2]);
    expect(tf.findBackendFactory('tensorflow')).not.toBeNull(); // danfojs-node did load tfjs-node
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0])).toBe(3);
  });
});
