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
  // Lesson 09: the KV cache
  '09.mha-7b-cache-bytes-per-token': {
    lesson: '09',
    what: 'MHA KV cache per token, 7B-class shape (32 layers, 32 heads of 128), 16-bit',
    expected: 524288,
    tolerance: 0,
    unit: 'bytes',
    source: 'hand computation with DeepSeek-V2 Table 1: 2 · 32 · 128 · 32 elements × 2 bytes',
  },
  '09.mqa-over-mha': {
    lesson: '09',
    what: 'MQA cache ÷ MHA cache (32 heads)',
    expected: 1 / 32,
    tolerance: 0,
    source: 'DeepSeek-V2 Table 1: 2·d_h·l ÷ 2·n_h·d_h·l = 1/n_h',
  },
  '09.tiny-mha-measured-bytes-per-token': {
    lesson: '09',
    what: 'measured live cache bytes per token, tiny MHA (d 64, 8 heads, 2 layers, float32)',
    expected: 1024,
    tolerance: 0,
    unit: 'bytes',
    source: 'hand computation: 2 · 8 · 8 · 2 elements × 4 bytes',
  },
  '09.positions-uncached-over-cached': {
    lesson: '09',
    what: 'token positions processed, uncached ÷ cached (prompt 8, 96 new tokens)',
    expected: 5328 / 103,
    tolerance: 1e-9,
    unit: '×',
    source: 'hand computation: (n p + n(n−1)/2) ÷ (p + n − 1)',
  },
  '09.decode-speedup': {
    lesson: '09',
    what: 'cached vs uncached decoding time, 96 tokens, tiny MHA, WASM',
    expected: 4,
    tolerance: 3,
    unit: '×',
    source: 'this course (measured on a loaded 2-vCPU machine; wide margin)',
  },
  // Lesson 10: Multi-head Latent Attention
  '10.absorbed-vs-naive-relative-difference': {
    lesson: '10',
    what: 'relative difference of absorbed and naive MLA outputs (same weights)',
    expected: 0,
    tolerance: 1e-5,
    source: 'hand computation: the two paths are equal up to float32 rounding (associativity)',
  },
  '10.absorbed-over-naive-step-speedup': {
    lesson: '10',
    what: 'one MLA decoding step at 1024 tokens, naive ÷ absorbed time (d 64, 4 heads, WASM)',
    expected: 15,
    tolerance: 13,
    unit: '×',
    source: 'this course (measured on a loaded 2-vCPU machine; wide margin)',
  },
  '10.v2-mla-over-mha': {
    lesson: '10',
    what: 'MLA cache ÷ MHA cache at the DeepSeek-V2 shape',
    expected: 576 / 32768,
    tolerance: 1e-12,
    source: 'DeepSeek-V2 Table 1 and §3.1.2: (512 + 64) / (2 · 128 · 128)',
  },
  '10.v2-gqa-equivalent-groups': {
    lesson: '10',
    what: 'GQA groups with the same cache as V2 MLA',
    expected: 2.25,
    tolerance: 1e-12,
    source: 'DeepSeek-V2 §2.1.4: "equal to GQA with only 2.25 groups"',
  },
} as const satisfies Record<string, Expectation>;
