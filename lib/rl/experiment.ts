/**
 * The RL lessons' experiment loop, in one place: encode the task for a policy, pre-train by SFT,
 * evaluate by rule rewards, run GRPO for a number of steps, and distil (SFT on traces, or KD).
 * Lessons 12–14 call these; the algorithms themselves live in grpo.ts, sft.ts and rewards.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { assert, assertIntegerAtLeast, assertPositiveInteger } from '../assert';
import type { DistillationLossConfig } from '../distill/loss';
import type { Rng } from '../random';
import { grpoStep, type GrpoConfig, type GrpoMetrics } from './grpo';
import { sampleCompletions, type Policy } from './policy';
import { accuracyReward, extractAnswer, formatReward, weightedReward, type ExtractStatus, type RewardWeights } from './rewards';
import { kdLoss, sftStep } from './sft';
import type { Problem, TaskTokenizer } from './task';

/** Problems as token ids: prompts, and reference completions ending in `<eos>`. */
export interface EncodedProblems {
  prompts: number[][];
  completions: number[][];
}

/** Encodes problems (prompt and reference completion + `<eos>`). */
export function encodeProblems(tok: TaskTokenizer, problems: readonly Problem[]): EncodedProblems {
  return {
    prompts: problems.map((p) => tok.encode(p.prompt)),
    completions: problems.map((p) => [...tok.encode(p.completion), tok.eosId]),
  };
}

/** The longest completion a problem set needs, in tokens (`<eos>` included). */
export function maxCompletionTokens(tok: TaskTokenizer, problems: readonly Problem[]): number {
  return Math.max(...problems.map((p) => tok.encode(p.completion).length + 1));
}

/** Options of {@link trainSft}. */
export interface SftOptions {
  /** Optimiser steps. */
  steps: number;
  /** Sequences per step. */
  batchSize: number;
  /** The optimiser (the caller owns and disposes it). */
  optimizer: tf.Optimizer;
  /** Draws the batches. */
  rng: Rng;
  /** Called after each step with the step and the loss. */
  onStep?: (step: number, loss: number) => void;
}

/**
 * Supervised fine-tuning on (prompt, completion) pairs, batches drawn with replacement.
 * Completions are token ids ending in `<eos>`: reference traces ("real" data) or a teacher's
 * samples (synthetic data).
 * @returns the loss of every step.
 * @throws Error when the data is empty or a count is not a positive integer.
 */
export function trainSft(policy: Policy, data: EncodedProblems, padId: number, options: SftOptions): number[] {
  assertIntegerAtLeast(options.steps, 'steps', 0);
  assertPositiveInteger(options.batchSize, 'batchSize');
  assert(data.prompts.length > 0 && data.prompts.length === data.completions.length,
    () => `data must hold as many prompts as completions, at least one; got ${data.prompts.length} and ${data.completions.length}`);
  const losses: number[] = [];
  for (let s = 0; s < options.steps; s++) {
    const idx = Array.from({ length: options.batchSize }, () => options.rng.int(data.prompts.length));
    const loss = sftStep(policy, options.optimizer, idx.map((i) => data.prompts[i] as number[]), idx.map((i) => data.completions[i] as number[]), padId);
    losses.push(loss);
    options.onStep?.(s, loss);
  }
  return losses;
}

/**
 * Knowledge distillation of a teacher policy into a student on (prompt, completion) pairs: the
 * lib's distillation loss at every completion position (see {@link kdLoss}).
 * @returns the loss of every step.
 */
export function trainKd(student: Policy, teacher: Policy, data: EncodedProblems, padId: number, config: DistillationLossConfig, options: SftOptions): number[] {
  assertIntegerAtLeast(options.steps, 'steps', 0);
  assertPositiveInteger(options.batchSize, 'batchSize');
  const losses: number[] = [];
  for (let s = 0; s < options.steps; s++) {
    const idx = Array.from({ length: options.batchSize }, () => options.rng.int(data.prompts.length));
    const prompts = idx.map((i) => data.prompts[i] as number[]);
    const completions = idx.map((i) => data.completions[i] as number[]);
    const { value, grads } = tf.variableGrads(() => kdLoss(student, teacher, prompts, completions, padId, config), student.trainableVariables);
    options.optimizer.applyGradients(grads);
    const loss = value.dataSync()[0] as number;
    tf.dispose([value, grads]);
    losses.push(loss);
    options.onStep?.(s, loss);
  }
  return losses;
}

/** One problem's evaluation. */
export interface EvaluatedCompletion {
  prompt: string;
  answer: string;
  completion: string;
  /** 1 or 0. */
  accuracy: number;
  /** 1 or 0. */
  format: number;
  /** How the answer extraction went. */
  status: ExtractStatus;
}

/** The result of {@link evaluatePolicy}. */
export interface Evaluation {
  /** Fraction right (for reversal problems: the exact reference completion). */
  accuracy: number;
  /** Fraction in the think/answer format. */
  formatRate: number;
  /** Mean completion length in tokens. */
  meanLength: number;
  /** Every completion, scored. */
  items: EvaluatedCompletion[];
}

