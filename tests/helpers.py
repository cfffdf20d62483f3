"""Helpers shared by the tests: condition polling with a deadline."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable

import pytest

# NATS subject matching for the fakes of a server: the in-memory server's own (tested in test_testing.py)
from beluga_nats_sync.testing import subject_matches as subject_matches


def wait_for(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``cond`` until it holds, failing the test past ``timeout``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def thread_names() -> list[str]:
    return sorted(t.name for t in threading.enumerate())


def thread_snapshot() -> set[threading.Thread]:
    """The threads alive now: what a test compares against to see only the threads it started."""
    return set(threading.enumerate())


def threads_started_since(before: set[threading.Thread]) -> list[str]:
    """The names of the threads alive now that were not in ``before``. A test that must leave no
    thread behind waits for this to be empty: threads an earlier test left, ending or not, do not count."""
    return sorted(t.name for t in threading.enumerate() if t not in before)


def free_port() -> int:
    """A loopback port that was free a moment ago (for configs that must name their ports).

    It is picked outside the kernel's ephemeral range: every client socket's local port and every
    server started on port 0 come from that range, so a port picked inside it can be taken between
    this call and the server that names it (a cluster node then fails with "address already in use").
    """
    import random
    import socket

    low, high = _ephemeral_range()
    candidates = [p for p in range(10000, 65536) if not low <= p <= high]
    for port in random.sample(candidates, 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # everything outside the range is taken: any free port, as before
        s.bind(("127.0.0.1", 0))
        chosen: int = s.getsockname()[1]
        return chosen


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 65535  # the range most systems use when they do not say


#: the repository's root (examples/, benchmarks/, the README)
ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def pause_process(pid: int) -> None:
    """SIGSTOP ``pid`` and wait until it has really stopped: the signal is asynchronous, and on a
    busy machine a server can still answer a PING sent just after ``kill`` returned."""
    import os
    import signal

    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: process_state(pid) in ("T", "t", "?"), 5.0, f"process {pid} to stop")


def process_state(pid: int) -> str:
    """The one-letter state of ``pid`` in /proc ('?' if it is gone)."""
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


# -- Ctrl-C in the middle of a blocking call ------------------------------------------------------

_POLL = 0.005


def _stack(ident: int) -> list[tuple[str, int]]:
    frame = sys._current_frames().get(ident)
    out = []
    while frame is not None:
        out.append((frame.f_code.co_name, frame.f_lineno))
        frame = frame.f_back
    return out


def interrupt_when_blocked_in(func_name: str, timeout: float = 20.0) -> dict[str, float]:
    """Start a thread that sends SIGINT to the main thread once it is blocked inside ``func_name``.

    Returns a dict that gets ``sent_at`` (monotonic time of the signal).
    """
    main = threading.main_thread().ident
    assert main == threading.get_ident(), "these tests must run on the main thread"
    info: dict[str, float] = {}

    def watch() -> None:
        deadline = time.monotonic() + timeout
        previous: tuple[str, int] | None = None
        while time.monotonic() < deadline:
            stack = _stack(main)
            inside = any(name == func_name for name, _ in stack)
            innermost = stack[0] if stack else None
            if inside and innermost is not None and innermost == previous:
                info["sent_at"] = time.monotonic()
                signal.pthread_kill(main, signal.SIGINT)
                return
            previous = innermost if inside else None
            time.sleep(_POLL)  # polling another thread's stack: there is no event to wait on

    threading.Thread(target=watch, name="test-interrupter", daemon=True).start()
    return info


def interrupted(call: Callable[[], object], func_name: str) -> float:
    """Run ``call`` (which must block), interrupt it inside ``func_name``; return seconds to stop."""
    info = interrupt_when_blocked_in(func_name)
    with pytest.raises(KeyboardInterrupt):
        call()
    stopped = time.monotonic()
    assert "sent_at" in info, f"the call never blocked in {func_name}()"
    return stopped - info["sent_at"]
