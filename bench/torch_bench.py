"""PyTorch twin of the tfjs bench (bench/*.ts): times the same cases on the CPU and prints JSON.

Run by `npm run bench`, which writes a spec on stdin and reads one JSON object on stdout:

    spec   {"threads": [2, 1], "cases": [{"id", "kind", "params"}, ...], "profile": false,
            (a case's "kind" is its `torch` field in bench/cases; params hold numbers, or lists
            of integers such as the rows' order of an epoch)
            "timing": {"warmup": 2, "warmupMs": 1000, "minTimeMs": 500, "minIterations": 5, "maxIterations": 1000}}
    result {"available": true, "torch": "1.13.0", "python": "3.11.2",
            "blas": "/usr/lib/.../libopenblasp-r0.3.21.so" or null, "reference_blas": false,
            "default_threads": 1, "threads": [2, 1],
            "cases": {id: {"check": float, "runs": {"2": [ms, ...], "1": [ms, ...]},
                           "profile": {"kernels", "kernelMs", "top"} (with "profile": true)}}}

When `import torch` fails it prints {"available": false, "reason": "..."} and exits 0.
The timing loop is the one of timeIt() in lib/measure.ts, which times the tfjs side; the
statistics (median, p10, p90) are computed by the caller from the raw samples, so every column
of the table uses the same code.

To add a case: add a function to CASES below under the name that the case's `torch` field
gives (bench/case.ts), or put it in a sibling module bench/torch_<name>.py that defines its own
CASES dict, which is merged into this one. A function takes the case's params and returns a
zero-argument function that runs one iteration and returns a tensor (the value checked against
tfjs).
"""

