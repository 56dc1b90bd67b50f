/**
 * One GRPO step of lesson 13, timed: sampling G = 8 completions of each prompt with the tiny LM's
 * KV cache, scoring them by rule, and one Adam update on the clipped-ratio objective with the k3
 * KL to a frozen reference (`grpoStep` of lib/rl/grpo.ts, unchanged). Its PyTorch twin is
 * `bench/torch_grpo.py`; `bench/README.md` explains how the two are matched.
 *
 * The step is lesson 13's at its default size: the `base` task model (d = 32, 2 blocks of 4-head
 * MHA and SwiGLU 64, 21 920 parameters, vocabulary 20), 8 prompts × G = 8 = 64 completions, ε =
 * 0.2, β = 0.04, Adam at 5e-4, temperature 1, at most `maxCompletionTokens` (21) new tokens. Two
 * departures, both to make the work the same on each side and from step to step: the policy is
 * untrained (seeded init), so it samples `<eos>` at random (about 2 rows in 3 end early)
 * and some of the 64 rows always run to 21 tokens, so every step runs all 21 decoding steps; and
 * every prompt is of level 2 (`ab+c=`, 5 tokens), so the 64 rows form one batch of one length (the
 * lesson mixes levels 1 and 2, two batches). An untrained policy is never right, so its
 * advantages are 0 and it stays at the reference; the update computes the same tensors all the
 * same.
 *
 * It is the case `grpo-step` of `npm run bench` ({@link grpoCases}, family `rl`):
 *
 *     npm run bench -- --cases grpo-step               # tfjs and PyTorch side by side
 *
 * The bench's table shows the whole step; for its sample/update split, run it on its own after
 * `npm run build` (same set-up, {@link setupGrpo}; this loop also reads grpoStep's split):
 *
 *     node bench/dist/grpo.js --iterations 10          # tfjs only, JSON on stdout
 *     node bench/dist/grpo.js --iterations 10 --torch  # and the PyTorch twin, with the ratios
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  copyWeights, generateProblems, grpoStep, initBackend, maxCompletionTokens, median, newTaskLm, quantile, Rng,
  TASK_LM_SIZES, TASK_TOKENS, TaskTokenizer, weightedReward, type GrpoMetrics, type RlPrompt,
} from '@frugal-ai/lib';
import type { BenchCase, CaseInstance } from './case.js';

/** The step's sizes: lesson 13's knobs, the same numbers as `CONFIG` in torch_grpo.py. */
export const GRPO_BENCH_CONFIG = {
  /** The task model of lessons 12 and 13 (`TASK_LM_SIZES.base`). */
  size: 'base',
  /** Completions per prompt, G (lesson 13: 8). */
  groupSize: 8,
  /** Prompts per step (lesson 13: 8). */
  prompts: 8,
  /** Addition level of every prompt (2: `ab+c=`, one prompt length). */
  level: 2,
  /** Clipping range ε. */
  epsilon: 0.2,
  /** KL weight β. */
  beta: 0.04,
  /** Adam's learning rate (tfjs's default epsilon, 1e-7, on both sides). */
  learningRate: 5e-4,
  /** Sampling temperature. */
  temperature: 1,
} as const;

/**
 * The numbers sent to the PyTorch twin (`case_grpo_step` of torch_grpo.py checks them against its
 * CONFIG): GRPO_BENCH_CONFIG without the size's name, the size's shapes (`TASK_LM_SIZES.base`,
 * vocabulary `TASK_TOKENS`), and the most new tokens of a level-2 problem.
 */
export const GRPO_PARAMS = {
  groupSize: GRPO_BENCH_CONFIG.groupSize,
  prompts: GRPO_BENCH_CONFIG.prompts,
  level: GRPO_BENCH_CONFIG.level,
  epsilon: GRPO_BENCH_CONFIG.epsilon,
  beta: GRPO_BENCH_CONFIG.beta,
  learningRate: GRPO_BENCH_CONFIG.learningRate,
  temperature: GRPO_BENCH_CONFIG.temperature,
  /** Vocabulary, width, blocks, heads and SwiGLU hidden units of the `base` task model. */
  vocab: TASK_TOKENS.length,
  d: TASK_LM_SIZES.base.dModel,
  layers: TASK_LM_SIZES.base.nLayers,
  heads: TASK_LM_SIZES.base.nHeads,
  hidden: TASK_LM_SIZES.base.hidden,
  /** maxCompletionTokens of level-2 problems (`setupGrpo` checks it). */
  maxNewTokens: 21,
} as const;

/** Options of {@link benchGrpo}. */
export interface GrpoBenchOptions {
  /** Timed steps (the warm-up steps come on top). */
  iterations: number;
  /** A quick check that the case runs: 1 warm-up step, 2 prompts instead of 8. */
  smoke?: boolean;
  /** Untimed steps first (default 2; 1 with `smoke`). They create Adam's slots. */
  warmup?: number;
}

