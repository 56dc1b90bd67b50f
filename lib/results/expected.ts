/**
 * The course's key figures: what each lesson states, the value expected, the tolerance, and
 * where the expectation comes from. Lessons check their figures against this table with
 * `checkResult`, and `RESULTS.md` is generated from the same table and the recorded values.
 *
 * One entry per figure. Add a lesson's entries as one block, in lesson order, with a comment
 * naming the lesson. Ids are `<lesson number>.<name>`, for example `03.teacher-test-accuracy`.
 */
import type { Expectation } from './check';

export const EXPECTED = {
  // Lesson 00 and later: each lesson appends its block below.
  // Lesson 00: tensors, backends and tools.
  '00.matmul-entry': {
    lesson: '00', what: 'entry (0, 0) of [[1, 2], [3, 4]] × [[5, 6], [7, 8]]', expected: 19, tolerance: 0,
    source: 'hand computation: 1·5 + 2·7 = 19',
  },
  '00.leaked-without-tidy': {
    lesson: '00', what: 'intermediate tensors a softmax by hand leaves without tf.tidy', expected: 3, tolerance: 0,
    source: 'hand count: exp(x) twice and one sum',
  },
  '00.seeded-sample-mean': {
    lesson: '00', what: 'mean of 2000 seeded N(0, 1) samples', expected: 0, tolerance: 0.07,
    source: 'hand computation: three standard errors, 3 / sqrt(2000) = 0.067',
  },
  // Lesson 01: soft targets and temperature.
  '01.cat-soft-T4': {
    lesson: '01', what: 'soft target of "cat" at T = 4 for (0.75, 0.20, 0.05)', expected: 0.449, tolerance: 0.0005,
    source: 'hand computation: 0.75^0.25 / (0.75^0.25 + 0.2^0.25 + 0.05^0.25) = 0.9306 / 2.0723',
  },
  '01.teacher-test-accuracy': {
    lesson: '01', what: 'digits teacher test accuracy (seed 1)', expected: 0.989, tolerance: 0.012,
    source: 'this course (one test error is 0.0037)',
  },
  '01.entropy-T32': {
    lesson: '01', what: "mean entropy of the teacher's soft targets at T = 32 (nats)", expected: 2.28, tolerance: 0.02,
    source: 'this course (2.281 measured); the maximum is ln 10 = 2.303',
  },
  // Lesson 02: KL divergence and the combined loss.
  '02.kl-worked-example': {
    lesson: '02', what: 'KL((0.75, 0.2, 0.05) ‖ (0.5, 0.3, 0.2)) in nats', expected: 0.1537, tolerance: 0.0001,
    source: 'hand computation: CE 0.8411 − H 0.6874',
  },
  '02.ce-kl-gradient-gap': {
    lesson: '02', what: 'largest difference between the gradients of soft CE and KL', expected: 0, tolerance: 1e-6,
    source: 'identity: KL = CE − H(p_T), and H(p_T) does not depend on the student',
  },
  '02.grad-slope-without-T2': {
    lesson: '02', what: 'log-log slope of the soft gradient norm vs T, without T²', expected: -2, tolerance: 0.1,
    source: 'Hinton et al. 2015 §2: gradients scale as 1/T²',
  },
  '02.grad-slope-with-T2': {
    lesson: '02', what: 'log-log slope of the soft gradient norm vs T, with T²', expected: 0, tolerance: 0.1,
    source: 'Hinton et al. 2015 §2: multiplying by T² keeps the scale',
  },
  // Lesson 03: distilling a digits classifier (values measured here over seeds 1-5 on WASM).
  '03.teacher-test-accuracy': {
    lesson: '03', what: 'teacher test accuracy (85 k parameters, seed 1)', expected: 0.989, tolerance: 0.012,
    source: 'this course (seed 1; one test error is 0.0037)',
  },
  '03.scratch-all-labels': {
    lesson: '03', what: 'student from scratch, all 1259 labels: mean test accuracy', expected: 0.959, tolerance: 0.015,
    source: 'this course (5 seeds, std 0.010)',
  },
  '03.few-label-gain': {
    lesson: '03', what: 'gain of distillation on 100 labelled images over scratch (accuracy points / 100)', expected: 0.088, tolerance: 0.05,
    source: 'this course (5 seeds); Hinton et al. 2015 §3 report the same direction on MNIST with fewer labels',
  },
  '03.soft-targets-only': {
    lesson: '03', what: 'student on soft targets alone (α = 0, T = 4), all images: mean test accuracy', expected: 0.957, tolerance: 0.015,
    source: 'this course (5 seeds, std 0.009)',
  },
  '03.widest-student-accuracy': {
    lesson: '03', what: 'distilled student 64-32-10 (2410 parameters): mean test accuracy', expected: 0.981, tolerance: 0.015,
    source: 'this course (3 seeds, std 0.004)',
  },
  '03.parameter-ratio': {
    lesson: '03', what: 'teacher ÷ student parameters', expected: 139.35, tolerance: 0.01, unit: '×',
    source: 'hand computation: 85002 / 610 = 139.347',
  },
  // Lesson 04: the distillation workflow (values measured here over seeds 1-3 on WASM).
  '04.cached-teacher-student': {
    lesson: '04', what: 'student of the cached teacher (α = 0, T = 4): mean test accuracy', expected: 0.955, tolerance: 0.015,
    source: 'this course (3 seeds, std 0.010)',
  },
  '04.teacher-disagreement': {
    lesson: '04', what: 'mean pairwise disagreement of three teachers on the test set (fraction of images)', expected: 0.005, tolerance: 0.005,
    source: 'this course (teachers of seeds 1-3: 2, 0 and 2 of 269 images)',
  },
  '04.chosen-temperature-test': {
    lesson: '04', what: 'test accuracy of the temperature chosen on validation (T = 8)', expected: 0.953, tolerance: 0.015,
    source: 'this course (3 seeds, std 0.013)',
  },
  '04.chain-last-generation': {
    lesson: '04', what: 'test accuracy of the third generation of the chain (T = 4, 2, 1)', expected: 0.953, tolerance: 0.015,
    source: 'this course (3 seeds, std 0.006)',
  },
  '04.optimiser-spread': {
    lesson: '04', what: 'range of the validation accuracies of Adam, RMSprop and LAMB at their chosen rates', expected: 0.008, tolerance: 0.012,
    source: 'this course (3 seeds)',
  },
  '04.augmentation-gain-live-few': {
    lesson: '04', what: 'validation gain of pixel noise for a student of the live teacher on 100 images', expected: 0.0235, tolerance: 0.01,
    source: 'this course (3 seeds: 0.880 without, 0.903 with noise)',
  },
} as const satisfies Record<string, Expectation>;
