"""A faulty or hostile server, played by the scripted server of tests/scripted_server.py, against
the client's public surface: the faults a protocol engine must survive and the contract the client owes for each.

For every fault: no call hangs past its timeout; the fault reaches ``error_cb`` as one of our error
classes (a :class:`beluga_nats_sync.NATSSyncError`); the client reconnects (the scripted server
behaves on the next connection) or fails ``connect()`` with our error, and closes leaving no
thread; memory stays bounded. (nats-py's engine, which this client used before its own, failed
most of these: its read loop died silently, it buffered without bound, its own exception classes
escaped ``connect()``.)

Every wait here is bounded by ``FAULT_WITHIN`` or a call's own timeout, so a failing case costs a
few seconds, not pytest's timeout.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import beluga_nats_sync as bns

from helpers import thread_snapshot, wait_for
from scripted_server import Close, Flood, Script, ScriptedServer, Send, Trickle, default_info, info_line

#: how long a fault may take to be reported, and the client to be back
FAULT_WITHIN = 3.0


class Watch:
    """What the client's callbacks saw."""

    def __init__(self, error_delay: float = 0.0) -> None:
        self.errors: list[BaseException] = []
        self.disconnects = 0
        self.reconnects = 0
        self._error_delay = threading.Event()
        self._delay = error_delay

    def error_cb(self, exc: BaseException) -> None:
        self.errors.append(exc)
        if self._delay:  # a slow handler: a flood of errors must not queue without bound behind it
            self._error_delay.wait(self._delay)

    def disconnected_cb(self) -> None:
        self.disconnects += 1

    def reconnected_cb(self) -> None:
        self.reconnects += 1

    def options(self) -> dict[str, object]:
        return {
            "error_cb": self.error_cb,
            "disconnected_cb": self.disconnected_cb,
            "reconnected_cb": self.reconnected_cb,
        }


def _ours_only(watch: Watch) -> None:
    foreign = [e for e in watch.errors if not isinstance(e, bns.NATSSyncError)]
    assert not foreign, f"error_cb heard exception classes that are not ours: {foreign!r}"


def _connect(srv: ScriptedServer, watch: Watch, **options: object) -> bns.Client:
    opts: dict[str, object] = {
        "timeout": 5.0,
        "connect_timeout": 2.0,
        "reconnect_wait": 0.05,
        "max_reconnects": 5,
        **watch.options(),
    }
    opts.update(options)
    return bns.connect(srv.url, **opts)  # type: ignore[arg-type]


def _round_trip(nc: bns.Client, subject: str = "check") -> None:
    """The client works: a message published comes back through the (echoing) scripted server."""
    sub = nc.subscribe(subject)
    nc.flush(timeout=FAULT_WITHIN)
    nc.publish(subject, b"ok")
    assert sub.next_msg(timeout=FAULT_WITHIN).data == b"ok"
    sub.unsubscribe()


def _our_threads(before: set[threading.Thread]) -> list[str]:
    """Threads started since ``before``, the scripted server's own aside."""
    return sorted(t.name for t in threading.enumerate() if t not in before and not t.name.startswith("scripted-"))


def _close_leaves_no_thread(nc: bns.Client, before: set[threading.Thread], timeout: float = FAULT_WITHIN) -> None:
    t0 = time.monotonic()
    nc.close(timeout=timeout)
    assert time.monotonic() - t0 < timeout + 1.0
    assert _our_threads(before) == [], "close() returned with threads still running"


def _reported_and_reconnected(srv: ScriptedServer, nc: bns.Client, watch: Watch) -> None:
    """The contract after a fault on an established connection."""
    wait_for(lambda: bool(watch.errors), FAULT_WITHIN, "the fault reported through error_cb")
    _ours_only(watch)
    srv.wait_for_handshakes(2, FAULT_WITHIN)
    wait_for(lambda: nc.is_connected, FAULT_WITHIN, "the client connected again")
    _round_trip(nc)


def _rss() -> int:
    """This process's resident memory in bytes (Linux)."""
    import os

    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _collect_what_a_failed_connect_left() -> None:
    """Collect now whatever a connect() that failed left to the garbage collector, inside the test
    that caused it: a socket left open would raise a ResourceWarning (an error here), and fail this test."""
    gc.collect()


@pytest.fixture
def before() -> Iterator[set[threading.Thread]]:
    yield thread_snapshot()


# -- a frame the engine must refuse, sent on an established connection in reply to a PUB -------

