"""The Beluga bus on the in-memory server: envelopes over NATS, tracing across the wire, retries and
dead letters."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import beluga_nats_sync as bns
from beluga_nats_sync.bus import ATTEMPTS_HEADER, ERROR_HEADER, MESSAGE_ID_HEADER, SUBJECT_HEADER
from beluga_nats_sync.testing import MemoryServer

from helpers import wait_for


@pytest.fixture
def bus(memory_server: MemoryServer) -> Any:
    with bns.NATSMessageBus(memory_server.connect(), retry_backoff=0.01) as b:
        yield b


def test_round_trip_of_every_field(bus: bns.NATSMessageBus) -> None:
    got: list[bns.Message] = []
    bus.subscribe("bus.rt", got.append)
    bus.client.flush(2.0)
    sent = bns.Message(
        type="request",
        payload={
            "task": "process",
            "n": 3,
            "x": 1.5,
            "ok": True,
            "none": None,
            "list": [1, "a", {"k": "v"}],
            "unicode": "héllo <&> ✓",
        },
        timestamp=datetime(2026, 11, 25, 16, 20, 50, 123456, tzinfo=timezone(timedelta(hours=2))),
        message_id="msg-1",
    )
    bus.publish("bus.rt", sent)
    wait_for(lambda: len(got) == 1)
    assert got[0] == sent
    assert got[0].timestamp.utcoffset() == timedelta(hours=2)


GO_WRITTEN = [
    b'{"Type":"request","Payload":{"task":"process"},"Timestamp":"2026-11-25T16:20:50.123456789Z","MessageID":"a"}',
    b'{"Type":"t","Payload":{"n":{"deep":[1,2,{"x":null}]}},"Timestamp":"2026-11-25T18:20:50.5+02:00","MessageID":"b"}',
    b'{"Type":"t","Payload":null,"Timestamp":"0001-01-01T00:00:00Z","MessageID":"c"}',
    b'{"type":"t","payload":{"s":"\\u003cb\\u003e \\u0026 \xc3\xa9"},'
    b'"timestamp":"2026-11-25T16:20:50Z","messageid":"d","Extra":1}',
]
MALFORMED = [
    b"not json",
    b'["Type","t"]',
    b'{"Type":5,"Payload":{},"Timestamp":"2026-11-25T16:20:50Z","MessageID":"x"}',
    b'{"Type":"t","Payload":[1],"Timestamp":"2026-11-25T16:20:50Z","MessageID":"x"}',
    b'{"Type":"t","Payload":{},"Timestamp":"2026-11-25T16:20:50","MessageID":"x"}',
]


def test_go_bytes_decode_and_malformed_ones_are_dead_lettered(bus: bns.NATSMessageBus) -> None:
    got: list[bns.Message] = []
    bus.subscribe("bus.go", got.append)
    dlq = bus.client.subscribe("bus.go.dlq")
    bus.client.flush(2.0)
    for raw in GO_WRITTEN[:2] + MALFORMED + GO_WRITTEN[2:]:
        bus.client.publish("bus.go", raw)
    wait_for(lambda: len(got) == len(GO_WRITTEN), what="every good message, in order")
    assert [m.message_id for m in got] == ["a", "b", "c", "d"]
    assert got[0].timestamp == datetime(2026, 11, 25, 16, 20, 50, 123456, tzinfo=timezone.utc)
    assert got[1].payload == {"n": {"deep": [1, 2, {"x": None}]}}
    assert got[2].payload == {} and got[2].timestamp.year == 1
    assert got[3].payload == {"s": "<b> & é"}
    dead = [dlq.next_msg(2.0) for _ in MALFORMED]
    assert [d.data for d in dead] == MALFORMED
    for d in dead:
        assert d.headers is not None
        assert d.headers[SUBJECT_HEADER] == "bus.go" and d.headers[ATTEMPTS_HEADER] == "1"
        assert d.headers["Beluga-Error-Type"] == "MessageDecodeError"
    assert bus.stats.decode_errors == len(MALFORMED) == bus.stats.dead_lettered


def test_spans_and_parent_links_for_publish_and_subscribe(bus: bns.NATSMessageBus, spans: Any) -> None:
    done = threading.Event()
    bus.subscribe("bus.trace", lambda m: done.set(), queue="tracers")
    bus.client.flush(2.0)
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("agent-work") as root:
        bus.publish("bus.trace", bns.Message(type="ping", payload={}, message_id="m-1"))
    assert done.wait(2.0)
    wait_for(lambda: len(spans.get_finished_spans()) == 3, what="three spans")
    by_name = {s.name: s for s in spans.get_finished_spans()}
    pub, proc = by_name["nats.publish"], by_name["nats.process"]
    assert pub.kind is SpanKind.PRODUCER and proc.kind is SpanKind.CONSUMER
    assert pub.parent is not None and pub.parent.span_id == root.get_span_context().span_id
    assert proc.parent is not None and proc.parent.span_id == pub.context.span_id
    assert proc.context.trace_id == root.get_span_context().trace_id
    for s in (pub, proc):
        a = s.attributes or {}
        assert a["subject"] == "bus.trace" and a["message_type"] == "ping"
        assert a["messaging.system"] == "nats" and a["messaging.destination.name"] == "bus.trace"
        assert a["messaging.message.id"] == "m-1" and a["success"] is True
        assert a["message_size"] == a["messaging.message.body.size"] > 0
        # the server in use, as Client.server_address gives it: for the in-memory server, its name
        # (tests/integration/test_bus.py checks a real server's host and port)
        assert a["server.address"] == "memory" and a["server.port"] == 0
    assert pub.attributes["messaging.operation.type"] == "send"  # type: ignore[index]
    assert proc.attributes["messaging.operation.type"] == "process"  # type: ignore[index]
    assert proc.attributes["messaging.consumer.group.name"] == "tracers"  # type: ignore[index]


def test_spans_for_request_and_serve(bus: bns.NATSMessageBus, spans: Any) -> None:
    bus.serve("bus.rpc", lambda m: bns.Message(type="answer", payload={"got": m.payload}))
    bus.client.flush(2.0)
    reply = bus.request("bus.rpc", bns.Message(type="question", payload={"q": 1}), timeout=2.0)
    assert reply.type == "answer" and reply.payload == {"got": {"q": 1}}
    wait_for(lambda: len(spans.get_finished_spans()) == 2)
    by_name = {s.name: s for s in spans.get_finished_spans()}
    req, proc = by_name["nats.request"], by_name["nats.process"]
    assert req.kind is SpanKind.CLIENT
    assert proc.parent is not None and proc.parent.span_id == req.context.span_id
    assert req.attributes["timeout_s"] == 2.0 and req.attributes["success"] is True  # type: ignore[index]


def test_a_failed_request_is_recorded_as_an_error(bus: bns.NATSMessageBus, spans: Any) -> None:
    with pytest.raises(bns.NoRespondersError):
        bus.request("bus.nobody", bns.Message(type="q"), timeout=1.0)
    (s,) = spans.get_finished_spans()
    assert s.status.status_code is StatusCode.ERROR
    assert s.attributes["error.type"] == "NoRespondersError" and s.attributes["success"] is False  # type: ignore[index]


def test_trace_context_header_is_matched_case_insensitively(bus: bns.NATSMessageBus, spans: Any) -> None:
    done = threading.Event()
    bus.subscribe("bus.gohdr", lambda m: done.set())
    bus.client.flush(2.0)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    bus.client.publish(
        "bus.gohdr", bns.Message(type="t").to_json(), headers={"Traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    assert done.wait(2.0)
    wait_for(lambda: len(spans.get_finished_spans()) == 1)
    (proc,) = spans.get_finished_spans()
    assert format(proc.context.trace_id, "032x") == trace_id


def test_handler_failing_twice_then_succeeding_is_retried(bus: bns.NATSMessageBus) -> None:
    calls: list[int] = []

    def flaky(m: bns.Message) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("transient")

    bus.subscribe("bus.flaky", flaky)
    dlq = bus.client.subscribe("bus.flaky.dlq")
    bus.client.flush(2.0)
    bus.publish("bus.flaky", bns.Message(type="t"))
    wait_for(lambda: bus.stats.handled == 1)
    assert len(calls) == 3 and bus.stats.retried == 2 and bus.stats.dead_lettered == 0
    with pytest.raises(bns.NATSTimeoutError):
        dlq.next_msg(0.2)


def test_handler_always_failing_is_dead_lettered_once(bus: bns.NATSMessageBus) -> None:
    def broken(m: bns.Message) -> None:
        raise ValueError("cannot handle\nthis")

    bus.subscribe("bus.broken", broken)
    dlq = bus.client.subscribe("bus.broken.dlq")
    bus.client.flush(2.0)
    msg = bns.Message(type="t", payload={"a": 1}, message_id="dead-1")
    bus.publish("bus.broken", msg)
    dead = dlq.next_msg(5.0)
    assert bns.Message.from_json(dead.data) == msg  # the original bytes
    assert dead.headers is not None
    assert dead.headers[ERROR_HEADER] == "cannot handle this"
    assert dead.headers[ATTEMPTS_HEADER] == "4"  # the first try and max_retries=3 retries
    assert dead.headers[SUBJECT_HEADER] == "bus.broken" and dead.headers[MESSAGE_ID_HEADER] == "dead-1"
    assert dead.headers["Beluga-Error-Type"] == "ValueError"
    assert not {"Beluga-Subject", "Beluga-Num-Delivered", "Beluga-Msg-Id"} & set(dead.headers)  # JetStream's old names
    read = bns.DeadLetter.from_msg(dead)
    assert (read.subject, read.attempts, read.message_id) == ("bus.broken", 4, "dead-1")
    assert (read.error, read.error_type, read.data) == ("cannot handle this", "ValueError", dead.data)
    assert (read.stream, read.consumer, read.stream_seq) == ("", "", None)
    with pytest.raises(bns.NATSTimeoutError):
        dlq.next_msg(0.3)
    assert bus.stats.dead_lettered == 1 and bus.stats.failed == 1


def test_serve_failing_answers_with_an_error_message(bus: bns.NATSMessageBus) -> None:
    def broken(m: bns.Message) -> bns.Message:
        raise RuntimeError("no can do")

    bus.serve("bus.badrpc", broken)
    bus.client.flush(2.0)
    reply = bus.request("bus.badrpc", bns.Message(type="q"), timeout=5.0)
    assert reply.type == "error" and reply.payload["error"] == "no can do"


def test_no_retries_and_no_dead_letters_when_disabled(memory_server: MemoryServer) -> None:
    with bns.NATSMessageBus(memory_server.connect(), max_retries=0, dead_letter_subject=None) as bus:
        calls: list[int] = []

        def broken(m: bns.Message) -> None:
            calls.append(1)
            raise RuntimeError("x")

        bus.subscribe("bus.nodlq", broken)
        dlq = bus.client.subscribe("bus.nodlq.dlq")
        bus.client.flush(2.0)
        bus.publish("bus.nodlq", bns.Message(type="t"))
        wait_for(lambda: bus.stats.failed == 1)
        assert calls == [1] and bus.stats.dead_lettered == 0
        with pytest.raises(bns.NATSTimeoutError):
            dlq.next_msg(0.2)


def test_eight_publishers_and_a_queue_group_of_three(memory_server: MemoryServer) -> None:
    per, threads = 500, 8
    seen: list[str] = []
    lock = threading.Lock()

    def handle(m: bns.Message) -> None:
        with lock:
            seen.append(m.message_id)

    servers = [bns.NATSMessageBus(memory_server.connect()) for _ in range(3)]
    publisher = bns.NATSMessageBus(memory_server.connect())
    try:
        for s in servers:
            s.subscribe("bus.work", handle, queue="workers")
            s.client.flush(2.0)

        def produce(t: int) -> None:
            for i in range(per):
                publisher.publish("bus.work", bns.Message(type="job", payload={"t": t, "i": i}, message_id=f"{t}-{i}"))

        ts = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30.0)
        wait_for(lambda: len(seen) == per * threads, timeout=10.0, what="every job handled")
        assert len(set(seen)) == per * threads  # none twice
        assert all(s.stats.handled > 0 for s in servers)  # the work was shared
    finally:
        for b in [*servers, publisher]:
            b.close()


def test_metrics_are_recorded(bus: bns.NATSMessageBus, otel: Any) -> None:
    done = threading.Event()
    bus.subscribe("bus.metrics", lambda m: done.set())
    bus.client.flush(2.0)
    bus.publish("bus.metrics", bns.Message(type="t"))
    assert done.wait(2.0)
    reader = otel[1]
    wait_for(lambda: _metric_names(reader) >= {"messaging.client.sent.messages", "messaging.process.duration"})
    names = _metric_names(reader)
    assert {"messaging.client.operation.duration", "messaging.client.consumed.messages"} <= names


def _metric_names(reader: Any) -> set[str]:
    data = reader.get_metrics_data()
    if data is None:
        return set()
    return {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def test_bad_arguments(bus: bns.NATSMessageBus) -> None:
    with pytest.raises(TypeError, match="Message"):
        bus.publish("bus.x", {"Type": "t"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_retries"):
        bns.NATSMessageBus(bus.client, max_retries=-1)
    with pytest.raises(TypeError, match="handler"):
        bus.subscribe("bus.x", 42)  # type: ignore[arg-type]


def test_a_message_id_that_cannot_be_a_header_still_gets_its_error_reply(bus: bns.NATSMessageBus) -> None:
    def broken(m: bns.Message) -> bns.Message:
        raise RuntimeError("no can do")

    bus.serve("bus.badid", broken)
    bus.client.flush(2.0)
    # the id comes from the sender's JSON; it cannot go into a dead letter's header line
    reply = bus.request("bus.badid", bns.Message(type="q", message_id="two\nlines"), timeout=5.0)
    assert reply.type == "error" and reply.payload["error"] == "no can do"
    wait_for(lambda: bus.stats.failed == 1)
    assert bus.stats.dead_lettered == 0
