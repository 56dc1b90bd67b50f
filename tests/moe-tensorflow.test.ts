// lib/moe's sparse modes (host, kernels, batched: the default here) against the dense reference
// on the native `tensorflow` backend (@tensorflow/tfjs-node, installed by `npm run setup:native`):
// the suite of tests/moe.test.ts (cpu) and tests/moe-wasm.test.ts. Where tfjs-node is not
// installed it is skipped, unless FRUGAL_REQUIRE_NATIVE=1 (set by .ci/run after setup:native).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { defaultSparseMode } from '../lib/moe/dispatch';
import { moeModesSuite } from './helpers/moe-modes-suite';
import { nativeInstalled } from './helpers/native';

if (nativeInstalled()) {
  // The cpu file's tolerance (oneDNN's products sum in another order, still within 1e-5 here).
  moeModesSuite('tensorflow', 1e-5);
  describe('MoE on tensorflow', () => {
    it('runs the capacity-padded batched mode by default', () => {
      expect(tf.getBackend()).toBe('tensorflow');
      expect(defaultSparseMode()).toBe('batched');
    });
  });
} else {
  describe('MoE sparse modes on the native tensorflow backend', () => {
    it.skipIf(process.env.FRUGAL_REQUIRE_NATIVE !== '1')('needs @tensorflow/tfjs-node (npm run setup:native)', () => {
      expect.fail('FRUGAL_REQUIRE_NATIVE=1 but @tensorflow/tfjs-node is not installed: run npm run setup:native');
    });
  });
}
