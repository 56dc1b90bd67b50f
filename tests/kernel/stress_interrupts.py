"""Stress check of interrupted training loops (docs/kernel.md, "Interrupts"): interrupts a
synchronous loop of training steps N times at random delays, and after each interrupt reads every
registered variable and checks the engine's bookkeeping. Not part of npm test (it takes minutes);
run it by hand after changing kernel/src/tf-guard.ts:

    JUPYTER_PATH=$PWD/out/jupyter /usr/bin/python3 tests/kernel/stress_interrupts.py [N] [seed] [restart_every]

N interrupts (200), random delays from the seed (1), a fresh kernel every `restart_every`
interrupts (0: one kernel throughout). A fresh kernel matters: V8 stops a script only at the
checks it makes on entering a function and on looping, and optimised code has inlined the small
functions of tfjs's bookkeeping, so interrupts land inside it mostly while the code is still
cold, as in a CI run on a fresh clone. FRUGAL_STRESS_NODE_OPTIONS is given to the kernel as
NODE_OPTIONS: `--jitless` keeps every function interpreted, where every call can be cut, which
magnifies the rate of those interrupts.

(`npm run test:kernel` writes out/jupyter.) Four loops alternate: the protocol test's `step()`
(one variable, assigned in a tidy), an Adam step (`optimizer.minimize`, which assigns two weights
and their moments), `many()` (64 variables of 4 numbers assigned in a tidy, where tfjs's
bookkeeping takes most of the time, so that interrupts land in it often) and all three. After each interrupt the check cell reads every registered
variable (`dataSync`), and checks that its data is known to the engine, that the backend's
reference count of each variable's data is at least 1, and that no scope is open. A broken variable (what the bug looked like:
"Cannot read properties of undefined (reading 'backend')" at the next step) counts as a failure;
the kernel is then restarted so that later interrupts test a sound state again. The tensor count's
drift per interrupt is reported too, and the backend's buffers that the engine does not count
(`backend.numDataIds() - numDataBuffers`: data written by a kernel whose tensor was never made). Prints one line per failure and a summary; exits 1 on any
failure.
"""
import json
import os
import random
import sys
import time

from jupyter_client.manager import start_new_kernel

KERNEL = os.environ.get("FRUGAL_KERNEL", "frugal-ai")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SETUP = (
    "import * as tf from '@tensorflow/tfjs';\n"
    "await tf.setBackend(process.env.FRUGAL_STRESS_BACKEND ?? 'cpu');\n"
    "const x = tf.randomNormal([32, 32], 0, 1, 'float32', 1);\n"
    "const w = tf.variable(tf.zeros([32, 32]), true, 'w');\n"
    "const v = tf.variable(tf.zeros([32, 8]), true, 'v');\n"
    "const opt = tf.train.adam(1e-3);\n"
    "let steps = 0;\n"
    "const step = () => tf.tidy(() => { const y = tf.relu(tf.matMul(x, w).add(1)); w.assign(w.add(y.mul(1e-6))); });\n"
    "const train = () => tf.tidy(() => { opt.minimize(() => tf.matMul(tf.matMul(x, w), v).square().mean() as tf.Scalar, false, [w, v]); });\n"
    "// Bookkeeping-bound: 64 tiny variables assigned per step, so most of the time is tfjs's own.\n"
    "const vs = Array.from({ length: 64 }, (_, i) => tf.variable(tf.zeros([4]), true, `v${i}`));\n"
    "const many = () => tf.tidy(() => { for (const u of vs) u.assign(u.add(1e-6)); });\n"
    "step(); train(); many();\n"
    "const check = () => {\n"
    "  const e = tf.engine() as any; const s = e.state; const bad: string[] = [];\n"
    "  for (const [n, vr] of Object.entries(s.registeredVariables) as [string, tf.Variable][]) {\n"
    "    if (!s.tensorInfo.has(vr.dataId)) bad.push(`${n}: its data is unknown to the engine`);\n"
    "    else if (e.backend.refCount(vr.dataId) < 1) bad.push(`${n}: backend refCount ${e.backend.refCount(vr.dataId)}`);\n"
    "    try { vr.dataSync(); } catch (err) { bad.push(`${n}: ${(err as Error).message}`); }\n"
    "  }\n"
    "  if (s.scopeStack.length) bad.push(`${s.scopeStack.length} scope(s) open`);\n"
    "  if (s.activeScope) bad.push('an active scope is left');\n"
    "  try { step(); train(); many(); } catch (err) { bad.push(`a step after the interrupt: ${(err as Error).message}`); }\n"
    "  // hex: the text/plain of a string is util.inspect's, whose quotes depend on the content\n"
    "  return Buffer.from(JSON.stringify({ bad, n: s.numTensors, orphans: e.backend.numDataIds() - s.numDataBuffers })).toString('hex');\n"
    "};\n"
    "check()"
)
LOOPS = [
    "for (;;) { step(); steps++; }",
    "for (;;) { train(); steps++; }",
    "for (;;) { many(); steps++; }",
    "for (;;) { step(); train(); many(); steps++; }",
]


