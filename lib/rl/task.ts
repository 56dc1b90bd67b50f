/**
 * A synthetic task with answers a rule can check: column addition, with a worked trace.
 *
 * A problem is a prompt such as `47+38=`; its reference completion writes the column sums from
 * the right, carries included, inside `<think>…</think>` and the result inside
 * `<answer>…</answer>`:
 *
 *     47+38=<think>7+8=15;4+3+1=8</think><answer>85</answer>
 *
 * - **Curriculum.** Level 1 adds two one-digit numbers, level 2 a two-digit and a one-digit
 *   number, level 3 two two-digit numbers, level 4 two three-digit numbers.
 * - **Split.** Whether a problem is a test problem depends only on its prompt (a hash of the
 *   string), never on a seed or on which set drew it, so no training set of any seed ever holds a
 *   test problem ({@link isTestPrompt}).
 * - **A second skill the reward never pays for.** Reversing a digit string, `R4731=` →
 *   `<answer>1374</answer>`. Pre-training teaches both skills; reinforcement learning rewards
 *   only addition, so the reversal accuracy before and after measures what RL costs elsewhere.
 * - **Hash.** {@link problemSetHash}: the SHA-256 of a generated set, so a lesson can state which
 *   set it used.
 */
import { createHash } from 'node:crypto';
import { assert, assertIntegerAtLeast, assertPositiveInteger } from '../assert';
import { Rng } from '../random';

/** The two skills of the task. */
export type ProblemKind = 'add' | 'reverse';

/** One problem: its prompt, the verifiable answer and the reference completion. */
export interface Problem {
  /** `'add'` (rewarded in RL) or `'reverse'` (never rewarded). */
  kind: ProblemKind;
  /** Difficulty: 1..4 for addition (see {@link LEVELS}); the string length for reversal. */
  level: number;
  /** What the model is given, ending in `=`, e.g. `47+38=`. */
  prompt: string;
  /** The verifiable answer, e.g. `85`. */
  answer: string;
  /** The reference completion (think + answer for addition, answer only for reversal). */
  completion: string;
}

/** The operand ranges of each addition level: [min, max] of the first and second operand. */
export const LEVELS: Readonly<Record<number, { a: [number, number]; b: [number, number] }>> = {
  1: { a: [0, 9], b: [0, 9] },
  2: { a: [10, 99], b: [0, 9] },
  3: { a: [10, 99], b: [10, 99] },
  4: { a: [100, 999], b: [100, 999] },
};

/** The highest addition level. */
export const MAX_LEVEL = 4;

/** The think-block of an addition: the column sums from the right, carries included. */
export function additionTrace(a: number, b: number): string {
  assert(Number.isInteger(a) && a >= 0 && Number.isInteger(b) && b >= 0, () => `a and b must be integers >= 0, got ${a} and ${b}`);
  const da = String(a).split('').reverse();
  const db = String(b).split('').reverse();
  const steps: string[] = [];
  let carry = 0;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const terms = [da[i], db[i]].filter((d): d is string => d !== undefined);
    if (carry) terms.push(String(carry));
    const sum = terms.reduce((s, d) => s + Number(d), 0);
    steps.push(`${terms.join('+')}=${sum}`);
    carry = sum >= 10 ? 1 : 0;
  }
  return steps.join(';');
}

/**
 * The trace of a sloppy addition that forgets every carry (`47+38` → `7+8=15;4+3=7`, answer
 * `75`): the commonest error of people learning column addition, used to make noisy "real" data.
 * Equals {@link additionTrace} when no column carries.
 */
export function sloppyAddition(a: number, b: number): { trace: string; answer: string } {
  assert(Number.isInteger(a) && a >= 0 && Number.isInteger(b) && b >= 0, () => `a and b must be integers >= 0, got ${a} and ${b}`);
  const da = String(a).split('').reverse();
  const db = String(b).split('').reverse();
  const steps: string[] = [];
  const digits: string[] = [];
  const n = Math.max(da.length, db.length);
  for (let i = 0; i < n; i++) {
    const terms = [da[i], db[i]].filter((d): d is string => d !== undefined);
    const sum = terms.reduce((s, d) => s + Number(d), 0);
    steps.push(`${terms.join('+')}=${sum}`);
    // Each column but the last keeps only its units digit, and the carry is lost.
    if (i < n - 1) digits.push(String(sum % 10));
    else digits.push(String(sum));
  }
  return { trace: steps.join(';'), answer: String(Number(digits.reverse().join(''))) };
}

