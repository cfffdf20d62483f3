"""Replicated JetStream: an R3 stream on a three-node cluster through node deaths and leader changes.

What is promised (docs/reliability.md): every publish that was acknowledged is stored exactly
once (retrying with the same ``msg_id`` until an ack comes is safe), and a durable consumer sees
each of them; ``consume()`` keeps going through a failover by itself. Delivery is at least once:
an ack lost with a dying node brings the message again, marked as a redelivery.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jscluster import Node, jetstream_cluster, meta_leader, retry, stream_leader

import beluga_nats_sync as bns

from helpers import wait_for

PUBLISH_DEADLINE = 30.0  # one message's publish, retried, must be acknowledged within this


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    with jetstream_cluster(3) as cluster:
        yield cluster


class Publisher:
    """Publishes with a ``msg_id`` and retries, with the same id, until the stream acknowledges."""

    def __init__(self, js: Any) -> None:
        self.js = js
        self.acks: dict[int, Any] = {}
        self.retries = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.acked_at: list[float] = []
        self.worst = 0.0

    def publish(self, subject: str, i: int) -> None:
        started = time.monotonic()
        deadline = started + PUBLISH_DEADLINE
        while True:
            try:
                ack = self.js.publish(f"{subject}.{i}", b"%d" % i, msg_id=f"{subject}-{i}", timeout=1.0)
                break
            except bns.NATSSyncError as exc:
                self.retries += 1
                self.errors[type(exc).__name__] += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # a back-off between attempts, not a synchronisation
        self.acks[i] = ack
        now = time.monotonic()
        self.acked_at.append(now)
        self.worst = max(self.worst, now - started)

    def first_ack_after(self, t: float) -> float:
        return min(a for a in self.acked_at if a > t) - t


class Reader:
    """A consume() callback that records every delivery."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: collections.Counter[int] = collections.Counter()
        self.redelivered = 0
        self.repeats_not_marked = 0
        self.read_at: list[float] = []

    def __call__(self, msg: bns.JetStreamMsg) -> None:
        i = int(msg.data)
        with self.lock:
            if self.seen[i] and msg.metadata.num_delivered == 1:
                self.repeats_not_marked += 1
            self.seen[i] += 1
            if msg.metadata.num_delivered > 1:
                self.redelivered += 1
            self.read_at.append(time.monotonic())

    def has_all(self, n: int) -> bool:
        with self.lock:
            return all(self.seen[i] for i in range(n))


def _r3_stream(js: Any, name: str, subject: str) -> str:
    retry(lambda: js.add_stream(name=name, subjects=[f"{subject}.>"], num_replicas=3), 30.0, f"the R3 stream {name}")
    leader = retry(lambda: stream_leader(js, name) or _no_leader(), 30.0, f"a leader for {name}")
    return leader


def _no_leader() -> str:
    raise bns.JetStreamError("no leader yet")


def _node(nodes: list[Node], name: str) -> Node:
    return nodes[int(name.removeprefix("n"))]


def _assert_stored_exactly_once(js: Any, stream: str, pub: Publisher, n: int) -> None:
    assert sorted(pub.acks) == list(range(n))
    seqs = [a.seq for a in pub.acks.values()]
    assert len(set(seqs)) == n, "two acknowledged publishes share a sequence"
    info = retry(lambda: js.stream_info(stream, timeout=2.0), 30.0, "stream info")
    assert info.state.messages == n, f"{info.state.messages} stored for {n} acknowledged"
    assert info.state.last_seq == n, "a retry was stored as a second copy"


def _replicas_current(js: Any, stream: str) -> bool:
    try:
        info = js.stream_info(stream, timeout=2.0)
    except (bns.NATSSyncError, concurrent.futures.TimeoutError):  # the latter: Python 3.10, see jscluster.retry
        return False
    replicas = info.cluster.replicas or [] if info.cluster else []
    return len(replicas) == 2 and all(r.current and not r.offline and not r.lag for r in replicas)


