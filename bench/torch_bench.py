"""PyTorch twin of scripts/bench.mjs: times the same cases on the CPU and prints JSON.

Run by `npm run bench`, which writes a spec on stdin and reads one JSON object on stdout:

    spec   {"threads": [2, 1], "cases": [{"id", "kind", "params"}, ...], "profile": false,
            "timing": {"warmup": 2, "minTimeMs": 500, "minIterations": 5, "maxIterations": 1000}}
    result {"available": true, "torch": "1.13.0", "python": "3.11.2",
            "default_threads": 1, "threads": [2, 1],
            "cases": {id: {"check": float, "runs": {"2": [ms, ...], "1": [ms, ...]},
                           "profile": {"kernels", "kernelMs", "top"} (with "profile": true)}}}

When `import torch` fails it prints {"available": false, "reason": "..."} and exits 0.
The timing loop is the one of timeIt() in lib/measure.ts, which times the tfjs side; the
statistics (median, p10, p90) are computed by the caller from the raw samples, so every column
of the table uses the same code.

To add a case: add a function to CASES below under the `kind` that scripts/bench.mjs uses. It
takes the case's params and returns a zero-argument function that runs one iteration and
returns a tensor (the value checked against tfjs).
"""

import json
import math
import platform
import sys
import time

try:
    import torch
    import torch.nn.functional as F

    IMPORT_ERROR = None
except Exception as err:  # ImportError, or OSError from a broken install
    torch = F = None
    IMPORT_ERROR = f"{type(err).__name__}: {err}"


def hash_fill(rows, cols, seed, scale):
    """A [rows, cols] float32 tensor of values in [-scale, scale), bit-identical to hashFill()
    in scripts/bench.mjs: an integer hash of the flat index, so both sides get the same inputs."""
    k = torch.arange(rows * cols, dtype=torch.int64)
    h = (k + seed * 0x1000000) & 0xFFFFFFFF
    h = (((h >> 16) ^ h) * 0x45D9F3B) & 0xFFFFFFFF
    h = (((h >> 16) ^ h) * 0x45D9F3B) & 0xFFFFFFFF
    h = (h >> 16) ^ h
    x = (h.double() / 2**32 * 2 - 1) * scale  # float64, as in JavaScript
    return x.float().reshape(rows, cols)


def kl_batchmean(teacher_logits, student_logits, t):
    """KL(softmax(teacher / t) || softmax(student / t)), summed over classes, mean over rows."""
    log_p = F.log_softmax(teacher_logits / t, dim=-1)  # [b, c]
    log_q = F.log_softmax(student_logits / t, dim=-1)  # [b, c]
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)  # []


def case_matmul(p):
    n = p["n"]
    a = hash_fill(n, n, 1, 1.0)
    b = hash_fill(n, n, 2, 1.0)
    return lambda: torch.matmul(a, b)  # [n, n] @ [n, n] -> [n, n]


def kl_inputs(p):
    teacher = hash_fill(p["batch"], p["classes"], 3, 8.0)  # [b, c]
    student = hash_fill(p["batch"], p["classes"], 4, 6.0)  # [b, c]
    return teacher, student


def case_kl_forward(p):
    teacher, student = kl_inputs(p)

    def run():
        with torch.no_grad():
            return kl_batchmean(teacher, student, p["temperature"])

    return run


def case_kl_forward_backward(p):
    teacher, student = kl_inputs(p)
    student.requires_grad_(True)

    def run():
        loss = kl_batchmean(teacher, student, p["temperature"])
        (grad,) = torch.autograd.grad(loss, student)  # [b, c], d loss / d student logits
        return grad

    return run


def glorot(fan_in, fan_out):
    """Glorot-uniform bound of a [fan_in, fan_out] kernel; glorot() in scripts/bench.mjs."""
    return math.sqrt(6 / (fan_in + fan_out))