/** Whether `a + b` carries in some column. */
export function hasCarry(a: number, b: number): boolean {
  return sloppyAddition(a, b).answer !== String(a + b);
}

/**
 * Noisy "real" data: a copy of the problems in which a fraction of those with a carry get the
 * sloppy completion of {@link sloppyAddition} (wrong trace, wrong answer). `answer` stays the true
 * one, which only the verifier sees. Reversal problems are left alone.
 * @param rate fraction of carrying problems corrupted, in [0, 1].
 * @throws Error when `rate` is outside [0, 1].
 */
export function withCarryErrors(problems: readonly Problem[], rate: number, seed: number): Problem[] {
  assert(rate >= 0 && rate <= 1, () => `rate must be in [0, 1], got ${rate}`);
  const rng = new Rng(seed);
  return problems.map((p) => {
    if (p.kind !== 'add') return p;
    const [a, b] = p.prompt.slice(0, -1).split('+').map(Number) as [number, number];
    if (!hasCarry(a, b) || rng.next() >= rate) return p;
    const s = sloppyAddition(a, b);
    return { ...p, completion: formatCompletion(s.trace, s.answer) };
  });
}

/**
 * A copy of the problems in which a fraction of the additions answer at once, with an empty
 * think block (`<think></think><answer>85</answer>`): pre-training data that holds two ways of
 * answering, one that writes its working and one that does not. Reversal problems are left alone.
 * @param rate fraction of additions given the direct completion, in [0, 1].
 * @throws Error when `rate` is outside [0, 1].
 */
export function withDirectAnswers(problems: readonly Problem[], rate: number, seed: number): Problem[] {
  assert(rate >= 0 && rate <= 1, () => `rate must be in [0, 1], got ${rate}`);
  const rng = new Rng(seed);
  return problems.map((p) => (p.kind === 'add' && rng.next() < rate ? { ...p, completion: formatCompletion('', p.answer) } : p));
}

/** Whether a completion writes any working: a non-empty `<think>` block. */
export function thinks(completion: string): boolean {
  const m = /<think>([\s\S]*?)<\/think>/.exec(completion);
  return m !== null && (m[1] ?? '').length > 0;
}

/** Wraps a think text and an answer in the tags the format reward expects. */
export function formatCompletion(think: string, answer: string): string {
  return `<think>${think}</think><answer>${answer}</answer>`;
}

/** The addition problem `a+b=`. */
export function additionProblem(a: number, b: number, level: number): Problem {
  return {
    kind: 'add',
    level,
    prompt: `${a}+${b}=`,
    answer: String(a + b),
    completion: formatCompletion(additionTrace(a, b), String(a + b)),
  };
}

/** The reversal problem `R<digits>=`, whose answer is the digits reversed. */
export function reverseProblem(digits: string): Problem {
  assert(/^\d+$/.test(digits), () => `digits must be a non-empty string of digits, got ${JSON.stringify(digits)}`);
  const answer = digits.split('').reverse().join('');
  return { kind: 'reverse', level: digits.length, prompt: `R${digits}=`, answer, completion: `<answer>${answer}</answer>` };
}

/** A 32-bit FNV-1a hash of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Whether a prompt belongs to the test split: a hash of the prompt string alone, so the split is
 * the same for every seed and every generated set.
 * @param testFraction fraction of all prompts held out, in (0, 1).
 * @throws Error when `testFraction` is outside (0, 1).
 */
export function isTestPrompt(prompt: string, testFraction = 0.2): boolean {
  assert(testFraction > 0 && testFraction < 1, () => `testFraction must be in (0, 1), got ${testFraction}`);
  return fnv1a(prompt) / 4294967296 < testFraction;
}

/** Which of `parts` parts a prompt falls in, by a second hash independent of the test split. */
export function promptPart(prompt: string, parts: number): number {
  assertPositiveInteger(parts, 'parts');
  return fnv1a(`part:${prompt}`) % parts;
}