def collect(kc, msg_id, timeout=60):
    reply, error, result = None, None, None
    deadline = time.time() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t = msg["msg_type"]
        if t == "status" and msg["content"]["execution_state"] == "idle":
            break
        if t == "error":
            error = msg["content"]
        if t == "execute_result":
            result = msg["content"]["data"]["text/plain"]
    while reply is None:
        r = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if r["parent_header"].get("msg_id") == msg_id:
            reply = r["content"]
    return reply, error, result


def decode(result):
    """check()'s value: JSON in hex, shown by util.inspect in quotes."""
    return json.loads(bytes.fromhex(result.strip("'")))


STARTED = []  # every kernel started, to shut down whatever happens


def start():
    env = dict(os.environ, FRUGAL_PLOT_PNG="0")
    if os.environ.get("FRUGAL_STRESS_NODE_OPTIONS"):
        env["NODE_OPTIONS"] = os.environ["FRUGAL_STRESS_NODE_OPTIONS"]
    km, kc = start_new_kernel(kernel_name=KERNEL, cwd=os.path.join(ROOT, "notebooks"), env=env)
    STARTED.append(km)
    reply, error, result = collect(kc, kc.execute(SETUP), timeout=120)
    if reply["status"] != "ok":
        raise SystemExit(f"setup failed: {error}")
    return km, kc, decode(result)["n"]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    restart_every = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    km, kc, count = start()
    failures, drifts, wrong_ename, restarts, orphans = [], {}, 0, 0, None
    t0 = time.time()
    for i in range(n):
        if restart_every and i and i % restart_every == 0:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            km, kc, count = start()
            restarts += 1
        loop = rng.choice(LOOPS)
        delay = rng.uniform(0.05, 0.6)
        msg_id = kc.execute(loop, stop_on_error=False)
        time.sleep(delay)
        km.interrupt_kernel()
        reply, error, _ = collect(kc, msg_id)
        if reply.get("ename") != "KeyboardInterrupt":
            wrong_ename += 1
            failures.append(f"interrupt {i} ({loop!r}, {delay:.2f} s): ename {reply.get('ename')}: {reply.get('evalue')}")
            print(failures[-1], flush=True)
        reply, error, result = collect(kc, kc.execute("check()", stop_on_error=False))
        state = decode(result) if result else {"bad": [f"check cell failed: {error and error['evalue']}"], "n": None}
        if state["bad"]:
            note = " | ".join(state["bad"])
            failures.append(f"interrupt {i} ({loop!r}, {delay:.2f} s): {note}")
            print(failures[-1], flush=True)
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            km, kc, count = start()
            restarts += 1
            continue
        # check() ran one more step(), train() and many(), which leave the count where it was.
        d = state["n"] - count
        drifts[d] = drifts.get(d, 0) + 1
        count = state["n"]
        orphans = state["orphans"]
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    broken = len(failures) - wrong_ename
    print(
        f"{n} interrupts in {time.time() - t0:.0f} s: {broken} left a broken state, {wrong_ename} gave another "
        f"error than KeyboardInterrupt, {restarts} fresh kernels; tensor-count drift per interrupt "
        f"{dict(sorted(drifts.items()))}; backend buffers the engine does not count at the end: {orphans}"
    )
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    try:
        main()
    finally:
        for k in STARTED:
            if k.is_alive():
                k.shutdown_kernel(now=True)
