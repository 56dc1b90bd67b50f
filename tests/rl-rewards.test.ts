/**
 * lib/rl/rewards: answer extraction, accuracy, format and the weighted sum, on edge cases.
 */
import { describe, expect, it } from 'vitest';
import { accuracyReward, extractAnswer, formatReward, weightedReward } from '../lib/rl/rewards';

describe('extractAnswer', () => {
  it.each([
    ['', 'empty', undefined],
    ['   ', 'empty', undefined],
    ['<think>7+8=15</think>85', 'no-answer-tag', undefined],
    ['<answer>85', 'no-answer-tag', undefined],
    ['<answer>85</answer><answer>86</answer>', 'several-answers', undefined],
    ['<answer>85 or 86</answer>', 'unparsable', undefined],
    ['<answer>eighty-five</answer>', 'unparsable', undefined],
    ['<answer></answer>', 'unparsable', undefined],
    ['<answer>8.5</answer>', 'unparsable', undefined],
    ['<answer> 85 </answer>', 'ok', '85'],
    ['<answer>085</answer>', 'ok', '85'],
    ['<answer>-0</answer>', 'ok', '0'],
    ['blah <answer>85</answer> trailing', 'ok', '85'],
  ])('%j -> %s', (completion, status, value) => {
    const got = extractAnswer(completion);
    expect(got.status).toBe(status);
    expect(got.value).toBe(value);
  });
});

describe('accuracyReward', () => {
  it('pays 1 only for exactly the right integer in the one answer block', () => {
    expect(accuracyReward('<think>x</think><answer>85</answer>', '85')).toBe(1);
    expect(accuracyReward('<answer>085</answer>', '85')).toBe(1); // same integer
    expect(accuracyReward('<answer>86</answer>', '85')).toBe(0); // wrong
    expect(accuracyReward('', '85')).toBe(0); // empty output
    expect(accuracyReward('85', '85')).toBe(0); // missing tags
    expect(accuracyReward('<answer>8 5</answer>', '85')).toBe(0); // unparsable
    expect(accuracyReward('<answer>85</answer> and more text', '85')).toBe(1); // extra text: format's business
    expect(accuracyReward('<answer>84</answer><answer>85</answer>', '85')).toBe(0); // several answers: refused
  });
  it('rejects a non-integer reference answer', () => {
    expect(() => accuracyReward('<answer>1</answer>', 'x')).toThrowError(/^answer must be an integer string, got "x"$/);
  });
});

describe('formatReward', () => {
  it.each([
    ['<think>7+8=15</think><answer>85</answer>', 1],
    ['<think></think><answer></answer>', 1], // empty blocks pass: the format reward can be gamed
    ['', 0], // empty output
    ['<answer>85</answer>', 0], // missing think
    ['<think>a</think>', 0], // missing answer
    ['<think>a</think><answer>85</answer>x', 0], // extra text after
    ['x<think>a</think><answer>85</answer>', 0], // extra text before
    ['<think>a</think> <answer>85</answer>', 0], // text between
    ['<think>a</think><answer>1</answer><answer>2</answer>', 0], // several answers
    ['<think>a<answer>1</answer></think><answer>1</answer>', 0], // a tag inside another
    ['<answer>1</answer><think>a</think>', 0], // wrong order
  ])('%j -> %d', (completion, expected) => {
    expect(formatReward(completion)).toBe(expected);
  });
});

describe('weightedReward', () => {
  it('is wAccuracy * accuracy + wFormat * format', () => {
    expect(weightedReward('<think>t</think><answer>85</answer>', '85')).toEqual({ accuracy: 1, format: 1, total: 1.1 });
    expect(weightedReward('<answer>85</answer>', '85', { accuracy: 2, format: 0.5 })).toEqual({ accuracy: 1, format: 0, total: 2 });
    expect(weightedReward('<think></think><answer></answer>', '85', { accuracy: 1, format: 0.5 })).toEqual({ accuracy: 0, format: 1, total: 0.5 });
    expect(weightedReward('', '85').total).toBe(0);
  });
  it('rejects a negative weight, naming it', () => {
    expect(() => weightedReward('', '1', { accuracy: -1, format: 0 })).toThrowError(/^weights\.accuracy must be a finite number >= 0, got -1$/);
  });
});