_BAD_FRAMES = {
    "msg-subject-not-utf8": b"MSG \xff\xfe 1 2\r\nhi\r\n",
    "msg-reply-not-utf8": b"MSG poke 1 \xff\xfe 2\r\nhi\r\n",
    "err-text-not-utf8": b"-ERR '\xff\xfe'\r\n",
    "header-block-shorter-than-nats-1-0": b"HMSG poke 1 4 6\r\nNATShi\r\n",
    "async-info-not-json": b"INFO {not json\r\n",
    "async-info-a-json-list": info_line([1, 2]),
    "async-info-connect-urls-not-urls": info_line(default_info(connect_urls=["[::1", "127.0.0.1:notaport"])),
}


@pytest.mark.parametrize("frame", [pytest.param(frame, id=name) for name, frame in _BAD_FRAMES.items()])
def test_a_frame_the_parser_refuses_is_reported_and_the_client_reconnects(
    frame: bytes, before: set[threading.Thread]
) -> None:
    watch = Watch()
    with ScriptedServer([Script(on_pub={"poke": [Send(frame)]})]) as srv:
        nc = _connect(srv, watch)
        sub = nc.subscribe("poke")  # the frames are refused whichever subscription they name
        nc.flush(timeout=FAULT_WITHIN)
        nc.publish("poke", b"")
        _reported_and_reconnected(srv, nc, watch)
        sub.unsubscribe()
        _close_leaves_no_thread(nc, before)


# -- lines before the handshake's PONG -------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"+OK\r\n", id="ok"),
        pytest.param(b"PING\r\n", id="ping"),
        pytest.param(info_line(default_info(connect_urls=["127.0.0.1:4222"])), id="topology-info"),
    ],
)
def test_a_line_before_the_handshake_pong_is_handled_as_the_protocol_means(
    line: bytes, before: set[threading.Thread]
) -> None:
    watch = Watch()
    with ScriptedServer([Script(on_connect_ping=[Send(line)])]) as srv:
        nc = _connect(srv, watch)
        _round_trip(nc)
        assert watch.errors == []
        _close_leaves_no_thread(nc, before)


# -- an INFO the client cannot use, as the first thing the server says -------------------------

_INFO = info_line(default_info())
_BAD_INFOS = {
    "not-json": b"INFO not json\r\n",
    "a-json-list": info_line([1, 2]),
    "max-payload-1e400": _INFO.replace(b'"max_payload": 1048576', b'"max_payload": 1e400'),
    "max-payload-a-string": info_line(default_info(max_payload="abc")),
    "max-payload-null": info_line(default_info(max_payload=None)),
}


@pytest.mark.parametrize("info", [pytest.param(info, id=name) for name, info in _BAD_INFOS.items()])
def test_an_unusable_first_info_fails_connect_with_our_error_in_time(
    info: bytes, before: set[threading.Thread]
) -> None:
    _connect_fails_in_time(Script(info=info), before)


# -- floods ------------------------------------------------------------------------------------


def test_a_flood_of_pings_is_answered_and_the_client_keeps_working(before: set[threading.Thread]) -> None:
    watch = Watch()
    flood = 20_000
    with ScriptedServer([Script(on_pub={"poke": [Flood(b"PING\r\n", flood)]})]) as srv:
        nc = _connect(srv, watch)
        nc.publish("poke", b"")
        srv.wait_until(lambda s: len(s.commands_of("PONG", conn=0)) >= flood, 10.0, f"{flood} PONGs")
        _round_trip(nc)
        assert watch.errors == [] and srv.connections == 1
        _close_leaves_no_thread(nc, before)


def test_a_flood_of_errs_is_bounded_and_close_ends_every_thread(before: set[threading.Thread]) -> None:
    watch = Watch(error_delay=0.002)  # a handler slower than the flood: 20,000 of them would take 40 s
    frame = b"-ERR 'Permissions Violation for Publish to \"poke\"'\r\n"
    with ScriptedServer([Script(on_pub={"poke": [Flood(frame, 20_000)]})]) as srv:
        nc = _connect(srv, watch)
        nc.publish("poke", b"")
        wait_for(lambda: bool(watch.errors), FAULT_WITHIN, "the first -ERR reported")
        srv.wait_until(lambda s: s.bytes_sent(0) >= 20_000 * len(frame), FAULT_WITHIN, "the whole flood sent")
        _ours_only(watch)
        _close_leaves_no_thread(nc, before)


# -- a server that stops answering, or closes in the middle of a frame --------------------------


def test_a_server_that_never_sends_the_handshake_pong_fails_connect_in_time(before: set[threading.Thread]) -> None:
    _connect_fails_in_time(Script(handshake_pong=False), before)