/** What {@link benchGrpo} measured: milliseconds per step, medians over the timed steps. */
export interface GrpoBenchResult {
  /** The case's id. */
  name: string;
  /** The whole step: sampling + scoring + update. */
  medianMs: number;
  /** 10th and 90th percentiles of the whole step. */
  p10Ms: number;
  p90Ms: number;
  /** Sampling, decoding and scoring (grpoStep's `sampleSeconds`). */
  sampleMs: number;
  /** The update: batch, reference log-probs, loss, gradients, Adam (grpoStep's `updateSeconds`). */
  updateMs: number;
  /** Kernels one step dispatches (tf.profile of one extra, untimed step). */
  kernels: number;
  /** Timed and warm-up steps. */
  iterations: number;
  warmup: number;
  /** The tfjs backend. */
  backend: string;
  /** Completions per step (prompts × G), tokens of each prompt, most new tokens. */
  completions: number;
  promptTokens: number;
  maxNewTokens: number;
  /** Mean completion length over the timed steps, in tokens. */
  meanCompletionLength: number;
  /** Parameters of the policy. */
  parameters: number;
}

/** What a set-up GRPO step tells besides its time: sizes, and the last step's metrics. */
export interface GrpoInstance extends CaseInstance {
  /** One GRPO step (sampling + scoring + update); returns its mean reward. */
  step(): number;
  /** Frees the policy, the reference and Adam's slots. */
  dispose(): void;
  /** The metrics of the last step (null before the first): its sample/update split included. */
  last(): GrpoMetrics | null;
  /** Completions per step (prompts × G), tokens of each prompt, most new tokens, parameters. */
  completions: number;
  promptTokens: number;
  maxNewTokens: number;
  parameters: number;
}

/**
 * Sets up lesson 13's GRPO step: the prompts, the policy, a frozen reference copy, Adam and the
 * sampler's generator. Each `step` samples, scores and updates; the policy keeps learning from
 * step to step, as in the lesson. `dispose` frees the models and Adam's slots.
 * @param prompts prompts per step (default 8, `GRPO_BENCH_CONFIG.prompts`; the kernel count is
 *   the same for any number, since the rows are a batch dimension)
 * @throws Error when `prompts` is not a positive integer, or the prompts' length or the longest
 *   completion is not what `GRPO_PARAMS` sends to PyTorch.
 */
export function setupGrpo(prompts: number = GRPO_BENCH_CONFIG.prompts): GrpoInstance {
  if (!Number.isInteger(prompts) || prompts < 1) throw new Error(`prompts must be a positive integer, got ${prompts}`);
  const c = GRPO_BENCH_CONFIG;
  const tok = new TaskTokenizer();
  const problems = generateProblems({ seed: 7, count: 256, split: 'train', levels: [c.level] });
  const maxNewTokens = maxCompletionTokens(tok, problems);
  if (maxNewTokens !== GRPO_PARAMS.maxNewTokens) throw new Error(`level ${c.level} problems need ${maxNewTokens} new tokens, but PyTorch is sent ${GRPO_PARAMS.maxNewTokens}`);
  const rlPrompts: RlPrompt[] = problems.map((p) => ({ ids: tok.encode(p.prompt), answer: p.answer }));
  const promptTokens = (rlPrompts[0] as RlPrompt).ids.length;
  if (!rlPrompts.every((p) => p.ids.length === promptTokens)) throw new Error(`level ${c.level} prompts should all have ${promptTokens} tokens`);

  const baseline = tf.memory().numTensors;
  const policy = newTaskLm(c.size, 1);
  const reference = newTaskLm(c.size, 2);
  copyWeights(policy.policy, reference.policy);
  // The leak checks count this module's tfjs engine: it must be the lib's one.
  if (tf.memory().numTensors <= baseline) throw new Error('bench/grpo.ts and @frugal-ai/lib load two copies of @tensorflow/tfjs: the leak check would count the wrong one');
  const optimizer = tf.train.adam(c.learningRate);
  const rng = new Rng(3);
  let next = 0;
  let last: GrpoMetrics | null = null;
  return {
    step: () => {
      const batch = Array.from({ length: prompts }, () => rlPrompts[next++ % rlPrompts.length] as RlPrompt);
      last = grpoStep(policy.policy, reference.policy, optimizer, batch, {
        groupSize: c.groupSize, epsilon: c.epsilon, beta: c.beta, reward: (text, answer) => weightedReward(text, answer),
        decode: (ids) => tok.decode(ids), maxNewTokens, temperature: c.temperature, eosId: tok.eosId, padId: tok.padId, rng,
      }).metrics;
      return last.reward;
    },
    last: () => last,
    dispose: () => {
      optimizer.dispose();
      policy.lm.dispose();
      reference.lm.dispose();
    },
    completions: prompts * c.groupSize,
    promptTokens,
    maxNewTokens,
    parameters: policy.lm.countParams(),
  };
}