/** Options of {@link generateProblems}. */
export interface ProblemOptions {
  /** Seed of the draw. */
  seed: number;
  /** How many problems. */
  count: number;
  /** `'train'` or `'test'`: which side of {@link isTestPrompt} to draw from. */
  split: 'train' | 'test';
  /** Addition levels to draw from, uniformly (default [1, 2, 3]). */
  levels?: readonly number[];
  /** The skill: `'add'` (default) or `'reverse'`. */
  kind?: ProblemKind;
  /** Lengths of the reversal strings, uniformly (default [3, 4, 5]). */
  reverseLengths?: readonly number[];
  /** Fraction of prompts held out as test (default 0.2). */
  testFraction?: number;
  /**
   * For the train split only: keep the prompts of one part of a second hash partition into
   * `parts` parts, so that two training stages (pre-training, RL) see disjoint prompts.
   */
  part?: { index: number; parts: number };
}

/** Draws one problem of a level (or, for reversal, of a length) with `rng`. */
function drawOne(rng: Rng, kind: ProblemKind, level: number): Problem {
  if (kind === 'reverse') {
    let s = '';
    for (let i = 0; i < level; i++) s += String(rng.int(10));
    return reverseProblem(s);
  }
  const r = LEVELS[level];
  assert(r !== undefined, () => `level must be an integer in [1, ${MAX_LEVEL}], got ${level}`);
  const a = r.a[0] + rng.int(r.a[1] - r.a[0] + 1);
  const b = r.b[0] + rng.int(r.b[1] - r.b[0] + 1);
  return additionProblem(a, b, level);
}

/**
 * A seeded set of problems from one side of the split. Problems are drawn with replacement
 * (level 1 has only 100 prompts), so a set may repeat a problem; the test side never shares a
 * prompt with the train side.
 *
 * ```ts
 * const train = generateProblems({ seed: 1, count: 2000, split: 'train', levels: [1, 2] });
 * const test = generateProblems({ seed: 2, count: 200, split: 'test', levels: [1, 2] });
 * ```
 * @throws Error naming a bad count, level, split or length.
 */
