// Golden values of lib/distill vs PyTorch, on the cpu backend (the suite: tests/helpers/distill-golden-suite.ts).
import { distillGoldenSuite } from './helpers/distill-golden-suite';

distillGoldenSuite('cpu');
