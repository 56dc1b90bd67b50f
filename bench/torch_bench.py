"""PyTorch twin of scripts/bench.mjs: times the same cases on the CPU and prints JSON.

Run by `npm run bench`, which writes a spec on stdin and reads one JSON object on stdout:

    spec   {"threads": [2, 1], "cases": [{"id", "kind", "params"}, ...],
            "timing": {"warmup": 2, "minTimeMs": 500, "minIterations": 5, "maxIterations": 1000}}
    result {"available": true, "torch": "1.13.0", "python": "3.11.2",
            "default_threads": 1, "threads": [2, 1],
            "cases": {id: {"check": float, "runs": {"2": [ms, ...], "1": [ms, ...]}}}}

When `import torch` fails it prints {"available": false, "reason": "..."} and exits 0.
The timing loop is the one of timeIt() in lib/measure.ts, which times the tfjs side; the
statistics (median, p10, p90) are computed by the caller from the raw samples, so every column
of the table uses the same code.

To add a case: add a function to CASES below under the `kind` that scripts/bench.mjs uses. It
takes the case's params and returns a zero-argument function that runs one iteration and
returns a tensor (the value checked against tfjs).
"""

import json
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


# kind -> builder; the kinds are the ones of CASES in scripts/bench.mjs.
CASES = {
    "matmul": case_matmul,
    "kl-forward": case_kl_forward,
    "kl-forward-backward": case_kl_forward_backward,
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
        result["cases"][case["id"]] = entry
    torch.set_num_threads(default_threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
