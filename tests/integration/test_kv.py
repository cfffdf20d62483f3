"""Key-value buckets from synchronous code, against a real nats-server with JetStream."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream, KeyValue, KeyValueEntry

from helpers import thread_names, wait_for


@pytest.fixture
def js(client: bns.Client) -> JetStream:
    return client.jetstream(timeout=5.0)


@pytest.fixture
def kv(js: JetStream) -> Iterator[KeyValue]:
    bucket = f"b_{uuid.uuid4().hex[:8]}"
    kv = js.create_key_value(bucket, history=10)
    yield kv
    if js._engine.is_open:
        js.delete_key_value(bucket)


def test_put_get_and_revisions(kv: KeyValue, js: JetStream) -> None:
    r1 = kv.put("agent-1.status", b"busy")
    r2 = kv.put("agent-2.status", bytearray(b"idle"))
    e = kv.get("agent-1.status")
    assert e == KeyValueEntry(kv.bucket, "agent-1.status", b"busy", r1)
    assert r2 > r1
    r3 = kv.put("agent-1.status", b"done")
    assert kv.get("agent-1.status").value == b"done"
    assert kv.get("agent-1.status", revision=r1).value == b"busy"
    assert kv.get("agent-1.status").revision == r3
    assert js.key_value(kv.bucket).get("agent-2.status").value == b"idle"  # bound again by name


def test_create_and_update_conflicts(kv: KeyValue) -> None:
    rev = kv.create("lock", b"owner-a")
    with pytest.raises(bns.KeyExistsError, match="'lock' already has a value"):
        kv.create("lock", b"owner-b")
    new = kv.update("lock", b"owner-a2", last=rev)
    with pytest.raises(bns.WrongRevisionError, match="not at the expected revision") as exc_info:
        kv.update("lock", b"owner-b", last=rev)  # stale: someone wrote in between
    assert not isinstance(exc_info.value, bns.KeyExistsError)
    assert kv.get("lock").value == b"owner-a2" and kv.get("lock").revision == new
    with pytest.raises(bns.WrongRevisionError):
        kv.delete("lock", last=rev)
    kv.delete("lock", last=new)
    with pytest.raises(bns.KeyNotFoundError):
        kv.get("lock")
    assert kv.create("lock", b"owner-b") > new  # a deleted key can be created again


def test_two_writers_race_on_update_and_exactly_one_wins(kv: KeyValue) -> None:
    rev = kv.put("counter", b"0")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        barrier.wait(5.0)
        try:
            kv.update("counter", name.encode(), last=rev)
            results.append("won")
        except bns.WrongRevisionError:
            results.append("lost")

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10.0)
    assert sorted(results) == ["lost", "won"]


def test_delete_purge_keys_and_history(kv: KeyValue) -> None:
    assert kv.keys() == []
    kv.put("a", b"1")
    kv.put("a", b"2")
    kv.put("b", b"x")
    kv.put("c.d", b"y")
    assert sorted(kv.keys()) == ["a", "b", "c.d"]
    kv.delete("b")
    assert sorted(kv.keys()) == ["a", "c.d"]
    hist = kv.history("a")
    assert [(h.value, h.operation) for h in hist] == [(b"1", "PUT"), (b"2", "PUT")]
    assert hist[0].created is not None and hist[0].revision < hist[1].revision
    assert [h.operation for h in kv.history("b")] == ["PUT", "DEL"]
    kv.purge("a")
    with pytest.raises(bns.KeyNotFoundError, match="'a'"):
        kv.get("a")
    assert [h.operation for h in kv.history("a")] == ["PURGE"]
    with pytest.raises(bns.KeyNotFoundError):
        kv.history("never")


def test_watch_delivers_current_values_then_changes_on_a_dispatcher_thread(kv: KeyValue) -> None:
    kv.put("cfg.model", b"small")
    kv.put("cfg.temp", b"0.1")
    kv.put("other", b"not watched")
    seen: list[tuple[str, bytes, str]] = []
    threads: set[str] = set()

    def on_change(e: KeyValueEntry) -> None:
        threads.add(threading.current_thread().name)
        seen.append((e.key, e.value, e.operation))

    w = kv.watch("cfg.>", on_change)
    try:
        wait_for(lambda: w.initialized, 5.0, "initial values delivered")
        assert sorted(seen) == [("cfg.model", b"small", "PUT"), ("cfg.temp", b"0.1", "PUT")]
        kv.put("cfg.model", b"large")
        kv.delete("cfg.temp")
        kv.put("other", b"still not watched")
        wait_for(lambda: len(seen) == 4, 5.0, "changes delivered")
        assert seen[2:] == [("cfg.model", b"large", "PUT"), ("cfg.temp", b"", "DEL")]
    finally:
        w.stop()
    assert not w.is_active
    assert len(threads) == 1 and threading.current_thread().name not in threads
    assert not any(n.startswith(f"nats-kv-{kv.bucket}") for n in thread_names())


def test_watch_keeps_going_after_a_failing_callback_and_ends_on_close(nats_server: object) -> None:
    from beluga_nats_sync.server import EmbeddedServer

    assert isinstance(nats_server, EmbeddedServer)
    nc = bns.connect(nats_server.url)
    js = nc.jetstream(timeout=5.0)
    bucket = f"w_{uuid.uuid4().hex[:8]}"
    # With the default history of 1, each put removes the key's previous revision: a watch whose
    # consumer the server serves a moment late (a loaded machine) rightly skips revisions already
    # removed and sees only the last one. Kept revisions make every update deliverable.
    kv = js.create_key_value(bucket, history=10)
    got: list[bytes] = []

    def picky(e: KeyValueEntry) -> None:
        if e.value == b"bad":
            raise ValueError("bad value")
        got.append(e.value)

    w = kv.watch("k", picky)
    for v in (b"1", b"bad", b"2"):
        kv.put("k", v)
    try:
        wait_for(lambda: got == [b"1", b"2"], 5.0, "the updates around the failing one")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; got {got}, delivered {w.delivered}, resets {w.resets}") from None
    assert w.errors == 1 and nc.stats.callback_errors == 1
    js.delete_key_value(bucket)
    nc.close(timeout=5.0)
    assert not w.is_active
    assert not any(n.startswith(f"nats-kv-{bucket}") for n in thread_names())


def test_missing_bucket_and_bad_input(js: JetStream, kv: KeyValue) -> None:
    with pytest.raises(bns.BucketNotFoundError, match="'nope' does not exist"):
        js.key_value("nope")
    with pytest.raises(ValueError, match="bucket name"):
        js.key_value("bad.name")
    with pytest.raises(ValueError, match="history"):
        js.create_key_value("okname", history=100)
    with pytest.raises(TypeError, match="unknown setting"):
        js.create_key_value("okname", histroy=2)
    for key in ("", ".a", "a.", "a..b", "sp ace", "wild.*"):
        with pytest.raises(ValueError, match="key"):
            kv.put(key, b"x")
    with pytest.raises(TypeError, match="bytes-like"):
        kv.put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="last"):
        kv.update("k", b"x", last=-1)
    kv.watch("a.*", lambda e: None).stop()  # wildcards are fine in a watch


def test_bucket_deleted_under_a_binding_is_bucket_not_found(js: JetStream) -> None:
    bucket = f"gone_{uuid.uuid4().hex[:8]}"
    kv = js.create_key_value(bucket)
    kv.put("k", b"v")
    js.delete_key_value(bucket)
    with pytest.raises(bns.BucketNotFoundError):
        kv.put("k", b"again")
    with pytest.raises(bns.BucketNotFoundError):
        kv.get("k")
