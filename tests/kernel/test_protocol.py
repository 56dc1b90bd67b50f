"""Protocol tests of the course kernel (kernel/), through jupyter_client, one per behaviour that
issue 4 adds to tslab: execution counts, execute_result with rich MIME bundles, errors with a
traceback at the cell's lines, asynchronous errors, stop_on_error, history, interrupts that
leave the kernel alive and its tensors accounted for.

Run by scripts/kernel-test.mjs (npm test) with the Jupyter Python (/usr/bin/python3):
    /usr/bin/python3 tests/kernel/test_protocol.py [-v] [TestClass.test_name ...]
Environment: FRUGAL_KERNEL (default frugal-ai). The lib must be built (npm run build).
"""
import json
import os
import re
import tempfile
import time
import unittest
from queue import Empty

from jupyter_client.manager import start_new_kernel

KERNEL = os.environ.get("FRUGAL_KERNEL", "frugal-ai")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 60


class Run:
    """What one execute_request produced: the reply content and the IOPub messages."""

    def __init__(self, reply, messages):
        self.reply = reply
        self.messages = messages  # [(msg_type, content)] in order, busy/idle left out

    def of(self, msg_type):
        return [c for t, c in self.messages if t == msg_type]

    def stream(self, name):
        return "".join(c["text"] for c in self.of("stream") if c["name"] == name)

    @property
    def result(self):
        results = self.of("execute_result")
        return results[0] if results else None

    @property
    def error(self):
        errors = self.of("error")
        return errors[0] if errors else None


class KernelCase(unittest.TestCase):
    """One kernel for the class, started in notebooks/ as the lessons are."""

    cwd = os.path.join(ROOT, "notebooks")

    @classmethod
    def setUpClass(cls):
        env = dict(os.environ, FRUGAL_PLOT_PNG="0")  # plot bundles without the Chromium PNG
        cls.km, cls.kc = start_new_kernel(kernel_name=KERNEL, cwd=cls.cwd, env=env)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    @classmethod
    def collect(cls, msg_id, timeout=TIMEOUT):
        """IOPub messages of `msg_id` until its idle status, then its shell reply."""
        messages = []
        deadline = time.time() + timeout
        while True:
            msg = cls.kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t = msg["msg_type"]
            if t == "status":
                if msg["content"]["execution_state"] == "idle":
                    break
                continue
            messages.append((t, msg["content"]))
        while True:
            reply = cls.kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return Run(reply["content"], messages)

    def shell_reply(self, msg_id):
        """The shell reply to `msg_id` (skipping replies to earlier requests)."""
        while True:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def run_cell(self, code, interrupt_after=None, **kw):
        """Executes `code`; with `interrupt_after`, interrupts the kernel (SIGINT, as its spec
        says) that many seconds after the request."""
        kw.setdefault("stop_on_error", False)
        msg_id = self.kc.execute(code, **kw)
        if interrupt_after is not None:
            time.sleep(interrupt_after)
            self.km.interrupt_kernel()
        return self.collect(msg_id)

    def value(self, code):
        """The text/plain of a cell's execute_result (the cell must succeed)."""
        run = self.run_cell(code)
        self.assertEqual(run.reply["status"], "ok", run.error)
        self.assertIsNotNone(run.result, f"no execute_result for {code!r}")
        return run.result["data"]["text/plain"]

    def late_stderr(self, seconds):
        """stderr text that arrives on IOPub within `seconds`, from any parent."""
        text = ""
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except Empty:
                continue
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stderr":
                text += msg["content"]["text"]
        return text


