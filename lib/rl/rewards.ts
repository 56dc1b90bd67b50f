/**
 * Rewards a rule can check, as DeepSeek-R1 used for reasoning tasks (DeepSeek-R1 §2.2.2:
 * "Accuracy rewards: The accuracy reward model evaluates whether the response is correct… Format
 * rewards: … enforces the model to put its thinking process between '<think>' and '</think>'
 * tags").
 *
 * - {@link accuracyReward}: 1 when the one `<answer>` block holds exactly the verifiable answer.
 * - {@link formatReward}: 1 when the completion is exactly `<think>…</think><answer>…</answer>`.
 * - {@link weightedReward}: `wAccuracy · accuracy + wFormat · format`.
 *
 * The rules are strict on purpose: each leniency is a way to collect reward without solving the
 * task (lesson 12 shows two), so the extraction refuses several answers, text around the number,
 * and anything not an integer.
 */
import { assert } from '../assert';

/** Why an answer could or could not be extracted. */
export type ExtractStatus = 'ok' | 'empty' | 'no-answer-tag' | 'several-answers' | 'unparsable';

/** The result of {@link extractAnswer}. */
export interface ExtractedAnswer {
  /** `'ok'`, or the reason there is no answer. */
  status: ExtractStatus;
  /** The answer's canonical integer string (`'085'` → `'85'`), when `status` is `'ok'`. */
  value?: string;
}

const ANSWER_BLOCK = /<answer>([\s\S]*?)<\/answer>/g;
const INTEGER = /^-?\d+$/;

/**
 * Extracts the final answer by rule: the content of the one `<answer>…</answer>` block, trimmed,
 * which must be an integer (leading zeros allowed, as in `085`; no sign other than `-`, no
 * spaces inside, no other text).
 *
 * - `''` → `empty`; no complete block → `no-answer-tag`; two blocks or more → `several-answers`
 *   (a policy must not list candidates and be paid for the right one); a block whose content is
 *   not an integer (`85 or 86`, `eighty`, ``) → `unparsable`.
 */
export function extractAnswer(completion: string): ExtractedAnswer {
  assert(typeof completion === 'string', () => `completion must be a string, got ${typeof completion}`);
  if (completion.trim() === '') return { status: 'empty' };
  const blocks = [...completion.matchAll(ANSWER_BLOCK)];
  if (blocks.length === 0) return { status: 'no-answer-tag' };
  if (blocks.length > 1) return { status: 'several-answers' };
  const text = (blocks[0]?.[1] ?? '').trim();
  if (!INTEGER.test(text)) return { status: 'unparsable' };
  return { status: 'ok', value: canonicalInteger(text) };
}

/** `'-007'` → `'-7'`, `'-0'` → `'0'`. */
function canonicalInteger(text: string): string {
  const neg = text.startsWith('-');
  const digits = (neg ? text.slice(1) : text).replace(/^0+(?=\d)/, '');
  return neg && digits !== '0' ? `-${digits}` : digits;
}

/**
 * Accuracy reward: 1 when the extracted answer equals the verifiable one exactly (as integers
 * written canonically), else 0. Text outside the answer block does not matter here; the format
 * reward judges it.
 * @param answer the verifiable answer, an integer string such as `'85'`.
 * @throws Error when `answer` is not an integer string.
 */
export function accuracyReward(completion: string, answer: string): number {
  assert(typeof answer === 'string' && INTEGER.test(answer), () => `answer must be an integer string, got ${JSON.stringify(answer)}`);
  const got = extractAnswer(completion);
  return got.status === 'ok' && got.value === canonicalInteger(answer) ? 1 : 0;
}

const FORMAT = /^<think>((?:(?!<\/?think>|<\/?answer>)[\s\S])*)<\/think><answer>((?:(?!<\/?think>|<\/?answer>)[\s\S])*)<\/answer>$/;

/**
 * Format reward: 1 when the completion is exactly `<think>…</think><answer>…</answer>` (one
 * of each, in this order, no tag inside another, nothing before or after), else 0. It does not
 * look inside the blocks: `<think></think><answer></answer>` earns it (lesson 12 shows this gamed).
 */
export function formatReward(completion: string): number {
  assert(typeof completion === 'string', () => `completion must be a string, got ${typeof completion}`);
  return FORMAT.test(completion) ? 1 : 0;
}

/** Weights of {@link weightedReward}. */
export interface RewardWeights {
  /** Weight of the accuracy reward (≥ 0). */
  accuracy: number;
  /** Weight of the format reward (≥ 0). */
  format: number;
}

/** The default weights: accuracy 1, format 0.1 (the format alone cannot outweigh a right answer). */
export const DEFAULT_REWARD_WEIGHTS: RewardWeights = { accuracy: 1, format: 0.1 };

/** The terms of one completion's reward. */
export interface RewardTerms {
  /** 0 or 1. */
  accuracy: number;
  /** 0 or 1. */
  format: number;
  /** `weights.accuracy · accuracy + weights.format · format`. */
  total: number;
}

/**
 * The weighted sum `wAccuracy · accuracy + wFormat · format` and its terms.
 * @throws Error when a weight is negative or not finite, or `answer` is not an integer string.
 */
export function weightedReward(completion: string, answer: string, weights: RewardWeights = DEFAULT_REWARD_WEIGHTS): RewardTerms {
  for (const k of ['accuracy', 'format'] as const) {
    const w = weights[k];
    assert(typeof w === 'number' && Number.isFinite(w) && w >= 0, () => `weights.${k} must be a finite number >= 0, got ${w}`);
  }
  const accuracy = accuracyReward(completion, answer);
  const format = formatReward(completion);
  return { accuracy, format, total: weights.accuracy * accuracy + weights.format * format };
}
