"""Riding through server restarts: buffering, restored subscriptions, requests, giving up."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import free_port, pause_process, thread_snapshot, threads_started_since, wait_for


class Events:
    """Connection callbacks turned into events a test can wait on."""

    def __init__(self) -> None:
        self.disconnected = threading.Event()
        self.reconnected = threading.Event()
        self.closed = threading.Event()
        self.errors: list[BaseException] = []

    def options(self) -> dict[str, object]:
        return dict(
            disconnected_cb=self.disconnected.set,
            reconnected_cb=self.reconnected.set,
            closed_cb=self.closed.set,
            error_cb=self.errors.append,
        )


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def resilient(fresh_server: EmbeddedServer, events: Events) -> Iterator[bns.Client]:
    nc = bns.connect(fresh_server.url, reconnect_wait=0.1, max_reconnects=-1, **events.options())  # type: ignore[arg-type]
    yield nc
    nc.close(timeout=5.0)


def test_publishes_while_disconnected_are_sent_in_order_after_reconnect(
    fresh_server: EmbeddedServer, resilient: bns.Client, events: Events
) -> None:
    sub = resilient.subscribe("rc.buffer")
    resilient.flush(2.0)
    fresh_server.stop()
    assert events.disconnected.wait(5.0)
    assert not resilient.is_connected and resilient.state is bns.ConnState.RECONNECTING
    for i in range(100):
        resilient.publish("rc.buffer", b"%d" % i)  # accepted into the reconnect buffer
    fresh_server.start()
    assert events.reconnected.wait(10.0)
    assert resilient.state is bns.ConnState.CONNECTED
    got = [int(m.data) for m in sub.messages(timeout=2.0, limit=100)]
    assert got == list(range(100))
    assert resilient.stats.reconnects >= 1


def test_full_reconnect_buffer_raises_at_once(fresh_server: EmbeddedServer, events: Events) -> None:
    with bns.connect(
        fresh_server.url, reconnect_wait=0.1, max_reconnects=-1, reconnect_buffer_size=1000, **events.options()
    ) as nc:  # type: ignore[arg-type]
        fresh_server.stop()
        assert events.disconnected.wait(5.0)
        accepted = 0
        t0 = time.monotonic()
        with pytest.raises(bns.OutboundBufferFullError, match="reconnect buffer"):
            for _ in range(100):
                nc.publish("rc.full", b"x" * 100)
                accepted += 1
        assert time.monotonic() - t0 < 0.5
        assert 5 <= accepted < 100
        sub = nc.subscribe("rc.full")
        fresh_server.start()
        assert events.reconnected.wait(10.0)
        nc.publish("rc.full", b"after")
        assert [m.data for m in sub.messages(timeout=2.0)][-1] == b"after"


def test_full_reconnect_buffer_can_block_until_reconnect(fresh_server: EmbeddedServer, events: Events) -> None:
    with bns.connect(
        fresh_server.url,
        reconnect_wait=0.1,
        max_reconnects=-1,
        reconnect_buffer_size=1000,
        reconnect_buffer_timeout=10.0,
        **events.options(),  # type: ignore[arg-type]
    ) as nc:
        sub = nc.subscribe("rc.block")
        nc.flush(2.0)
        fresh_server.stop()
        assert events.disconnected.wait(5.0)
        done = threading.Event()

        def publisher() -> None:
            for i in range(50):
                nc.publish("rc.block", b"%04d" % i + b"x" * 96)
            done.set()

        t = threading.Thread(target=publisher)
        t.start()
        wait_for(lambda: nc._engine.outbox._space_waiters == 1, what="publisher blocked on the full buffer")
        assert not done.is_set()
        fresh_server.start()
        assert done.wait(10.0)
        t.join(5.0)
        got = [int(m.data[:4]) for m in sub.messages(timeout=2.0, limit=50)]
        assert got == list(range(50))


def test_in_flight_request_fails_fast_when_the_connection_is_lost(
    fresh_server: EmbeddedServer, resilient: bns.Client, events: Events
) -> None:
    resilient.subscribe("rc.slow", lambda m: None)  # listens, never answers
    resilient.flush(2.0)
    outcome: list[BaseException] = []
    t = threading.Thread(target=lambda: _capture(outcome, lambda: resilient.request("rc.slow", b"", timeout=30.0)))
    t.start()
    wait_for(lambda: len(resilient._engine.router) == 1, what="request in flight")
    t0 = time.monotonic()
    fresh_server.kill()
    t.join(5.0)
    assert time.monotonic() - t0 < 2.0
    assert len(outcome) == 1 and isinstance(outcome[0], bns.DisconnectedError)
    assert isinstance(outcome[0], ConnectionError)


def test_request_made_while_disconnected_succeeds_after_reconnect(
    fresh_server: EmbeddedServer, resilient: bns.Client, events: Events
) -> None:
    resilient.subscribe("rc.later", lambda m: m.respond(b"answered"))
    resilient.flush(2.0)
    fresh_server.stop()
    assert events.disconnected.wait(5.0)
    result: list[object] = []
    t = threading.Thread(target=lambda: _capture(result, lambda: resilient.request("rc.later", b"", timeout=10.0)))
    t.start()
    wait_for(lambda: len(resilient._engine.router) == 1, what="request buffered")
    fresh_server.start()
    t.join(10.0)
    assert len(result) == 1 and isinstance(result[0], bns.Msg), result
    assert result[0].data == b"answered"


def test_flush_made_while_disconnected_completes_after_reconnect(
    fresh_server: EmbeddedServer, resilient: bns.Client, events: Events
) -> None:
    resilient.flush(2.0)
    fresh_server.stop()
    assert events.disconnected.wait(5.0)
    with pytest.raises(bns.NATSTimeoutError, match="did not reconnect within 0.2 s"):
        resilient.flush(0.2)  # bounded by its timeout while no server is there
    result: list[object] = []
    t = threading.Thread(target=lambda: _capture(result, lambda: resilient.flush(10.0)))
    t.start()
    fresh_server.start()
    t.join(12.0)
    assert result == [None]
    assert resilient.is_connected


def test_a_ping_that_finds_the_connection_lost_is_sent_after_the_reconnect(
    fresh_server: EmbeddedServer, resilient: bns.Client, events: Events
) -> None:
    """The core saw the client up, the connection dropped before the engine sent the PING: the
    flush waits for the reconnect (within its timeout) instead of failing at once."""
    core = resilient._engine
    fresh_server.stop()
    assert events.disconnected.wait(5.0)
    with pytest.raises(bns.NATSTimeoutError, match="within 0.2 s .the client is reconnecting"):
        core.transport.ping(0.2)  # a caller's thread waits for its PONG
    result: list[object] = []

    def ping() -> None:
        core.transport.ping(10.0)

    t = threading.Thread(target=lambda: _capture(result, ping))
    t.start()
    wait_for(lambda: len(core.transport._pongs) == 2, what="the ping queued")
    fresh_server.start()
    t.join(12.0)
    assert result == [None]


def _capture(into: list, fn) -> None:  # type: ignore[no-untyped-def,type-arg]
    try:
        into.append(fn())
    except BaseException as exc:
        into.append(exc)


def test_client_closes_when_reconnects_are_exhausted(fresh_server: EmbeddedServer, events: Events) -> None:
    before = thread_snapshot()
    nc = bns.connect(fresh_server.url, reconnect_wait=0.05, max_reconnects=2, **events.options())  # type: ignore[arg-type]
    sub = nc.subscribe("rc.gone")
    nc.subscribe("rc.gone.cb", lambda m: None)
    outcome: list[BaseException] = []
    t = threading.Thread(target=lambda: _capture(outcome, lambda: sub.next_msg(timeout=30.0)))
    t.start()
    fresh_server.stop()
    assert events.closed.wait(10.0)
    t.join(1.0)
    assert not t.is_alive()
    assert isinstance(outcome[0], bns.ClosedError)
    assert nc.is_closed
    wait_for(lambda: nc.state is bns.ConnState.CLOSED, what="the client to finish closing")
    with pytest.raises(bns.ClosedError):
        nc.publish("rc.gone", b"")
    wait_for(lambda: threads_started_since(before) == [], what="every thread of the client to end")


def test_retry_on_failed_connect_starts_before_the_server() -> None:
    port = free_port()
    reconnected = threading.Event()
    nc = bns.connect(
        f"nats://127.0.0.1:{port}",
        retry_on_failed_connect=True,
        reconnect_wait=0.1,
        max_reconnects=-1,
        reconnected_cb=reconnected.set,
        timeout=1.0,
    )
    try:
        assert not nc.is_connected and nc.state is bns.ConnState.CONNECTING
        sub = nc.subscribe("rc.early")
        nc.publish("rc.early", b"before the server")
        with EmbeddedServer(port=port):
            assert reconnected.wait(10.0)
            assert nc.is_connected
            assert sub.next_msg(5.0).data == b"before the server"
            nc.subscribe("rc.rpc", lambda m: m.respond(b"ok"))
            assert nc.request("rc.rpc", b"", timeout=2.0).data == b"ok"
    finally:
        nc.close(timeout=2.0)


def test_idle_client_keeps_answering_pings(fresh_server: EmbeddedServer) -> None:
    with bns.connect(fresh_server.url, ping_interval=0.1, max_outstanding_pings=2) as nc:
        # Time passing is what is under test: idle for ten ping intervals.
        threading.Event().wait(1.0)
        assert nc.is_connected
        assert nc.stats.reconnects == 0
        nc.subscribe("rc.idle", lambda m: m.respond(b"awake"))
        assert nc.request("rc.idle", b"", timeout=2.0).data == b"awake"


def test_paused_server_is_detected_by_pings_and_recovered(fresh_server: EmbeddedServer, events: Events) -> None:
    with bns.connect(
        fresh_server.url,
        ping_interval=0.2,
        max_outstanding_pings=2,
        reconnect_wait=0.1,
        max_reconnects=-1,
        **events.options(),  # type: ignore[arg-type]
    ) as nc:
        assert fresh_server.pid is not None
        pause_process(fresh_server.pid)
        try:
            assert events.disconnected.wait(5.0), "stale connection not detected"
        finally:
            os.kill(fresh_server.pid, signal.SIGCONT)
        assert events.reconnected.wait(10.0)
        nc.subscribe("rc.paused", lambda m: m.respond(b"back"))
        assert nc.request("rc.paused", b"", timeout=2.0).data == b"back"


def test_restart_with_a_smaller_max_payload(events: Events) -> None:
    port = free_port()
    with EmbeddedServer(port=port) as srv:
        nc = bns.connect(srv.url, reconnect_wait=0.1, max_reconnects=-1, **events.options())  # type: ignore[arg-type]
    try:
        assert nc.max_payload == 1024 * 1024
        with EmbeddedServer(port=port, config="max_payload: 2048\n"):
            assert events.reconnected.wait(10.0)
            assert nc.max_payload == 2048
            with pytest.raises(bns.PayloadTooLargeError):
                nc.publish("rc.small", b"x" * 4096)
            sub = nc.subscribe("rc.small")
            nc.publish("rc.small", b"x" * 2000)
            assert len(sub.next_msg(2.0).data) == 2000
    finally:
        nc.close(timeout=2.0)


def test_server_error_closing_the_connection_is_reported_and_closes_cleanly(events: Events) -> None:
    # Like nats.go, a fatal -ERR (anything but a stale connection or a permissions violation)
    # closes the client: the error is reported, closed_cb fires, every thread ends.
    before = thread_snapshot()
    with EmbeddedServer(config="max_control_line: 256\n") as srv:
        nc = bns.connect(srv.url, reconnect_wait=0.1, max_reconnects=-1, **events.options())  # type: ignore[arg-type]
        try:
            pull = nc.subscribe("rc.err.pull")
            nc.publish("rc.err." + "x" * 400, b"too long a line")
            assert events.closed.wait(5.0)
            wait_for(lambda: any("control line" in str(e).lower() for e in events.errors), what="-ERR reported")
            with pytest.raises(bns.ClosedError):
                pull.next_msg(1.0)
            with pytest.raises(bns.ClosedError):
                nc.publish("rc.err.ok", b"")
        finally:
            nc.close(timeout=2.0)
    wait_for(lambda: threads_started_since(before) == [], what="every thread of the client to end")


def test_killed_mid_stream_recovers_and_counts(fresh_server: EmbeddedServer, events: Events) -> None:
    with bns.connect(
        fresh_server.url, reconnect_wait=0.1, max_reconnects=-1, reconnect_buffer_timeout=10.0, **events.options()
    ) as nc:  # type: ignore[arg-type]
        received: list[int] = []
        nc.subscribe("rc.stream", lambda m: received.append(int(m.data)), pending_msgs_limit=1_000_000)
        nc.flush(2.0)
        stop = threading.Event()
        sent = [0]

        def publisher() -> None:
            deadline = time.monotonic() + 20.0
            while not stop.is_set() and time.monotonic() < deadline:
                nc.publish("rc.stream", b"%d" % sent[0])
                sent[0] += 1
                if sent[0] % 1000 == 0:
                    stop.wait(0.001)  # pace the stream so the test measures recovery, not a flood

        t = threading.Thread(target=publisher)
        t.start()
        wait_for(lambda: len(received) > 2000, what="stream flowing")
        fresh_server.kill()
        killed_at = time.monotonic()
        assert events.disconnected.wait(5.0)
        fresh_server.start()
        assert events.reconnected.wait(10.0)
        recovered_in = time.monotonic() - killed_at
        mark = len(received)
        wait_for(lambda: len(received) > mark + 2000, what="stream flowing again")
        stop.set()
        t.join(10.0)
        nc.flush(5.0)
        # the callback may still be appending what the flush saw arrive: one snapshot for every check
        got = list(received)
        assert len(got) == len(set(got)), "no duplicates"
        lost = sent[0] - len(got)
        assert got == sorted(got), "order kept across the reconnect"
        assert 0 <= lost < sent[0] // 2
        print(f"sent={sent[0]} received={len(received)} lost={lost} recovered_in={recovered_in:.2f}s")


def test_credentials_refused_on_reconnect_close_the_client(events: Events) -> None:
    port = free_port()
    conf = 'authorization {{ user: agent, password: "{}" }}\n'
    with EmbeddedServer(port=port, config=conf.format("first-secret")) as srv:
        nc = bns.connect(
            srv.url,
            user="agent",
            password="first-secret",
            reconnect_wait=0.05,
            max_reconnects=-1,
            **events.options(),  # type: ignore[arg-type]
        )
    try:
        assert events.disconnected.wait(5.0)
        with EmbeddedServer(port=port, config=conf.format("rotated-secret")):
            # no retry storm: the second refusal in a row closes the client
            assert events.closed.wait(5.0)
            assert any(isinstance(e, bns.AuthorizationError) for e in events.errors)
            refusals = [e for e in events.errors if isinstance(e, bns.AuthorizationError)]
            assert len(refusals) <= 3
            assert all("secret" not in str(e) for e in events.errors)
    finally:
        nc.close(timeout=2.0)
