"""Validates ONNX files with the ONNX checker: check_model(model, full_check=True), which also runs
strict shape inference. Prints one JSON line per file: {"file", "ok", "error"?, "onnx"}.

Usage: python3 scripts/check-onnx.py FILE...   (exit code 0 when all pass, 1 otherwise,
2 when the onnx package is missing). Used by tests/io-onnx.test.ts.
"""
import json
import sys

try:
    import onnx
except ImportError as e:  # the test turns this into a failure that says how to install it
    print(json.dumps({"missing": str(e)}))
    sys.exit(2)

failed = 0
for f in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(f), full_check=True)
        print(json.dumps({"file": f, "ok": True, "onnx": onnx.__version__}))
    except Exception as e:  # noqa: BLE001 - report every checker error by file
        failed += 1
        print(json.dumps({"file": f, "ok": False, "error": str(e), "onnx": onnx.__version__}))
sys.exit(1 if failed else 0)