def _connect_fails_in_time(script: Script, before: set[threading.Thread]) -> None:
    """connect() against ``script`` raises ConnectError within its 1 s timeout, reports only our
    errors, and leaves no thread of the client behind."""
    watch = Watch()
    with ScriptedServer(script) as srv:
        t0 = time.monotonic()
        try:
            with pytest.raises(bns.ConnectError):
                _connect(srv, watch, connect_timeout=1.0)
        finally:
            _collect_what_a_failed_connect_left()
        assert time.monotonic() - t0 < 1.0 + FAULT_WITHIN
        _ours_only(watch)
    wait_for(lambda: _our_threads(before) == [], FAULT_WITHIN, "the failed client's threads to end")


def test_flush_on_a_server_that_stops_answering_pings_times_out_in_time(before: set[threading.Thread]) -> None:
    watch = Watch()
    with ScriptedServer([Script(pong=False)]) as srv:
        nc = _connect(srv, watch)
        t0 = time.monotonic()
        with pytest.raises(bns.NATSTimeoutError):
            nc.flush(timeout=0.5)
        assert time.monotonic() - t0 < 0.5 + FAULT_WITHIN
        _ours_only(watch)
        _close_leaves_no_thread(nc, before, timeout=1.0)  # its last flush can only time out


def test_a_close_in_the_middle_of_a_frame_is_a_reconnect(before: set[threading.Thread]) -> None:
    watch = Watch()
    with ScriptedServer([Script(on_pub={"trigger": [Close()]})]) as srv:
        nc = _connect(srv, watch)
        sub = nc.subscribe("poke")
        nc.flush(timeout=FAULT_WITHIN)
        # a MSG for the subscription, its payload cut short by the close that follows it
        srv.send(f"MSG poke {sub.sid} 100\r\nabc".encode(), conn=0)
        nc.publish("trigger", b"")
        srv.wait_for_handshakes(2, FAULT_WITHIN)
        wait_for(lambda: watch.reconnects == 1, FAULT_WITHIN, "reconnected_cb")
        _round_trip(nc)
        assert sub.delivered == 0 and sub.pending == 0  # the half MSG was never delivered
        _ours_only(watch)
        _close_leaves_no_thread(nc, before)


# -- unbounded input: memory must stay bounded, the connection be dropped -----------------------

_FLOOD_BYTES = 8 << 20


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([Flood(b"x" * 65536, _FLOOD_BYTES // 65536)], id="a-line-without-crlf"),
        pytest.param(
            [Send(b"MSG poke 1 1000000000\r\n"), Trickle(b"x" * _FLOOD_BYTES, 65536, 0.002)],
            id="a-msg-far-beyond-max-payload-streamed-slowly",
        ),
    ],
)
def test_input_past_the_protocol_limits_drops_the_connection_with_memory_bounded(
    steps: list[Send | Flood | Trickle], before: set[threading.Thread]
) -> None:
    watch = Watch()
    with ScriptedServer([Script(on_pub={"poke": steps})]) as srv:
        nc = _connect(srv, watch)
        sub = nc.subscribe("poke")
        nc.flush(timeout=FAULT_WITHIN)
        rss = _rss()
        nc.publish("poke", b"")
        _reported_and_reconnected(srv, nc, watch)
        assert _rss() - rss < _FLOOD_BYTES // 2, "the client held what it was sent"
        sub.unsubscribe()
        _close_leaves_no_thread(nc, before)


def test_a_long_control_line_does_not_stall_the_client(before: set[threading.Thread]) -> None:
    # an INFO as a huge cluster might send (200,000 connect_urls): taken in linear time, or
    # refused as longer than the control line and the connection made again; either way a
    # flush right behind it is answered within its timeout
    urls = [f"127.0.0.1:{10_000 + i % 50_000}" for i in range(200_000)]
    line = info_line(default_info(connect_urls=urls))
    watch = Watch()
    with ScriptedServer([Script(on_pub={"poke": [Send(line)]})]) as srv:
        nc = _connect(srv, watch)
        nc.publish("poke", b"")
        nc.flush(timeout=1.5)
        _ours_only(watch)
        _round_trip(nc)
        _close_leaves_no_thread(nc, before)


def test_a_websocket_url_is_refused_at_once_with_what_to_do(before: set[threading.Thread]) -> None:
    t0 = time.monotonic()
    with pytest.raises(bns.ConnectError, match="not over WebSocket; use the server's NATS port"):
        bns.connect("ws://127.0.0.1:1", connect_timeout=5.0)
    assert time.monotonic() - t0 < 1.0
    wait_for(lambda: _our_threads(before) == [], FAULT_WITHIN, "the refused client's threads to end")