class ExecuteTests(KernelCase):
    def test_kernel_info_has_status_and_versions(self):
        reply = self.shell_reply(self.kc.kernel_info())["content"]
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(reply["language_info"]["name"], "typescript")
        # tslab 1.0.22 bundles TypeScript 5.0.4 (tslab's own kernel_info says 3.7.2).
        self.assertEqual(reply["language_info"]["version"], "5.0.4")
        self.assertEqual(reply["implementation"], "tslab")

    def test_execution_count_increments_and_is_echoed(self):
        counts = []
        for code in ["1", "const c1 = 2;", "c1"]:
            run = self.run_cell(code)
            self.assertEqual(run.of("execute_input")[0]["execution_count"], run.reply["execution_count"])
            counts.append(run.reply["execution_count"])
        self.assertEqual(counts, [counts[0], counts[0] + 1, counts[0] + 2])
        self.assertEqual(self.run_cell("c1").result["execution_count"], counts[0] + 3)
        # A silent execution runs but neither counts nor shows its value.
        silent = self.run_cell("c1 + 1", silent=True)
        self.assertEqual(silent.reply["execution_count"], counts[0] + 3)
        self.assertEqual(silent.of("execute_input") + silent.of("execute_result"), [])
        self.assertEqual(self.run_cell("3").reply["execution_count"], counts[0] + 4)

    def test_last_expression_is_an_execute_result_not_stdout(self):
        run = self.run_cell("6 * 7")
        self.assertEqual(run.result["data"], {"text/plain": "42"})
        self.assertEqual(run.stream("stdout"), "")
        self.assertEqual(self.value("({ a: 1, b: [1, 2] })"), "{ a: 1, b: [ 1, 2 ] }")
        self.assertEqual(self.value("'text'"), "'text'")
        # undefined and null, like Python's None: no execute_result.
        self.assertIsNone(self.run_cell("undefined").result)
        self.assertIsNone(self.run_cell("console.log('x')").result)
        self.assertEqual(self.value("await Promise.resolve(5)"), "5")

    def test_error_has_ename_evalue_and_traceback_at_cell_lines(self):
        code = "\n".join(
            [
                "const first = 1;",
                "",
                "// a comment, and a type that compiles to nothing:",
                "interface Point { x: number }",
                "function check(p: Point) {",
                "  if (p.x > 0) {",
                '    throw new RangeError("x must be <= 0, got " + p.x);',  # line 7
                "  }",
                "}",
                "check({ x: 2 });",  # line 10
            ]
        )
        run = self.run_cell(code)
        n = run.reply["execution_count"]
        self.assertEqual(run.reply["status"], "error")
        self.assertEqual((run.reply["ename"], run.reply["evalue"]), ("RangeError", "x must be <= 0, got 2"))
        self.assertEqual([t for t, _ in run.messages], ["execute_input", "error"])
        tb = run.error["traceback"]
        self.assertEqual(tb[0], "RangeError: x must be <= 0, got 2")
        self.assertEqual(tb[1], f"    at check (In[{n}]:7:11)")
        self.assertEqual(tb[2], f"    at In[{n}]:10:1")
        self.assertIn(f'--> 7 |     throw new RangeError("x must be <= 0, got " + p.x);', tb)
        # Nothing of the kernel's own machinery (tslab's executor, node:vm, kernel/).
        self.assertFalse([line for line in tb if re.search(r"tslab|node:vm|kernel/|frugal-cell", line)], tb)

    def test_error_in_a_function_from_an_earlier_cell_points_at_that_cell(self):
        define = self.run_cell("function half(n: number) {\n  if (n % 2) throw new Error(`odd: ${n}`);\n  return n / 2;\n}")
        d = define.reply["execution_count"]
        run = self.run_cell("const h = half(4);\nhalf(3)")
        n = run.reply["execution_count"]
        self.assertEqual(run.error["traceback"][1:3], [f"    at half (In[{d}]:2:20)", f"    at In[{n}]:2:1"])

    def test_compile_error_is_a_TSError_at_the_cell_line(self):
        run = self.run_cell("const ok = 1;\nconst bad: number = 'text';")
        self.assertEqual(run.reply["ename"], "TSError")
        self.assertEqual(run.reply["evalue"], "2:7 - Type 'string' is not assignable to type 'number'.")
        self.assertIn("--> 2 | const bad: number = 'text';", run.error["traceback"])

    def test_error_thrown_in_a_timer_fails_the_cell(self):
        run = self.run_cell("setTimeout(() => { throw new TypeError('in a timer'); }, 0);\n'done'")
        self.assertEqual(run.reply["status"], "error")
        self.assertEqual((run.reply["ename"], run.reply["evalue"]), ("TypeError", "in a timer"))
        self.assertIn("callback", run.error["traceback"][0])
        self.assertIsNone(run.result)

    def test_unawaited_rejection_fails_the_cell(self):
        run = self.run_cell("Promise.reject(new Error('nobody awaits me'));\n1")
        self.assertEqual((run.reply["ename"], run.reply["evalue"]), ("Error", "nobody awaits me"))
        self.assertIn("nothing handled it", run.error["traceback"][0])

    def test_error_in_an_awaited_cell_stops_the_wait(self):
        # The timer's error would otherwise leave the cell awaiting a promise that never settles.
        t0 = time.time()
        run = self.run_cell("await new Promise((resolve) => setTimeout(() => { throw new Error('lost'); }, 50));")
        self.assertEqual(run.reply["evalue"], "lost")
        self.assertLess(time.time() - t0, 10)

    def test_error_after_the_cell_ended_goes_to_stderr_with_the_runner_prefix(self):
        run = self.run_cell("setTimeout(() => { throw new Error('too late'); }, 300);")
        self.assertEqual(run.reply["status"], "ok")
        late = self.late_stderr(2)
        # scripts/lib/execute_notebook.py looks for this prefix at the start of a line.
        self.assertRegex(late, r"(?m)^UncaughtException: Error: too late")

    def test_stop_on_error_aborts_queued_cells_only_when_asked(self):
        a = self.kc.execute("throw new Error('first')", stop_on_error=True)
        b = self.kc.execute("'second'")
        self.assertEqual(self.collect(a).reply["status"], "error")
        self.assertEqual(self.collect(b).reply["status"], "aborted")
        a = self.kc.execute("throw new Error('first')", stop_on_error=False)
        b = self.kc.execute("'second'")
        self.assertEqual(self.collect(a).reply["status"], "error")
        self.assertEqual(self.collect(b).result["data"]["text/plain"], "'second'")

    def test_a_cell_sent_after_the_error_reply_runs(self):
        # stop_on_error aborts the cells queued when the error happened, not the ones sent after
        # its reply. tslab's queue refused every cell for 200 ms after an error: JupyterLab's
        # next cell, sent at once, came back aborted (no output, as if the kernel had died).
        for i in range(3):
            a = self.kc.execute(f"throw new Error('failure {i}')", stop_on_error=True)
            self.assertEqual(self.collect(a).reply["status"], "error")
            b = self.collect(self.kc.execute(f"'next {i}'"))
            self.assertEqual(b.reply["status"], "ok", f"round {i}: the cell sent after the error reply was {b.reply['status']}")
            self.assertEqual(b.result["data"]["text/plain"], f"'next {i}'")

    def test_history_tail_range_and_search_with_output(self):
        n = self.run_cell("'hist-' + 'marker'").reply["execution_count"]
        reply = self.shell_reply(self.kc.history(hist_access_type="tail", n=1, output=True, raw=True))["content"]
        self.assertEqual(reply["history"], [[1, n, ["'hist-' + 'marker'", "'hist-marker'"]]])
        msg_id = self.kc.history(hist_access_type="range", session=0, start=n, stop=n + 1, output=False, raw=True)
        self.assertEqual(self.shell_reply(msg_id)["content"]["history"], [[1, n, "'hist-' + 'marker'"]])
        msg_id = self.kc.history(hist_access_type="search", pattern="'hist-'*", output=False, raw=True)
        self.assertEqual(self.shell_reply(msg_id)["content"]["history"][-1][1], n)

    def test_a_timer_handle_is_one_line(self):
        # Issue 14: util.inspect shows a Timeout as 14 lines of internals.
        text = self.value("setTimeout(() => {}, 0)")
        self.assertRegex(text, r"^Timeout (\d+) \(setTimeout handle: clearTimeout\(\1\) cancels it\)$")
        text = self.value("const iv = setInterval(() => {}, 1000);\nclearInterval(iv);\niv")
        self.assertRegex(text, r"^Timeout \d+ \(setInterval handle: clearInterval\(\d+\) cancels it\)$")
        self.assertEqual(self.value("setImmediate(() => {})"), "Immediate (setImmediate handle)")

    def test_comm_info_reply(self):
        reply = self.shell_reply(self.kc.comm_info())
        self.assertEqual(reply["msg_type"], "comm_info_reply")
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})


