"""JetStream from synchronous code, against a real nats-server with JetStream and file storage."""

from __future__ import annotations

import collections
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream, JetStreamMsg
from beluga_nats_sync.server import EmbeddedServer

from helpers import thread_names, wait_for


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def js(client: bns.Client) -> JetStream:
    return client.jetstream(timeout=5.0)


@pytest.fixture
def stream(js: JetStream) -> Iterator[tuple[str, str]]:
    """A stream of the test's own: (stream name, subject prefix); deleted afterwards."""
    name = _name("S")
    prefix = name.lower()
    js.add_stream(name=name, subjects=[f"{prefix}.>"], storage="file")
    yield name, prefix
    if js._engine.is_open:
        js.delete_stream(name)


# -- publishing ---------------------------------------------------------------------------------------
def test_publish_returns_the_ack_and_msg_id_deduplicates(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    a1 = js.publish(f"{p}.a", b"one", msg_id="m-1")
    a2 = js.publish(f"{p}.a", b"two", headers={"k": "v"})
    dup = js.publish(f"{p}.a", b"one again", msg_id="m-1")
    assert (a1.stream, a1.seq, a1.duplicate) == (name, 1, False)
    assert (a2.seq, a2.duplicate) == (2, False)
    assert dup.duplicate is True and dup.seq == 1
    assert js.stream_info(name).state.messages == 2


def test_publish_async_pipelines_and_completes(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    futs = [js.publish_async(f"{p}.x", b"%d" % i, msg_id=f"id-{i}") for i in range(2000)]
    js.publish_async_complete(timeout=10.0)
    assert js.publish_async_pending == 0
    seqs = [f.result().seq for f in futs]
    assert seqs == list(range(1, 2001))
    assert all(f.done() and f.exception() is None for f in futs)
    # the same ids again are all duplicates
    again = [js.publish_async(f"{p}.x", b"", msg_id=f"id-{i}") for i in range(0, 2000, 100)]
    assert all(f.result().duplicate for f in again)
    assert js.stream_info(name).state.messages == 2000


def test_publish_async_pending_bound_applies_back_pressure(client: bns.Client, stream: tuple[str, str]) -> None:
    _, p = stream
    js = client.jetstream(timeout=5.0, publish_async_max_pending=8)
    futs = [js.publish_async(f"{p}.bp", b"x") for _ in range(200)]
    assert len(js._pending) <= 8
    js.publish_async_complete(5.0)
    assert sorted(f.result().seq for f in futs) == list(range(1, 201))


def test_publish_to_a_subject_no_stream_captures_is_stream_not_found(js: JetStream) -> None:
    with pytest.raises(bns.StreamNotFoundError, match="no stream captures subject 'nobody.listens'"):
        js.publish("nobody.listens", b"x", timeout=2.0)
    fut = js.publish_async("nobody.listens", b"x", timeout=2.0)
    assert isinstance(fut.exception(), bns.StreamNotFoundError)


# -- stream management ------------------------------------------------------------------------------
def test_stream_management(js: JetStream) -> None:
    name = _name("MGMT")
    info = js.add_stream(name=name, subjects=[f"{name}.in"], max_msgs=100)
    assert info.config.subjects == [f"{name}.in"] and info.config.max_msgs == 100
    assert js.add_stream(name=name, subjects=[f"{name}.in"], max_msgs=100).config.name == name  # idempotent
    with pytest.raises(bns.JetStreamError, match="different configuration") as exc_info:
        js.add_stream(name=name, subjects=[f"{name}.other"])
    assert exc_info.value.err_code == 10058
    updated = js.update_stream(name, max_msgs=5)  # only the named setting changes
    assert updated.config.max_msgs == 5 and updated.config.subjects == [f"{name}.in"]
    for i in range(8):
        js.publish(f"{name}.in", b"%d" % i)
    assert js.stream_info(name).state.messages == 5
    js.purge_stream(name)
    assert js.stream_info(name).state.messages == 0
    js.delete_stream(name)
    with pytest.raises(bns.StreamNotFoundError, match=repr(name)):
        js.stream_info(name)
    with pytest.raises(bns.StreamNotFoundError):
        js.delete_stream(name)


def test_missing_consumer_and_stream_errors(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    with pytest.raises(bns.ConsumerNotFoundError):
        js.consumer_info(name, "nobody")
    with pytest.raises(bns.StreamNotFoundError):
        js.pull_subscribe("unknown.subject", durable="d")
    with pytest.raises(bns.StreamNotFoundError):
        js.consumer_info("NO_SUCH_STREAM", "d")


def test_jetstream_not_enabled_is_a_clear_error() -> None:
    with EmbeddedServer(jetstream=False) as srv, bns.connect(srv.url) as nc:
        js = nc.jetstream(timeout=2.0)
        calls: list[Callable[[], object]] = [
            lambda: js.publish("a.b", b"x"),
            lambda: js.add_stream(name="X", subjects=["x"]),
            lambda: js.stream_info("X"),
            lambda: js.key_value("bucket"),
            lambda: js.pull_subscribe("x", durable="d"),
        ]
        for call in calls:
            with pytest.raises(bns.JetStreamNotEnabledError, match="-js"):
                call()


# -- pull consumers and acknowledgements ------------------------------------------------------------------
def test_fetch_ack_nak_term_and_metadata(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    for i in range(5):
        js.publish(f"{p}.q", b"%d" % i)
    sub = js.pull_subscribe(f"{p}.q", durable="puller", ack_wait=30.0)
    msgs = sub.fetch(5, timeout=2.0)
    assert [m.data for m in msgs] == [b"0", b"1", b"2", b"3", b"4"]
    assert all(isinstance(m, JetStreamMsg) and isinstance(m, bns.Msg) for m in msgs)
    md = msgs[0].metadata
    assert (md.stream, md.consumer, md.sequence, md.num_delivered, md.num_pending) == (name, "puller", 1, 1, 4)
    assert md.timestamp.tzinfo is not None
    msgs[0].ack()
    with pytest.raises(bns.MsgAlreadyAckedError):
        msgs[0].nak()
    msgs[1].in_progress()
    msgs[1].ack_sync(timeout=2.0)
    msgs[2].nak()  # back at once
    msgs[3].term("not wanted")
    msgs[4].nak(delay=0.2)
    with pytest.raises(bns.MsgAlreadyAckedError):
        msgs[4].in_progress()
    again: list[JetStreamMsg] = []
    for _ in range(3):  # fetch returns what is there; 5 comes back only after its delay
        again += sub.fetch(2, timeout=3.0) if len(again) < 2 else []
    assert sorted((m.metadata.sequence, m.metadata.num_delivered) for m in again) == [(3, 2), (5, 2)]
    for m in again:
        m.ack()
    with pytest.raises(bns.NATSTimeoutError, match="no message for durable 'puller'"):
        sub.fetch(1, timeout=0.3)  # 4 was terminated: nothing is left
    wait_for(lambda: js.consumer_info(name, "puller").num_ack_pending == 0, 5.0, "acks recorded")
    sub.unsubscribe()
    with pytest.raises(bns.ClosedError):
        sub.fetch(1, timeout=0.1)


def test_an_existing_durable_gets_the_named_settings_and_keeps_the_rest(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    js.pull_subscribe(f"{p}.u", durable="upd", ack_wait=30.0, deliver_policy="new")
    with js.consume(f"{p}.u", durable="upd", callback=lambda m: None, ack_wait=7.0, max_ack_pending=50):
        cfg = js.consumer_info(name, "upd").config
    assert (cfg.ack_wait, cfg.max_ack_pending, cfg.max_deliver) == (7.0, 50, -1)
    assert cfg.deliver_policy == "new"  # not named by consume(): left as it was
    with pytest.raises(bns.JetStreamError, match="filters"):
        js.pull_subscribe(f"{p}.other", durable="upd")


def test_acks_from_many_threads(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    for i in range(200):
        js.publish_async(f"{p}.t", b"%d" % i)
    js.publish_async_complete(5.0)
    sub = js.pull_subscribe(f"{p}.t", durable="threads")
    msgs: list[JetStreamMsg] = []
    while len(msgs) < 200:
        msgs.extend(sub.fetch(200 - len(msgs), timeout=2.0))
    workers = [threading.Thread(target=lambda ms=msgs[i::4]: [m.ack() for m in ms]) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(5.0)
    wait_for(lambda: js.consumer_info(name, "threads").num_ack_pending == 0, 5.0, "all acks recorded")


def test_ack_on_a_message_not_from_jetstream_is_refused() -> None:
    m = JetStreamMsg("plain", b"x", "_INBOX.abc")
    with pytest.raises(bns.NoReplySubjectError, match="not delivered by a JetStream consumer"):
        m.ack()
    with pytest.raises(bns.NoReplySubjectError):
        _ = m.metadata


def test_durable_pull_consumer_resumes_in_a_new_client(nats_server: EmbeddedServer, stream: tuple[str, str]) -> None:
    name, p = stream
    with bns.connect(nats_server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        for i in range(100):
            js.publish_async(f"{p}.r", b"%d" % i)
        js.publish_async_complete(5.0)
        sub = js.pull_subscribe(f"{p}.r", durable="resume")
        first = sub.fetch(30, timeout=2.0)
        for m in first:
            m.ack_sync(timeout=2.0)
        assert [m.metadata.sequence for m in first] == list(range(1, 31))
    with bns.connect(nats_server.url) as nc:
        sub = nc.jetstream(timeout=5.0).pull_subscribe(f"{p}.r", durable="resume")
        nxt = sub.fetch(10, timeout=2.0)
        assert [m.metadata.sequence for m in nxt] == list(range(31, 41))
        assert all(m.metadata.num_delivered == 1 for m in nxt)


# -- consume: a callback on a dispatcher thread ---------------------------------------------------------
def test_consume_acks_on_return(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    got: list[bytes] = []
    threads: set[str] = set()

    def handle(msg: JetStreamMsg) -> None:
        threads.add(threading.current_thread().name)
        got.append(msg.data)

    with js.consume(f"{p}.c", durable="ackd", callback=handle, ack_wait=5.0) as h:
        for i in range(50):
            js.publish(f"{p}.c", b"%d" % i)
        wait_for(lambda: len(got) == 50, 10.0, "50 messages consumed")
        wait_for(lambda: js.consumer_info(name, "ackd").num_ack_pending == 0, 5.0, "acks recorded")
        assert h.acked == 50 and h.naked == 0 and h.errors == 0
    assert got == [b"%d" % i for i in range(50)]  # one dispatcher: in order
    assert len(threads) == 1 and threading.current_thread().name not in threads
    assert not h.is_active
    assert not any(n.startswith("nats-js-") for n in thread_names())


def test_a_handler_raising_system_exit_is_retried_and_consuming_goes_on(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    calls: collections.Counter[bytes] = collections.Counter()
    done: list[bytes] = []

    def handle(msg: JetStreamMsg) -> None:
        calls[msg.data] += 1
        if msg.data == b"exit" and calls[msg.data] == 1:
            raise SystemExit("from the handler")
        done.append(msg.data)

    with js.consume(f"{p}.x", durable="exits", callback=handle, ack_wait=5.0, backoff=0.05) as h:
        for data in (b"exit", b"after"):
            js.publish(f"{p}.x", data)
        wait_for(lambda: sorted(done) == [b"after", b"exit"], 10.0, "both handled, the failed one after a retry")
        assert h.errors == 1 and h.is_active and calls[b"exit"] == 2


def test_failing_messages_are_redelivered_and_processed_once_they_succeed(
    js: JetStream, stream: tuple[str, str]
) -> None:
    name, p = stream
    attempts: collections.Counter[int] = collections.Counter()
    done: dict[int, int] = {}  # seq -> delivery count when it succeeded

    def flaky(msg: JetStreamMsg) -> None:
        md = msg.metadata
        attempts[md.sequence] += 1
        if md.sequence % 3 == 0 and md.num_delivered < 3:
            raise RuntimeError(f"transient failure on {md.sequence}")
        done[md.sequence] = md.num_delivered

    for i in range(30):
        js.publish(f"{p}.f", b"%d" % i)
    h = js.consume(f"{p}.f", durable="flaky", callback=flaky, ack_wait=5.0, max_deliver=5, backoff=[0.05, 0.1])
    try:
        wait_for(lambda: len(done) == 30, 15.0, "every message processed")
        wait_for(lambda: js.consumer_info(name, "flaky").num_ack_pending == 0, 5.0, "acks recorded")
    finally:
        h.stop()
    assert sorted(done) == list(range(1, 31))
    for seq in range(1, 31):
        expected = 3 if seq % 3 == 0 else 1
        assert attempts[seq] == expected and done[seq] == expected, seq
    assert h.naked == 20 and h.errors == 20 and h.dead_lettered == 0 and h.acked == 30


def test_poison_message_is_dead_lettered_after_max_deliver(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    dlq_stream = _name("DLQ")
    js.add_stream(name=dlq_stream, subjects=[f"{dlq_stream}.dead"])
    attempts: collections.Counter[int] = collections.Counter()
    processed: list[int] = []

    def handle(msg: JetStreamMsg) -> None:
        seq = msg.metadata.sequence
        attempts[seq] += 1
        if msg.data == b"poison":
            raise ValueError("cannot parse\r\nthis payload")
        processed.append(seq)

    for i in range(10):
        js.publish(f"{p}.d", b"poison" if i == 3 else b"ok %d" % i, headers={"trace": f"t{i}"})
    h = js.consume(
        f"{p}.d",
        durable="dl",
        callback=handle,
        max_deliver=3,
        backoff=0.05,
        dead_letter_subject=f"{dlq_stream}.dead",
    )
    try:
        wait_for(lambda: h.dead_lettered == 1 and len(processed) == 9, 15.0, "9 processed, 1 dead-lettered")
        # the others go on after the poison message is terminated
        for i in range(10, 15):
            js.publish(f"{p}.d", b"ok %d" % i)
        wait_for(lambda: len(processed) == 14, 10.0, "later messages processed")
        wait_for(lambda: js.consumer_info(name, "dl").num_ack_pending == 0, 5.0, "nothing left unanswered")
    finally:
        h.stop()
    assert attempts[4] == 3 and 4 not in processed
    dead = js.pull_subscribe(f"{dlq_stream}.dead", durable="inspect").fetch(5, timeout=2.0)
    assert len(dead) == 1
    d = dead[0]
    assert d.data == b"poison"
    assert d.headers is not None
    assert d.headers["Beluga-Error"] == "cannot parse this payload"  # the text; its type has its own header
    assert d.headers["Beluga-Stream"] == name
    assert d.headers["Beluga-Consumer"] == "dl"
    assert d.headers["Beluga-Stream-Seq"] == "4"
    assert d.headers["Beluga-Num-Delivered"] == "3"
    assert d.headers["Beluga-Subject"] == f"{p}.d"
    assert d.headers["trace"] == "t3"  # the original headers travel along
    # the names the bus writes too; the old ones above stay written until the next release
    assert d.headers["Beluga-Original-Subject"] == f"{p}.d"
    assert d.headers["Beluga-Attempts"] == "3"
    assert d.headers["Beluga-Error-Type"] == "ValueError"
    assert "Beluga-Message-Id" not in d.headers and "Beluga-Msg-Id" not in d.headers  # it had no Nats-Msg-Id
    assert bns.DeadLetter.from_msg(d) == bns.DeadLetter(
        subject=f"{p}.d",
        attempts=3,
        message_id="",
        error="cannot parse this payload",
        error_type="ValueError",
        stream=name,
        consumer="dl",
        stream_seq=4,
        headers=d.headers,
        data=b"poison",
    )
    js.delete_stream(dlq_stream)


def test_dead_letter_subject_without_a_stream_goes_to_plain_subscribers(
    client: bns.Client, js: JetStream, stream: tuple[str, str]
) -> None:
    _, p = stream
    dlq = client.subscribe(f"plain-dlq.{p}")

    def always_fails(msg: JetStreamMsg) -> None:
        raise KeyError("missing field")

    js.publish(f"{p}.e", b"bad")
    with js.consume(
        f"{p}.e",
        durable="dlp",
        callback=always_fails,
        max_deliver=2,
        backoff=0.05,
        dead_letter_subject=f"plain-dlq.{p}",
    ):
        m = dlq.next_msg(timeout=10.0)
    assert m.data == b"bad"
    assert m.headers is not None and m.headers["Beluga-Num-Delivered"] == "2"
    assert (m.headers["Beluga-Error"], m.headers["Beluga-Error-Type"]) == ("'missing field'", "KeyError")


def test_bus_and_jetstream_dead_letters_read_the_same_way(
    client: bns.Client, js: JetStream, stream: tuple[str, str]
) -> None:
    """One failure, one through the bus and one through consume: one record, whoever wrote it."""
    _, p = stream
    dlq = client.subscribe(f"same-dlq.{p}.>")

    def fails(_: object) -> None:
        raise ValueError("same failure")

    to_dlq = f"same-dlq.{p}.bus"
    with bns.NATSMessageBus(client, max_retries=2, retry_backoff=0.01, dead_letter_subject=lambda _: to_dlq) as bus:
        bus.subscribe(f"bus-{p}.same", fails)
        client.flush(5.0)
        bus.publish(f"bus-{p}.same", bns.Message(type="job", message_id="job-7"))
        from_bus = bns.DeadLetter.from_msg(dlq.next_msg(timeout=10.0))
    js.publish(f"{p}.same", b"job", msg_id="job-7")
    with js.consume(
        f"{p}.same",
        durable="same",
        callback=fails,
        max_deliver=3,
        backoff=0.01,
        dead_letter_subject=f"same-dlq.{p}.js",
    ):
        raw = dlq.next_msg(timeout=10.0)
    from_js = bns.DeadLetter.from_msg(raw)
    assert raw.headers is not None and raw.headers["Beluga-Msg-Id"] == raw.headers["Beluga-Message-Id"] == "job-7"
    assert (from_bus.subject, from_js.subject) == (f"bus-{p}.same", f"{p}.same")
    for dead in (from_bus, from_js):
        assert (dead.attempts, dead.message_id, dead.error_type, dead.error) == (
            3,
            "job-7",
            "ValueError",
            "same failure",
        )
    # every header the bus writes, the JetStream one carries with the same value (but the subject)
    written = {k: v for k, v in from_bus.headers.items() if k.startswith("Beluga-") and k != "Beluga-Original-Subject"}
    assert set(written) == {"Beluga-Error", "Beluga-Error-Type", "Beluga-Attempts", "Beluga-Message-Id"}
    assert {k: from_js.headers[k] for k in written} == written
    assert (from_js.consumer, from_js.stream_seq) == ("same", 1) and from_bus.stream_seq is None


def test_callback_may_answer_itself_and_stop_its_own_consumer(js: JetStream, stream: tuple[str, str]) -> None:
    name, p = stream
    seen: list[int] = []
    stopped = threading.Event()
    handle_box: list[bns.jetstream.ConsumeHandle] = []

    def handle(msg: JetStreamMsg) -> None:
        seen.append(msg.metadata.sequence)
        msg.term()  # answered here: the dispatcher must not ack it as well
        if len(seen) == 3:
            wait_for(lambda: bool(handle_box), 5.0)
            handle_box[0].stop()  # from the callback itself
            stopped.set()

    for i in range(10):
        js.publish(f"{p}.s", b"%d" % i)
    h = js.consume(f"{p}.s", durable="self", callback=handle, batch=1)
    handle_box.append(h)
    assert stopped.wait(10.0)
    h.stop()
    assert seen == [1, 2, 3] and h.acked == 0
    assert not h.is_active


def test_durable_consume_resumes_after_the_client_is_closed(
    nats_server: EmbeddedServer, stream: tuple[str, str]
) -> None:
    name, p = stream
    first: list[int] = []
    second: list[int] = []
    with bns.connect(nats_server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        for i in range(200):
            js.publish_async(f"{p}.dur", b"%d" % i)
        js.publish_async_complete(5.0)
        h = js.consume(f"{p}.dur", durable="resumer", callback=lambda m: first.append(m.metadata.sequence), ack_wait=2)
        wait_for(lambda: len(first) >= 50, 10.0, "a first part consumed")
    # closing the client stopped the consumer; acks of what was processed were sent
    assert not h.is_active
    with bns.connect(nats_server.url) as nc:
        js = nc.jetstream(timeout=5.0)
        with js.consume(
            f"{p}.dur", durable="resumer", callback=lambda m: second.append(m.metadata.sequence), ack_wait=2
        ):
            wait_for(lambda: len(set(first) | set(second)) == 200, 15.0, "the rest consumed")
            wait_for(lambda: js.consumer_info(name, "resumer").num_ack_pending == 0, 5.0, "acks recorded")
    assert not set(first) & set(second), "a message acked before the close was delivered again"
    assert len(first) == len(set(first)) and len(second) == len(set(second))


def test_ten_thousand_messages_survive_a_restart_and_are_consumed_exactly_once(tmp_path: Path) -> None:
    n = 10_000
    with EmbeddedServer(store_dir=tmp_path / "store") as srv:
        nc = bns.connect(srv.url, reconnect_wait=0.1, max_reconnects=100)
        try:
            js = nc.jetstream(timeout=10.0)
            js.add_stream(name="DURABLE", subjects=["work.>"], storage="file")
            futs = [js.publish_async("work.item", b"%d" % i, msg_id=f"item-{i}") for i in range(n)]
            js.publish_async_complete(timeout=30.0)
            assert [f.result().seq for f in futs] == list(range(1, n + 1))

            srv.restart()  # same port, same store
            wait_for(lambda: nc.is_connected, 15.0, "the client reconnected")

            def stored() -> bool:
                try:
                    return js.stream_info("DURABLE", timeout=1.0).state.messages == n
                except bns.NATSSyncError:
                    return False  # JetStream is still recovering the store

            wait_for(stored, 15.0, "the stream recovered from disk")
            seen: collections.Counter[int] = collections.Counter()
            payload_ok = True

            def handle(msg: JetStreamMsg) -> None:
                nonlocal payload_ok
                seq = msg.metadata.sequence
                seen[seq] += 1
                payload_ok = payload_ok and msg.data == b"%d" % (seq - 1)

            with js.consume("work.>", durable="workers", callback=handle, ack_wait=30.0, batch=200) as h:
                wait_for(lambda: len(seen) == n, 60.0, f"{n} messages consumed")
                wait_for(lambda: js.consumer_info("DURABLE", "workers").num_ack_pending == 0, 10.0, "acks")
            info = js.consumer_info("DURABLE", "workers")
        finally:
            nc.close()
    assert sorted(seen) == list(range(1, n + 1))
    assert max(seen.values()) == 1, "a message was delivered twice"
    assert payload_ok
    assert h.acked == n and h.naked == 0
    assert info.num_pending == 0 and info.num_redelivered == 0 and info.ack_floor is not None
    assert info.ack_floor.stream_seq == n


@pytest.mark.parametrize("crash", [False, True], ids=["restart", "crash"])
def test_consume_picks_up_again_after_a_restart_while_running(tmp_path: Path, crash: bool) -> None:
    with EmbeddedServer(store_dir=tmp_path / "store") as srv:
        nc = bns.connect(srv.url, reconnect_wait=0.1, max_reconnects=100)
        try:
            js = nc.jetstream(timeout=5.0)
            js.add_stream(name="LIVE", subjects=["live.>"], storage="file")
            seen: collections.Counter[int] = collections.Counter()
            # a short pull expiry: the heartbeat watchdog notices the lost pull request quickly
            h = js.consume("live.>", durable="live", callback=lambda m: seen.update([m.metadata.sequence]), expires=1.0)
            for i in range(100):
                js.publish("live.x", b"%d" % i)
            wait_for(lambda: len(seen) == 100, 10.0, "first 100")
            if crash:  # no goodbye from the server: the lost pull request is found by its silence
                srv.kill()
                srv.start()
            else:
                srv.restart()

            def publish_after_restart() -> bool:
                try:
                    js.publish("live.x", b"after", timeout=1.0)
                    return True
                except bns.NATSSyncError:
                    return False

            wait_for(publish_after_restart, 20.0, "a publish accepted by the restarted server")
            for i in range(99):
                js.publish("live.x", b"after %d" % i)
            wait_for(lambda: len(seen) >= 200, 20.0, "messages published after the restart consumed")
            h.stop()
        finally:
            nc.close()
    assert sorted(seen) == list(range(1, 201))


def test_a_consumer_deleted_under_consume_is_reported_once(
    make_client: Callable[..., bns.Client], stream: tuple[str, str]
) -> None:
    name, p = stream
    errors: list[BaseException] = []
    nc = make_client(error_cb=errors.append)
    js = nc.jetstream(timeout=5.0)
    with js.consume(f"{p}.gone", durable="gone", callback=lambda m: None, expires=1.0) as h:
        js.delete_consumer(name, "gone")
        wait_for(lambda: any(isinstance(e, bns.ConsumerNotFoundError) for e in errors), 10.0, "the error reported")
        assert h.is_active  # it keeps retrying: the durable may be made again
    found = [e for e in errors if isinstance(e, bns.ConsumerNotFoundError)]
    assert len(found) == 1 and "'gone'" in str(found[0])


def test_close_ends_consumer_threads(nats_server: EmbeddedServer, stream: tuple[str, str]) -> None:
    _, p = stream
    nc = bns.connect(nats_server.url)
    js = nc.jetstream(timeout=5.0)
    h = js.consume(f"{p}.z", durable="closing", callback=lambda m: None)
    assert any(n.startswith("nats-js-closing") for n in thread_names())
    nc.close(timeout=5.0)
    assert not h.is_active
    assert not any(n.startswith("nats-js-closing") for n in thread_names())


# -- bad input is refused before anything is sent ---------------------------------------------------------
def test_bad_input(js: JetStream, stream: tuple[str, str]) -> None:
    _, p = stream
    with pytest.raises(bns.InvalidSubjectError):
        js.publish(f"{p}.*", b"x")
    with pytest.raises(ValueError, match="msg_id"):
        js.publish(f"{p}.a", b"x", msg_id="two\nlines")
    with pytest.raises(TypeError, match="bytes-like"):
        js.publish(f"{p}.a", "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stream name 'a.b'"):
        js.add_stream(name="a.b", subjects=["x"])
    with pytest.raises(TypeError, match="unknown setting.*'max_mesages'.*accepted: .*max_msgs"):
        js.add_stream(name="OK", subjects=["ok"], max_mesages=3)
    with pytest.raises(TypeError, match="unknown setting"):
        js.pull_subscribe(f"{p}.a", durable="d", ack_wiat=3)
    with pytest.raises(TypeError, match="filter_subject is set from the subject"):
        js.pull_subscribe(f"{p}.a", durable="d", filter_subject="x")
    with pytest.raises(ValueError, match="durable name"):
        js.pull_subscribe(f"{p}.a", durable="has space")

    async def coro(msg: JetStreamMsg) -> None:
        return None

    with pytest.raises(TypeError, match="coroutine"):
        js.consume(f"{p}.a", durable="d", callback=coro)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_deliver"):
        js.consume(f"{p}.a", durable="d", callback=print, max_deliver=0)
    with pytest.raises(ValueError, match="ack_wait"):
        js.consume(f"{p}.a", durable="d", callback=print, ack_wait=-1)
    with pytest.raises(TypeError, match="backoff"):
        js.consume(f"{p}.a", durable="d", callback=print, backoff=[])
    sub = js.pull_subscribe(f"{p}.a", durable="bad")
    with pytest.raises(ValueError, match="batch"):
        sub.fetch(0)
    with pytest.raises(ValueError, match="fetch timeout"):
        sub.fetch(1, timeout=0)


def test_calls_on_a_closed_client_raise_closed_error(nats_server: EmbeddedServer) -> None:
    nc = bns.connect(nats_server.url)
    js = nc.jetstream()
    nc.close()
    with pytest.raises(bns.ClosedError):
        js.publish("a.b", b"x")
    with pytest.raises(bns.ClosedError):
        js.stream_info("X")
