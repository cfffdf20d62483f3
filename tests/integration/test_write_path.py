"""The socket's write side against a real server: callers' direct writes, the I/O thread's
writes and the rest of a partial send share one order on the wire, across threads and across a
reconnect."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.engine.transport import EngineTransport
from beluga_nats_sync.server import EmbeddedServer

from helpers import pause_process, wait_for

BIG = 20 * 1024  # past the outbox's DIRECT_SIZE: written directly whenever nothing waits


def writer_of(nc: bns.Client) -> Any:
    """What counts the direct writes: the engine's wire (nothing public says how a write went)."""
    transport = nc._engine.transport  # type: ignore[attr-defined]
    assert isinstance(transport, EngineTransport)
    return transport.wire


def payload(k: int, i: int, size: int) -> bytes:
    head = b"%d.%d." % (k, i)
    return head + bytes((k + i + j) % 251 for j in range(max(0, size - len(head))))


def check(data: bytes) -> tuple[int, int]:
    """(publisher, number) of a payload, after checking every byte of it."""
    k, i, _ = data.split(b".", 2)
    assert data == payload(int(k), int(i), len(data)), "a payload arrived damaged"
    return int(k), int(i)


class Received:
    """A callback subscription's messages, per publisher, checked as they come."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seqs: dict[int, list[int]] = {}
        self.count = 0

    def __call__(self, msg: bns.Msg) -> None:
        k, i = check(msg.data)
        with self.lock:
            self.seqs.setdefault(k, []).append(i)
            self.count += 1


class Errors(list[BaseException]):
    def protocol_errors(self) -> list[BaseException]:
        return [e for e in self if "protocol" in str(e).lower() or "parser" in str(e).lower()]


@pytest.fixture
def errors() -> Errors:
    return Errors()


def test_publisher_threads_and_the_io_thread_share_one_order(nats_server: EmbeddedServer, errors: Errors) -> None:
    n_threads, per_thread = 6, 400
    got = Received()
    with (
        bns.connect(nats_server.url, error_cb=errors.append) as rx,
        bns.connect(nats_server.url, error_cb=errors.append) as tx,
    ):
        rx.subscribe("wp.data.*", callback=got, pending_msgs_limit=10**6, pending_bytes_limit=1 << 30)
        rx.subscribe("wp.svc", callback=lambda m: m.respond(m.data[:8]))
        rx.flush(5.0)
        start = threading.Barrier(n_threads + 2)  # the publishers, the churn and this thread
        done = threading.Event()
        failures: list[BaseException] = []

        def publisher(k: int) -> None:
            try:
                start.wait(10.0)
                for i in range(per_thread):
                    size = BIG if i % 10 == 3 else 16
                    tx.publish(f"wp.data.{k}", payload(k, i, size))
                    if i % 40 == 7:  # a request: written directly, and a pause in the burst after it
                        assert tx.request("wp.svc", b"%d" % i, timeout=10.0).data == b"%d" % i
            except BaseException as exc:
                failures.append(exc)

        def io_thread_writer() -> None:
            # SUB, UNSUB and PING go through nats-py's pending buffer and its flusher, on the I/O thread
            start.wait(10.0)
            for j in range(200):
                if done.is_set():
                    return
                sub = tx.subscribe(f"wp.other.{j}")
                tx.flush(10.0)
                sub.unsubscribe()
                tx.publish("wp.large", b"L" * (256 * 1024))  # queued behind the rest, large chunks

        threads = [threading.Thread(target=publisher, args=(k,)) for k in range(n_threads)]
        churn = threading.Thread(target=io_thread_writer)
        for th in [*threads, churn]:
            th.start()
        start.wait(10.0)
        for th in threads:
            th.join(60.0)
        done.set()
        churn.join(30.0)
        assert not failures, failures
        tx.flush(10.0)
        wait_for(lambda: got.count >= n_threads * per_thread, 30.0, "every message")
        assert got.count == n_threads * per_thread
        for k in range(n_threads):
            assert got.seqs[k] == list(range(per_thread)), f"publisher {k}'s messages out of order or lost"
        w = writer_of(tx)
        assert w.direct_writes > 0  # both paths were taken
        assert tx.stats.out_msgs > w.direct_writes
    assert errors == []


def test_a_partial_direct_write_is_finished_before_anything_else(fresh_server: EmbeddedServer, errors: Errors) -> None:
    got = Received()
    with (
        bns.connect(fresh_server.url, error_cb=errors.append) as rx,
        bns.connect(fresh_server.url, error_cb=errors.append, max_outbound_bytes=1 << 20) as tx,
    ):
        rx.subscribe("wp.part", callback=got, pending_msgs_limit=10**6, pending_bytes_limit=1 << 30)
        rx.flush(5.0)
        w = writer_of(tx)
        assert fresh_server.pid is not None
        pause_process(fresh_server.pid)  # it stops reading: the socket's buffers fill up
        sent = 0
        try:
            published = threading.Event()

            def flood() -> None:
                # until the kernel takes one in part, then 40 more, while the server resumes and
                # asyncio's buffer drains: direct writes must wait for what it holds
                nonlocal sent
                stop = 200  # at most 100 MiB before the first partial: the kernel's buffers are far smaller
                for i in range(240):
                    tx.publish("wp.part", payload(0, i, 512 * 1024 if i % 2 else BIG))
                    sent = i + 1
                    if w.partial_writes and stop == 200:
                        stop = i + 40
                    if i >= stop:
                        break
                published.set()

            th = threading.Thread(target=flood, daemon=True)
            th.start()
            wait_for(lambda: w.partial_writes > 0, 20.0, "a direct write the kernel took in part")
        finally:
            os.kill(fresh_server.pid, signal.SIGCONT)
        assert published.wait(30.0)
        th.join(10.0)
        tx.flush(20.0)
        wait_for(lambda: got.count >= sent, 30.0, "every large message")
        assert got.seqs[0] == list(range(sent))
    assert errors == []


@pytest.fixture
def resilient_pair(fresh_server: EmbeddedServer, errors: Errors) -> Iterator[tuple[bns.Client, bns.Client]]:
    opts = dict(reconnect_wait=0.05, max_reconnects=-1, error_cb=errors.append, reconnect_buffer_size=64 << 20)
    rx = bns.connect(fresh_server.url, **opts)  # type: ignore[arg-type]
    tx = bns.connect(fresh_server.url, **opts)  # type: ignore[arg-type]
    yield rx, tx
    tx.close(5.0)
    rx.close(5.0)


def test_a_reconnect_in_the_middle_keeps_each_publishers_order(
    fresh_server: EmbeddedServer, resilient_pair: tuple[bns.Client, bns.Client], errors: Errors
) -> None:
    rx, tx = resilient_pair
    got = Received()
    rx.subscribe("wp.rc.*", callback=got, pending_msgs_limit=10**6, pending_bytes_limit=1 << 30)
    rx.flush(5.0)
    n_threads, first, second = 4, 600, 100
    restarted = threading.Event()
    failures: list[BaseException] = []

    def publisher(k: int) -> None:
        try:
            for i in range(first + second):
                if i == first:  # the rest only once both clients are back and subscribed
                    assert restarted.wait(30.0)
                tx.publish(f"wp.rc.{k}", payload(k, i, BIG if i % 5 == 0 else 16))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(n_threads)]
    for th in threads:
        th.start()
    wait_for(lambda: got.count >= 200, 20.0, "messages before the restart")
    fresh_server.restart()  # in the middle of the first part: some is in flight, some buffered
    wait_for(lambda: rx.is_connected and tx.is_connected, 20.0, "both clients to reconnect")
    rx.flush(10.0)  # its subscription is on the new server
    restarted.set()
    for th in threads:
        th.join(60.0)
    assert not failures, failures
    tx.flush(10.0)
    wait_for(lambda: all(got.seqs.get(k, [-1])[-1] == first + second - 1 for k in range(n_threads)), 30.0, "the last")
    for k in range(n_threads):
        seq = got.seqs[k]
        assert seq == sorted(set(seq)), f"publisher {k}: out of order or twice"
        assert seq[-second:] == list(range(first, first + second)), f"publisher {k}: lost after the reconnect"
    assert writer_of(tx).direct_writes > 0
    assert tx.stats.reconnects == 1 and rx.stats.reconnects == 1  # no second one: nothing garbled the stream
    assert errors.protocol_errors() == []


def test_the_rest_of_a_partial_write_is_never_sent_on_the_next_connection(
    fresh_server: EmbeddedServer, resilient_pair: tuple[bns.Client, bns.Client], errors: Errors
) -> None:
    rx, tx = resilient_pair
    w = writer_of(tx)
    assert fresh_server.pid is not None
    pause_process(fresh_server.pid)
    published = threading.Event()

    def flood() -> None:
        for i in range(200):
            tx.publish("wp.cut", payload(0, i, 512 * 1024))
            if w.partial_writes:
                break
        published.set()

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    try:
        wait_for(lambda: w.partial_writes > 0, 20.0, "a direct write the kernel took in part")
        assert w.partial_writes  # a command begun on this socket, its rest owed to it
    finally:
        fresh_server.kill()  # the socket dies with the rest of that command
    assert published.wait(30.0)
    th.join(10.0)
    fresh_server.start()
    wait_for(lambda: rx.is_connected and tx.is_connected, 20.0, "both clients to reconnect")
    got = Received()
    rx.subscribe("wp.after", callback=got)
    rx.flush(10.0)
    for i in range(50):
        tx.publish("wp.after", payload(1, i, BIG if i % 2 else 16))
    tx.flush(10.0)  # a garbled stream would end in -ERR and a disconnect, not a PONG
    wait_for(lambda: got.count >= 50, 20.0, "every message on the new connection")
    assert got.seqs[1] == list(range(50))
    assert tx.stats.reconnects == 1
    assert errors.protocol_errors() == []