class RichResultTests(KernelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup = cls.collect(
            cls.kc.execute(
                "import * as tf from '@tensorflow/tfjs';\n"
                "import { frame, lineFigure, show } from '@frugal-ai/lib';\n"
                "await tf.setBackend('cpu');"
            ),
        )

    def test_setup(self):
        self.assertEqual(self.setup.reply["status"], "ok", self.setup.error)

    def test_tensor_2d_has_shape_dtype_values_and_a_heatmap(self):
        data = self.run_cell("tf.tensor2d([[1, 2], [3, 4]])").result["data"]
        self.assertEqual(data["text/plain"], "Tensor shape=[2, 2] dtype=float32 min 1 max 4\n    [[1, 2],\n     [3, 4]]")
        html = data["text/html"]
        self.assertIn("shape [2, 2] · float32", html)
        self.assertIn('aria-label="heat-map 2x2"', html)
        self.assertIn('<td style="text-align:right">4</td>', html)

    def test_tensor_1d_and_variable(self):
        data = self.run_cell("tf.tensor1d([1.5, 2.5, 3.5])").result["data"]
        self.assertIn("shape [3] · float32", data["text/html"])
        self.assertTrue(data["text/plain"].startswith("Tensor shape=[3] dtype=float32"))
        data = self.run_cell("tf.variable(tf.zeros([2]), true, 'weights')").result["data"]
        self.assertTrue(data["text/plain"].startswith("Variable weights shape=[2]"))

    def test_dataframe_is_an_html_table(self):
        data = self.run_cell("frame([{ backend: 'wasm', gflops: 31.25 }, { backend: 'cpu', gflops: 1.5 }])").result["data"]
        self.assertIn("<caption>DataFrame: 2 rows × 2 columns</caption>", data["text/html"])
        self.assertRegex(data["text/html"], r"<td[^>]*>wasm</td>")
        self.assertIn("backend", data["text/plain"])

    def test_figure_is_the_plot_bundle(self):
        # A figure as the cell's value is shown as a display (the plotly JSON first, so that
        # JupyterLab draws it interactively at once); the value itself is the text summary.
        run = self.run_cell("lineFigure({ loss: [3, 2, 1] }, { title: 'loss' })")
        shown = run.of("display_data")
        self.assertEqual(len(shown), 1)
        plot = shown[0]["data"]["application/vnd.plotly.v1+json"]
        self.assertEqual(plot["data"][0]["y"], [3, 2, 1])
        self.assertTrue(run.result["data"]["text/plain"].startswith("Figure: loss"))

    def test_figure_already_shown_is_not_drawn_twice(self):
        run = self.run_cell("const fig = lineFigure({ acc: [1, 2] }, { title: 'acc' });\nawait show(fig);\nfig")
        self.assertEqual(len(run.of("display_data")), 1)
        self.assertEqual(list(run.result["data"]), ["text/plain"])

    def test_error_inside_the_lib_points_at_its_typescript(self):
        run = self.run_cell("frame([])")
        n = run.reply["execution_count"]
        tb = run.error["traceback"]
        self.assertEqual(tb[0], "Error: rows must hold at least one record, got 0")
        # lib/dist/table.js mapped through its .js.map to lib/table.ts.
        self.assertRegex(tb[1], r"^    at frame \(lib/table\.ts:\d+:\d+\)$")
        self.assertRegex(tb[2], rf"^    at In\[{n}\]:1:\d+$")

    def test_plain_objects_fall_back_to_inspect(self):
        self.assertEqual(self.value("({ shape: 'round' })"), "{ shape: 'round' }")


class InterruptTests(KernelCase):
    """A training-style loop interrupted mid-run: the kernel stays alive, no tensor is left."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup = cls.collect(
            cls.kc.execute(
                "import * as tf from '@tensorflow/tfjs';\n"
                "await tf.setBackend('cpu');\n"
                "const x = tf.randomNormal([32, 32], 0, 1, 'float32', 1);\n"
                "const w = tf.variable(tf.zeros([32, 32]));\n"
                "let steps = 0;\n"
                "// One training step: every intermediate in tf.tidy, the update assigned to w.\n"
                "const step = () => tf.tidy(() => { const y = tf.relu(tf.matMul(x, w).add(1)); "
                "w.assign(w.add(y.mul(1e-6))); });\n"
                "let before = tf.memory().numTensors;"
            ),
        )

    def setUp(self):
        self.assertEqual(self.setup.reply["status"], "ok", self.setup.error)

    def assert_alive_and_no_tensor_left(self, terminated=False):
        """The kernel runs, no scope is open, and the tensor count is back to `before`.

        terminated: the cell was stopped by V8 termination (a synchronous loop). V8 can stop
        tfjs in the middle of its bookkeeping (between registering a tensor and tracking it in
        the tidy scope, or between counting a disposal and marking the tensor disposed), so the
        count may then be off by one either way (docs/kernel.md); `before` moves to the new
        count so that later tests stay exact.
        """
        self.assertEqual(self.value("1 + 1"), "2")
        self.assertEqual(self.value("tf.engine().state.scopeStack.length"), "0")
        # Reference: the setup cell's `before` counts x, w and w's initial value (3 tensors).
        now, before = json.loads(self.value("JSON.stringify([tf.memory().numTensors, before])").strip("'"))
        self.assertLessEqual(abs(now - before), 1 if terminated else 0, f"tensor count off by {now - before}")
        if now != before:
            self.value("before = tf.memory().numTensors")

    def test_interrupt_a_synchronous_loop(self):
        t0 = time.time()
        run = self.run_cell("steps = 0;\nfor (;;) { step(); steps++; }", interrupt_after=1.5)
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(run.reply["status"], "error")
        self.assertEqual(run.reply["ename"], "KeyboardInterrupt")
        self.assertGreater(int(self.value("steps")), 0)
        self.assert_alive_and_no_tensor_left(terminated=True)

    def test_twenty_interrupted_synchronous_loops_leak_nothing(self):
        # The ±1 that a single terminated loop allows must not add up: a leak of one tensor per
        # interrupt would leave 20 here. The bound of 3 leaves room for the bookkeeping race
        # (docs/kernel.md, "Interrupts"), which goes either way and does not accumulate.
        start = int(self.value("tf.memory().numTensors"))
        for i in range(20):
            run = self.run_cell("for (;;) { step(); steps++; }", interrupt_after=0.4)
            self.assertEqual(run.reply.get("ename"), "KeyboardInterrupt", f"interrupt {i}: {run.reply.get('evalue')}; traceback {run.reply.get('traceback')}")
        self.assertEqual(self.value("tf.engine().state.scopeStack.length"), "0")
        drift = int(self.value("tf.memory().numTensors")) - start
        self.assertLessEqual(abs(drift), 3, f"20 interrupts changed the tensor count by {drift}")
        if drift:
            self.value("before = tf.memory().numTensors")

    def test_a_cell_sent_right_after_an_interrupted_one_runs(self):
        # As JupyterLab runs cells (stop_on_error), the next cell sent as soon as the interrupted
        # one replied: it runs and sees the notebook's variables.
        for i in range(3):
            run = self.run_cell("for (;;) { step(); steps++; }", interrupt_after=0.4, stop_on_error=True)
            self.assertEqual(run.reply.get("ename"), "KeyboardInterrupt")
            after = self.run_cell("steps > 0", stop_on_error=True)
            self.assertEqual(after.reply["status"], "ok", f"round {i}: the next cell was {after.reply['status']}")
            self.assertEqual(after.result["data"]["text/plain"], "true")
        self.value("before = tf.memory().numTensors")

    def test_interrupt_a_loop_that_awaits(self):
        run = self.run_cell("steps = 0;\nfor (;;) { step(); steps++; await tf.nextFrame(); }", interrupt_after=1.5)
        self.assertEqual(run.reply["ename"], "KeyboardInterrupt")
        # The loop is stopped, not left running in the background.
        first = int(self.value("steps"))
        time.sleep(0.5)
        self.assertEqual(int(self.value("steps")), first)
        self.assert_alive_and_no_tensor_left()

    def test_interrupt_a_synchronous_loop_after_an_await(self):
        # After its first await the cell runs in a callback: vm's breakOnSigint no longer
        # applies and the event loop is blocked. The kernel's tensor-operation guard stops it.
        code = "await tf.nextFrame();\nsteps = 0;\nfor (;;) {\n  step();\n  steps++;\n}"
        run = self.run_cell(code, interrupt_after=1.5)
        self.assertEqual(run.reply["ename"], "KeyboardInterrupt")
        tb = run.error["traceback"]
        self.assertIn("(at a tensor operation)", tb[0])
        n = run.reply["execution_count"]
        self.assertTrue([line for line in tb if f"(In[{n}]:4:" in line or line.endswith(f" In[{n}]:4:3")], tb)
        self.assert_alive_and_no_tensor_left()
        # SIGINT while idle, after the watchdog was on: the kernel ignores it (and is not killed).
        self.km.interrupt_kernel()
        time.sleep(0.5)
        self.assertTrue(self.km.is_alive())
        self.assert_alive_and_no_tensor_left()

    def test_interrupt_while_the_cell_compiles(self):
        # 1000 statements take tslab a second or so to type-check: the SIGINT lands during the
        # compilation, before the endless loop starts. The process's SIGINT listener would see
        # it only after the loop, that is never (plain tslab hangs here).
        body = "\n".join(f"s += {i};" for i in range(1000))
        t0 = time.time()
        run = self.run_cell(f"let s = 0;\n{body}\nfor (;;) {{ s++; }}", interrupt_after=0.05)
        self.assertEqual(run.reply["ename"], "KeyboardInterrupt")
        self.assertIn("while it was being compiled: it did not run", run.error["traceback"][0])
        self.assertLess(time.time() - t0, 30)
        self.assert_alive_and_no_tensor_left()

    def test_interrupt_request_on_the_control_channel(self):
        msg_id = self.kc.execute("steps = 0;\nfor (;;) { step(); steps++; await tf.nextFrame(); }", stop_on_error=False)
        time.sleep(1.5)
        request = self.kc.session.msg("interrupt_request", {})
        self.kc.control_channel.send(request)
        control = self.kc.get_control_msg(timeout=TIMEOUT)
        self.assertEqual((control["msg_type"], control["content"]["status"]), ("interrupt_reply", "ok"))
        self.assertEqual(self.collect(msg_id).reply["ename"], "KeyboardInterrupt")
        self.assert_alive_and_no_tensor_left()

    def test_interrupted_tidy_scope_is_closed(self):
        # The loop body itself is one long tidy: the interrupt lands inside it.
        run = self.run_cell(
            "tf.tidy(() => { for (;;) { tf.scalar(1).add(1); steps++; } });",
            interrupt_after=1.5,
        )
        self.assertEqual(run.reply["ename"], "KeyboardInterrupt")
        self.assertRegex("\n".join(run.error["traceback"]), r"closed \d+ tf\.tidy scope\(s\)")
        self.assert_alive_and_no_tensor_left(terminated=True)



class AsyncErrorsAfterALibraryLoads(KernelCase):
    """Issue 7: `Promise.reject(...)` and an error thrown in a timer fail their cell, and the
    kernel survives, after a library has loaded that listens to the process's error events
    itself (tfjs-backend-wasm's emscripten code rethrows from both, which ended the process).
    Each subclass loads one backend or library in its setup cell (`load`)."""

    load = None  # the setup cell; None for this base class, which runs no tests
    needs = None  # a package the setup needs; the class is skipped when it is not installed
    env_extra = {}

    @classmethod
    def setUpClass(cls):
        if cls.load is None:
            raise unittest.SkipTest("base class")
        if cls.needs and not os.path.exists(os.path.join(ROOT, "node_modules", *cls.needs.split("/"))):
            raise unittest.SkipTest(f"{cls.needs} is not installed")
        env = {**os.environ, "FRUGAL_PLOT_PNG": "0", **cls.env_extra}
        cls.km, cls.kc = start_new_kernel(kernel_name=KERNEL, cwd=cls.cwd, env=env)
        cls.setup = cls.collect(cls.kc.execute(cls.load), timeout=120)
        # How many listeners the loaded code added to the process's error events.
        cls.listeners = cls.collect(
            cls.kc.execute("`${process.listenerCount('uncaughtException')} ${process.listenerCount('unhandledRejection')}`")
        )

    def setUp(self):
        self.assertEqual(self.setup.reply["status"], "ok", self.setup.error)

    def assert_alive(self):
        self.assertTrue(self.km.is_alive(), "the kernel process ended")
        self.assertEqual(self.value("40 + 2"), "42")

    def test_1_unawaited_rejection_fails_its_cell_and_the_kernel_lives(self):
        run = self.run_cell('Promise.reject(new Error("nope"));\n1')
        self.assertEqual(run.reply["status"], "error")
        self.assertEqual((run.reply["ename"], run.reply["evalue"]), ("Error", "nope"))
        self.assertIn("nothing handled it", run.error["traceback"][0])
        self.assert_alive()

    def test_2_error_in_a_timer_fails_its_cell_and_the_kernel_lives(self):
        run = self.run_cell("setTimeout(() => { throw new TypeError('in a timer'); }, 0);\n'done'")
        self.assertEqual((run.reply["ename"], run.reply["evalue"]), ("TypeError", "in a timer"))
        self.assertIsNone(run.result)
        self.assert_alive()

    def test_3_errors_after_the_cell_ended_go_to_stderr_and_the_kernel_lives(self):
        run = self.run_cell(
            "setTimeout(() => { throw new Error('late throw'); }, 200);\n"
            "setTimeout(() => { Promise.reject(new Error('late reject')); }, 300);"
        )
        self.assertEqual(run.reply["status"], "ok", run.error)
        late = self.late_stderr(2)
        self.assertRegex(late, r"(?m)^UncaughtException: Error: late throw")
        self.assertRegex(late, r"(?m)^UnhandledPromiseRejection: Error: late reject")
        self.assert_alive()

    def test_4_rejection_while_awaiting_fails_the_cell(self):
        run = self.run_cell("setTimeout(() => { Promise.reject(new RangeError('while awaiting')); }, 50);\nawait new Promise((r) => setTimeout(r, 500));")
        self.assertEqual((run.reply["ename"], run.reply["evalue"]), ("RangeError", "while awaiting"))
        self.assert_alive()


class AfterWasm(AsyncErrorsAfterALibraryLoads):
    load = "import { initBackend } from '@frugal-ai/lib';\nconst report = await initBackend({ force: 'wasm' });\nreport.backend"

    def test_0_wasm_is_loaded_and_listens_to_the_error_events(self):
        self.assertEqual(self.setup.result["data"]["text/plain"], "'wasm'")
        # The condition of the bug: emscripten's listeners are registered (they are set aside).
        counts = [int(n) for n in self.listeners.result["data"]["text/plain"].strip("'").split()]
        self.assertGreaterEqual(min(counts), 1, counts)


class AfterCpu(AsyncErrorsAfterALibraryLoads):
    load = "import { initBackend } from '@frugal-ai/lib';\nconst report = await initBackend({ force: 'cpu' });\nreport.backend"


class AfterNativeTensorflow(AsyncErrorsAfterALibraryLoads):
    """The native backend, where installed (npm install @tensorflow/tfjs-node); skipped otherwise."""

    needs = "@tensorflow/tfjs-node/lib"
    load = "import { initBackend } from '@frugal-ai/lib';\nconst report = await initBackend({ force: 'tensorflow' });\nreport.backend"


class AfterDanfojsAndWasm(AsyncErrorsAfterALibraryLoads):
    load = (
        "import { initBackend, frame } from '@frugal-ai/lib';\n"
        "import * as dfd from 'danfojs-node';\n"
        "await initBackend({ force: 'wasm' });\n"
        "const df = new dfd.DataFrame([{ a: 1, b: 2 }, { a: 3, b: 4 }]);\n"
        "frame([{ a: 1 }]);\n"
        "df.shape.join('x')"
    )


class AfterPlotlyRendering(AsyncErrorsAfterALibraryLoads):
    """A figure shown with its PNG rendered by Chromium (playwright), after the WASM backend."""

    env_extra = {"FRUGAL_PLOT_PNG": "1"}
    load = (
        "import { initBackend, lineFigure, show } from '@frugal-ai/lib';\n"
        "await initBackend({ force: 'wasm' });\n"
        "await show(lineFigure({ loss: [3, 2, 1] }, { title: 'loss' }));"
    )

    @classmethod
    def setUpClass(cls):
        if not (os.environ.get("FRUGAL_CHROMIUM") or os.path.exists("/usr/bin/chromium")):
            raise unittest.SkipTest("no Chromium: plots render without a PNG")
        super().setUpClass()

    def test_0_the_figure_was_rendered_to_png(self):
        # show() sends the plotly JSON first, then updates the same output with the PNG.
        shown = self.setup.of("display_data")
        self.assertEqual(len(shown), 1)
        self.assertIn("application/vnd.plotly.v1+json", shown[0]["data"])
        updates = self.setup.of("update_display_data")
        self.assertTrue(any("image/png" in u["data"] for u in updates), f"no update carried a PNG: {updates!r:.300}")


class SoakTests(KernelCase):
    """A long sequence of normal, failing and interrupted cells on the WASM backend: the kernel
    stays alive, its tensor count returns exactly to where it was, and the execution counts
    run on without a gap. FRUGAL_SOAK_ROUNDS sets the number of rounds (default 6)."""

    ROUNDS = int(os.environ.get("FRUGAL_SOAK_ROUNDS", "6"))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup = cls.collect(
            cls.kc.execute(
                "import * as tf from '@tensorflow/tfjs';\n"
                "import { initBackend } from '@frugal-ai/lib';\n"
                "await initBackend({ force: 'wasm' });\n"
                "const x = tf.randomNormal([16, 16], 0, 1, 'float32', 1);\n"
                "const w = tf.variable(tf.zeros([16, 16]));\n"
                "const step = () => tf.tidy(() => { w.assign(w.add(tf.relu(tf.matMul(x, w).add(1)).mul(1e-6))); });\n"
                "let steps = 0;\n"
                "const before = tf.memory().numTensors;"
            ),
            timeout=120,
        )

    def test_soak(self):
        self.assertEqual(self.setup.reply["status"], "ok", self.setup.error)
        cells = [
            # (code, interrupt_after, expected ename or None, expected text/plain or None)
            ("step(); steps++", None, None, None),
            ("tf.tidy(() => tf.ones([4]).sum().dataSync()[0])", None, None, "4"),
            ('Promise.reject(new Error("nope"));\n1', None, "Error", None),
            ("setTimeout(() => { throw new Error('timer'); }, 0);", None, "Error", None),
            ("tf.tidy(() => { tf.ones([2]); throw new RangeError('inside tidy'); })", None, "RangeError", None),
            ("for (;;) { step(); steps++; await tf.nextFrame(); }", 0.8, "KeyboardInterrupt", None),
            ("await tf.nextFrame();\nfor (;;) { step(); steps++; }", 0.8, "KeyboardInterrupt", None),
            ("const y = tf.tidy(() => tf.ones([3]).mul(2));\nconst s = (await y.data())[2];\ny.dispose();\ns", None, None, "2"),
            ("setTimeout(() => 1, 0)", None, None, None),
            ("setTimeout(() => { throw new Error('after'); }, 5);\nawait new Promise((r) => setTimeout(r, 50));", None, "Error", None),
        ]
        counts = []
        for r in range(self.ROUNDS):
            for code, after, ename, text in cells:
                # A block scope, so that `const` names may repeat from round to round.
                run = self.run_cell(code if "await" in code or "const" not in code else "{\n" + code + "\n}", interrupt_after=after)
                counts.append(run.reply["execution_count"])
                where = f"round {r}, cell {code!r}"
                if ename is None:
                    self.assertEqual(run.reply["status"], "ok", f"{where}: {run.error}")
                    if text is not None:
                        self.assertEqual(run.result["data"]["text/plain"], text, where)
                else:
                    self.assertEqual(run.reply.get("ename"), ename, where)
            self.assertTrue(self.km.is_alive(), f"the kernel died in round {r}")
        self.assertEqual(counts, list(range(counts[0], counts[0] + len(counts))), "execution counts have a gap")
        self.assertEqual(self.value("tf.engine().state.scopeStack.length"), "0")
        self.assertEqual(self.value("tf.memory().numTensors - before"), "0", "tensors leaked over the soak")
        self.assertGreater(int(self.value("steps")), self.ROUNDS)


class DisplayBurstTests(KernelCase):
    """A burst of display updates from one synchronous loop, as a live progress display sends on a
    loaded machine. zeromq allows one send in progress per socket ("Socket is busy writing"); the
    kernel queues the sends (kernel/src/server.ts withQueuedSends) and lib/display sends straight
    through. IOPub is a PUB socket, which silently drops what passes its send high-water mark
    (1000 by default): the kernel sets no mark (server.ts bindSocket). So every update must
    arrive, in order, and the cell succeed (with the default mark about 6 of 1000 were lost)."""

    N = 3000  # three times zeromq's default send high-water mark

    def test_a_burst_of_display_updates_all_arrive_in_order(self):
        run = self.run_cell(
            "import { displayBundle } from '@frugal-ai/lib';\n"
            f"for (let i = 0; i < {self.N}; i++) "
            "displayBundle({ 'text/plain': `step ${i}` }, { displayId: 'burst', update: i > 0 });"
        )
        self.assertEqual(run.reply["status"], "ok", run.error)
        texts = [c["data"]["text/plain"] for t, c in run.messages if t in ("display_data", "update_display_data")]
        self.assertEqual(len(texts), self.N, "display messages lost")
        self.assertEqual(texts, [f"step {i}" for i in range(self.N)])


class LocalModuleTests(KernelCase):
    """A .ts file next to the notebook, imported by a cell: its frames map to its own lines."""

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        cls.cwd = cls.folder.name
        with open(os.path.join(cls.cwd, "helper.ts"), "w") as f:
            f.write("export function boom(n: number): number {\n  // line 2\n  if (n > 1) {\n")
            f.write("    throw new Error(`too big: ${n}`);\n  }\n  return n;\n}\n")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.folder.cleanup()

    def test_error_in_a_local_module_points_at_its_line(self):
        tb = self.run_cell("import { boom } from './helper';\nboom(1);\nboom(5)").error["traceback"]
        self.assertEqual(tb[:2], ["Error: too big: 5", "    at boom (helper.ts:4:11)"])
        self.assertIn("--> 4 |     throw new Error(`too big: ${n}`);", tb)


class ShutdownTests(unittest.TestCase):
    def test_shutdown_request_ends_the_process(self):
        # The kernel must exit by itself, with status 0, on a shutdown_request. km.is_alive()
        # after km.shutdown_kernel() cannot tell: the manager kills a kernel that does not exit
        # within its wait time and then forgets it, so is_alive() is False either way. Here the
        # request is sent by the client and the process itself is watched.
        km, kc = start_new_kernel(kernel_name=KERNEL, cwd=os.path.join(ROOT, "notebooks"))
        process = km.provisioner.process
        try:
            self.assertIsNone(process.poll(), "the kernel ended before the request")
            t0 = time.time()
            kc.shutdown()
            reply = kc.get_control_msg(timeout=TIMEOUT)
            self.assertEqual((reply["msg_type"], reply["content"]["status"]), ("shutdown_reply", "ok"))
            while process.poll() is None and time.time() - t0 < 5:
                time.sleep(0.05)
            self.assertIsNotNone(process.poll(), "the kernel process still runs 5 s after shutdown_request")
            self.assertEqual(process.returncode, 0)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

if __name__ == "__main__":
    unittest.main()