/**
 * Samples one completion per problem (greedy at temperature 0) and scores it: addition by the
 * accuracy and format rewards, reversal by exact match with the reference completion.
 */
export function evaluatePolicy(
  policy: Policy,
  tok: TaskTokenizer,
  problems: readonly Problem[],
  options: { maxNewTokens: number; temperature?: number; rng: Rng },
): Evaluation {
  assert(problems.length > 0, 'problems must not be empty');
  const ids = sampleCompletions(policy, problems.map((p) => tok.encode(p.prompt)), {
    maxNewTokens: options.maxNewTokens, temperature: options.temperature ?? 0, rng: options.rng, eosId: tok.eosId,
  });
  const items = ids.map((c, i) => {
    const p = problems[i] as Problem;
    const completion = tok.decode(c);
    const accuracy = p.kind === 'add' ? accuracyReward(completion, p.answer) : completion === p.completion ? 1 : 0;
    return { prompt: p.prompt, answer: p.answer, completion, accuracy, format: formatReward(completion), status: extractAnswer(completion).status };
  });
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return {
    accuracy: mean(items.map((x) => x.accuracy)),
    formatRate: mean(items.map((x) => x.format)),
    meanLength: mean(ids.map((c) => c.length)),
    items,
  };
}

/** Options of {@link trainGrpo}. */
export interface GrpoTrainOptions extends GrpoConfig {
  /** GRPO steps. */
  steps: number;
  /** Prompts per step (each sampled G times). */
  promptsPerStep: number;
  /** The optimiser (the caller owns it). */
  optimizer: tf.Optimizer;
  /** Draws prompts and samples. */
  rng: Rng;
  /** Most tokens per completion. */
  maxNewTokens: number;
  /** Sampling temperature (default 1). */
  temperature?: number;
  /** Reward weights (default {@link DEFAULT_REWARD_WEIGHTS}); or a reward function of its own. */
  weights?: RewardWeights;
  /** A reward function replacing the weighted accuracy + format reward (lesson 12 games one). */
  reward?: (completion: string, answer: string) => { total: number; accuracy: number; format: number };
  /** Called after each step. */
  onStep?: (step: number, metrics: GrpoMetrics, completions: string[]) => void;
}

/**
 * GRPO for `steps` steps on prompts drawn from `problems` (addition only), with `reference` as
 * the frozen KL anchor.
 * @returns the metrics of every step.
 */
export function trainGrpo(policy: Policy, reference: Policy, tok: TaskTokenizer, problems: readonly Problem[], options: GrpoTrainOptions): GrpoMetrics[] {
  assertIntegerAtLeast(options.steps, 'steps', 0);
  assertPositiveInteger(options.promptsPerStep, 'promptsPerStep');
  assert(problems.length > 0, 'problems must not be empty');
  const weights = options.weights;
  const reward = options.reward ?? ((c: string, a: string) => weightedReward(c, a, weights));
  const history: GrpoMetrics[] = [];
  for (let s = 0; s < options.steps; s++) {
    const batch = Array.from({ length: options.promptsPerStep }, () => problems[options.rng.int(problems.length)] as Problem);
    const r = grpoStep(policy, reference, options.optimizer, batch.map((p) => ({ ids: tok.encode(p.prompt), answer: p.answer })), {
      groupSize: options.groupSize, epsilon: options.epsilon, beta: options.beta, reward, decode: (ids) => tok.decode(ids),
      maxNewTokens: options.maxNewTokens, temperature: options.temperature ?? 1, eosId: tok.eosId, padId: tok.padId, rng: options.rng,
    });
    history.push(r.metrics);
    options.onStep?.(s, r.metrics, r.completions);
  }
  return history;
}

/**
 * Synthetic data: one sampled completion per prompt from a teacher, kept only when the verifier
 * (the accuracy and format rewards) accepts it, as DeepSeek-R1 filtered its reasoning data by
 * rejection sampling.
 * @returns the accepted pairs as token ids, and the acceptance rate.
 */
export function generateTraces(
  teacher: Policy,
  tok: TaskTokenizer,
  problems: readonly Problem[],
  options: { maxNewTokens: number; temperature: number; rng: Rng },
): { data: EncodedProblems; accepted: number; acceptance: number } {
  const prompts = problems.map((p) => tok.encode(p.prompt));
  const ids = sampleCompletions(teacher, prompts, { maxNewTokens: options.maxNewTokens, temperature: options.temperature, rng: options.rng, eosId: tok.eosId });
  const data: EncodedProblems = { prompts: [], completions: [] };
  ids.forEach((c, i) => {
    const text = tok.decode(c);
    const p = problems[i] as Problem;
    if (accuracyReward(text, p.answer) === 1 && formatReward(text) === 1) {
      data.prompts.push(prompts[i] as number[]);
      data.completions.push([...tok.encode(text), tok.eosId]);
    }
  });
  return { data, accepted: data.prompts.length, acceptance: data.prompts.length / problems.length };
}
