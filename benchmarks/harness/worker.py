"""One scenario for one client, in a process of its own: ``python -m benchmarks.harness.worker JOB``.

``JOB`` is JSON: ``{"scenario", "client", "url", "points", "settings"}``. Each finished point is
written to stdout as one line ``@@bench <json>``; everything else the process prints (a peer's
log lines, asyncio's complaints at exit) goes to stderr, which the runner keeps and shows only
when the job fails. Why a process per job: the runner's output stays clean, each client starts
from a fresh interpreter (no threads, loops or garbage left by the client measured before it
competing for the GIL), a peer that hangs can be killed at its deadline without ending the run,
and a peer that fails to import (pynats2 on setuptools >= 81) only costs its own cells.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import traceback
from typing import Any, TextIO

from .clients import by_key
from .measure import Incomplete, Settings, clock
from .scenario import load

__all__ = ["MARK", "main"]

MARK = "@@bench "


def _protocol_stream() -> TextIO:
    """Keep the real stdout for our lines; send anything else printed to stdout to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(fd, "w", buffering=1)


def main(argv: list[str]) -> int:
    out = _protocol_stream()

    def emit(kind: str, **data: Any) -> None:
        out.write(MARK + json.dumps({"kind": kind, **data}) + "\n")
        out.flush()

    job = json.loads(argv[0])
    scenario = load(job["scenario"])
    client = job["client"]
    settings = Settings.from_json(job["settings"])
    if job.get("affinity") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, job["affinity"])  # --pin: every thread this process starts inherits it
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    python = f"{platform.python_implementation()} {platform.python_version()}"
    emit("start", pid=os.getpid(), affinity=affinity, python=python, executable=sys.executable)
    module = by_key(client).module
    try:
        __import__(module)
    except Exception as exc:  # e.g. pynats2's `import pkg_resources` on setuptools >= 81
        emit("skip", reason=f"cannot import {module}: {type(exc).__name__}: {exc}")
        return 0
    impl = scenario.impls[client]
    for index, point in enumerate(job["points"]):
        t0 = clock()
        try:
            result = impl(job["url"], point, settings)
            result["status"] = "ok"
        except Incomplete as exc:
            result = {"status": "error", "reason": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
        result["seconds"] = clock() - t0
        emit("point", index=index, result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
