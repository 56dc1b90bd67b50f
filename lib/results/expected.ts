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
  // Lesson 05: from distilled student to deployed model.
  '05.int8-weight-bytes-ratio': {
    lesson: '05',
    what: 'float32 / int8 per-channel weight bytes of the student',
    // 4·610 = 2440 bytes against 592 + 4·18 + 4·18 = 736
    expected: 2440 / 736,
    tolerance: 1e-9,
    unit: '×',
    source: 'hand computation',
  },
  '05.int8-accuracy-drop': {
    lesson: '05',
    what: 'test accuracy lost by int8 per-channel weights',
    expected: 0,
    tolerance: 1.5,
    unit: 'points',
    source: 'this course (int8 moves each weight by at most s/2; measured within one test image)',
  },
  '05.onnx-parity-student': {
    lesson: '05',
    what: 'max |tfjs − onnxruntime| of the student\'s logits on the 269 test digits',
    expected: 0,
    tolerance: 1e-4,
    source: 'issue 12 (fp32 parity ≤ 1e-4); measured about 2e-6',
  },
  '05.student-file-bytes-ratio': {
    lesson: '05',
    what: 'teacher / student ONNX file size',
    // 340 906 / 3089 bytes measured; layer names (dense_Dense12…) move each size by a few bytes
    expected: 110.4,
    tolerance: 1.5,
    unit: '×',
    source: 'this course (85 002 vs 610 float32 weights plus a fixed graph overhead)',
  },
} as const satisfies Record<string, Expectation>;
