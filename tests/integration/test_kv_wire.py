"""Key-value on the wire: direct gets, long reads, and buckets shared with nats-py's own
key-value (same stream layout, same headers), against a real nats-server with JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import nats
import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream, KeyValue
from beluga_nats_sync.server import EmbeddedServer


@pytest.fixture
def js(client: bns.Client) -> JetStream:
    return client.jetstream(timeout=5.0)


def _bucket(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def direct_kv(js: JetStream) -> Iterator[KeyValue]:
    bucket = _bucket("direct")
    kv = js.create_key_value(bucket, history=5, direct=True)
    yield kv
    if js._engine.is_open:
        with contextlib.suppress(bns.BucketNotFoundError):  # the test may have deleted it
            js.delete_key_value(bucket)


def test_a_bucket_with_direct_gets_reads_like_any_other(js: JetStream, direct_kv: KeyValue) -> None:
    assert js.stream_info(f"KV_{direct_kv.bucket}").config.allow_direct is True
    r1 = direct_kv.put("a", b"1")
    r2 = direct_kv.put("b", b"2")
    direct_kv.put("a", b"3")
    assert direct_kv.get("a").value == b"3"
    assert direct_kv.get("a", revision=r1).value == b"1"
    with pytest.raises(bns.KeyNotFoundError, match="'a'"):
        direct_kv.get("a", revision=r2)  # that revision is of another key
    with pytest.raises(bns.KeyNotFoundError):
        direct_kv.get("never")
    direct_kv.delete("b")
    with pytest.raises(bns.KeyNotFoundError):
        direct_kv.get("b")
    bucket = direct_kv.bucket
    js.delete_key_value(bucket)
    with pytest.raises(bns.BucketNotFoundError, match=repr(bucket)):
        direct_kv.get("a")


def test_keys_and_history_over_many_entries_and_a_create_after_purge(js: JetStream) -> None:
    bucket = _bucket("many")
    kv = js.create_key_value(bucket, history=64)
    try:
        for i in range(300):
            kv.put(f"k.{i}", b"%d" % i)
        for i in range(50):
            kv.put("hot", b"%d" % i)
        for i in range(0, 300, 3):
            kv.delete(f"k.{i}")
        keys = kv.keys()
        assert len(keys) == len(set(keys)) == 201
        assert set(keys) == {f"k.{i}" for i in range(300) if i % 3} | {"hot"}
        hist = kv.history("hot")
        assert [h.value for h in hist] == [b"%d" % i for i in range(50)]
        assert [h.delta for h in hist] == list(range(49, -1, -1))
        kv.purge("hot")
        assert [h.operation for h in kv.history("hot")] == ["PURGE"]
        rev = kv.create("hot", b"again")  # over the purge marker
        assert kv.get("hot").revision == rev
        with pytest.raises(bns.KeyExistsError):
            kv.create("hot", b"twice")
    finally:
        js.delete_key_value(bucket)
    with pytest.raises(bns.BucketNotFoundError):
        kv.keys()


def test_a_bucket_is_shared_with_nats_py_key_value(js: JetStream, nats_server: EmbeddedServer) -> None:
    bucket = _bucket("shared")
    kv = js.create_key_value(bucket, history=3)

    async def with_natspy() -> tuple[bytes, list[str], int]:
        nc = await nats.connect(nats_server.url)
        try:
            nkv = await nc.jetstream().key_value(bucket)
            value = (await nkv.get("ours")).value or b""
            try:
                await nkv.get("deleted")
                raise AssertionError("a key deleted by us still has a value for nats-py")
            except nats.js.errors.KeyNotFoundError:
                pass
            keys = sorted(await nkv.keys())
            await nkv.put("theirs", b"from nats-py")
            await nkv.delete("gone")
            rev: int = await nkv.update("ours", b"updated by nats-py", last=ours)
            return value, keys, rev
        finally:
            await nc.close()

    try:
        ours = kv.put("ours", b"from beluga")
        kv.put("deleted", b"x")
        kv.delete("deleted")
        kv.put("gone", b"soon")
        value, keys, rev = asyncio.run(with_natspy())
        assert value == b"from beluga"
        assert keys == ["gone", "ours"]
        assert kv.get("theirs").value == b"from nats-py"
        assert kv.get("ours").value == b"updated by nats-py" and kv.get("ours").revision == rev
        with pytest.raises(bns.KeyNotFoundError):
            kv.get("gone")
        assert sorted(kv.keys()) == ["ours", "theirs"]
        assert [h.operation for h in kv.history("gone")] == ["PUT", "DEL"]
    finally:
        js.delete_key_value(bucket)


def test_key_value_on_a_stream_that_is_not_a_bucket_is_refused(js: JetStream) -> None:
    bucket = _bucket("plain")
    js.add_stream(name=f"KV_{bucket}", subjects=[f"plain.{bucket}"], max_msgs_per_subject=0)
    try:
        with pytest.raises(bns.JetStreamError, match="not a key-value bucket"):
            js.key_value(bucket)
    finally:
        js.delete_stream(f"KV_{bucket}")


@pytest.mark.parametrize("settings", [{}, {"history": 5, "ttl": 60.0, "max_bytes": 1 << 20}], ids=["defaults", "set"])
def test_creating_a_bucket_nats_py_made_with_the_same_settings_binds_to_it(
    js: JetStream, nats_server: EmbeddedServer, settings: dict[str, object]
) -> None:
    bucket = _bucket("made")

    async def create() -> None:
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().create_key_value(bucket=bucket, **settings)
        finally:
            await nc.close()

    asyncio.run(create())
    try:
        kv = js.create_key_value(bucket, **settings)  # the same stream configuration: no conflict
        kv.put("k", b"v")
        assert js.key_value(bucket).get("k").value == b"v"
    finally:
        js.delete_key_value(bucket)
