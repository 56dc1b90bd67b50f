// Golden values of lib/attention vs PyTorch, on the cpu backend (the suite: tests/helpers/attention-golden-suite.ts).
import { attentionGoldenSuite } from './helpers/attention-golden-suite';

attentionGoldenSuite('cpu');
