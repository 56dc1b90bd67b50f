// The fused distillation-loss kernel on the wasm backend (the suite: tests/helpers/distill-fused-suite.ts).
// Backends are process-wide; vitest runs each test file in its own fork, so this file owns wasm.
import { distillFusedSuite } from './helpers/distill-fused-suite';

distillFusedSuite('wasm');
