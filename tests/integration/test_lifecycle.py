"""Connecting, closing, threads, interrupts and foreign event loops."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import threading
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


def test_close_releases_every_thread_and_blocked_call(nats_server: EmbeddedServer) -> None:
    before = thread_snapshot()
    closed = threading.Event()
    nc = bns.connect(nats_server.url, closed_cb=closed.set)
    for i in range(3):
        nc.subscribe(f"life.cb.{i}", lambda m: None)
    pull = nc.subscribe("life.pull")
    nc.subscribe("life.silent", lambda m: None)
    outcome: list[BaseException] = []

    def blocked_request() -> None:
        try:
            nc.request("life.silent", b"", timeout=30.0)
        except BaseException as exc:
            outcome.append(exc)

    def blocked_next() -> None:
        try:
            pull.next_msg(timeout=30.0)
        except BaseException as exc:
            outcome.append(exc)

    waiters = [threading.Thread(target=blocked_request), threading.Thread(target=blocked_next)]
    for w in waiters:
        w.start()
    wait_for(lambda: len(nc._engine.router) == 1, what="request in flight")
    t0 = time.monotonic()
    nc.close(timeout=5.0)
    for w in waiters:
        w.join(2.0)
    assert time.monotonic() - t0 < 2.0
    assert sorted(type(e).__name__ for e in outcome) == ["ClosedError", "ClosedError"]
    assert closed.wait(2.0)
    wait_for(lambda: threads_started_since(before) == [], what="threads back to the start count")


def test_close_sends_what_was_published(nats_server: EmbeddedServer) -> None:
    with bns.connect(nats_server.url) as reader:
        sub = reader.subscribe("life.flushclose")
        reader.flush(2.0)
        writer = bns.connect(nats_server.url)
        for i in range(10_000):
            writer.publish("life.flushclose", b"%d" % i)
        writer.close()
        got = [m.data for m in sub.messages(timeout=2.0, limit=10_000)]
        assert len(got) == 10_000


def test_garbage_collected_client_leaves_no_thread(nats_server: EmbeddedServer) -> None:
    before = thread_snapshot()

    def make_and_drop() -> None:
        nc = bns.connect(nats_server.url)
        nc.subscribe("life.gc", lambda m: None)

    make_and_drop()
    gc.collect()
    wait_for(lambda: threads_started_since(before) == [], what="threads of the dropped client to end")


def test_callbacks_are_plain_functions_off_the_io_thread(nats_server: EmbeddedServer) -> None:
    names: list[str] = []
    done = threading.Event()

    def on_closed() -> None:
        names.append(threading.current_thread().name)
        done.set()

    nc = bns.connect(nats_server.url, closed_cb=on_closed)
    nc.close()
    assert done.wait(2.0)
    assert not names[0].startswith("nats-io")


def test_keyboard_interrupt_during_request_returns_promptly(client: bns.Client) -> None:
    assert threading.current_thread() is threading.main_thread()
    client.subscribe("life.never", lambda m: None)
    client.flush(2.0)
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.3, signal.pthread_kill, args=(main, signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        client.request("life.never", b"", timeout=30.0)
    assert time.monotonic() - t0 < 1.3
    timer.join()
    # the client still works
    client.subscribe("life.after", lambda m: m.respond(b"fine"))
    assert client.request("life.after", b"", timeout=2.0).data == b"fine"
    assert not len(client._engine.router)


def test_keyboard_interrupt_during_next_msg(client: bns.Client) -> None:
    sub = client.subscribe("life.never2")
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.2, signal.pthread_kill, args=(main, signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        sub.next_msg(timeout=30.0)
    assert time.monotonic() - t0 < 1.2
    timer.join()
    client.publish("life.never2", b"x")
    assert sub.next_msg(2.0).data == b"x"


def test_works_inside_a_running_asyncio_loop(nats_server: EmbeddedServer) -> None:
    async def main() -> bytes:
        with bns.connect(nats_server.url) as nc:
            nc.subscribe("life.aio", lambda m: m.respond(b"pong"))
            sub = nc.subscribe("life.aio.pull")
            nc.publish("life.aio.pull", b"x")
            assert sub.next_msg(2.0).data == b"x"
            return nc.request("life.aio", b"ping", timeout=2.0).data

    assert asyncio.run(main()) == b"pong"


def test_blocking_call_on_the_io_thread_is_refused(client: bns.Client) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def on_loop() -> None:
        try:
            client.request("x", b"", timeout=1.0)
        except BaseException as exc:
            errors.append(exc)
        done.set()

    client._engine.loop.call_soon(on_loop)
    assert done.wait(2.0)
    assert isinstance(errors[0], RuntimeError) and "deadlock" in str(errors[0])


def test_flush_and_drain(nats_server: EmbeddedServer) -> None:
    nc = bns.connect(nats_server.url)
    seen: list[bytes] = []
    states: list[bns.ConnState] = []
    entered, gate = threading.Event(), threading.Event()

    def on_msg(m: bns.Msg) -> None:
        seen.append(m.data)
        if m.data == b"99":
            entered.set()
            assert gate.wait(5.0)
            states.append(nc.state)
            nc.publish("life.drain.echo", b"published while draining")  # still accepted

    nc.subscribe("life.drain", on_msg)
    for i in range(100):
        nc.publish("life.drain", b"%d" % i)
    nc.flush(2.0)
    assert entered.wait(5.0)
    drainer = threading.Thread(target=nc.drain, kwargs={"timeout": 5.0})
    drainer.start()
    wait_for(lambda: nc.state is bns.ConnState.DRAINING, what="the client to be draining")
    gate.set()
    drainer.join(6.0)
    assert not drainer.is_alive()
    assert len(seen) == 100
    assert states == [bns.ConnState.DRAINING]
    assert nc.is_closed and nc.state is bns.ConnState.CLOSED
