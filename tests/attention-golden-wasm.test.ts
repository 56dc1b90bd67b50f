// Golden values of lib/attention vs PyTorch, on the wasm backend (the suite: tests/helpers/attention-golden-suite.ts).
// Backends are process-wide; vitest runs each test file in its own fork, so this file owns wasm.
import { attentionGoldenSuite } from './helpers/attention-golden-suite';

attentionGoldenSuite('wasm');
