"""The promises of README.md and docs/reliability.md, tried as a hostile user would.

Each case runs against a real ``nats-server`` (killed, paused with SIGSTOP, or left alone) and
uses the client's public surface only: callbacks raising ``BaseException``, subjects longer than
the server's control line, calls blocked when the client closes, flush while disconnected, two
closes at once, reconnects running out behind a blocking callback, timeouts that cannot be honoured.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for

CLOSE_FAILS_WITHIN = 2.0  # "close() fails blocked calls with ClosedError": well before their own timeout


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


@pytest.fixture
def paused_server() -> Iterator[EmbeddedServer]:
    """A server of the test's own; ``pause()``/``resume()`` it with SIGSTOP/SIGCONT."""
    with EmbeddedServer() as srv:
        yield srv


def _pause(srv: EmbeddedServer) -> None:
    pid = srv.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: _state(pid) == "T", 5.0, "nats-server to stop")  # the signal is asynchronous


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def _resume(srv: EmbeddedServer) -> None:
    if srv.pid is not None:
        os.kill(srv.pid, signal.SIGCONT)


class Blocked:
    """Runs ``call`` on a thread of its own; records how it ended and when."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.ended_at: float | None = None
        self.started = threading.Event()
        self._call = call
        self.thread = threading.Thread(target=self._run, name="blocked-call", daemon=True)
        self.thread.start()
        assert self.started.wait(5.0)

    def _run(self) -> None:
        self.started.set()
        try:
            self.result = self._call()
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended_at = time.monotonic()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the blocked call never returned"


# -- 1. a callback raising a BaseException -----------------------------------------------------------


@pytest.mark.parametrize("raised", [SystemExit, KeyboardInterrupt, BaseException])
def test_a_callback_raising_a_base_exception_is_counted_and_delivery_goes_on(
    client: bns.Client, raised: type[BaseException]
) -> None:
    got: list[bytes] = []

    def callback(msg: bns.Msg) -> None:
        if msg.data == b"bad":
            raise raised("from the callback")
        got.append(msg.data)

    sub = client.subscribe(f"hostile.base.{raised.__name__}", callback)
    client.flush(5.0)
    for data in (b"bad", b"after-1", b"after-2"):
        client.publish(sub.subject, data)
    client.flush(5.0)
    wait_for(lambda: got == [b"after-1", b"after-2"], 3.0, "the messages after the raising callback")
    assert sub.errors == 1 and sub.is_active


@pytest.mark.parametrize("raised", [SystemExit, KeyboardInterrupt])
def test_a_consume_callback_raising_a_base_exception_is_counted_and_consuming_goes_on(
    client: bns.Client, raised: type[BaseException]
) -> None:
    js = client.jetstream(timeout=5.0)
    stream = f"HOSTILE_{raised.__name__.upper()}"
    js.add_stream(name=stream, subjects=[f"hostile.js.{raised.__name__}"])
    try:
        handled: list[bytes] = []

        def callback(msg: bns.JetStreamMsg) -> None:
            if msg.data == b"bad" and msg.metadata.num_delivered == 1:
                raise raised("from the consume callback")
            handled.append(msg.data)

        subject = f"hostile.js.{raised.__name__}"
        with js.consume(subject, durable="hostile", callback=callback, backoff=0.05) as handle:
            for data in (b"bad", b"after"):
                js.publish(subject, data)
            wait_for(lambda: set(handled) == {b"bad", b"after"}, 4.0, "both messages handled")
            assert handle.errors == 1
    finally:
        js.delete_stream(stream)


# -- 2. subjects longer than the server's control line ---------------------------------------------

LONG = "hostile." + "x" * 5000  # the server's default max_control_line is 4 KiB


@pytest.mark.parametrize("where", ["publish subject", "publish reply", "subscribe subject", "subscribe queue"])
def test_a_subject_longer_than_the_control_line_is_refused_in_the_callers_thread(
    nats_server: EmbeddedServer, where: str
) -> None:
    nc = bns.connect(nats_server.url, timeout=5.0)
    try:
        with pytest.raises(ValueError, match="control line|too long"):
            if where == "publish subject":
                nc.publish(LONG, b"x")
            elif where == "publish reply":
                nc.publish("hostile.short", b"x", reply=LONG)
            elif where == "subscribe subject":
                nc.subscribe(LONG)
            else:
                nc.subscribe("hostile.short", queue="q" * 5000)
        nc.flush(2.0)  # nothing was sent: the connection is fine
        assert nc.is_connected and not nc.is_closed
    finally:
        nc.close(timeout=1.0)


# -- 3. a publish blocked on a full reconnect buffer when the client closes --------------------------


def test_a_publish_blocked_on_a_full_reconnect_buffer_fails_when_the_client_closes(
    fresh_server: EmbeddedServer,
) -> None:
    disconnected = threading.Event()
    nc = bns.connect(
        fresh_server.url,
        timeout=5.0,
        max_reconnects=-1,
        reconnect_wait=0.2,
        reconnect_buffer_size=1024,
        reconnect_buffer_timeout=4.0,
        disconnected_cb=disconnected.set,
    )
    try:
        fresh_server.kill()
        assert disconnected.wait(5.0)
        with pytest.raises(bns.OutboundBufferFullError):
            for _ in range(100):  # bounded: 1 KiB fills long before
                nc.publish("hostile.buffer", b"x" * 100)
        blocked = Blocked(lambda: nc.publish("hostile.buffer", b"y" * 100))
        blocked.thread.join(0.3)  # it blocks: it waits for a reconnect that will not come
        assert blocked.ended_at is None, f"the publish did not block: {blocked.error!r}"
        closed = time.monotonic()
        nc.close(timeout=5.0)
        blocked.join(CLOSE_FAILS_WITHIN + 5.0)
        assert isinstance(blocked.error, bns.ClosedError), blocked.error
        assert blocked.ended_at is not None and blocked.ended_at - closed < CLOSE_FAILS_WITHIN
    finally:
        nc.close(timeout=5.0)


# -- 4. calls blocked on a server that stopped answering, when the client closes ---------------------


# each case prepares its objects while the server answers, and returns the call to block in
Prepared = Callable[[], Any]


def _flush(nc: bns.Client) -> Prepared:
    return lambda: nc.flush(timeout=4.0)


def _stream_info(nc: bns.Client) -> Prepared:
    js = nc.jetstream(timeout=4.0)
    return lambda: js.stream_info("HOSTILE_PAUSED")


def _key_value(nc: bns.Client) -> Prepared:
    js = nc.jetstream(timeout=4.0)
    return lambda: js.key_value("hostile_paused")


def _kv_put(nc: bns.Client) -> Prepared:
    kv = nc.jetstream(timeout=4.0).key_value("hostile_paused")
    return lambda: kv.put("k", b"v")


def _kv_get(nc: bns.Client) -> Prepared:
    kv = nc.jetstream(timeout=4.0).key_value("hostile_paused")
    return lambda: kv.get("k")


def _js_publish(nc: bns.Client) -> Prepared:
    js = nc.jetstream(timeout=4.0)
    return lambda: js.publish("hostile.paused", b"x")


def _request(nc: bns.Client) -> Prepared:
    return lambda: nc.request("hostile.paused.rpc", b"", timeout=4.0)


def _next_msg(nc: bns.Client) -> Prepared:
    sub = nc.subscribe("hostile.paused.quiet")
    return lambda: sub.next_msg(timeout=4.0)


def _fetch(nc: bns.Client) -> Prepared:
    psub = nc.jetstream(timeout=4.0).pull_subscribe("hostile.paused", durable="hostile")
    return lambda: psub.fetch(1, timeout=4.0)


BLOCKED_CALLS = {
    "flush": _flush,
    "stream_info": _stream_info,
    "key_value": _key_value,
    "kv.put": _kv_put,
    "kv.get": _kv_get,
    "js.publish": _js_publish,
    "request": _request,
    "next_msg": _next_msg,
    "fetch": _fetch,
}


@pytest.mark.parametrize("call", list(BLOCKED_CALLS.values()), ids=list(BLOCKED_CALLS))
def test_close_fails_calls_blocked_on_a_silent_server(
    paused_server: EmbeddedServer, call: Callable[[bns.Client], Prepared]
) -> None:
    with bns.connect(paused_server.url, timeout=5.0) as setup:
        js = setup.jetstream(timeout=5.0)
        js.add_stream(name="HOSTILE_PAUSED", subjects=["hostile.paused"])
        js.create_key_value("hostile_paused")
        setup.subscribe("hostile.paused.rpc")  # a responder that never answers
        setup.flush(5.0)
        nc = bns.connect(paused_server.url, timeout=5.0)
        try:
            blocking = call(nc)
            nc.flush(5.0)
            _pause(paused_server)
            try:
                blocked = Blocked(blocking)
                blocked.thread.join(0.3)  # it blocks: the server does not answer
                assert blocked.ended_at is None, f"the call did not block: {blocked.result!r} {blocked.error!r}"
                closed = time.monotonic()
                nc.close(timeout=2.0)
                blocked.join(15.0)
            finally:
                _resume(paused_server)
            assert isinstance(blocked.error, bns.ClosedError), repr(blocked.error)
            assert blocked.ended_at is not None and blocked.ended_at - closed < CLOSE_FAILS_WITHIN
        finally:
            nc.close(timeout=5.0)


# -- a call that runs out of time raises the library's timeout error, on every Python --------------


def _timing_out(nc: bns.Client) -> dict[str, Prepared]:
    js = nc.jetstream(timeout=0.3)
    kv = js.key_value("hostile_paused")
    sub = nc.subscribe("hostile.paused.quiet")
    psub = js.pull_subscribe("hostile.paused", durable="hostile")
    return {
        "flush": lambda: nc.flush(timeout=0.3),
        "request": lambda: nc.request("hostile.paused.rpc", b"", timeout=0.3),
        "next_msg": lambda: sub.next_msg(timeout=0.3),
        "fetch": lambda: psub.fetch(1, timeout=0.3),
        "js.publish": lambda: js.publish("hostile.paused", b"x"),
        "stream_info": lambda: js.stream_info("HOSTILE_PAUSED"),
        "key_value": lambda: js.key_value("hostile_paused"),
        "kv.get": lambda: kv.get("k"),
    }


@pytest.mark.parametrize(
    "call",
    [
        "flush",
        "request",
        "next_msg",
        "fetch",
        "js.publish",
        "stream_info",
        "key_value",
        "kv.get",
    ],
)
def test_a_call_timing_out_on_a_silent_server_raises_natstimeouterror(paused_server: EmbeddedServer, call: str) -> None:
    with bns.connect(paused_server.url, timeout=5.0) as nc:
        js = nc.jetstream(timeout=5.0)
        js.add_stream(name="HOSTILE_PAUSED", subjects=["hostile.paused"])
        js.create_key_value("hostile_paused")
        nc.subscribe("hostile.paused.rpc")  # a responder that never answers
        blocking = _timing_out(nc)[call]
        nc.flush(5.0)
        _pause(paused_server)
        try:
            started = time.monotonic()
            with pytest.raises(bns.NATSTimeoutError):
                blocking()
            assert time.monotonic() - started < 2.0
        finally:
            _resume(paused_server)


# -- 5. flush while disconnected ----------------------------------------------------------------------


def test_flush_while_disconnected_does_not_report_success(fresh_server: EmbeddedServer) -> None:
    disconnected = threading.Event()
    with bns.connect(
        fresh_server.url, timeout=5.0, max_reconnects=-1, reconnect_wait=0.2, disconnected_cb=disconnected.set
    ) as nc:
        fresh_server.kill()
        assert disconnected.wait(5.0)
        nc.publish("hostile.flush", b"into the reconnect buffer")
        with pytest.raises((bns.NATSTimeoutError, bns.DisconnectedError)):
            nc.flush(timeout=1.0)


# -- 6. close() from two threads at once ------------------------------------------------------------


def test_close_from_two_threads_returns_only_once_everything_has_ended(nats_server: EmbeddedServer) -> None:
    for _ in range(5):  # the race is narrow: try a few times
        leftovers = _close_twice_at_once(nats_server)
        assert leftovers == [set(), set()], f"threads still running when close() returned: {leftovers}"


def _close_twice_at_once(srv: EmbeddedServer) -> list[set[str]]:
    """Close one client from two threads at once; what each saw still running when its close returned."""
    before = _threads()
    nc = bns.connect(srv.url, timeout=5.0)
    nc.subscribe("hostile.close2", lambda m: None)
    nc.flush(5.0)
    barrier = threading.Barrier(2)
    leftovers: list[set[str]] = []

    def close_and_look() -> None:
        barrier.wait(5.0)
        nc.close(timeout=5.0)
        leftovers.append({t.name for t in _threads() - before if t.name != "closer"})

    closers = [threading.Thread(target=close_and_look, name="closer") for _ in range(2)]
    for t in closers:
        t.start()
    for t in closers:
        t.join(15.0)
    return leftovers


# -- 7. reconnects running out while the user's disconnected_cb blocks --------------------------------


def test_reconnects_running_out_close_the_client_even_when_a_callback_blocks(fresh_server: EmbeddedServer) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow_disconnected_cb() -> None:
        entered.set()
        release.wait(30.0)

    nc = bns.connect(
        fresh_server.url,
        timeout=5.0,
        max_reconnects=1,
        reconnect_wait=0.1,
        disconnected_cb=slow_disconnected_cb,
    )
    try:
        fresh_server.kill()
        assert entered.wait(5.0)
        wait_for(lambda: nc.is_closed, 4.0, "the client to close once its reconnects ran out")
        with pytest.raises(bns.ClosedError):
            nc.publish("hostile.closed", b"x")
    finally:
        release.set()
        nc.close(timeout=5.0)


# -- 8. timeouts that cannot be honoured ----------------------------------------------------------


BAD_TIMEOUTS = {"inf": math.inf, "1e10": 1e10, "nan": math.nan, "negative": -1.0}


def _refuses(call: Callable[[float], Any], value: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        call(value)


def _timeout_calls(nc: bns.Client, sub: bns.Subscription) -> dict[str, Callable[[float], Any]]:
    js = nc.jetstream(timeout=5.0)
    return {
        "request": lambda t: nc.request("hostile.timeouts", b"", timeout=t),
        "flush": lambda t: nc.flush(timeout=t),
        "next_msg": lambda t: sub.next_msg(timeout=t),
        "js.publish": lambda t: js.publish("hostile.timeouts", b"", timeout=t),
        "jetstream()": lambda t: nc.jetstream(timeout=t),
    }


TIMEOUT_CASES = [
    (call, name) for call in ("request", "flush", "next_msg", "js.publish", "jetstream()") for name in BAD_TIMEOUTS
]


@pytest.mark.parametrize(("call", "value"), TIMEOUT_CASES, ids=[f"{c}-{v}" for c, v in TIMEOUT_CASES])
def test_a_timeout_that_cannot_be_honoured_is_refused_before_anything_is_sent(
    client: bns.Client, nats_server: EmbeddedServer, call: str, value: str
) -> None:
    with bns.connect(nats_server.url, timeout=5.0) as watcher:
        seen = watcher.subscribe("hostile.timeouts")
        watcher.flush(5.0)
        js = client.jetstream(timeout=5.0)
        js.add_stream(name="HOSTILE_TIMEOUTS", subjects=["hostile.timeouts"])
        try:
            sub = client.subscribe("hostile.timeouts.pull")
            _refuses(_timeout_calls(client, sub)[call], BAD_TIMEOUTS[value])
            client.flush(5.0)
            with pytest.raises(bns.NATSTimeoutError):
                seen.next_msg(0.2)  # nothing was sent
        finally:
            js.delete_stream("HOSTILE_TIMEOUTS")


def test_request_with_a_zero_timeout_is_refused_before_sending(client: bns.Client, nats_server: EmbeddedServer) -> None:
    with bns.connect(nats_server.url, timeout=5.0) as watcher:
        seen = watcher.subscribe("hostile.zero")
        watcher.flush(5.0)
        with pytest.raises(ValueError, match="timeout"):
            client.request("hostile.zero", b"", timeout=0)
        client.flush(5.0)
        with pytest.raises(bns.NATSTimeoutError):
            seen.next_msg(0.2)
