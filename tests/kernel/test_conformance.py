"""Jupyter kernel conformance (Debian's python3-jupyter-kernel-test) against the course kernel.

Run through `npm run test:kernel`, which compares the outcome of each check with
tests/kernel/expected.json. Environment: FRUGAL_KERNEL (default frugal-ai).
"""
import json
import os
import sys
import unittest

import jupyter_kernel_test


class CourseKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("FRUGAL_KERNEL", "frugal-ai")
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world");'
    code_stderr = 'console.error("to stderr");'
    completion_samples = [{"text": "Math.ma", "matches": {"max"}}]
    complete_code_samples = ["1 + 1", "const a = 1;"]
    incomplete_code_samples = ["function f() {", "const s = ["]
    code_generate_error = 'throw new Error("boom");'
    code_execute_result = [{"code": "6 * 7", "result": "42"}]
    code_display_data = [
        {"code": 'import * as tslab from "tslab"; tslab.display.html("<b>x</b>");', "mime": "text/html"},
        {"code": 'import * as tslab from "tslab"; tslab.display.png(new Uint8Array([137, 80, 78, 71]));', "mime": "image/png"},
    ]
    code_history_pattern = "6 *"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math"


class JsonResult(unittest.TextTestResult):
    """Collects pass/fail/skip per check name (test_execute_result -> execute_result)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.outcomes = {}

    def _name(self, test):
        test = getattr(test, "test_case", test)  # a subtest reports under its test
        return test.id().rsplit(".", 1)[-1].removeprefix("test_")

    def addSuccess(self, test):
        super().addSuccess(test)
        self.outcomes.setdefault(self._name(test), "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.outcomes[self._name(test)] = "fail"

    def addError(self, test, err):
        super().addError(test, err)
        self.outcomes[self._name(test)] = "fail"

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.outcomes.setdefault(self._name(test), "skip")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.outcomes[self._name(test)] = "fail"


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else None
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(CourseKernelTests)
    runner = unittest.TextTestRunner(resultclass=JsonResult, verbosity=2, stream=sys.stderr)
    result = runner.run(suite)
    text = json.dumps(result.outcomes, indent=2, sort_keys=True)
    if out:
        with open(out + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(out + ".tmp", out)
    else:
        print(text)
    # The exit status is part of the signal: scripts/kernel-test.mjs fails on non-zero.
    sys.exit(0 if result.wasSuccessful() else 1)
