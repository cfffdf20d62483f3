"""The ordered consumer behind a key-value watch, without a server: what the I/O thread does with
each message, status and heartbeat (sequence checks, resets, flow control held back)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from beluga_nats_sync.jetstream import KeyValueEntry
from beluga_nats_sync.jetstream import watch as watch_module
from beluga_nats_sync.jetstream.watch import KeyWatcher

BUCKET = "cfg"
PRE = f"$KV.{BUCKET}."


class FakeEngine:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.connected = True
        self.workers: set[Any] = set()
        self.options = SimpleNamespace(inbox_prefix="_INBOX")

    def publish(self, subject: str, payload: bytes, reply: str | None, headers: Mapping[str, str] | None) -> None:
        self.published.append((subject, payload))

    def count_callback_error(self) -> None:
        pass

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        fn(*args)  # the watcher's I/O-thread work, run at once in the test's thread


def _watcher(**kw: Any) -> tuple[KeyWatcher, FakeEngine]:
    engine = FakeEngine()
    js = SimpleNamespace(_engine=engine, timeout=1.0, api_prefix="$JS.API")
    w = KeyWatcher(js, BUCKET, ">", lambda e: None, **kw)  # type: ignore[arg-type]  # a stand-in context
    w._gen = 1
    return w, engine


def _ack(cseq: int, sseq: int, pending: int) -> str:
    return f"$JS.ACK.KV_{BUCKET}.c1.1.{sseq}.{cseq}.1700000000000000000.{pending}"


def _queued(w: KeyWatcher) -> list[Any]:
    out = []
    while True:
        try:
            out.append(w._disp._q.get_nowait())
        except queue.Empty:
            return out


def test_entries_in_order_then_the_initial_marker() -> None:
    w, _ = _watcher()
    w._on_msg(1, PRE + "a", b"1", _ack(1, 5, 1), None)
    w._on_msg(1, PRE + "b", b"", _ack(2, 7, 0), {"KV-Operation": "DEL"})
    items = _queued(w)
    assert [(e.key, e.value, e.revision, e.operation, e.delta) for e in items[:2]] == [
        ("a", b"1", 5, "PUT", 1),
        ("b", b"", 7, "DEL", 0),
    ]
    assert items[0].created is not None and items[0].created.year == 2023
    assert items[2] is watch_module._INITIAL_DONE and len(items) == 3
    assert (w._cseq, w._sseq) == (2, 7)


def test_ignore_deletes_drops_them_but_still_ends_the_initial_values() -> None:
    w, _ = _watcher(ignore_deletes=True)
    w._on_msg(1, PRE + "b", b"", _ack(1, 3, 0), {"KV-Operation": "PURGE"})
    assert _queued(w) == [watch_module._INITIAL_DONE]


def test_a_sequence_gap_queues_one_reset_and_ignores_that_consumer_from_then_on() -> None:
    w, _ = _watcher()
    w._on_msg(1, PRE + "a", b"1", _ack(1, 5, 9), None)
    w._on_msg(1, PRE + "a", b"3", _ack(3, 9, 7), None)  # consumer sequence 2 never came
    w._on_msg(w._gen, PRE + "a", b"4", _ack(4, 10, 6), None)  # resetting: no second reset
    w._on_msg(1, PRE + "a", b"5", _ack(5, 11, 5), None)  # the old consumer no longer counts
    items = _queued(w)
    assert isinstance(items[0], KeyValueEntry) and items[0].value == b"1"
    assert isinstance(items[1], watch_module._Reset) and "sequence 3 after 1" in items[1].reason
    assert len(items) == 2
    assert w._sseq == 5  # the recreation starts after revision 5


def test_a_heartbeat_naming_another_last_sequence_is_a_gap() -> None:
    w, _ = _watcher()
    w._on_msg(1, PRE + "a", b"1", _ack(1, 5, 0), None)
    w._on_msg(1, "_INBOX.x", b"", "", {"Status": "100", "Nats-Last-Consumer": "1"})
    assert not any(isinstance(i, watch_module._Reset) for i in _queued(w))
    w._on_msg(1, "_INBOX.x", b"", "", {"Status": "100", "Nats-Last-Consumer": "2"})
    assert any(isinstance(i, watch_module._Reset) for i in _queued(w))


def test_flow_control_is_answered_only_while_the_dispatcher_has_room() -> None:
    w, engine = _watcher()
    w._on_msg(1, "_INBOX.x", b"", "$JS.FC.a", {"Status": "100"})
    assert engine.published == [("$JS.FC.a", b"")]
    for i in range(watch_module._WATCH_BACKLOG + 1):  # the callback is behind
        w._on_msg(1, PRE + "k", b"v", _ack(i + 1, i + 1, 1000), None)
    w._on_msg(1, "_INBOX.x", b"", "$JS.FC.b", {"Status": "100"})
    assert engine.published == [("$JS.FC.a", b"")] and w._fc_reply == "$JS.FC.b"
    stalled = {"Status": "100", "Nats-Consumer-Stalled": "$JS.FC.b", "Nats-Last-Consumer": str(w._cseq)}
    w._on_msg(1, "_INBOX.x", b"", "", stalled)  # a stalled heartbeat: still no room, still held
    assert len(engine.published) == 1
    w._disp._out = w._disp._in  # the dispatcher caught up
    w._on_room()
    assert engine.published[-1] == ("$JS.FC.b", b"") and w._fc_reply is None
