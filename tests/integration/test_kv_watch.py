"""A key-value watch is an ordered consumer of our own: it survives losing its consumer and a
gap in what it was sent, without missing or repeating an entry; a slow callback holds the
server back. Against a real nats-server with JetStream."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream, KeyValue, KeyValueEntry
from beluga_nats_sync.jetstream import watch as watch_module
from beluga_nats_sync.server import EmbeddedServer

from helpers import thread_names, wait_for


@pytest.fixture
def js(client: bns.Client) -> JetStream:
    return client.jetstream(timeout=5.0)


@pytest.fixture
def kv(js: JetStream) -> Iterator[KeyValue]:
    bucket = f"wg_{uuid.uuid4().hex[:8]}"
    kv = js.create_key_value(bucket, history=10)
    yield kv
    if js._engine.is_open:
        js.delete_key_value(bucket)


@pytest.fixture
def fast_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_module, "_HEARTBEAT", 0.2)


class Seen:
    def __init__(self) -> None:
        self.entries: list[KeyValueEntry] = []
        self.lock = threading.Lock()

    def __call__(self, e: KeyValueEntry) -> None:
        with self.lock:
            self.entries.append(e)

    def values(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return [(e.key, e.value) for e in self.entries]

    def revisions(self) -> list[int]:
        with self.lock:
            return [e.revision for e in self.entries]


def test_a_watch_whose_consumer_is_deleted_makes_it_again_and_misses_nothing(
    kv: KeyValue, js: JetStream, fast_heartbeats: None
) -> None:
    kv.put("k.a", b"1")
    seen = Seen()
    with kv.watch("k.>", seen) as w:
        wait_for(lambda: w.initialized, 5.0, "initial values delivered")
        first = w._consumer
        js.delete_consumer(f"KV_{kv.bucket}", first)  # as an operator (or a server restart) would
        kv.put("k.b", b"2")  # written while the watch has no consumer
        kv.put("k.a", b"3")
        wait_for(lambda: w.resets >= 1 and len(seen.values()) >= 3, 5.0, "the entries written meanwhile")
        kv.put("k.c", b"4")
        wait_for(lambda: len(seen.values()) >= 4, 5.0, "an entry after the recreation")
        assert seen.values() == [("k.a", b"1"), ("k.b", b"2"), ("k.a", b"3"), ("k.c", b"4")]
        revs = seen.revisions()
        assert revs == sorted(set(revs))  # in order, none twice
        assert w._consumer != first
        with pytest.raises(bns.ConsumerNotFoundError):
            js.consumer_info(f"KV_{kv.bucket}", first)
    assert not any(n.startswith(f"nats-kv-{kv.bucket}") for n in thread_names())


def test_a_gap_in_the_consumer_sequence_restarts_after_the_last_entry_delivered(kv: KeyValue) -> None:
    for v in (b"1", b"2"):
        kv.put("g", v)
    seen = Seen()
    with kv.watch("g", seen, include_history=True) as w:
        wait_for(lambda: w.initialized and len(seen.values()) == 2, 5.0, "the history")
        first = w._consumer
        engine = w._engine
        # a message with a consumer sequence three ahead: as if two were lost on the way
        gen, cseq = w._gen, w._cseq
        lost = f"$JS.ACK.KV_{kv.bucket}.{first}.1.999.{cseq + 3}.0.0"
        engine.call_soon(w._on_msg, gen, f"$KV.{kv.bucket}.g", b"phantom", lost, None)
        wait_for(lambda: w.resets == 1, 5.0, "the consumer made again")
        kv.put("g", b"3")
        wait_for(lambda: len(seen.values()) >= 3, 5.0, "the next change")
        assert seen.values() == [("g", b"1"), ("g", b"2"), ("g", b"3")]  # no phantom, no repeat
        assert w._consumer != first


def test_a_blocked_callback_holds_the_server_back_and_then_gets_everything_in_order(
    kv: KeyValue, js: JetStream
) -> None:
    release = threading.Event()
    seen = Seen()

    def slow(e: KeyValueEntry) -> None:
        release.wait(10.0)
        seen(e)

    n = 1500
    pad = b"." * 8000  # the server holds back by bytes (a few MB unanswered), not by count
    with kv.watch("s.>", slow) as w:
        for i in range(n):
            kv.put(f"s.{i}", b"%d:" % i + pad)  # one key each: the bucket keeps them all
        # the flow-control request stays unanswered while the callback is stuck: the server
        # keeps the rest on its side
        assert js.consumer_info(f"KV_{kv.bucket}", w._consumer).num_pending > 0
        assert w._disp.backlog < n
        release.set()
        wait_for(lambda: len(seen.values()) == n, 20.0, "every change after the release")
    assert [int(v.split(b":")[0]) for _, v in seen.values()] == list(range(n))


def test_a_watch_resumes_after_a_server_restart(tmp_path: Path, fast_heartbeats: None) -> None:
    with EmbeddedServer(store_dir=tmp_path / "store") as srv:
        nc = bns.connect(srv.url, reconnect_wait=0.1, max_reconnects=100)
        try:
            js = nc.jetstream(timeout=5.0)
            kv = js.create_key_value("restarts", storage="file")
            kv.put("a", b"1")
            seen = Seen()
            with kv.watch(">", seen) as w:
                wait_for(lambda: w.initialized, 5.0, "initial values delivered")
                srv.restart()  # same port, same store; the watch's in-memory consumer is gone
                wait_for(lambda: nc.is_connected, 15.0, "the client reconnected")

                def written() -> bool:
                    try:
                        kv.put("b", b"2", timeout=1.0)
                        return True
                    except bns.NATSSyncError:
                        return False  # JetStream is still recovering the store

                wait_for(written, 15.0, "a write after the restart")
                wait_for(lambda: ("b", b"2") in seen.values(), 15.0, "the write seen by the watch")
                assert w.resets >= 1
                assert seen.values() == [("a", b"1"), ("b", b"2")]
        finally:
            nc.close()


def test_a_watch_whose_bucket_is_deleted_reports_it_once_and_keeps_trying(
    make_client: Callable[..., bns.Client], fast_heartbeats: None
) -> None:
    errors: list[BaseException] = []
    nc = make_client(error_cb=errors.append)
    js = nc.jetstream(timeout=2.0)
    bucket = f"del_{uuid.uuid4().hex[:8]}"
    kv = js.create_key_value(bucket)
    with kv.watch(">", lambda e: None) as w:
        js.delete_key_value(bucket)
        wait_for(lambda: w._failures >= 2, 10.0, "two failed recreations")
        assert w.is_active
        assert len(errors) == 1 and isinstance(errors[0], bns.JetStreamError)
        assert f"bucket {bucket!r}: lost its consumer" in str(errors[0])
        js.create_key_value(bucket)  # back: the next try succeeds
        kv.put("k", b"v")
        wait_for(lambda: w._failures == 0 and w.resets >= 1, 15.0, "the consumer made again")
    js.delete_key_value(bucket)