def dense_stack(sizes, seed):
    """denseStack() of scripts/bench.mjs: hash-filled kernels [in, out] (tfjs's layout, so
    x @ w as in tfjs's Dense), zero biases, relu between layers. Returns (forward, params)."""
    params = []
    for k, (fan_in, out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params.append(hash_fill(fan_in, out, seed + k, glorot(fan_in, out)).requires_grad_(True))  # [in, out]
        params.append(torch.zeros(out, requires_grad=True))  # [out]

    def forward(x):
        h = x
        for k in range(0, len(params), 2):
            h = torch.addmm(params[k + 1], h, params[k])  # [b, in] @ [in, out] + [out] -> [b, out]
            if k + 2 < len(params):
                h = F.relu(h)
        return h

    return forward, params


def distill_loss(s, t, y, alpha, temperature):
    """The lib's distillationLoss: alpha * CE(y, s) + (1 - alpha) * T^2 * KL(t_T || s_T), batchmean."""
    hard = F.cross_entropy(s, y)
    soft = kl_batchmean(t, s, temperature)
    return alpha * hard + (1 - alpha) * temperature * temperature * soft


def distill_setup(p):
    """distillSetup() of scripts/bench.mjs: the same data, student, teacher, Adam and loss.
    Returns (n, step, forward, params, opt): step(ix) trains on the rows ix (all rows when
    None); forward() is the loss on all rows from the stored teacher logits."""
    n = p.get("examples", p["batch"])
    x = hash_fill(n, p["inputs"], 11, 1.0)  # [n, 64]
    y = torch.arange(n) % p["classes"]  # [n], int64 as cross_entropy wants
    student, student_params = dense_stack([p["inputs"], p["hidden"], p["classes"]], 20)
    teacher, teacher_params = dense_stack([p["inputs"], p["teacherHidden"], p["teacherHidden"], p["classes"]], 30)
    for w in teacher_params:
        w.requires_grad_(False)
    with torch.no_grad():
        cached = teacher(x)  # [n, classes]
    opt = torch.optim.Adam(student_params, lr=p["lr"], betas=(0.9, 0.999), eps=1e-7)
    live = p["live"] == 1

    def step(ix=None):
        xb = x if ix is None else x.index_select(0, ix)  # [b, 64]
        yb = y if ix is None else y.index_select(0, ix)  # [b]
        opt.zero_grad(set_to_none=True)
        s = student(xb)  # [b, 10]
        if live:
            with torch.no_grad():
                t = teacher(xb)  # [b, 10]
        else:
            t = cached if ix is None else cached.index_select(0, ix)
        loss = distill_loss(s, t, yb, p["alpha"], p["temperature"])
        loss.backward()
        opt.step()
        return loss.detach()

    def forward():
        return distill_loss(student(x), cached, y, p["alpha"], p["temperature"])  # []

    return n, step, forward, student_params, opt


def case_op_chain(p):
    a = hash_fill(p["rows"], p["cols"], 5, 1.0)  # [64, 8]
    b = hash_fill(p["rows"], p["cols"], 6, 1.0)  # [64, 8]

    def run():
        with torch.no_grad():
            t = a
            for _ in range(p["ops"]):
                t = torch.add(t, b)
            return t

    return run


def case_distill_forward(p):
    _, _, forward, _, _ = distill_setup(p)

    def run():
        with torch.no_grad():  # no tape, as tfjs outside variableGrads
            return forward()

    return run


def case_distill_backward(p):
    _, _, forward, params, _ = distill_setup(p)

    def run():
        loss = forward()
        torch.autograd.grad(loss, params)  # the 4 gradients, then dropped
        return loss.detach()

    return run


def case_distill_adam(p):
    _, _, forward, params, opt = distill_setup(p)
    grads = torch.autograd.grad(forward(), params)  # the first step's gradients, held fixed
    for w, g in zip(params, grads):
        w.grad = g

    def run():
        opt.step()
        return params[2].detach().sum()  # the output layer's kernel [8, 10], as in tfjs

    return run


def case_distill_step(p):
    _, step, _, _, _ = distill_setup(p)
    return step  # -> [] (the loss)


def case_distill_epoch(p):
    n, step, _, _, _ = distill_setup(p)
    bs = p["batch"]
    order = torch.tensor([(k * 7919) % n for k in range(n)])  # the order of scripts/bench.mjs
    batches = [order[i : i + bs] for i in range(0, n, bs)]

    def run():
        total = 0.0
        for ix in batches:
            total += step(ix).item()  # the loss read back each step, as in the tfjs loop
        return torch.tensor(total / len(batches))

    return run


# kind -> builder; the kinds are the ones of CASES in scripts/bench.mjs.
def case_moe(p):
    """The MoE layer of scripts/bench.mjs (kind 'moe'): softmax router, top-k, gates = the
    chosen probabilities, experts d -> h -> d with relu and no biases, loss = mean(y^2), the
    gradients of every weight; returns the router kernel's gradient [d, E]. dense = 0: each
    expert runs on its own tokens (index, then index_add, as Mixtral's reference code);
    dense = 1: every expert on every token, weighted by a gate matrix with zeros."""
    n, d, h, n_exp, k = p["tokens"], p["d"], p["h"], p["experts"], p["topK"]
    x = hash_fill(n, d, 40, 1.0)  # [n, d]
    wr = hash_fill(d, n_exp, 41, glorot(d, n_exp)).requires_grad_(True)  # [d, E]
    w1 = [hash_fill(d, h, 50 + e, glorot(d, h)).requires_grad_(True) for e in range(n_exp)]  # [d, h]
    w2 = [hash_fill(h, d, 60 + e, glorot(h, d)).requires_grad_(True) for e in range(n_exp)]  # [h, d]
    dense = p["dense"] == 1

    def run():
        probs = F.softmax(x @ wr, dim=-1)  # [n, E]
        gates, idx = probs.topk(k, dim=-1)  # [n, k]
        if dense:
            gate_matrix = torch.zeros(n, n_exp).scatter(1, idx, gates)  # [n, E], 0 where unchosen
            hid = F.relu(x @ torch.cat(w1, 1)).view(n, n_exp, h).transpose(0, 1)  # [n, E*h] -> [E, n, h]
            y = torch.bmm(hid, torch.stack(w2))  # [E, n, h] @ [E, h, d] -> [E, n, d]
            out = (y * gate_matrix.t().unsqueeze(-1)).sum(0)  # [n, d]
        else:
            out = torch.zeros(n, d)
            for e in range(n_exp):
                tok, slot = (idx == e).nonzero(as_tuple=True)  # this expert's tokens and their slots
                if tok.numel() == 0:
                    continue
                ye = F.relu(x[tok] @ w1[e]) @ w2[e]  # [c_e, d]
                out = out.index_add(0, tok, ye * gates[tok, slot].unsqueeze(1))
        loss = (out * out).mean()
        grads = torch.autograd.grad(loss, [wr] + w1 + w2, allow_unused=True)  # an expert no token chose has no gradient
        return grads[0]

    return run


CASES = {
    "moe": case_moe,
    "matmul": case_matmul,
    "kl-forward": case_kl_forward,
    "kl-forward-backward": case_kl_forward_backward,
    "op-chain": case_op_chain,
    "distill-forward": case_distill_forward,
    "distill-backward": case_distill_backward,
    "distill-adam": case_distill_adam,
    "distill-step": case_distill_step,
    "distill-epoch": case_distill_epoch,
}


def check_value(out):
    """The number compared with tfjs: the value of a scalar, else the Frobenius norm."""
    out = out.detach()
    return float(out.item() if out.numel() == 1 else torch.linalg.norm(out.double()).item())


def measure(run, timing):
    """timeIt() of lib/measure.ts: `warmup` untimed runs, then timed runs until `minTimeMs` has
    passed and `minIterations` runs were made, at most `maxIterations`. Returns ms per run."""
    for _ in range(timing["warmup"]):
        run()
    times = []
    start = time.perf_counter()
    while len(times) < timing["maxIterations"] and (
        len(times) < timing["minIterations"]
        or (time.perf_counter() - start) * 1000 < timing["minTimeMs"]
    ):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return times


PROFILE_RUNS = 15  # profiled iterations per case; PROFILE_RUNS in scripts/bench.mjs


def profile_iteration(run):
    """profileIteration() of scripts/bench.mjs for torch, under the autograd profiler:
    `kernels` counts every aten op the dispatcher ran in one iteration (nested ones included:
    each pays the dispatch), `kernelMs` is the median over PROFILE_RUNS iterations of their
    summed self CPU time (what runs inside aten ops), `top` names the most frequent ones."""
    sums = []
    counts = {}
    for _ in range(PROFILE_RUNS):
        with torch.autograd.profiler.profile() as prof:
            run()
        events = [e for e in prof.function_events if e.name.startswith("aten::")]
        sums.append(sum(e.self_cpu_time_total for e in events) / 1000)
        counts = {}
        for e in events:
            counts[e.name] = counts.get(e.name, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:6]
    return {
        "kernels": sum(counts.values()),
        "kernelMs": sorted(sums)[len(sums) // 2],
        "top": [[name, n] for name, n in top],
    }


def main():
    spec = json.load(sys.stdin)
    if IMPORT_ERROR is not None:
        print(json.dumps({"available": False, "reason": f"import torch failed ({IMPORT_ERROR})"}))
        return 0
    default_threads = torch.get_num_threads()
    result = {
        "available": True,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "default_threads": default_threads,
        "threads": [],
        "cases": {},
    }
    for threads in spec["threads"]:
        torch.set_num_threads(threads)
        result["threads"].append(torch.get_num_threads())
    for case in spec["cases"]:
        build = CASES.get(case["kind"])
        if build is None:
            result["cases"][case["id"]] = {"error": f"no PyTorch twin for kind {case['kind']!r}"}
            continue
        print(f"bench: torch {case['id']}", file=sys.stderr)
        torch.manual_seed(0)
        run = build(case["params"])
        entry = {"check": check_value(run()), "runs": {}}
        for threads in spec["threads"]:
            torch.set_num_threads(threads)
            entry["runs"][str(threads)] = measure(run, spec["timing"])
        if spec.get("profile"):
            torch.set_num_threads(1)
            entry["profile"] = profile_iteration(run)
        result["cases"][case["id"]] = entry
    torch.set_num_threads(default_threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
