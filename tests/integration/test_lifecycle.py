"""Connecting to real servers: a refused, silent or listed server (closing, threads and interrupts
are tested on the in-memory server: tests/unit/test_lifecycle.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import thread_snapshot, threads_started_since, wait_for


@pytest.fixture
def dead_port() -> int:
    """A loopback port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


def test_connect_and_context_manager(nats_server: EmbeddedServer) -> None:
    assert bns.Client(nats_server.url).state is bns.ConnState.NEW
    with bns.connect(nats_server.url) as nc:
        assert nc.is_connected and nc.state is bns.ConnState.CONNECTED
        assert nc.connected_url == nats_server.url
        assert nc.max_payload > 0
        assert "connected" in repr(nc)
    assert nc.is_closed and not nc.is_connected and nc.state is bns.ConnState.CLOSED
    assert "closed" in repr(nc)
    with bns.Client(nats_server.url, name="cm") as nc2:
        assert nc2.is_connected


def test_refused_connect_raises_fast_with_a_helpful_message(dead_port: int) -> None:
    url = f"nats://127.0.0.1:{dead_port}"
    t0 = time.monotonic()
    with pytest.raises(bns.ConnectError) as info:
        bns.connect(url, timeout=5.0)
    assert time.monotonic() - t0 < 2.0
    text = str(info.value)
    assert url in text and "connection refused" in text and "nats-server" in text
    assert isinstance(info.value, ConnectionError)


def test_silent_server_raises_within_the_timeout(silent_port: int) -> None:
    t0 = time.monotonic()
    with pytest.raises(bns.ConnectError):
        bns.connect(f"nats://127.0.0.1:{silent_port}", timeout=1.0)
    assert time.monotonic() - t0 < 2.5


def test_failed_connect_leaves_no_thread(dead_port: int) -> None:
    before = thread_snapshot()
    with pytest.raises(bns.ConnectError):
        bns.connect(f"nats://127.0.0.1:{dead_port}", timeout=2.0)
    wait_for(lambda: threads_started_since(before) == [], what="threads to end")


def test_second_server_in_list_is_used(nats_server: EmbeddedServer, dead_port: int) -> None:
    with bns.connect([f"nats://127.0.0.1:{dead_port}", nats_server.url], dont_randomize=True, timeout=5.0) as nc:
        assert nc.connected_url == nats_server.url
