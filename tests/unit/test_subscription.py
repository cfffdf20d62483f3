"""Subscriptions: pull mode, unsubscribe, auto-unsubscribe, drain, slow consumers."""

from __future__ import annotations

import threading

import pytest

import beluga_nats_sync as bns

from helpers import wait_for


def test_next_msg_and_iteration(client: bns.Client) -> None:
    sub = client.subscribe("sub.pull")
    for i in range(5):
        client.publish("sub.pull", b"%d" % i)
    assert sub.next_msg(2.0).data == b"0"
    rest = [m.data for m in sub.messages(timeout=0.5)]
    assert rest == [b"1", b"2", b"3", b"4"]
    assert sub.delivered == 5 and sub.pending == 0


def test_messages_limit(client: bns.Client) -> None:
    sub = client.subscribe("sub.limit")
    for i in range(5):
        client.publish("sub.limit", b"%d" % i)
    assert [m.data for m in sub.messages(timeout=2.0, limit=2)] == [b"0", b"1"]


def test_next_msg_times_out(client: bns.Client) -> None:
    sub = client.subscribe("sub.empty")
    with pytest.raises(bns.NATSTimeoutError):
        sub.next_msg(timeout=0.05)
    with pytest.raises(TimeoutError):
        sub.next_msg(timeout=0)


def test_next_msg_refused_on_callback_subscription(client: bns.Client) -> None:
    sub = client.subscribe("sub.cbonly", lambda m: None)
    with pytest.raises(RuntimeError, match="without a callback"):
        sub.next_msg(0.1)


def test_unsubscribe_stops_delivery(client: bns.Client) -> None:
    seen: list[bytes] = []
    sub = client.subscribe("sub.unsub", lambda m: seen.append(m.data))
    client.publish("sub.unsub", b"1")
    wait_for(lambda: seen == [b"1"])
    sub.unsubscribe()
    probe = client.subscribe("sub.unsub")
    client.publish("sub.unsub", b"2")
    assert probe.next_msg(2.0).data == b"2"  # the server had it; the old subscription did not
    assert seen == [b"1"]
    assert not sub.is_active
    sub.unsubscribe()  # idempotent
    probe.unsubscribe()
    with pytest.raises(bns.ClosedError):
        probe.next_msg(0.1)


def test_auto_unsubscribe_after_max_msgs(client: bns.Client) -> None:
    sub = client.subscribe("sub.max", max_msgs=3)
    for i in range(10):
        client.publish("sub.max", b"%d" % i)
    client.flush(2.0)
    assert [m.data for m in sub.messages(timeout=1.0)] == [b"0", b"1", b"2"]
    with pytest.raises(bns.ClosedError):
        sub.next_msg(0.1)
    assert not sub.is_active


def test_auto_unsubscribe_with_callback(client: bns.Client) -> None:
    seen: list[bytes] = []
    client.subscribe("sub.maxcb", lambda m: seen.append(m.data), max_msgs=2)
    for i in range(5):
        client.publish("sub.maxcb", b"%d" % i)
    client.flush(2.0)
    wait_for(lambda: len(seen) == 2)
    client.flush(2.0)
    assert seen == [b"0", b"1"]


def test_drain_delivers_what_was_received(client: bns.Client) -> None:
    seen: list[bytes] = []
    release = threading.Event()

    def slow(msg: bns.Msg) -> None:
        release.wait(5.0)
        seen.append(msg.data)

    sub = client.subscribe("sub.drain", slow)
    for i in range(20):
        client.publish("sub.drain", b"%d" % i)
    client.flush(2.0)
    wait_for(lambda: sub.pending + sub.delivered >= 19, what="messages received")
    release.set()
    sub.drain(timeout=5.0)
    assert seen == [b"%d" % i for i in range(20)]
    assert not sub.is_active