import importlib
import json
import math
import pathlib
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
    in bench/fill.ts: an integer hash of the flat index, so both sides get the same inputs."""
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
    """Glorot-uniform bound of a [fan_in, fan_out] kernel; glorot() in bench/fill.ts."""
    return math.sqrt(6 / (fan_in + fan_out))


def dense_stack(sizes, seed):
    """denseStack() of bench/fill.ts: hash-filled kernels [in, out] (tfjs's layout, so
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
    """distillSetup() of bench/cases/distill.ts: the same data, student, teacher, Adam and loss.
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
    """One step of the lib's `train` on 64 rows: the batch gathered in the order it drew."""
    _, step, _, _, _ = distill_setup(p)
    ix = torch.tensor(p["order"])  # the permutation of the lib's Rng, sent by the tfjs side
    return lambda: step(ix)  # -> [] (the loss)


def case_distill_epoch(p):
    """One epoch of the lib's `train`: the rows in the order its Rng drew (sent by the tfjs
    side), batches of p["batch"], each loss read back; -> the mean batch loss."""
    n, step, _, _, _ = distill_setup(p)
    bs = p["batch"]
    order = torch.tensor(p["order"])
    assert len(order) == n, f"order has {len(order)} rows, expected {n}"
    batches = [order[i : i + bs] for i in range(0, n, bs)]

    def run():
        total = 0.0
        for ix in batches:
            total += step(ix).item()  # the loss read back each step, as in the tfjs loop
        return torch.tensor(total / len(batches))

    return run


def case_student_infer(p):
    """Lesson 05: the student 64-8-10 (dense_stack seed 20, as in the distillation cases) predicts
    a batch of p["batch"] images, in inference mode."""
    forward, _ = dense_stack([p["inputs"], p["hidden"], p["classes"]], 20)
    x = hash_fill(p["batch"], p["inputs"], 11, 1.0)  # [b, 64]

    def run():
        with torch.no_grad():
            return forward(x)  # [b, 10] logits

    return run


# kind -> builder; the kinds are the `torch` fields of the cases in bench/cases.
def case_moe(p):
    """The MoE layer of bench/cases/moe.ts (kind 'moe'): softmax router, top-k, gates = the
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


def rope(x, start):
    """Rotate-half RoPE (lib/attention/rope.ts) over the last axis of x [..., t, d], positions start.."""
    d, t = x.shape[-1], x.shape[-2]
    half = d // 2
    pos = torch.arange(start, start + t, dtype=torch.float64)[:, None]
    ang = (pos * 10000.0 ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)).float()  # [t, d/2]
    cos, sin = torch.cos(ang), torch.sin(ang)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


def split_heads(x, h):
    b, t, hd = x.shape
    return x.view(b, t, h, hd // h).transpose(1, 2)  # [b, t, h*dh] -> [b, h, t, dh]


def merge_heads(x):
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)  # [b, h, t, dh] -> [b, t, h*dh]


def case_attn_decode(p):
    """The decoding step of bench/cases/attention.ts (kind 'attn-decode'): one token after a cache of
    `context` tokens; variant 0 MHA, 1 naive MLA, 2 absorbed MLA (DeepSeek-V2 eqs. 9-19), with the
    same hash-filled weights, cache and token. The cache is extended with torch.cat, as the lib
    does; MLA's cache is the lib's [1, T, d_c + d_h^R] latent, and absorbed MLA runs the lib's
    products (lib/attention/mla.ts). Returns the output [1, 1, d]."""
    d, h, dh, T = p["d"], p["heads"], p["headDim"], p["context"]
    dq, dc, dr = p["qLatent"], p["kvLatent"], p["ropeDim"]
    x = hash_fill(1, d, 84, 1.0).view(1, 1, d)
    if p["variant"] == 0:
        shapes = [(d, h * dh), (d, h * dh), (d, h * dh), (h * dh, d)]
    else:
        shapes = [(d, dq), (dq, h * dh), (dq, h * dr), (d, dc), (dc, h * dh), (dc, h * dh), (d, dr), (h * dh, d)]
    w = [hash_fill(a, b, 70 + i, glorot(a, b)) for i, (a, b) in enumerate(shapes)]
    if p["variant"] == 0:
        k_cache = hash_fill(T, h * dh, 80, 1.0).view(1, T, h, dh).transpose(1, 2)  # [1, h, T, dh]
        v_cache = hash_fill(T, h * dh, 81, 1.0).view(1, T, h, dh).transpose(1, 2)
        wq, wk, wv, wo = w

        def run():
            with torch.no_grad():
                q = rope(split_heads(x @ wq, h), T)
                k = torch.cat([k_cache, rope(split_heads(x @ wk, h), T)], 2)  # [1, h, T+1, dh]
                v = torch.cat([v_cache, split_heads(x @ wv, h)], 2)
                a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), -1)  # one query: no mask needed
                return merge_heads(a @ v) @ wo
        return run
    c_cache = hash_fill(T, dc, 82, 1.0)  # c^KV [T, dc]
    r_cache = hash_fill(T, dr, 83, 1.0)  # k^R [T, dr]
    D = dc + dr
    # The lib's cache layout: one tensor [1, T, dc + dr] (c^KV then k^R, a row per token).
    latent = torch.cat([c_cache, r_cache], 1).view(1, T, D)
    wDQ, wUQ, wQR, wDKV, wUK, wUV, wKR, wO = w
    scale = 1.0 / math.sqrt(dh + dr)
    absorb = p["variant"] == 2
    # The absorbed products, computed once as the lib keeps them: wQ [dq, h*dc] (column i*dc + c) =
    # W^UQ_i W^UK_i^T; wOut [h*dc, d] (row i*dc + c) = W^UV_i W^O_i.
    wQ = (wUQ.view(dq, h, dh).permute(1, 0, 2) @ wUK.view(dc, h, dh).permute(1, 2, 0)).permute(1, 0, 2).reshape(dq, h * dc)
    wOut = (wUV.view(dc, h, dh).permute(1, 0, 2) @ wO.view(h, dh, d)).reshape(h * dc, d)

    def run():
        with torch.no_grad():
            cQ = x @ wDQ  # [1, 1, dq]
            qR = rope(split_heads(cQ @ wQR, h), T)  # [1, h, 1, dr]
            kR = rope((x @ wKR)[:, None], T)[:, 0]  # [1, 1, dr]
            lat = torch.cat([latent, torch.cat([x @ wDKV, kR], -1)], 1)  # [1, T+1, D]
            if absorb:
                q = torch.cat([(cQ @ wQ).view(1, h, dc), qR.view(1, h, dr)], -1)  # [1, h, D]
                s = (lat @ q.transpose(1, 2)).transpose(1, 2)  # all heads' scores in one product: [1, T+1, h] -> [1, h, T+1]
                a = torch.softmax(s * scale, -1)
                mixed = (a @ lat)[..., :dc]  # [1, h, D] -> the c^KV part [1, h, dc]
                return (mixed.reshape(1, h * dc) @ wOut).view(1, 1, d)
            cKV = lat[..., :dc]  # [1, T+1, dc]
            kRall = lat[..., dc:]  # [1, T+1, dr]
            qC = split_heads(cQ @ wUQ, h)  # [1, h, 1, dh]
            kC = split_heads(cKV @ wUK, h)  # [1, h, T+1, dh]
            vC = split_heads(cKV @ wUV, h)
            q = torch.cat([qC, qR], -1)
            k = torch.cat([kC, kRall[:, None].expand(-1, h, -1, -1)], -1)
            a = torch.softmax(q @ k.transpose(-1, -2) * scale, -1)
            return merge_heads(a @ vC) @ wO
    return run


def case_tinylm_step(p):
    """One Adam step of the tiny LM of bench/cases/tinylm.ts (kind 'tinylm-step'): the model of
    lib/lm/tiny-lm.ts written out (one-hot embedding, pre-norm blocks of RMSNorm, MHA with RoPE and
    a causal mask, SwiGLU; final RMSNorm, head), the same hash-filled weights and batch, mean
    next-token cross-entropy, Adam (eps 1e-7). Returns the loss before the update."""
    V, d, L, h, H, B, T = p["vocab"], p["d"], p["layers"], p["heads"], p["hidden"], p["batch"], p["context"]
    shapes = [(V, d)]
    for _ in range(L):
        shapes += [(d,), (d, d), (d, d), (d, d), (d, d), (d,), (d, H), (d, H), (H, d)]
    shapes += [(d,), (d, V)]
    params = []
    for i, s in enumerate(shapes):
        w = torch.ones(s) if len(s) == 1 else hash_fill(s[0], s[1], 100 + i, 1.0 if i == 0 else glorot(s[0], s[1]))
        params.append(w.requires_grad_(True))
    k = torch.arange(B * (T + 1))
    ids = ((k // (T + 1)) * 7 + (k % (T + 1)) * 13 + k // 5) % V
    ids = ids.view(B, T + 1)
    inp, tgt = ids[:, :-1], ids[:, 1:]
    opt = torch.optim.Adam(params, lr=p["lr"], betas=(0.9, 0.999), eps=1e-7)
    mask = torch.ones(T, T, dtype=torch.bool).tril()

    def rms(x, g):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * g

    def forward():
        x = params[0][inp]  # [B, T, d] (the lib: one-hot @ table, the same values)
        for layer in range(L):
            g1, wq, wk, wv, wo, g2, w1, w3, w2 = params[1 + 9 * layer: 10 + 9 * layer]
            a = rms(x, g1)
            q = rope(split_heads(a @ wq, h), 0)
            kk = rope(split_heads(a @ wk, h), 0)
            v = split_heads(a @ wv, h)
            s = (q @ kk.transpose(-1, -2)) / math.sqrt(d // h)
            s = s.masked_fill(~mask, -1e9)
            x = x + merge_heads(torch.softmax(s, -1) @ v) @ wo
            f = rms(x, g2)
            u = f @ w1
            x = x + ((u * torch.sigmoid(u)) * (f @ w3)) @ w2
        logits = rms(x, params[-2]) @ params[-1]  # [B, T, V]
        return F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))

    def run():
        opt.zero_grad()
        loss = forward()
        loss.backward()
        opt.step()
        return loss.detach()
    return run


CASES = {
    "attn-decode": case_attn_decode,
    "tinylm-step": case_tinylm_step,
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
    "student-infer": case_student_infer,
}


def load_sibling_cases():
    """Merges CASES of every bench/torch_<name>.py (a case family kept in its own module)."""
    here = pathlib.Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    for path in sorted(here.glob("torch_*.py")):
        if path.stem == "torch_bench":
            continue
        module = importlib.import_module(path.stem)
        for kind, build in getattr(module, "CASES", {}).items():
            if kind in CASES:
                raise ValueError(f"{path.name} redefines the PyTorch case {kind!r}")
            CASES[kind] = build


def check_value(out):
    """The number compared with tfjs: the value of a scalar, else the Frobenius norm."""
    out = out.detach()
    return float(out.item() if out.numel() == 1 else torch.linalg.norm(out.double()).item())


def measure(run, timing):
    """timeIt() of lib/measure.ts: `warmup` untimed runs, then more until `warmupMs` of warm-up
    have passed, then timed runs until `minTimeMs` has passed and `minIterations` runs were made,
    at most `maxIterations`. Returns ms per run."""
    warm_start = time.perf_counter()
    for _ in range(timing["warmup"]):
        run()
    while (time.perf_counter() - warm_start) * 1000 < timing.get("warmupMs", 0):
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


PROFILE_RUNS = 15  # profiled iterations per case; PROFILE_RUNS in bench/timing.ts


def profile_iteration(run):
    """profileIteration() of bench/timing.ts for torch, under the autograd profiler:
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


def blas_library():
    """The BLAS that torch's products really load, read from /proc/self/maps after one product:
    Debian's python3-torch links libblas.so.3, which the `alternatives` system points at OpenBLAS
    (libopenblas0-pthread, only a Recommends of python3-torch) or at the reference BLAS
    (libblas3, 20 to 30 times slower on a 1024² product here). Returns (path, reference?), or
    (None, False) where /proc is not there (not Linux) or no BLAS file is mapped."""
    a = torch.ones(64, 64)
    (a @ a).sum().item()
    try:
        with open("/proc/self/maps", encoding="utf8") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line.lower()}
    except OSError:
        return None, False
    libs = sorted(str(pathlib.Path(p).resolve()) for p in paths if p.startswith("/"))
    # libblas.so.3 is what torch links, so its sgemm is the one called; without it (a torch built
    # on MKL or a bundled OpenBLAS) every BLAS-like file mapped is named.
    blas = [p for p in libs if pathlib.Path(p).name.startswith("libblas.so")] or libs
    if not blas:
        return None, False
    reference = any("/blas/libblas.so" in p for p in blas)
    return ", ".join(blas), reference


