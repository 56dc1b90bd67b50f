// Golden values of lib/distill vs PyTorch, on the wasm backend (the suite: tests/helpers/distill-golden-suite.ts).
// Backends are process-wide; vitest runs each test file in its own fork, so this file owns wasm.
import { distillGoldenSuite } from './helpers/distill-golden-suite';

distillGoldenSuite('wasm');
