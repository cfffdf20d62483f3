"""The core's connection, outbox, subscriptions and requests over a fake transport: no server,
no nats-py. The same machinery is tested against a real server in the integration tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._core.connection import Connection, ConnState
from beluga_nats_sync._core.options import Options
from beluga_nats_sync._core.transport import TransportEvents

from .fakes import FakeTransport

made: list[FakeTransport] = []


def _factory(options: Options, events: TransportEvents) -> FakeTransport:
    t = FakeTransport(options, events)
    made.append(t)
    return t


@pytest.fixture
def conn() -> Iterator[Connection]:
    c = Connection(Options(timeout=5.0, reconnect_buffer_size=64), _factory)
    c.connect(2.0)
    try:
        yield c
    finally:
        c.close(2.0)


def fake(c: Connection) -> FakeTransport:
    t = c.transport
    assert isinstance(t, FakeTransport)
    return t


def on_loop(c: Connection, fn: object, *args: object) -> None:
    """Run ``fn(*args)`` on the I/O thread, as the transport's events are, and wait for it."""
    done = threading.Event()

    def run() -> None:
        try:
            fn(*args)  # type: ignore[operator]
        finally:
            done.set()

    c.loop.call_soon(run)
    assert done.wait(5.0)


def test_publishes_reach_the_transport_framed_and_in_order(conn: Connection) -> None:
    sub = conn.subscribe("orders", None, "", None, None, None)
    for i in range(500):
        conn.publish("orders", b"%d" % i, None, None)
    conn.flush(2.0)
    got = [sub.next_msg(1.0).data for _ in range(500)]
    assert got == [b"%d" % i for i in range(500)]
    assert fake(conn).pings == 1
    assert conn.stats().out_msgs == 500


def test_request_and_reply_through_the_core(conn: Connection) -> None:
    def respond(msg: bns.Msg) -> None:
        msg.respond(msg.data.upper(), headers={"Served-By": "fake"})

    conn.subscribe("svc.upper", respond, "", None, None, None)
    reply = conn.request("svc.upper", b"hello", 2.0, None)
    assert reply.data == b"HELLO" and reply.headers == {"Served-By": "fake"}
    assert len(conn.router) == 0


def test_no_responders_fails_at_once(conn: Connection) -> None:
    with pytest.raises(bns.NoRespondersError):
        conn.request("nobody.here", b"", 5.0, None)


def test_a_request_without_reply_times_out_and_is_forgotten(conn: Connection) -> None:
    conn.subscribe("silent", lambda m: None, "", None, None, None)
    with pytest.raises(bns.RequestTimeoutError):
        conn.request("silent", b"", 0.05, None)
    assert len(conn.router) == 0


def test_while_disconnected_the_outbox_is_a_bounded_reconnect_buffer(conn: Connection) -> None:
    sub = conn.subscribe("buffered", None, "", None, None, None)
    t = fake(conn)

    def drop() -> None:
        t.connected = False
        conn.on_disconnected()

    on_loop(conn, drop)
    conn.publish("buffered", b"1", None, None)  # 23 framed bytes: fits the 64 of the buffer
    conn.publish("buffered", b"2", None, None)
    with pytest.raises(bns.OutboundBufferFullError, match="reconnect buffer"):
        conn.publish("buffered", b"3" * 40, None, None)

    def back() -> None:
        t.connected = True
        conn.on_reconnected()

    on_loop(conn, back)
    assert [sub.next_msg(1.0).data for _ in range(2)] == [b"1", b"2"]


def test_a_disconnect_fails_requests_in_flight(conn: Connection) -> None:
    conn.subscribe("slow", lambda m: None, "", None, None, None)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            conn.request("slow", b"", 5.0, None)
        except BaseException as exc:
            errors.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    deadline_ok = threading.Event()
    for _ in range(500):  # bounded: wait until the request is registered
        if len(conn.router):
            deadline_ok.set()
            break
        threading.Event().wait(0.01)
    assert deadline_ok.is_set()
    on_loop(conn, conn.on_disconnected)
    asker.join(5.0)
    assert len(errors) == 1 and isinstance(errors[0], bns.DisconnectedError)