export function generateProblems(options: ProblemOptions): Problem[] {
  const { seed, count, split } = options;
  assertIntegerAtLeast(count, 'count', 0);
  assert(split === 'train' || split === 'test', () => `split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  const kind = options.kind ?? 'add';
  assert(kind === 'add' || kind === 'reverse', () => `kind must be 'add' or 'reverse', got ${JSON.stringify(kind)}`);
  const levels = kind === 'add' ? options.levels ?? [1, 2, 3] : options.reverseLengths ?? [3, 4, 5];
  assert(levels.length > 0, () => `${kind === 'add' ? 'levels' : 'reverseLengths'} must not be empty`);
  for (const l of levels) {
    if (kind === 'add') assert(LEVELS[l] !== undefined, () => `levels must hold integers in [1, ${MAX_LEVEL}], got ${l}`);
    else assertPositiveInteger(l, 'reverseLengths[i]');
  }
  const testFraction = options.testFraction ?? 0.2;
  const part = options.part;
  if (part) {
    assert(split === 'train', () => `part applies to the train split only, got split ${JSON.stringify(split)}`);
    assertPositiveInteger(part.parts, 'part.parts');
    assert(Number.isInteger(part.index) && part.index >= 0 && part.index < part.parts, () => `part.index must be an integer in [0, ${part.parts}), got ${part.index}`);
  }
  const rng = new Rng(seed);
  const out: Problem[] = [];
  let tries = 0;
  while (out.length < count) {
    assert(++tries < 1000 * (count + 10), () => `could not draw ${count} ${split} problems from levels [${levels.join(', ')}]`);
    const level = levels[rng.int(levels.length)] as number;
    const p = drawOne(rng, kind, level);
    if (isTestPrompt(p.prompt, testFraction) !== (split === 'test')) continue;
    if (part && promptPart(p.prompt, part.parts) !== part.index) continue;
    out.push(p);
  }
  return out;
}

/** The SHA-256 (hex) of a problem set: its prompts and answers, in order. */
export function problemSetHash(problems: readonly Problem[]): string {
  const h = createHash('sha256');
  for (const p of problems) h.update(`${p.kind}\t${p.prompt}\t${p.answer}\n`);
  return h.digest('hex');
}

/** One stage of a curriculum: the levels drawn until (not including) step `untilStep`. */
export interface CurriculumStage {
  /** The stage lasts while `step < untilStep`; the last stage lasts for ever. */
  untilStep: number;
  /** The addition levels drawn in this stage. */
  levels: readonly number[];
}

/**
 * A curriculum by difficulty: the levels to draw at a training step.
 *
 * ```ts
 * const stages = [{ untilStep: 50, levels: [1] }, { untilStep: 150, levels: [1, 2] }, { untilStep: Infinity, levels: [1, 2, 3] }];
 * curriculumLevels(stages, 60); // [1, 2]
 * ```
 * @throws Error when the stages are empty or their `untilStep` do not increase.
 */
export function curriculumLevels(stages: readonly CurriculumStage[], step: number): readonly number[] {
  assert(stages.length > 0, 'stages must not be empty');
  for (let i = 1; i < stages.length; i++) {
    const prev = (stages[i - 1] as CurriculumStage).untilStep;
    const cur = (stages[i] as CurriculumStage).untilStep;
    assert(cur > prev, () => `stages[${i}].untilStep must be > stages[${i - 1}].untilStep, got ${cur} <= ${prev}`);
  }
  for (const s of stages) if (step < s.untilStep) return s.levels;
  return (stages[stages.length - 1] as CurriculumStage).levels;
}

/**
 * The task's vocabulary: special tokens, the four tags as single tokens, and the characters the
 * prompts and completions use. Character-level apart from the tags, so a tiny LM sees one token
 * per digit and one per tag (a tag spelled in characters would cost 7 to 9 tokens of a short
 * context).
 */
export const TASK_TOKENS: readonly string[] = [
  '<pad>', '<eos>', '<think>', '</think>', '<answer>', '</answer>',
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '=', ';', 'R',
];

/** Encodes and decodes the task's strings with {@link TASK_TOKENS}. */
export class TaskTokenizer {
  /** The tokens, by id. */
  readonly tokens: readonly string[];
  /** Id of the padding token (0). */
  readonly padId: number;
  /** Id of the end-of-sequence token. */
  readonly eosId: number;
  private readonly ids: Map<string, number>;
  private readonly multi: string[];

  constructor(tokens: readonly string[] = TASK_TOKENS) {
    this.tokens = tokens;
    this.ids = new Map(tokens.map((t, i) => [t, i]));
    assert(this.ids.size === tokens.length, 'tokens must be distinct');
    const pad = this.ids.get('<pad>');
    const eos = this.ids.get('<eos>');
    assert(pad !== undefined && eos !== undefined, 'tokens must include <pad> and <eos>');
    this.padId = pad;
    this.eosId = eos;
    // Longest first, so '</think>' is matched before '<'.
    this.multi = tokens.filter((t) => t.length > 1 && !t.startsWith('<pad') && t !== '<eos>').sort((a, b) => b.length - a.length);
  }

  /** The vocabulary size. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /**
   * The ids of a string: tags as single tokens, every other character as one token.
   * @throws Error naming an unknown character and its position.
   */
  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      for (const m of this.multi) {
        if (text.startsWith(m, i)) {
          out.push(this.ids.get(m) as number);
          i += m.length;
          continue outer;
        }
      }
      const ch = text[i] as string;
      const id = this.ids.get(ch);
      assert(id !== undefined, () => `unknown character ${JSON.stringify(ch)} at position ${i} of ${JSON.stringify(text)}`);
      out.push(id);
      i++;
    }
    return out;
  }

  /**
   * The string of some ids. Stops at the first `<eos>`; skips `<pad>`.
   * @throws Error naming an id outside the vocabulary.
   */
  decode(ids: readonly number[]): string {
    let s = '';
    for (const id of ids) {
      assert(Number.isInteger(id) && id >= 0 && id < this.tokens.length, () => `token id must be in [0, ${this.tokens.length}), got ${id}`);
      if (id === this.eosId) break;
      if (id === this.padId) continue;
      s += this.tokens[id] as string;
    }
    return s;
  }
}
