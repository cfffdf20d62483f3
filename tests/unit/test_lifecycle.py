"""Closing, threads, interrupts and foreign event loops, on the in-memory server (connecting to
real servers is in tests/integration/test_lifecycle.py)."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.testing import MemoryServer

from helpers import thread_snapshot, threads_started_since, wait_for


def test_close_releases_every_thread_and_blocked_call(memory_server: MemoryServer) -> None:
    before = thread_snapshot()
    closed = threading.Event()
    nc = bns.connect(transport=memory_server.transport, closed_cb=closed.set)
    for i in range(3):
        nc.subscribe(f"life.cb.{i}", lambda m: None)
    pull = nc.subscribe("life.pull")
    asked = threading.Event()
    nc.subscribe("life.silent", lambda m: asked.set())  # never answers
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
    assert asked.wait(5.0)  # the request is in flight
    t0 = time.monotonic()
    nc.close(timeout=5.0)
    for w in waiters:
        w.join(2.0)
    assert time.monotonic() - t0 < 2.0
    assert sorted(type(e).__name__ for e in outcome) == ["ClosedError", "ClosedError"]
    assert closed.wait(2.0)
    wait_for(lambda: threads_started_since(before) == [], what="threads back to the start count")


def test_close_sends_what_was_published(memory_server: MemoryServer) -> None:
    with bns.connect(transport=memory_server.transport) as reader:
        sub = reader.subscribe("life.flushclose")
        reader.flush(2.0)
        writer = bns.connect(transport=memory_server.transport)
        for i in range(10_000):
            writer.publish("life.flushclose", b"%d" % i)
        writer.close()
        got = [m.data for m in sub.messages(timeout=2.0, limit=10_000)]
        assert len(got) == 10_000


def test_garbage_collected_client_leaves_no_thread(memory_server: MemoryServer) -> None:
    before = thread_snapshot()

    def make_and_drop() -> None:
        nc = bns.connect(transport=memory_server.transport)
        nc.subscribe("life.gc", lambda m: None)

    make_and_drop()
    gc.collect()
    wait_for(lambda: threads_started_since(before) == [], what="threads of the dropped client to end")


def test_callbacks_are_plain_functions_off_the_io_thread(memory_server: MemoryServer) -> None:
    names: list[str] = []
    done = threading.Event()

    def on_closed() -> None:
        names.append(threading.current_thread().name)
        done.set()

    nc = bns.connect(transport=memory_server.transport, closed_cb=on_closed)
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
    # private: nothing public shows the requests waiting for a reply, and the interrupted one
    # must not be left among them
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


def test_works_inside_a_running_asyncio_loop(memory_server: MemoryServer) -> None:
    async def main() -> bytes:
        with bns.connect(transport=memory_server.transport) as nc:
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

    # private: nothing public runs user code on the I/O thread, which is what this test is about
    client._engine.loop.call_soon(on_loop)
    assert done.wait(2.0)
    assert isinstance(errors[0], RuntimeError) and "deadlock" in str(errors[0])


def test_flush_and_drain(memory_server: MemoryServer) -> None:
    nc = bns.connect(transport=memory_server.transport)
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