def test_congestion_holds_the_rest_until_the_transport_drains(conn: Connection) -> None:
    sub = conn.subscribe("big", None, "", None, None, None)
    t = fake(conn)
    t.congested_after = 0  # take nothing until drained
    for i in range(3):
        conn.publish("big", b"%d" % i, None, None)
    assert [sub.next_msg(1.0).data for _ in range(3)] == [b"0", b"1", b"2"]  # the writer drained, then sent


def test_callback_errors_are_counted_and_delivery_goes_on(conn: Connection) -> None:
    seen: list[bytes] = []
    done = threading.Event()

    def cb(msg: bns.Msg) -> None:
        if msg.data == b"boom":
            raise KeyboardInterrupt  # even a BaseException
        seen.append(msg.data)
        if msg.data == b"last":
            done.set()

    sub = conn.subscribe("cb", cb, "", None, None, None)
    for data in (b"a", b"boom", b"last"):
        conn.publish("cb", data, None, None)
    assert done.wait(5.0)
    assert seen == [b"a", b"last"] and sub.errors == 1 and conn.stats().callback_errors == 1


def test_close_ends_the_threads_and_refuses_later_calls() -> None:
    before = {t.name for t in threading.enumerate()}
    c = Connection(Options(name="unit-close"), _factory)
    c.connect(2.0)
    c.subscribe("x", lambda m: None, "", None, None, None)
    c.close(2.0)
    assert c.state is ConnState.CLOSED and fake(c).closed
    assert {t.name for t in threading.enumerate()} - before == set()
    with pytest.raises(bns.ClosedError, match="closed"):
        c.publish("x", b"", None, None)
    with pytest.raises(bns.ClosedError):
        c.request("x", b"", 1.0, None)


def test_a_failed_connect_leaves_no_thread() -> None:
    before = {t.name for t in threading.enumerate()}

    def failing(options: Options, events: TransportEvents) -> FakeTransport:
        return FakeTransport(options, events, fail_connect=bns.ConnectError("cannot connect to fake: refused"))

    c = Connection(Options(), failing)
    with pytest.raises(bns.ConnectError, match="refused"):
        c.connect(1.0)
    assert c.state is ConnState.CLOSED
    assert {t.name for t in threading.enumerate()} - before == set()


def test_one_state_walks_the_connection_through_its_life() -> None:
    """The connection's one ConnState, as the transport's events move it: what publish, the
    outbox and Client read, with no flag of their own."""
    c = Connection(Options(timeout=5.0), _factory)
    assert c.state is ConnState.NEW and not c.is_open and not c.connected
    c.connect(2.0)
    assert c.state is ConnState.CONNECTED and c.is_open and c.connected and c.outbox.connected
    t = fake(c)

    def drop() -> None:
        t.connected = False
        c.on_disconnected()

    def back() -> None:
        t.connected = True
        c.on_reconnected()

    on_loop(c, drop)
    assert c.state is ConnState.RECONNECTING and c.is_open and not c.connected
    c.publish("s", b"buffered", None, None)  # accepted: into the reconnect buffer
    on_loop(c, back)
    assert c.state is ConnState.CONNECTED and c.connected
    c.drain(2.0)
    assert c.state is ConnState.CLOSED and not c.is_open and not c.connected
    with pytest.raises(bns.ClosedError, match="closed"):
        c.publish("s", b"", None, None)


def test_a_drain_survives_a_reconnect() -> None:
    from beluga_nats_sync._core.lifetime import Lifecycle

    life = Lifecycle()
    life.move(ConnState.CONNECTING)
    assert life.accepting and not life.linked
    life.move(ConnState.CONNECTED)
    life.move(ConnState.DRAINING)
    assert (life.state, life.accepting, life.linked) == (ConnState.DRAINING, True, True)
    life.lost()
    assert (life.state, life.accepting, life.linked) == (ConnState.RECONNECTING, True, False)
    life.move(ConnState.CONNECTED)  # back: still draining
    assert (life.state, life.linked) == (ConnState.DRAINING, True)
    life.move(ConnState.CLOSING)  # keeps the link: what is buffered is sent before the close
    assert (life.state, life.accepting, life.linked) == (ConnState.CLOSING, False, True)
    life.move(ConnState.CONNECTED)  # nothing leaves CLOSING but CLOSED
    assert life.state is ConnState.CLOSING and life.ending
    life.move(ConnState.CLOSED)
    life.move(ConnState.CONNECTING)
    assert (life.state, life.accepting, life.linked) == (ConnState.CLOSED, False, False)
