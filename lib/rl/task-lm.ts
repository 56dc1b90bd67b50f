/**
 * The tiny language model of lib/lm sized for the addition task, as a {@link Policy}: the RL
 * lessons' policies, teachers and students.
 */
import { TinyLM } from '../lm/tiny-lm';
import { assert } from '../assert';
import { lmPolicy } from './lm-policy';
import type { Policy } from './policy';
import { TASK_TOKENS } from './task';

/** The sizes of a task model. */
export interface TaskLmSize {
  /** Residual width d. */
  dModel: number;
  /** Decoder blocks. */
  nLayers: number;
  /** Attention heads (MHA). */
  nHeads: number;
  /** SwiGLU hidden units. */
  hidden: number;
}

/** Three sizes: a student, the course's default policy, and a teacher. */
export const TASK_LM_SIZES = {
  /** 5 840 parameters: lesson 14's student. */
  small: { dModel: 16, nLayers: 2, nHeads: 2, hidden: 32 },
  /** 21 920 parameters: lessons 12 and 13's policy. */
  base: { dModel: 32, nLayers: 2, nHeads: 4, hidden: 64 },
  /** 48 240 parameters: lesson 14's teacher. */
  large: { dModel: 48, nLayers: 2, nHeads: 4, hidden: 96 },
} as const satisfies Record<string, TaskLmSize>;

/** Context length of the task models: the longest prompt + completion of levels 1–3 fits. */
export const TASK_CONTEXT = 32;

/**
 * A new tiny LM for the task and its policy view.
 * @param size one of {@link TASK_LM_SIZES}' names, or explicit sizes.
 * @throws Error when the size name is unknown.
 */
export function newTaskLm(size: keyof typeof TASK_LM_SIZES | TaskLmSize, seed: number): { lm: TinyLM; policy: Policy } {
  const s = typeof size === 'string' ? TASK_LM_SIZES[size] : size;
  assert(s !== undefined, () => `size must be one of ${Object.keys(TASK_LM_SIZES).join(', ')} or explicit sizes, got ${JSON.stringify(size)}`);
  const lm = new TinyLM({
    vocabSize: TASK_TOKENS.length,
    dModel: s.dModel,
    nLayers: s.nLayers,
    attention: { kind: 'mha', nHeads: s.nHeads },
    ffn: { kind: 'dense', hidden: s.hidden },
    maxContext: TASK_CONTEXT,
    seed,
  });
  return { lm, policy: lmPolicy(lm) };
}
