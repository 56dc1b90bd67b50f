// The fused Dense kernels on the cpu backend (the suite: tests/helpers/fused-dense-suite.ts).
// Backends are process-wide; vitest runs each test file in its own fork, so this file owns cpu.
import { fusedDenseSuite } from './helpers/fused-dense-suite';

fusedDenseSuite('cpu');
