"""PyTorch twin of bench/grpo.ts: one GRPO step of lesson 13 at the same sizes, timed the same way.

`CASES["grpo-step"]` is the twin of the `grpo-step` case of `npm run bench` (torch_bench.py
merges it). On its own, with the sample/update split:

    /usr/bin/python3 bench/torch_grpo.py [--iterations 10] [--threads 1] [--smoke]

prints one JSON object: {"available": true, "medianMs", "p10Ms", "p90Ms", "sampleMs", "updateMs",
...}, milliseconds per step, medians over `iterations` timed steps after `warmup` untimed ones
(2; 1 with --smoke, which also takes 2 prompts instead of 8). When `import torch` fails it prints
{"available": false, "reason": ...} and exits 0.

The step is what lib/rl/grpo.ts's `grpoStep` does, written the usual PyTorch way:

- **the policy**: the tiny LM of lib/lm/tiny-lm.ts (as in torch_bench.py's tinylm case: one-hot
  embedding, pre-norm blocks of RMSNorm, MHA with RoPE and a causal mask, SwiGLU, final RMSNorm,
  head) at the `base` task size: vocabulary 20, d = 32, 2 blocks, 4 heads, SwiGLU 64 (21 920
  parameters); hash-filled weights, an untrained policy as on the tfjs side; the reference is a
  frozen copy;
- **sampling**: 8 prompts of level 2 (`ab+c=`, 5 tokens) × G = 8 rows, prefill, then one token per
  step with a KV cache extended by torch.cat (as the lib's cache), temperature 1,
  `torch.multinomial` for all rows at once, rows that produced `<eos>` fed `<eos>`, until every row
  is done or `maxNewTokens` = 21 (lib: `maxCompletionTokens` of level-2 problems);
- **scoring**: the completions decoded to text, the accuracy and format rewards by the lib's rules
  (regular expressions), weighted 1 and 0.1, group-relative advantages with Bessel's std
  (`torch.std`), 0 for a group of equal rewards;
- **the update**: the batch right-padded, the mask of completion tokens, the reference's
  log-probabilities without gradient, the policy's with; ratio exp(logp - logp.detach()) (μ = 1),
  the clipped surrogate (ε = 0.2), the k3 KL (β = 0.04), per token, averaged per sequence then over
  sequences; backward; Adam (5e-4, betas 0.9 / 0.999, eps 1e-7 as tfjs's default).

The sampling draws differ from tfjs's (another generator), so the completions differ; the shapes
do not: 64 rows, 21 decoding steps (some of the 64 rows of an untrained policy run to 21 tokens),
and an update on [64, 26] tokens. The sample/update split is where grpoStep splits it: sampling
includes decoding to text, scoring and the advantages. An untrained policy is never right, so the
advantages are 0 and the policy stays at the reference: the loss is 0, the work the same.
"""

import argparse
import json
import math
import os
import platform
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
    import torch.nn.functional as F

    from torch_bench import glorot, hash_fill, merge_heads, rope, split_heads

    IMPORT_ERROR = None
except Exception as err:  # ImportError, or OSError from a broken install
    torch = F = None
    IMPORT_ERROR = f"{type(err).__name__}: {err}"

# GRPO_BENCH_CONFIG of bench/grpo.ts and TASK_LM_SIZES.base of lib/rl/task-lm.ts.
CONFIG = {
    "vocab": 20,  # TASK_TOKENS
    "d": 32,  # residual width
    "layers": 2,  # decoder blocks
    "heads": 4,  # MHA heads
    "hidden": 64,  # SwiGLU hidden units
    "groupSize": 8,  # G
    "prompts": 8,  # prompts per step
    "maxNewTokens": 21,  # maxCompletionTokens of level-2 problems
    "epsilon": 0.2,
    "beta": 0.04,
    "learningRate": 5e-4,
    "temperature": 1.0,
}

