// Golden values of lib/distill vs PyTorch on the native `tensorflow` backend
// (@tensorflow/tfjs-node, installed by `npm run setup:native`). The same suite as the cpu and wasm
// files. Where tfjs-node is not installed the suite is skipped, unless FRUGAL_REQUIRE_NATIVE=1
// (set by .ci/run after setup:native), which turns a missing engine into a failure.
import { describe, expect, it } from 'vitest';
import { distillGoldenSuite } from './helpers/distill-golden-suite';
import { nativeInstalled } from './helpers/native';

if (nativeInstalled()) {
  distillGoldenSuite('tensorflow');
} else {
  describe('distill golden values on the native tensorflow backend', () => {
    it.skipIf(process.env.FRUGAL_REQUIRE_NATIVE !== '1')('needs @tensorflow/tfjs-node (npm run setup:native)', () => {
      expect.fail('FRUGAL_REQUIRE_NATIVE=1 but @tensorflow/tfjs-node is not installed: run npm run setup:native');
    });
  });
}
