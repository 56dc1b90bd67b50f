"""Executes one notebook through its kernel with nbclient and reports the first failing cell.

usage: execute_notebook.py IN.ipynb OUT.ipynb [--timeout S] [--allow-errors]

Writes OUT (atomically) even when a cell fails, so the outputs up to the failure can be read.
Prints one JSON line: {"ok": bool, "cell": index or null, "source": ..., "error": ...}.
A cell fails when its execute_reply says error, and also when it printed
"UnhandledPromiseRejection:" or "UncaughtException:" to stderr: the course kernel reports there
an error that arrives after its cell ended, and plain tslab every error thrown outside the
awaited chain (see docs/kernel.md).

With --allow-errors every cell runs even after a failure, and the JSON line also holds
"errors": [{"cell": index (0-based), "ename": ..., "evalue": ...}] for every failed cell
(scripts/student.mjs uses it to check that exercises fail where they should).
"""
import json
import os
import re
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ASYNC_ERROR = re.compile(r"^(UnhandledPromiseRejection|UncaughtException):", re.M)


def text_of(cell, name):
    return "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name
    )


def main():
    src, dst = sys.argv[1], sys.argv[2]
    timeout = int(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 1200
    nb = nbformat.read(src, as_version=4)
    allow_errors = "--allow-errors" in sys.argv
    failed = {}

    def on_error(cell, cell_index, execute_reply):
        failed.setdefault("cell", cell_index)

    # startup_timeout: nbclient's default (60 s) was once too short for the course kernel to start
    # while vitest ran other kernels and tfjs-node suites beside it (2026-12-02, a slow machine:
    # "Kernel didn't respond in 60 seconds" in tests/student.test.ts). A kernel that starts in
    # time is not slowed by a longer limit.
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=300,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    client.on_cell_error = on_error
    client.allow_errors = allow_errors
    exc = None
    try:
        client.execute()
    except CellExecutionError as e:
        exc = e
    finally:
        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        tmp = dst + ".tmp"
        nbformat.write(nb, tmp)
        os.replace(tmp, dst)

    index = failed.get("cell")
    if index is None:
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and ASYNC_ERROR.search(text_of(cell, "stderr")):
                index = i
                break
    if index is None and exc is not None:
        index = -1
    result = {"ok": index is None, "cell": None, "source": None, "error": None}
    if index is not None:
        cell = nb.cells[index] if index >= 0 else None
        errors = [o for o in (cell.get("outputs", []) if cell else []) if o.get("output_type") == "error"]
        detail = [f"{o.get('ename', '')}: {o.get('evalue', '')}".strip(": ") for o in errors]
        detail += [text_of(cell, "stderr")] if cell else []
        if not "".join(detail).strip() and exc is not None:
            detail.append(str(exc)[-3000:])
        result.update(cell=index + 1 if index >= 0 else None, source=cell.source if cell else None,
                      error=re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(d for d in detail if d)).strip())
    if allow_errors:
        result["errors"] = cell_errors(nb)
    print(json.dumps(result))


def cell_errors(nb):
    """Every code cell that failed: its error output, or an async error it printed to stderr."""
    errors = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if outs:
            errors.append({"cell": i, "ename": outs[0].get("ename", ""), "evalue": outs[0].get("evalue", "")})
            continue
        m = ASYNC_ERROR.search(text_of(cell, "stderr"))
        if m:
            line = text_of(cell, "stderr")[m.start():].split("\n")[0]
            errors.append({"cell": i, "ename": m.group(1), "evalue": re.sub(r"\x1b\[[0-9;]*m", "", line)})
    return errors


if __name__ == "__main__":
    main()
