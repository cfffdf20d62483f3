"""Ctrl-C during a blocking call stops it promptly and leaves the client usable.

A watcher thread sends SIGINT to the main thread once the main thread is parked inside the call
under test (its innermost frame stays on one line), as Ctrl-C in a terminal or "interrupt kernel"
in Jupyter would.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import pause_process

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


def test_interrupting_a_request_stops_it_and_the_client_still_works(client: bns.Client) -> None:
    client.subscribe("intr.silent")  # a subscriber that never answers: the request waits
    client.subscribe("intr.rpc", lambda m: m.respond(b"pong:" + m.data))
    client.flush(5.0)
    took = interrupted(lambda: client.request("intr.silent", b"?", timeout=60.0), "request")
    assert took < 5.0, f"request took {took:.2f} s to stop after the interrupt"
    assert len(client._engine.router) == 0  # the abandoned request is forgotten
    assert client.request("intr.rpc", b"1", timeout=5.0).data == b"pong:1"
    assert client.is_connected


def test_interrupting_next_msg_stops_it_and_the_subscription_still_works(client: bns.Client) -> None:
    sub = client.subscribe("intr.pull")
    client.flush(5.0)
    took = interrupted(lambda: sub.next_msg(timeout=60.0), "next_msg")
    assert took < 5.0
    client.publish("intr.pull", b"after")
    assert sub.next_msg(timeout=5.0).data == b"after"


def test_interrupting_flush_against_a_paused_server(fresh_server: EmbeddedServer) -> None:
    nc = bns.connect(fresh_server.url, timeout=5.0)
    try:
        nc.subscribe("intr.rpc", lambda m: m.respond(b"ok"))
        nc.flush(5.0)
        assert fresh_server.pid is not None
        pause_process(fresh_server.pid)  # the server stops answering: flush waits
        try:
            took = interrupted(lambda: nc.flush(timeout=60.0), "flush")
        finally:
            os.kill(fresh_server.pid, signal.SIGCONT)
        assert took < 5.0
        nc.flush(10.0)
        assert nc.request("intr.rpc", b"", timeout=5.0).data == b"ok"
    finally:
        nc.close(5.0)


def test_a_flush_that_times_out_leaves_the_client_usable(fresh_server: EmbeddedServer) -> None:
    # a flush that gave up still has its PING on the wire: the late PONG must be taken in stride
    # (nats-py's client ended its read loop on it), and the client keep reading.
    nc = bns.connect(fresh_server.url, timeout=5.0)
    try:
        nc.subscribe("late.rpc", lambda m: m.respond(b"ok"))
        nc.flush(5.0)
        assert fresh_server.pid is not None
        pause_process(fresh_server.pid)
        try:
            with pytest.raises(bns.NATSTimeoutError):
                nc.flush(timeout=0.3)
        finally:
            os.kill(fresh_server.pid, signal.SIGCONT)
        nc.flush(10.0)  # the late PONG of the timed-out flush has arrived by now
        for i in range(3):
            assert nc.request("late.rpc", str(i).encode(), timeout=5.0).data == b"ok"
    finally:
        nc.close(5.0)