/** The GRPO case of `npm run bench` (family `rl`), with its PyTorch twin in torch_grpo.py. */
export const grpoCases: BenchCase[] = [
  {
    id: 'grpo-step',
    title: 'GRPO step (8 prompts × G = 8)',
    family: 'rl',
    what: "one GRPO step of lesson 13 (lib's grpoStep): sample 8 prompts × G = 8 completions of up to 21 tokens with the KV cache, score them by rule, one Adam update on the clipped-ratio + k3-KL loss; base task model (d = 32, 2 blocks), untrained",
    bound: 'kernels',
    boundWhy: 'about 4,573 small kernels per step (21 decoding steps, then the update)',
    params: GRPO_PARAMS,
    torch: 'grpo-step',
    compare: false,
    setup: () => setupGrpo(),
  },
];

/**
 * Times lesson 13's GRPO step with its sample/update split, which the bench's table does not
 * show: `warmup` untimed steps, then `iterations` timed ones, on the case's own set-up
 * ({@link setupGrpo}). The tensor count is checked around each timed step and after the teardown.
 * @throws Error when `iterations` is not a positive integer, or when a step leaks tensors.
 */
export async function benchGrpo(opts: GrpoBenchOptions): Promise<GrpoBenchResult> {
  const { iterations } = opts;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations must be a positive integer, got ${iterations}`);
  const warmup = opts.warmup ?? (opts.smoke ? 1 : 2);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`warmup must be an integer >= 0, got ${warmup}`);
  const baseline = tf.memory().numTensors;
  const g = setupGrpo(opts.smoke ? 2 : GRPO_BENCH_CONFIG.prompts);
  const metrics = (): GrpoMetrics => {
    const m = g.last();
    if (!m) throw new Error('the GRPO step reported no metrics');
    return m;
  };
  let result: GrpoBenchResult;
  try {
    for (let i = 0; i < warmup; i++) g.step();
    const total: number[] = [];
    const sample: number[] = [];
    const update: number[] = [];
    const lengths: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const before = tf.memory().numTensors;
      const t0 = performance.now();
      g.step();
      total.push(performance.now() - t0);
      const leaked = tf.memory().numTensors - before;
      if (leaked !== 0) throw new Error(`grpo step leaked ${leaked} tensors (timed step ${i})`);
      const m = metrics();
      sample.push(1000 * m.sampleSeconds);
      update.push(1000 * m.updateSeconds);
      lengths.push(m.completionLength);
    }
    const profile = await tf.profile(() => { g.step(); });
    const sorted = [...total].sort((a, b) => a - b);
    result = {
      name: 'grpo-step',
      medianMs: median(total),
      p10Ms: quantile(sorted, 0.1),
      p90Ms: quantile(sorted, 0.9),
      sampleMs: median(sample),
      updateMs: median(update),
      kernels: profile.kernels.length,
      iterations,
      warmup,
      backend: tf.getBackend(),
      completions: g.completions,
      promptTokens: g.promptTokens,
      maxNewTokens: g.maxNewTokens,
      meanCompletionLength: lengths.reduce((s, x) => s + x, 0) / lengths.length,
      parameters: g.parameters,
    };
  } finally {
    g.dispose();
  }
  const left = tf.memory().numTensors - baseline;
  if (left !== 0) throw new Error(`grpo bench left ${left} tensors behind after its teardown`);
  return result;
}

/** The PyTorch twin's JSON (see torch_grpo.py), or why it did not run. */
type TorchResult = { available: true; medianMs: number; sampleMs: number; updateMs: number; [k: string]: unknown } | { available: false; reason: string };

/** Runs `bench/torch_grpo.py` with the same iterations and 1 thread. */
function runTorch(iterations: number, smoke: boolean): TorchResult {
  const python = process.env.FRUGAL_PYTHON ?? '/usr/bin/python3';
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'torch_grpo.py'); // from bench/dist/
  const args = [script, '--iterations', String(iterations), '--threads', '1', ...(smoke ? ['--smoke'] : [])];
  const r = spawnSync(python, args, { encoding: 'utf8' });
  if (r.error) return { available: false, reason: `${python}: ${r.error.message}` };
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as TorchResult;
  } catch {
    return { available: false, reason: `torch_grpo.py exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
}

/** `node bench/dist/grpo.js [--iterations N] [--smoke] [--torch]`: prints one JSON object. */
async function main(argv: readonly string[]): Promise<void> {
  const at = argv.indexOf('--iterations');
  const iterations = at >= 0 ? Number(argv[at + 1]) : 10;
  const smoke = argv.includes('--smoke');
  const report = await initBackend();
  const load = loadavg()[0] as number;
  const tfjs = await benchGrpo({ iterations, smoke });
  const out: Record<string, unknown> = {
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, backend: `${tf.getBackend()} (${report.label})`, tfjs,
  };
  if (argv.includes('--torch')) {
    const torch = runTorch(iterations, smoke);
    out.torch = torch;
    if (torch.available) {
      out.ratio = {
        step: tfjs.medianMs / torch.medianMs, sample: tfjs.sampleMs / torch.sampleMs, update: tfjs.updateMs / torch.updateMs,
      };
    }
  }
  out.loadAverage = { before: load, after: loadavg()[0] as number };
  console.log(JSON.stringify(out, null, 2));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
