// The fused distillation-loss kernel on the cpu backend (the suite: tests/helpers/distill-fused-suite.ts).
import { distillFusedSuite } from './helpers/distill-fused-suite';

distillFusedSuite('cpu');
