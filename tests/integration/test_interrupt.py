"""Ctrl-C during a flush against a paused real server stops it promptly and leaves the client usable
(the other blocking calls: tests/unit/test_interrupt.py).

A watcher thread sends SIGINT to the main thread once the main thread is parked inside the call
under test (its innermost frame stays on one line), as Ctrl-C in a terminal or "interrupt kernel"
in Jupyter would.
"""

from __future__ import annotations

import os
import signal

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import interrupted, pause_process


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