def test_drain_pull_mode_keeps_messages_readable(client: bns.Client) -> None:
    sub = client.subscribe("sub.drainpull")
    for i in range(3):
        client.publish("sub.drainpull", b"%d" % i)
    sub.drain(timeout=2.0)
    assert [m.data for m in sub.messages(timeout=1.0)] == [b"0", b"1", b"2"]
    with pytest.raises(bns.ClosedError):
        sub.next_msg(0.1)


def test_slow_consumer_drops_are_counted_and_reported_once(make_client) -> None:  # type: ignore[no-untyped-def]
    reported: list[BaseException] = []
    nc = make_client(error_cb=reported.append)
    sub = nc.subscribe("sub.slow", pending_msgs_limit=10)
    for i in range(100):
        nc.publish("sub.slow", b"%d" % i)
    nc.flush(2.0)
    wait_for(lambda: sub.dropped == 90, what="90 drops")
    assert sub.pending == 10
    assert nc.stats.dropped == 90
    wait_for(lambda: len(reported) == 1, what="one slow-consumer report")
    assert isinstance(reported[0], bns.SlowConsumerError)
    assert "sub.slow" in str(reported[0])
    # the first ten are kept, in order, and the client goes on working
    assert [int(m.data) for m in sub.messages(timeout=0.2)] == list(range(10))
    nc.publish("sub.slow", b"after")
    assert sub.next_msg(2.0).data == b"after"
    assert len(reported) == 1


def test_slow_consumer_byte_limit_bounds_memory(client: bns.Client) -> None:
    sub = client.subscribe("sub.slowbytes", pending_bytes_limit=10_000)
    chunk = b"x" * 1000
    for _ in range(100):
        client.publish("sub.slowbytes", chunk)
    client.flush(2.0)
    wait_for(lambda: sub.pending + sub.dropped == 100)
    assert sub.pending_bytes <= 10_000
    assert sub.dropped >= 90


def test_repr_shows_counts(client: bns.Client) -> None:
    sub = client.subscribe("sub.repr", queue="g")
    text = repr(sub)
    assert "sub.repr" in text and "pending=0" in text and "queue='g'" in text


def test_several_threads_pulling_one_subscription_share_its_messages(client: bns.Client) -> None:
    n, readers = 4000, 4
    sub = client.subscribe("sub.manyreaders", pending_msgs_limit=n + 1)
    for i in range(n):
        client.publish("sub.manyreaders", b"%d" % i)
    client.flush(5.0)
    wait_for(lambda: sub.pending == n, what="all received")
    got: list[list[int]] = [[] for _ in range(readers)]

    def read(k: int) -> None:
        for m in sub.messages(timeout=0.5):
            got[k].append(int(m.data))

    ts = [threading.Thread(target=read, args=(k,)) for k in range(readers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30.0)
    assert sorted(x for g in got for x in g) == list(range(n))  # each message to exactly one reader
    assert sub.delivered == n and sub.pending == 0 and sub.pending_bytes == 0


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit])
def test_a_callback_raising_a_base_exception_does_not_end_delivery(
    client: bns.Client, exc: type[BaseException]
) -> None:
    seen: list[bytes] = []
    done = threading.Event()

    def cb(msg: bns.Msg) -> None:
        if msg.data == b"raise":
            raise exc("from the callback")
        seen.append(msg.data)
        if msg.data == b"after":
            done.set()

    sub = client.subscribe("base.exc", cb)
    for data in (b"before", b"raise", b"after"):
        client.publish("base.exc", data)
    assert done.wait(5.0), "delivery stopped after the callback raised"
    assert seen == [b"before", b"after"]
    assert sub.errors == 1 and client.stats.callback_errors == 1 and sub.is_active


def test_auto_unsubscribe_later_ends_at_the_limit(client: bns.Client) -> None:
    sub = client.subscribe("auto.later")
    sub.auto_unsubscribe(3)
    for i in range(5):
        client.publish("auto.later", b"%d" % i)
    assert [m.data for m in sub.messages(timeout=0.5)] == [b"0", b"1", b"2"]
    assert not sub.is_active
    with pytest.raises(ValueError, match="max_msgs"):
        sub.auto_unsubscribe(0)