# TASK_TOKENS of lib/rl/task.ts, by id.
TOKENS = ["<pad>", "<eos>", "<think>", "</think>", "<answer>", "</answer>",
          "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "=", ";", "R"]
PAD, EOS = 0, 1
FORMAT = re.compile(r"^<think>((?:(?!</?think>|</?answer>)[\s\S])*)</think><answer>((?:(?!</?think>|</?answer>)[\s\S])*)</answer>$")
ANSWER = re.compile(r"<answer>([\s\S]*?)</answer>")
INTEGER = re.compile(r"^\s*-?\d+\s*$")


def reward(text, answer):
    """weightedReward of lib/rl/rewards.ts: accuracy (one answer block holding the integer) + 0.1 format."""
    blocks = ANSWER.findall(text)
    accuracy = 1.0 if len(blocks) == 1 and INTEGER.match(blocks[0]) and int(blocks[0]) == int(answer) else 0.0
    return accuracy + 0.1 * (1.0 if FORMAT.match(text) else 0.0)


def encode(s):
    return [TOKENS.index(ch) for ch in s]


def level2_prompts(n, seed):
    """Level-2 additions `ab+c=` (a in 10..99, b in 0..9), as token ids with their answers."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(10, 99), rng.randint(0, 9)
        out.append((encode(f"{a}+{b}="), str(a + b)))
    return out


def new_params(seed):
    """The tiny LM's weights in getWeights order: embedding [V, d]; per block gain [d], wq wk wv wo
    [d, d], gain [d], w1 w3 [d, H], w2 [H, d]; final gain [d]; head [d, V]."""
    V, d, L, H = CONFIG["vocab"], CONFIG["d"], CONFIG["layers"], CONFIG["hidden"]
    shapes = [(V, d)]
    for _ in range(L):
        shapes += [(d,), (d, d), (d, d), (d, d), (d, d), (d,), (d, H), (d, H), (H, d)]
    shapes += [(d,), (d, V)]
    return [torch.ones(s) if len(s) == 1 else hash_fill(s[0], s[1], seed + i, 1.0 if i == 0 else glorot(s[0], s[1]))
            for i, s in enumerate(shapes)]


def rms(x, g):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * g


def forward(params, ids, cache=None, start=0):
    """ids [B, t] -> logits [B, t, V]. With `cache` (a list of (k, v) per layer), the new keys and
    values are appended to it and the queries sit at positions start..start+t-1."""
    h = CONFIG["heads"]
    L = CONFIG["layers"]
    t = ids.shape[1]
    x = params[0][ids]  # [B, t, d]
    for layer in range(L):
        g1, wq, wk, wv, wo, g2, w1, w3, w2 = params[1 + 9 * layer: 10 + 9 * layer]
        a = rms(x, g1)
        q = rope(split_heads(a @ wq, h), start)  # [B, h, t, dh]
        k = rope(split_heads(a @ wk, h), start)
        v = split_heads(a @ wv, h)
        if cache is not None:
            if cache[layer] is not None:
                k = torch.cat([cache[layer][0], k], 2)  # [B, h, start + t, dh]
                v = torch.cat([cache[layer][1], v], 2)
            cache[layer] = (k, v)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # [B, h, t, start + t]
        if t > 1:
            keys = k.shape[2]
            mask = torch.arange(keys)[None, :] <= (torch.arange(t)[:, None] + keys - t)  # [t, keys]
            s = s.masked_fill(~mask, -1e9)
        x = x + merge_heads(torch.softmax(s, -1) @ v) @ wo
        f = rms(x, g2)
        u = f @ w1
        x = x + ((u * torch.sigmoid(u)) * (f @ w3)) @ w2
    return rms(x, params[-2]) @ params[-1]  # [B, t, V]


def token_log_probs(params, tokens):
    """ln pi(tokens[:, j + 1] | tokens[:, <= j]): [n, T] -> [n, T - 1]."""
    logp = F.log_softmax(forward(params, tokens[:, :-1]), -1)  # [n, T-1, V]
    return logp.gather(-1, tokens[:, 1:, None])[..., 0]


def sample(params, prompts, max_new, temperature):
    """One completion per prompt (all of one length), as lmPolicy's sampler: prefill, then one
    token per step with the cache; rows that produced <eos> are fed <eos> and their draws ignored."""
    rows = len(prompts)
    out = [[] for _ in range(rows)]
    done = torch.zeros(rows, dtype=torch.bool)
    cache = [None] * CONFIG["layers"]
    feed = torch.tensor(prompts)
    start = 0
    with torch.no_grad():
        for _ in range(max_new):
            if bool(done.all()):
                break
            logits = forward(params, feed, cache, start)[:, -1]  # [rows, V]
            start += feed.shape[1]
            ids = torch.multinomial(torch.softmax(logits / temperature, -1), 1)[:, 0]
            ids = torch.where(done, torch.full_like(ids, EOS), ids)
            for r, (i, was_done) in enumerate(zip(ids.tolist(), done.tolist())):
                if not was_done:
                    out[r].append(i)
            done = done | (ids == EOS)
            feed = ids[:, None]
    return out


def group_advantages(rewards, G):
    r = torch.tensor(rewards).view(-1, G)
    std = r.std(1, keepdim=True)  # Bessel's correction, as the lib
    adv = torch.where(std > 1e-8, (r - r.mean(1, keepdim=True)) / std.clamp(min=1e-8), torch.zeros_like(r))
    return adv.view(-1)


def build_batch(prompts, completions):
    n = len(prompts)
    T = max(len(p) + len(c) for p, c in zip(prompts, completions))
    tokens = torch.full((n, T), PAD, dtype=torch.int64)
    mask = torch.zeros(n, T - 1)
    for i, (p, c) in enumerate(zip(prompts, completions)):
        tokens[i, : len(p) + len(c)] = torch.tensor(p + c)
        mask[i, len(p) - 1: len(p) - 1 + len(c)] = 1  # target j + 1 is completion token k when j + 1 = len(p) + k
    return tokens, mask


def build_step(n_prompts):
    """Sets up the step (prompts, policy, frozen reference, Adam) and returns a function that runs
    one: -> (total ms, sample ms, update ms, mean completion length, loss, mean reward)."""
    c = CONFIG
    G = c["groupSize"]
    problems = level2_prompts(256, 7)
    params = [p.requires_grad_(True) for p in new_params(100)]
    ref = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=c["learningRate"], betas=(0.9, 0.999), eps=1e-7)
    state = {"next": 0}

    def step():
        t0 = time.perf_counter()
        batch = [problems[(state["next"] + i) % len(problems)] for i in range(n_prompts)]
        state["next"] += n_prompts
        rows = [p for p, _ in batch for _ in range(G)]
        completions = sample(params, rows, c["maxNewTokens"], c["temperature"])
        texts = ["".join(TOKENS[i] for i in comp) for comp in completions]
        rewards = [reward(t, batch[i // G][1]) for i, t in enumerate(texts)]
        adv = group_advantages(rewards, G)
        t1 = time.perf_counter()
        tokens, mask = build_batch(rows, completions)
        with torch.no_grad():
            ref_logp = token_log_probs(ref, tokens)
        opt.zero_grad()
        logp = token_log_probs(params, tokens)
        ratio = torch.exp(logp - logp.detach())  # mu = 1: pi_old is pi_theta without its gradient
        a = adv[:, None]
        surrogate = torch.minimum(ratio * a, ratio.clamp(1 - c["epsilon"], 1 + c["epsilon"]) * a)
        d = ref_logp - logp
        k3 = torch.exp(d) - d - 1
        per_token = surrogate - c["beta"] * k3
        loss = -((per_token * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()
        loss.backward()
        opt.step()
        value = float(loss.item())
        t2 = time.perf_counter()
        return ((t2 - t0) * 1000, (t1 - t0) * 1000, (t2 - t1) * 1000, float(mask.sum(1).mean()), value,
                sum(rewards) / len(rewards))

    return step, sum(p.numel() for p in params), len(problems[0][0])


def case_grpo_step(p):
    """The `grpo-step` case of `npm run bench` (bench/grpo.ts's grpoCases): its params must be
    CONFIG's (this twin hard-codes the model's shapes), but for the number of prompts; one iteration returns the step's mean
    reward, as the tfjs side (not compared: the draws differ)."""
    for key, want in CONFIG.items():
        if key != "prompts" and key in p and p[key] != want:
            raise ValueError(f"grpo-step: params[{key!r}] is {p[key]!r}, but torch_grpo.py's CONFIG has {want!r}")
    step, _, _ = build_step(int(p.get("prompts", CONFIG["prompts"])))
    return lambda: torch.tensor(step()[5])


# The twins torch_bench.py merges into its CASES (`npm run bench`).
CASES = {"grpo-step": case_grpo_step}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if IMPORT_ERROR is not None:
        print(json.dumps({"available": False, "reason": f"import torch failed ({IMPORT_ERROR})"}))
        return 0
    if args.iterations < 1:
        raise SystemExit(f"--iterations must be a positive integer, got {args.iterations}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(3)
    G = CONFIG["groupSize"]
    n_prompts = 2 if args.smoke else CONFIG["prompts"]
    warmup = 1 if args.smoke else 2
    step, parameters, prompt_tokens = build_step(n_prompts)
    for _ in range(warmup):
        step()
    runs = [step() for _ in range(args.iterations)]
    total = sorted(r[0] for r in runs)

    def median(xs):
        xs = sorted(xs)
        m = len(xs) // 2
        return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2

    def quantile(xs, q):
        pos = (len(xs) - 1) * q
        lo, hi = math.floor(pos), math.ceil(pos)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    print(json.dumps({
        "available": True,
        "name": "grpo-step",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "medianMs": median([r[0] for r in runs]),
        "p10Ms": quantile(total, 0.1),
        "p90Ms": quantile(total, 0.9),
        "sampleMs": median([r[1] for r in runs]),
        "updateMs": median([r[2] for r in runs]),
        "iterations": args.iterations,
        "warmup": warmup,
        "completions": n_prompts * G,
        "promptTokens": prompt_tokens,
        "maxNewTokens": CONFIG["maxNewTokens"],
        "meanCompletionLength": sum(r[3] for r in runs) / len(runs),
        "parameters": parameters,
        "lastLoss": runs[-1][4],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
