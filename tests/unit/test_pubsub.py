"""Publish and subscribe (on the in-memory server: this is client behaviour): round trips, ordering, threads."""

from __future__ import annotations

import threading

import beluga_nats_sync as bns

from helpers import wait_for


def test_round_trip_with_headers(client: bns.Client) -> None:
    sub = client.subscribe("pubsub.rt")
    client.publish("pubsub.rt", b"hello", headers={"X-Trace": "abc", "k": "v w"})
    msg = sub.next_msg(timeout=2.0)
    assert msg.subject == "pubsub.rt"
    assert msg.data == b"hello"
    assert msg.headers == {"X-Trace": "abc", "k": "v w"}
    assert msg.reply == ""


def test_bytes_like_payloads_and_empty(client: bns.Client) -> None:
    sub = client.subscribe("pubsub.bytes")
    client.publish("pubsub.bytes", bytearray(b"ba"))
    client.publish("pubsub.bytes", memoryview(b"mv"))
    client.publish("pubsub.bytes")
    assert [sub.next_msg(2.0).data for _ in range(3)] == [b"ba", b"mv", b""]


def test_reply_subject_is_carried(client: bns.Client) -> None:
    sub = client.subscribe("pubsub.reply")
    client.publish("pubsub.reply", b"x", reply="pubsub.answer")
    assert sub.next_msg(2.0).reply == "pubsub.answer"


def test_order_of_100k_messages_from_one_thread(client: bns.Client) -> None:
    n = 100_000
    seen: list[int] = []
    done = threading.Event()

    def on_msg(msg: bns.Msg) -> None:
        seen.append(int(msg.data))
        if len(seen) == n:
            done.set()

    client.subscribe("pubsub.order", on_msg)
    client.flush(5.0)
    for i in range(n):
        client.publish("pubsub.order", b"%d" % i)
    assert done.wait(30.0), f"only {len(seen)} of {n} arrived"
    assert seen == list(range(n))


def test_large_and_small_payloads_interleaved_keep_their_order_and_bytes(client: bns.Client) -> None:
    # large commands are handed to the socket on their own, small ones joined into chunks: the
    # order between the two kinds, and every byte, must survive that
    sizes = [16, 40 * 1024, 1, 64 * 1024, 0, 200 * 1024, 5, 32 * 1024, 32 * 1024 - 1, 3]
    rounds = 30
    expected = [(i, sizes[i % len(sizes)]) for i in range(rounds * len(sizes))]
    sub = client.subscribe("pubsub.mixed", pending_msgs_limit=len(expected) + 1, pending_bytes_limit=1 << 30)
    client.flush(5.0)
    for i, size in expected:
        head = b"%d:" % i
        client.publish("pubsub.mixed", (head + bytes([i % 251]) * size)[: max(size, len(head))])
    got = []
    for _ in expected:
        data = sub.next_msg(10.0).data
        index = int(data.split(b":", 1)[0])
        got.append((index, data))
    assert [i for i, _ in got] == [i for i, _ in expected]
    for (i, size), (_, data) in zip(expected, got, strict=True):
        head = b"%d:" % i
        assert data == (head + bytes([i % 251]) * size)[: max(size, len(head))], (i, size, len(data))


def test_eight_threads_publishing_keep_their_order_and_lose_nothing(client: bns.Client) -> None:
    threads, per = 8, 10_000
    sub = client.subscribe("pubsub.threads", pending_msgs_limit=threads * per + 1)
    client.flush(5.0)
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait(5.0)
        for i in range(per):
            client.publish("pubsub.threads", b"%d:%d" % (t, i))

    ws = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in ws:
        w.start()
    for w in ws:
        w.join(30.0)
    client.flush(10.0)
    got: dict[int, list[int]] = {t: [] for t in range(threads)}
    for _ in range(threads * per):
        t, i = sub.next_msg(5.0).data.split(b":")
        got[int(t)].append(int(i))
    for t in range(threads):
        assert got[t] == list(range(per)), f"thread {t} out of order or lost messages"
    assert client.stats.out_msgs >= threads * per


def test_callback_runs_on_its_own_thread_in_order(client: bns.Client) -> None:
    names: set[str] = set()
    seen: list[bytes] = []
    client.subscribe("pubsub.cbthread", lambda m: (names.add(threading.current_thread().name), seen.append(m.data)))
    for i in range(100):
        client.publish("pubsub.cbthread", b"%d" % i)
    wait_for(lambda: len(seen) == 100, what="100 callbacks")
    assert seen == [b"%d" % i for i in range(100)]
    assert len(names) == 1 and threading.current_thread().name not in names


def test_raising_callback_is_counted_and_delivery_goes_on(client: bns.Client) -> None:
    seen: list[bytes] = []

    def cb(msg: bns.Msg) -> None:
        if msg.data == b"boom":
            raise RuntimeError("handler failed")
        seen.append(msg.data)

    sub = client.subscribe("pubsub.raise", cb)
    for data in (b"boom", b"a", b"boom", b"b", b"c"):
        client.publish("pubsub.raise", data)
    wait_for(lambda: len(seen) == 3, what="three good deliveries")
    assert seen == [b"a", b"b", b"c"]
    assert sub.errors == 2
    assert client.stats.callback_errors == 2
    assert sub.delivered == 5


def test_queue_group_shares_work(client: bns.Client) -> None:
    a: list[bns.Msg] = []
    b: list[bns.Msg] = []
    client.subscribe("pubsub.q", a.append, queue="workers")
    client.subscribe("pubsub.q", b.append, queue="workers")
    client.flush(2.0)
    for i in range(200):
        client.publish("pubsub.q", b"%d" % i)
    wait_for(lambda: len(a) + len(b) == 200, what="all 200 handled once")
    assert sorted(int(m.data) for m in a + b) == list(range(200))
    assert a and b, "both members of the group got work"


def test_wildcard_subscription(client: bns.Client) -> None:
    sub = client.subscribe("pubsub.wild.>")
    client.publish("pubsub.wild.a.b", b"1")
    assert sub.next_msg(2.0).subject == "pubsub.wild.a.b"


def test_publish_from_inside_a_callback(client: bns.Client) -> None:
    out = client.subscribe("pubsub.chain.out")
    client.subscribe("pubsub.chain.in", lambda m: client.publish("pubsub.chain.out", m.data + b"!"))
    client.publish("pubsub.chain.in", b"go")
    assert out.next_msg(2.0).data == b"go!"


def test_stats_count_both_directions(client: bns.Client) -> None:
    sub = client.subscribe("pubsub.stats")
    before = client.stats
    client.publish("pubsub.stats", b"12345")
    sub.next_msg(2.0)
    after = client.stats
    assert after.out_msgs == before.out_msgs + 1
    assert after.out_bytes == before.out_bytes + 5
    assert after.in_msgs >= before.in_msgs + 1