def main():
    spec = json.load(sys.stdin)
    if IMPORT_ERROR is not None:
        print(json.dumps({"available": False, "reason": f"import torch failed ({IMPORT_ERROR})"}))
        return 0
    load_sibling_cases()
    default_threads = torch.get_num_threads()
    blas, reference_blas = blas_library()
    result = {
        "available": True,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "blas": blas,
        "reference_blas": reference_blas,
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


def serve():
    """`torch_bench.py --serve`: the PyTorch side of `npm run bench -- --paired` (bench/paired.ts),
    which alternates tfjs and PyTorch block by block. It first prints a line like main()'s header
    (without "cases"), then answers one JSON command per stdin line with one JSON line:

        {"op": "setup", "id", "kind", "params", "threads"}  -> {"check": float}
        {"op": "block", "id", "ms", "min"}                  -> {"n": runs, "ms": elapsed}
            (runs the case until `ms` have passed and `min` runs were made)
        {"op": "drop", "id"}                                -> {}

    A command that fails answers {"error": "..."}; the loop ends with stdin."""
    if IMPORT_ERROR is not None:
        print(json.dumps({"available": False, "reason": f"import torch failed ({IMPORT_ERROR})"}), flush=True)
        return 0
    load_sibling_cases()
    blas, reference_blas = blas_library()
    print(json.dumps({
        "available": True,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "blas": blas,
        "reference_blas": reference_blas,
        "default_threads": torch.get_num_threads(),
        "threads": [],
    }), flush=True)
    runs = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            if cmd["op"] == "setup":
                build = CASES.get(cmd["kind"])
                if build is None:
                    raise KeyError(f"no PyTorch twin for kind {cmd['kind']!r}")
                torch.set_num_threads(cmd["threads"])
                torch.manual_seed(0)
                run = build(cmd["params"])
                runs[cmd["id"]] = run
                answer = {"check": check_value(run())}
            elif cmd["op"] == "block":
                run = runs[cmd["id"]]
                n = 0
                start = time.perf_counter()
                while n < cmd.get("min", 1) or (time.perf_counter() - start) * 1000 < cmd["ms"]:
                    run()
                    n += 1
                answer = {"n": n, "ms": (time.perf_counter() - start) * 1000}
            elif cmd["op"] == "drop":
                runs.pop(cmd["id"], None)
                answer = {}
            else:
                raise KeyError(f"unknown op {cmd['op']!r}")
        except Exception as err:  # reported to the caller, which stops with it
            answer = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve() if "--serve" in sys.argv[1:] else main())
