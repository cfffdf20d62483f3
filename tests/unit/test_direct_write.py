"""The outbox's direct writes over a fake transport: when a caller writes straight into the
socket, when it must queue instead, and that the order on the wire holds either way."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._core import outbox as outbox_module
from beluga_nats_sync._core.connection import Connection
from beluga_nats_sync._core.options import Options
from beluga_nats_sync._core.transport import TransportEvents

from .fakes import FakeTransport
from .test_connection import on_loop


@pytest.fixture
def conn() -> Iterator[Connection]:
    def factory(options: Options, events: TransportEvents) -> FakeTransport:
        t = FakeTransport(options, events)
        t.payload_limit = 1 << 20
        return t

    c = Connection(Options(timeout=5.0, reconnect_buffer_size=1 << 20), factory)
    c.connect(2.0)
    try:
        yield c
    finally:
        c.close(2.0)


REPLY = "_INBOX.test.1"  # a reply subject: somebody waits for it


def fake(c: Connection) -> FakeTransport:
    t = c.transport
    assert isinstance(t, FakeTransport)
    return t


def pubs(t: FakeTransport) -> list[bytes]:
    """The payloads of the PUBs on the wire, in order (the fake's commands are PUB only here)."""
    out = []
    for part in t.wire.split(b"PUB ")[1:]:
        head, _, rest = part.partition(b"\r\n")
        out.append(rest[: int(head.split(b" ")[-1])])
    return out


def test_a_large_publish_is_written_directly_and_counted(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    big = b"b" * outbox_module.DIRECT_SIZE
    conn.publish("a", big, None, None)
    assert t.direct_written == [b"PUB a %d\r\n%b\r\n" % (len(big), big)]  # in the socket before publish returned
    stats = conn.stats()
    assert (stats.out_msgs, stats.out_bytes) == (1, len(big))


def test_small_publishes_go_out_in_batches(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    for i in range(200):
        conn.publish("a", b"%d" % i, None, None)
    conn.flush(2.0)
    assert t.direct_written == []  # a send per small message would cost more than the batch
    assert pubs(t) == [b"%d" % i for i in range(200)]
    assert conn.stats().out_msgs == 200


def test_a_reply_to_an_inbox_is_written_directly(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    conn.publish("_INBOX.abc.1", b"answer", None, None)
    conn.publish("_INBOX.abc.1", b"again", None, None)  # not learnt as an ordinary subject
    assert t.direct_written == [b"PUB _INBOX.abc.1 6\r\nanswer\r\n", b"PUB _INBOX.abc.1 5\r\nagain\r\n"]


def test_requests_and_large_messages_are_written_directly_after_a_batch(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    # Hold the I/O thread so that the batch below is still in the outbox when the large message
    # comes: left running, it may have written the batch already, and then nothing waits.
    held, release = threading.Event(), threading.Event()
    conn.loop.call_soon(lambda: (held.set(), release.wait(5.0)))
    assert held.wait(5.0)
    for i in range(20):
        conn.publish("a", b"%d" % i, None, None)  # a burst of small ones: batched
    big = b"b" * outbox_module.DIRECT_SIZE
    conn.publish("a", big, None, None)  # queued: the batch is not written yet
    release.set()
    conn.flush(2.0)
    assert t.direct_written == []
    conn.publish("a", big, None, None)  # nothing waits now
    assert t.direct_written[-1].endswith(big + b"\r\n")
    assert pubs(t) == [b"%d" % i for i in range(20)] + [big, big]
    conn.subscribe("svc", lambda m: m.respond(b"pong"), "", None, None, None)
    assert conn.request("svc", b"ping", 2.0, None).data == b"pong"
    assert any(w.startswith(b"PUB svc ") for w in t.direct_written)  # the request
    assert any(w.startswith(b"PUB _INBOX.") for w in t.direct_written)  # and its reply


def test_a_refused_direct_write_is_queued_and_sent_in_order(conn: Connection) -> None:
    t = fake(conn)
    t.direct = False  # the transport cannot write directly now (EAGAIN, nats-py has commands pending)
    pad = b"." * outbox_module.DIRECT_SIZE
    for i in range(50):
        conn.publish("a", b"%d" % i + pad, None, None)  # each one asks (large)
    conn.flush(2.0)
    assert t.direct_calls >= 1 and t.direct_written == []
    assert [p[: -len(pad)] for p in pubs(t)] == [b"%d" % i for i in range(50)]
    assert conn.stats().out_msgs == 50


def test_nothing_is_written_directly_while_a_pump_holds_what_it_took(conn: Connection) -> None:
    t = fake(conn)
    t.write_gate = threading.Event()
    conn.publish("a", b"0", None, None)  # refused (direct is off): queued, pumped, held in write()
    assert t.in_write.wait(5.0)
    # the outbox and the carry are empty now: only the pump in progress holds message 0
    t.direct = True
    calls = t.direct_calls
    conn.publish(REPLY, b"1", None, None)  # a reply, but 0 is not written yet: queued behind it
    assert t.direct_calls == calls
    t.write_gate.set()
    conn.flush(2.0)
    assert pubs(t) == [b"0", b"1"]


def test_nothing_is_written_directly_while_anything_is_carried(conn: Connection) -> None:
    t = fake(conn)
    t.congested_after = 0  # the socket takes nothing until drained ...
    t.hold_drain = True  # ... and stays congested until released
    for i in range(3):
        conn.publish("a", b"%d" % i, None, None)
    outbox = conn.outbox
    deadline = 200
    while not outbox._carry and deadline:  # bounded: the pump moves them into the carry
        on_loop(conn, lambda: None)
        deadline -= 1
    assert outbox._carry
    t.direct = True
    calls = t.direct_calls
    conn.publish(REPLY, b"3", None, None)
    conn.publish("a", b"b" * outbox_module.DIRECT_SIZE, None, None)
    assert t.direct_calls == calls and t.direct_written == []
    t.release()
    conn.flush(2.0)
    assert pubs(t)[:4] == [b"0", b"1", b"2", b"3"] and len(pubs(t)) == 5


def test_nothing_is_written_directly_while_disconnected(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    on_loop(conn, conn.on_disconnected)
    calls = t.direct_calls
    for i in range(3):
        conn.publish(REPLY, b"%d" % i, None, None)
    assert t.direct_calls == calls and t.written == []  # the reconnect buffer holds them
    on_loop(conn, conn.on_reconnected)
    conn.flush(2.0)
    assert pubs(t) == [b"0", b"1", b"2"]
    conn.publish(REPLY, b"3", None, None)  # connected again: direct once more
    assert t.direct_written == [b"PUB %b 1\r\n3\r\n" % REPLY.encode()]


def test_direct_writes_from_many_threads_keep_each_threads_order(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    n_threads, per_thread = 8, 300
    start = threading.Barrier(n_threads)

    def publisher(k: int) -> None:
        start.wait(5.0)
        for i in range(per_thread):
            # now and then a reply, written directly if nothing waits; the rest batched
            conn.publish(REPLY if i % 7 == 0 else "a", b"%d.%d" % (k, i), None, None)

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10.0)
    conn.flush(2.0)
    seen: dict[int, list[int]] = {k: [] for k in range(n_threads)}
    for p in pubs(t):
        k, i = p.split(b".")
        seen[int(k)].append(int(i))
    assert all(seen[k] == list(range(per_thread)) for k in range(n_threads))
    assert t.direct_written and len(t.direct_written) < n_threads * per_thread
    assert conn.stats().out_msgs == n_threads * per_thread


def test_closed_client_refuses_before_any_write(conn: Connection) -> None:
    t = fake(conn)
    t.direct = True
    conn.close(2.0)
    calls = t.direct_calls
    with pytest.raises(bns.ClosedError):
        conn.publish("a", b"late", None, None)
    assert t.direct_calls == calls
