/**
 * lib/rl/task: the addition task, its trace, split, hash, curriculum and tokenizer.
 */
import { describe, expect, it } from 'vitest';
import {
  additionProblem, additionTrace, curriculumLevels, generateProblems, hasCarry, isTestPrompt, problemSetHash, reverseProblem, sloppyAddition,
  TaskTokenizer, withCarryErrors, type Problem,
} from '../lib/rl/task';
import { accuracyReward, formatReward } from '../lib/rl/rewards';

describe('addition problems', () => {
  it('writes the column sums from the right, carries included (hand-worked)', () => {
    // Reference (hand): 47 + 38: 7+8 = 15, carry 1; 4+3+1 = 8 -> 85
    expect(additionTrace(47, 38)).toBe('7+8=15;4+3+1=8');
    // Reference (hand): 95 + 7: 5+7 = 12, carry 1; 9+1 = 10 -> 102
    expect(additionTrace(95, 7)).toBe('5+7=12;9+1=10');
    expect(additionTrace(3, 4)).toBe('3+4=7');
    const p = additionProblem(47, 38, 3);
    expect(p.prompt).toBe('47+38=');
    expect(p.completion).toBe('<think>7+8=15;4+3+1=8</think><answer>85</answer>');
  });

  it('reference completions earn both rewards, for every kind and level', () => {
    const sets = [
      ...generateProblems({ seed: 1, count: 200, split: 'train', levels: [1, 2, 3, 4] }),
      ...generateProblems({ seed: 2, count: 50, split: 'test' }),
    ];
    for (const p of sets) {
      expect(Number(p.answer)).toBe(eval(p.prompt.slice(0, -1)) as number);
      expect(accuracyReward(p.completion, p.answer)).toBe(1);
      expect(formatReward(p.completion)).toBe(1);
    }
    const r = reverseProblem('4731');
    expect(r).toMatchObject({ prompt: 'R4731=', answer: '1374', completion: '<answer>1374</answer>', kind: 'reverse' });
    expect(accuracyReward(r.completion, r.answer)).toBe(1);
    expect(formatReward(r.completion)).toBe(0); // the unrewarded skill has no think block
  });

  it('keeps every test prompt out of every training set, whatever the seed', () => {
    const test = new Set(generateProblems({ seed: 7, count: 300, split: 'test', levels: [1, 2, 3] }).map((p) => p.prompt));
    for (const seed of [1, 2, 3]) {
      const train = generateProblems({ seed, count: 2000, split: 'train', levels: [1, 2, 3] });
      for (const p of train) expect(test.has(p.prompt)).toBe(false);
      for (const p of train) expect(isTestPrompt(p.prompt)).toBe(false);
    }
    for (const p of test) expect(isTestPrompt(p)).toBe(true);
    // About a fifth of level 1's 100 prompts are test prompts (hash split; the exact count is the hash's).
    let held = 0;
    for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) if (isTestPrompt(`${a}+${b}=`)) held++;
    expect(held).toBeGreaterThan(5);
    expect(held).toBeLessThan(40);
  });

  it('is seeded: same seed same set and hash, another seed another hash', () => {
    const a = generateProblems({ seed: 3, count: 100, split: 'train' });
    const b = generateProblems({ seed: 3, count: 100, split: 'train' });
    const c = generateProblems({ seed: 4, count: 100, split: 'train' });
    expect(problemSetHash(a)).toBe(problemSetHash(b));
    expect(problemSetHash(a)).not.toBe(problemSetHash(c));
    expect(problemSetHash(a)).toMatch(/^[0-9a-f]{64}$/);
    const rev = generateProblems({ seed: 3, count: 50, split: 'train', kind: 'reverse', reverseLengths: [4] });
    for (const p of rev) expect(p.prompt).toMatch(/^R\d{4}=$/);
  });

  it('rejects bad options, naming them', () => {
    expect(() => generateProblems({ seed: 1, count: 5, split: 'train', levels: [5] })).toThrowError(/^levels must hold integers in \[1, 4\], got 5$/);
    expect(() => generateProblems({ seed: 1, count: -1, split: 'train' })).toThrowError(/^count must be an integer ≥ 0, got -1$/);
    expect(() => generateProblems({ seed: 1, count: 1, split: 'dev' as 'train' })).toThrowError(/^split must be 'train' or 'test', got "dev"$/);
    expect(() => isTestPrompt('1+1=', 1)).toThrowError(/^testFraction must be in \(0, 1\), got 1$/);
    expect(() => reverseProblem('12a')).toThrowError(/^digits must be a non-empty string of digits/);
  });
});

