/**
 * Whether the native TensorFlow backend (`@tensorflow/tfjs-node`, installed by
 * `npm run setup:native`) is installed, for the test files that run a suite on it.
 */
import { createRequire } from 'node:module';

/** True when the real `@tensorflow/tfjs-node` resolves from the repository root. */
export function nativeInstalled(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const { name } = req('@tensorflow/tfjs-node/package.json') as { name?: string };
    // danfojs's alias answers to the name only through its own nested node_modules; the root
    // resolution finds the real package or nothing.
    return name === '@tensorflow/tfjs-node' && req.resolve('@tensorflow/tfjs-node').includes('tfjs-node');
  } catch {
    return false;
  }
}