def test_r3_stream_through_the_death_and_restart_of_the_clients_node(nodes: list[Node]) -> None:
    n = 600
    with bns.connect([s.url for s in nodes], timeout=5.0) as admin:
        leader = _r3_stream(admin.jetstream(timeout=5.0), "ORDERS", "orders")
    victim = _node(nodes, leader)  # the worst case: the client's node is also the stream's leader
    urls = [victim.url] + [s.url for s in nodes if s is not victim]
    options: dict[str, Any] = dict(dont_randomize=True, reconnect_wait=0.2, max_reconnects=-1, timeout=5.0)
    reader = Reader()
    with bns.connect(urls, **options) as pc, bns.connect(urls, **options) as cc:
        assert pc.connected_url == cc.connected_url == victim.url
        js = pc.jetstream(timeout=5.0)
        pub = Publisher(js)
        handle = cc.jetstream(timeout=5.0).consume("orders.>", durable="billing", callback=reader, ack_wait=5.0)
        for i in range(n // 3):
            pub.publish("orders", i)
        victim.kill()
        killed = time.monotonic()
        for i in range(n // 3, 2 * n // 3):
            pub.publish("orders", i)
        recovered = pub.first_ack_after(killed)
        retries_after_kill = pub.retries
        assert pc.connected_url != victim.url and cc.connected_url != victim.url
        victim.start()  # the same port and store: it catches up from the others
        for i in range(2 * n // 3, n):
            pub.publish("orders", i)
        wait_for(lambda: reader.has_all(n), 60.0, "the durable consumer to read every acknowledged message")
        read_after_kill = min(t for t in reader.read_at if t > killed) - killed
        assert handle.errors == 0 and handle.dead_lettered == 0
        _assert_stored_exactly_once(js, "ORDERS", pub, n)
        assert reader.repeats_not_marked == 0, "a message came twice without being marked a redelivery"
        read_twice = sum(reader.seen.values()) - n
        wait_for(lambda: _replicas_current(js, "ORDERS"), 30.0, "the restarted node to catch up")
        handle.stop(5.0)
    print(
        f"\nnode kill: first ack {recovered:.2f} s after, first read {read_after_kill:.2f} s after; "
        f"publish retries {retries_after_kill} {dict(pub.errors)}; worst publish {pub.worst:.2f} s; "
        f"redeliveries {reader.redelivered}, read twice {read_twice}"
    )


def test_stream_leader_stepdown_while_publishing(nodes: list[Node]) -> None:
    stepdowns = 3
    with (
        bns.connect([s.url for s in nodes], timeout=5.0) as admin,
        bns.connect([s.url for s in nodes], timeout=5.0) as pc,
    ):
        ajs = admin.jetstream(timeout=5.0)
        leader = _r3_stream(ajs, "EVENTS", "events")
        js = pc.jetstream(timeout=5.0)
        pub = Publisher(js)
        reader = Reader()
        handle = admin.jetstream(timeout=5.0).consume("events.>", durable="audit", callback=reader, ack_wait=5.0)
        stop = threading.Event()
        failed: list[BaseException] = []

        def publish_forever() -> None:
            i = 0
            try:
                while not stop.is_set():
                    pub.publish("events", i)
                    i += 1
            except BaseException as exc:  # reported by the test's thread
                failed.append(exc)

        worker = threading.Thread(target=publish_forever, name="publisher")
        worker.start()
        elections: list[float] = []
        try:
            for k in range(stepdowns):
                wait_for(lambda k=k: len(pub.acks) >= (k + 1) * 200 or bool(failed), 30.0, "publishes before")
                asked = time.monotonic()
                reply = json.loads(admin.request("$JS.API.STREAM.LEADER.STEPDOWN.EVENTS", b"", timeout=5.0).data)
                assert reply.get("success") is True, reply
                old = leader
                leader = retry(lambda old=old: _changed(stream_leader(ajs, "EVENTS"), old), 30.0, "a new stream leader")
                elections.append(time.monotonic() - asked)
                done = len(pub.acks)
                wait_for(lambda done=done: len(pub.acks) > done + 50 or bool(failed), 30.0, "publishes after")
        finally:
            stop.set()
            worker.join(PUBLISH_DEADLINE + 5.0)
        assert not failed, failed
        n = len(pub.acks)
        wait_for(lambda: reader.has_all(n), 60.0, "the durable consumer to read every acknowledged message")
        _assert_stored_exactly_once(js, "EVENTS", pub, n)
        assert reader.repeats_not_marked == 0
        assert handle.errors == 0
        handle.stop(5.0)
    print(
        f"\n{stepdowns} stepdowns, {n} messages: "
        f"stream_info saw the new leader after {', '.join(f'{e:.2f}' for e in elections)} s; "
        f"publish retries {pub.retries} {dict(pub.errors)}; worst publish {pub.worst:.2f} s; "
        f"redeliveries {reader.redelivered}, read twice {sum(reader.seen.values()) - n}"
    )


def _changed(leader: str | None, old: str) -> str:
    if leader is None or leader == old:
        raise bns.JetStreamError(f"the leader is still {leader}")
    return leader


def test_publish_while_the_stream_elects_a_leader_is_not_a_missing_stream(nodes: list[Node]) -> None:
    with bns.connect([s.url for s in nodes], timeout=5.0) as admin:
        leader = _r3_stream(admin.jetstream(timeout=5.0), "ELECT", "elect")
    victim = _node(nodes, leader)
    others = [s.url for s in nodes if s is not victim]
    with bns.connect(others, timeout=5.0) as nc:  # not on the victim: only the election is in the way
        js = nc.jetstream(timeout=5.0)
        js.publish("elect.0", b"before", msg_id="e-0", timeout=5.0)
        victim.kill()
        seen: list[str] = []
        deadline = time.monotonic() + PUBLISH_DEADLINE
        while time.monotonic() < deadline:
            try:
                js.publish("elect.1", b"during", msg_id="e-1", timeout=10.0)
                break
            except bns.NATSSyncError as exc:
                seen.append(f"{type(exc).__name__}: {exc}")
                assert not isinstance(exc, bns.StreamNotFoundError), seen
                time.sleep(0.05)  # a back-off between attempts, not a synchronisation
        else:
            raise AssertionError(f"no ack within {PUBLISH_DEADLINE} s: {seen}")


def test_publish_without_a_meta_leader_keeps_to_its_timeout(nodes: list[Node]) -> None:
    with bns.connect([s.url for s in nodes], timeout=5.0) as admin:
        leader = _r3_stream(admin.jetstream(timeout=5.0), "QUORUM", "quorum")
    meta = retry(lambda: _agreed_meta_leader(nodes), 30.0, "an agreed meta leader")
    # the client's node stays up; it leads neither the stream nor the meta group, so once the others
    # are gone nothing answers the stream's subject and nothing answers $JS.API
    survivor = next(s for i, s in enumerate(nodes) if f"n{i}" not in (meta, leader))
    with bns.connect(survivor.url, timeout=5.0) as nc:
        js = nc.jetstream(timeout=5.0)
        js.publish("quorum.0", b"before", timeout=5.0)
        for s in nodes:
            if s is not survivor:
                s.kill()
        took: list[float] = []
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(bns.NATSSyncError):
                js.publish("quorum.1", b"during", timeout=0.5)
            took.append(time.monotonic() - started)
        assert max(took) < 1.0, f"publish(timeout=0.5) took {', '.join(f'{t:.2f}' for t in took)} s"


def _agreed_meta_leader(nodes: list[Node]) -> str:
    seen = {meta_leader(s) for s in nodes}
    if len(seen) != 1 or None in seen:
        raise bns.JetStreamError(f"no agreed meta leader yet: {seen}")
    (leader,) = seen
    assert leader is not None
    return leader