describe('curriculum', () => {
  const stages = [{ untilStep: 50, levels: [1] }, { untilStep: 150, levels: [1, 2] }, { untilStep: Infinity, levels: [1, 2, 3] }];
  it('draws the levels of the stage the step falls in', () => {
    expect(curriculumLevels(stages, 0)).toEqual([1]);
    expect(curriculumLevels(stages, 49)).toEqual([1]);
    expect(curriculumLevels(stages, 50)).toEqual([1, 2]);
    expect(curriculumLevels(stages, 10_000)).toEqual([1, 2, 3]);
  });
  it('rejects stages that do not increase', () => {
    expect(() => curriculumLevels([{ untilStep: 5, levels: [1] }, { untilStep: 5, levels: [2] }], 0)).toThrowError(/^stages\[1\]\.untilStep must be > stages\[0\]\.untilStep, got 5 <= 5$/);
    expect(() => curriculumLevels([], 0)).toThrowError(/^stages must not be empty$/);
  });
});

describe('TaskTokenizer', () => {
  const tok = new TaskTokenizer();
  it('round-trips prompts and completions, one token per tag and per character', () => {
    const s = '47+38=<think>7+8=15;4+3+1=8</think><answer>85</answer>';
    const ids = tok.encode(s);
    expect(tok.decode(ids)).toBe(s);
    // Reference (count): 6 prompt chars + 1 + 14 trace chars + 1 + 1 + 2 + 1 = 26 tokens
    expect(ids.length).toBe(26);
    expect(tok.decode([...tok.encode('R12='), tok.eosId, ...tok.encode('99')])).toBe('R12=');
    expect(tok.decode([tok.padId, ...tok.encode('7')])).toBe('7');
  });
  it('names an unknown character and a bad id', () => {
    expect(() => tok.encode('1*2')).toThrowError(/^unknown character "\*" at position 1 of "1\*2"$/);
    expect(() => tok.decode([99])).toThrowError(/^token id must be in \[0, 20\), got 99$/);
  });
});

describe('noisy data', () => {
  it('a sloppy addition forgets every carry (hand-worked)', () => {
    // Reference (hand): 47 + 38 without the carry: 7+8=15 -> 5; 4+3=7 -> 75
    expect(sloppyAddition(47, 38)).toEqual({ trace: '7+8=15;4+3=7', answer: '75' });
    // Reference (hand): 95 + 7: 5+7=12 -> 2; 9 -> 92
    expect(sloppyAddition(95, 7)).toEqual({ trace: '5+7=12;9=9', answer: '92' });
    // One column: nothing to forget
    expect(sloppyAddition(8, 7)).toEqual({ trace: '8+7=15', answer: '15' });
    expect(hasCarry(47, 38)).toBe(true);
    expect(hasCarry(41, 38)).toBe(false);
  });
  it('corrupts about `rate` of the carrying problems, keeps the true answer, and is seeded', () => {
    const clean = generateProblems({ seed: 1, count: 2000, split: 'train', levels: [2, 3] });
    const noisy = withCarryErrors(clean, 0.3, 9);
    expect(withCarryErrors(clean, 0.3, 9)).toEqual(noisy);
    let carrying = 0;
    let corrupted = 0;
    noisy.forEach((p, i) => {
      const [a, b] = p.prompt.slice(0, -1).split('+').map(Number) as [number, number];
      expect(p.answer).toBe((clean[i] as Problem).answer);
      if (hasCarry(a, b)) carrying++;
      if (p.completion !== (clean[i] as Problem).completion) {
        corrupted++;
        expect(accuracyReward(p.completion, p.answer)).toBe(0);
        expect(formatReward(p.completion)).toBe(1);
      }
    });
    // 0.3 of the carrying ones, within 4 binomial standard deviations
    const sd = Math.sqrt(carrying * 0.3 * 0.7);
    expect(Math.abs(corrupted - 0.3 * carrying)).toBeLessThan(4 * sd);
    expect(() => withCarryErrors(clean, 1.5, 1)).toThrowError(/^rate must be in \[0, 1\], got 1.5$/);
  });
});

describe('parts of the train split', () => {
  it('two parts share no prompt, and neither holds a test prompt', () => {
    const a = generateProblems({ seed: 1, count: 500, split: 'train', levels: [2], part: { index: 0, parts: 2 } });
    const b = new Set(generateProblems({ seed: 2, count: 500, split: 'train', levels: [2], part: { index: 1, parts: 2 } }).map((p) => p.prompt));
    for (const p of a) {
      expect(b.has(p.prompt)).toBe(false);
      expect(isTestPrompt(p.prompt)).toBe(false);
    }
    expect(() => generateProblems({ seed: 1, count: 5, split: 'test', part: { index: 0, parts: 2 } })).toThrowError(/^part applies to the train split only/);
    expect(() => generateProblems({ seed: 1, count: 5, split: 'train', part: { index: 2, parts: 2 } })).toThrowError(/^part\.index must be an integer in \[0, 2\), got 2$/);
  });
});
