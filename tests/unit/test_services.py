"""NATS services (micro protocol v1) and request_many, on the in-memory server: the protocol is
spoken by the clients (the command line against a real server is in tests/integration/test_services.py)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.services import ServiceError, ServiceList, discover
from beluga_nats_sync.testing import MemoryServer

from helpers import wait_for
from shared import adder, calc, unique_service

ROOT = Path(__file__).resolve().parents[2]
MakeClient = Callable[..., bns.Client]


# -- the public names ------------------------------------------------------------------------------


def test_endpoint_answers_and_the_request_carries_the_message(client: bns.Client, services: list[Any]) -> None:
    seen: list[bns.ServiceRequest] = []

    def handler(req: bns.ServiceRequest) -> None:
        seen.append(req)
        adder(req)

    svc = calc(client, services)
    assert isinstance(svc, bns.Service)
    svc.add_endpoint("add", handler)
    rep = client.request("add", b"[1, 2, 3]", headers={"k": "v"}, timeout=5.0)
    assert rep.data == b"6"
    req = seen[0]
    assert isinstance(req, bns.ServiceRequest)
    assert req.subject == "add" and req.data == b"[1, 2, 3]" and req.reply.startswith("_INBOX.")
    assert req.headers is not None and req.headers["k"] == "v"


def test_info_and_ping_documents(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services, name=unique_service("info"))
    svc.add_endpoint("add", adder)
    svc.add_endpoint("sum", adder, subject="calc.sum", queue_group="workers", metadata={"k": "v"})
    grp = svc.add_group("math")
    assert isinstance(grp, bns.ServiceGroup)
    grp.add_endpoint("mul", adder)
    grp.add_group("deep", queue_group="deep-q").add_endpoint("pow", adder, subject="p.x")
    assert len(svc.id) == 22 and svc.id.isalnum()
    assert svc.info() == {
        "name": svc.name,
        "id": svc.id,
        "version": "1.0.0",
        "metadata": {"team": "a"},
        "type": "io.nats.micro.v1.info_response",
        "description": "adds numbers",
        "endpoints": [
            {"name": "add", "subject": "add", "queue_group": "q", "metadata": {}},
            {"name": "sum", "subject": "calc.sum", "queue_group": "workers", "metadata": {"k": "v"}},
            {"name": "mul", "subject": "math.mul", "queue_group": "q", "metadata": {}},
            {"name": "pow", "subject": "math.deep.p.x", "queue_group": "deep-q", "metadata": {}},
        ],
    }
    # what goes on the wire is the same document
    (info,) = discover(client, "INFO", svc.name, max_messages=1, timeout=5.0)
    assert info == svc.info()
    (ping,) = discover(client, "PING", svc.name, svc.id, timeout=5.0)
    assert ping == {
        "name": svc.name,
        "id": svc.id,
        "version": "1.0.0",
        "metadata": {"team": "a"},
        "type": "io.nats.micro.v1.ping_response",
    }
    assert client.request("math.deep.p.x", b"[2, 3]", timeout=5.0).data == b"5"
    assert client.request("calc.sum", b"[4]", timeout=5.0).data == b"4"


def test_discovery_finds_every_instance(make_client: MakeClient, services: list[Any]) -> None:
    name = unique_service("multi")
    clients = [make_client() for _ in range(3)]
    mine = {calc(nc, services, name=name).id for nc in clients}
    calc(clients[0], services, name=unique_service("other"))  # another kind: found by $SRV.PING, not by name
    looker = make_client()
    for verb in ("PING", "INFO", "STATS"):
        found = discover(looker, verb, name, max_messages=3, stall=None, timeout=5.0)
        assert isinstance(found, ServiceList) and found.verb == verb
        assert {d["id"] for d in found} == mine
        assert {d["type"] for d in found} == {f"io.nats.micro.v1.{verb.lower()}_response"}
        assert [d["id"] for d in found] == sorted(d["id"] for d in found)
    everyone = {d["id"] for d in discover(looker, "PING", timeout=2.0, stall=1.0)}
    assert mine < everyone and len(everyone) >= 4
    one = sorted(mine)[1]
    assert [d["id"] for d in discover(looker, "STATS", name, one, timeout=5.0)] == [one]


def test_queue_group_spreads_requests_over_instances(make_client: MakeClient, services: list[Any]) -> None:
    name, subject = unique_service("spread"), unique_service("spread.add")
    instances = [calc(make_client(), services, name=name) for _ in range(3)]
    for svc in instances:
        svc.add_endpoint("add", adder, subject=subject)
    caller = make_client()
    for i in range(60):
        assert caller.request(subject, f"[{i}]".encode(), timeout=5.0).data == str(i).encode()
    wait_for(lambda: sum(svc.stats()["endpoints"][0]["num_requests"] for svc in instances) == 60)
    counts = [svc.stats()["endpoints"][0]["num_requests"] for svc in instances]
    assert all(n > 0 for n in counts), counts  # each gets 1/3 at random: none empty, but for 3 * (2/3)**60


def test_without_a_queue_group_every_instance_answers(make_client: MakeClient, services: list[Any]) -> None:
    subject = unique_service("bids")
    for i in range(3):
        svc = calc(make_client(), services, name=unique_service("bidder"))
        svc.add_endpoint("bid", lambda req, i=i: req.respond_json({"bidder": i}), subject=subject, queue_group="")
        assert svc.info()["endpoints"][0]["queue_group"] == ""
    replies = make_client().request_many(subject, b"{}", timeout=5.0, max_messages=3)
    assert sorted(json.loads(m.data)["bidder"] for m in replies) == [0, 1, 2]


def test_service_queue_group_is_the_default_of_its_endpoints(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services, queue_group="pool")
    svc.add_endpoint("a", adder, subject=unique_service("qa"))
    svc.add_group("g").add_endpoint("b", adder)
    svc.add_group("h", queue_group="").add_endpoint("c", adder)
    assert [e["queue_group"] for e in svc.info()["endpoints"]] == ["pool", "pool", ""]


# -- stats ------------------------------------------------------------------------------------------


def test_stats_count_requests_errors_and_time(client: bns.Client, services: list[Any], caplog: Any) -> None:
    svc = calc(client, services)
    subject = unique_service("st")

    def handler(req: bns.ServiceRequest) -> None:
        n = json.loads(req.data)
        if n == 1:
            req.respond_error("400", "bad input", data=b"why")
        elif n == 2:
            raise RuntimeError("it broke\nbadly")
        elif n == 3:
            raise ServiceError(409, "conflict", b"c")
        else:
            req.respond(b"ok")

    svc.add_endpoint("work", handler, subject=subject)
    with caplog.at_level(logging.ERROR, logger="beluga_nats_sync.services"):
        assert client.request(subject, b"0", timeout=5.0).data == b"ok"
        r1 = client.request(subject, b"1", timeout=5.0)
        r2 = client.request(subject, b"2", timeout=5.0)
        r3 = client.request(subject, b"3", timeout=5.0)
        assert client.request(subject, b"0", timeout=5.0).data == b"ok"  # the endpoint lives on
    assert r1.data == b"why"
    assert r1.headers == {"Nats-Service-Error": "bad input", "Nats-Service-Error-Code": "400"}
    assert r2.data == b""
    assert r2.headers == {"Nats-Service-Error": "it broke badly", "Nats-Service-Error-Code": "500"}
    assert r3.data == b"c"
    assert r3.headers == {"Nats-Service-Error": "conflict", "Nats-Service-Error-Code": "409"}
    # the exception was logged with its traceback; a ServiceError is an answer, not a bug
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and "RuntimeError: it broke" in caplog.text and "Traceback" in caplog.text

    stats = svc.stats()  # no wait: each request was counted, its error too, before its answer left
    assert stats["type"] == "io.nats.micro.v1.stats_response" and stats["id"] == svc.id
    datetime.strptime(stats["started"], "%Y-%m-%dT%H:%M:%S.%fZ")  # RFC 3339, UTC, as nats-py parses it
    (ep,) = stats["endpoints"]
    assert (ep["num_requests"], ep["num_errors"], ep["last_error"]) == (5, 3, "409:conflict")
    assert ep["processing_time"] > 0 and ep["average_processing_time"] == ep["processing_time"] // 5
    (wire,) = discover(client, "STATS", svc.name, svc.id, timeout=5.0)
    assert wire["endpoints"][0]["num_requests"] == 5 and wire["endpoints"][0]["num_errors"] == 3


def test_a_request_is_counted_before_its_answer_leaves(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services)
    subject = unique_service("counted")
    hold = {b"good": threading.Event(), b"bad": threading.Event()}

    def handler(req: bns.ServiceRequest) -> None:
        if req.data == b"bad":
            req.respond_error("422", "unprocessable")
        else:
            req.respond(b"ok")
        hold[req.data].wait(5.0)  # still at work after answering

    svc.add_endpoint("w", handler, subject=subject)
    try:
        assert client.request(subject, b"good", timeout=5.0).data == b"ok"
        ep = svc.stats()["endpoints"][0]
        assert (ep["num_requests"], ep["num_errors"]) == (1, 0)
        (wire,) = discover(client, "STATS", svc.name, svc.id, timeout=5.0)  # served on another thread
        assert wire["endpoints"][0]["num_requests"] == 1
        hold[b"good"].set()
        client.request(subject, b"bad", timeout=5.0)
        ep = svc.stats()["endpoints"][0]
        assert (ep["num_requests"], ep["num_errors"], ep["last_error"]) == (2, 1, "422:unprocessable")
    finally:
        for event in hold.values():
            event.set()


def test_reset_zeroes_the_counters(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services)
    subject = unique_service("reset")
    svc.add_endpoint("r", lambda req: req.respond_error("500", "x"), subject=subject)
    client.request(subject, b"", timeout=5.0)
    wait_for(lambda: svc.stats()["endpoints"][0]["num_requests"] == 1)
    before = svc.stats()
    assert before["endpoints"][0]["num_errors"] == 1
    svc.reset()
    after = svc.stats()
    assert after["started"] >= before["started"]
    assert after["endpoints"] == [
        {
            "name": "r",
            "subject": subject,
            "queue_group": "q",
            "num_requests": 0,
            "num_errors": 0,
            "last_error": "",
            "processing_time": 0,
            "average_processing_time": 0,
            "data": None,
        }
    ]


def test_a_request_without_reply_subject_is_counted_as_an_error(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services)
    subject = unique_service("noreply")
    svc.add_endpoint("n", lambda req: req.respond(b"x"), subject=subject)
    client.publish(subject, b"")
    wait_for(lambda: svc.stats()["endpoints"][0]["num_requests"] == 1)
    ep = svc.stats()["endpoints"][0]
    assert ep["num_errors"] == 1 and "no reply subject" in ep["last_error"]


def test_handler_sees_one_request_at_a_time(make_client: MakeClient, services: list[Any]) -> None:
    svc = calc(make_client(), services)
    subject = unique_service("serial")
    lock = threading.Lock()
    active = [0, 0]  # now, most ever

    def handler(req: bns.ServiceRequest) -> None:
        with lock:
            active[0] += 1
            active[1] = max(active)
        time.sleep(0.002)  # work, so that overlapping calls would show
        with lock:
            active[0] -= 1
        req.respond(b"")

    svc.add_endpoint("s", handler, subject=subject)
    caller = make_client()
    threads = [threading.Thread(target=caller.request, args=(subject, b""), kwargs={"timeout": 10.0}) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15.0)
    wait_for(lambda: svc.stats()["endpoints"][0]["num_requests"] == 8)
    assert active[1] == 1


# -- stop --------------------------------------------------------------------------------------------


def test_stop_drains_and_discovery_no_longer_finds_it(make_client: MakeClient, services: list[Any]) -> None:
    nc, caller = make_client(), make_client()
    svc = calc(nc, services, name=unique_service("stop"))
    subject = unique_service("slow")
    entered, go = threading.Event(), threading.Event()

    def slow(req: bns.ServiceRequest) -> None:
        entered.set()
        go.wait(10.0)
        req.respond(b"done")

    svc.add_endpoint("slow", slow, subject=subject)
    got: list[bns.Msg] = []
    requester = threading.Thread(target=lambda: got.append(caller.request(subject, b"", timeout=10.0)))
    requester.start()
    assert entered.wait(5.0)
    stopper = threading.Thread(target=svc.stop)
    stopper.start()
    wait_for(lambda: svc.stopped, what="stop() to begin")
    assert stopper.is_alive()  # it waits for the request in progress
    go.set()
    stopper.join(10.0)
    requester.join(10.0)
    assert not stopper.is_alive() and got[0].data == b"done"
    assert discover(caller, "PING", svc.name, timeout=0.5) == []
    with pytest.raises(bns.NoRespondersError):
        caller.request(subject, b"", timeout=2.0)
    with pytest.raises(bns.ClosedError, match="stopped"):
        svc.add_endpoint("late", adder)
    svc.stop()  # idempotent
    assert "stopped" in repr(svc)


def test_context_manager_and_closed_client(make_client: MakeClient) -> None:
    nc, looker = make_client(), make_client()
    name = unique_service("ctx")
    with nc.add_service(name, "0.1.0-rc.1+build.5") as svc:
        svc.add_endpoint("e", adder, subject=unique_service("ctx"))
        assert len(discover(looker, "PING", name, max_messages=1, timeout=5.0)) == 1
    assert svc.stopped and discover(looker, "PING", name, timeout=0.5) == []
    other = nc.add_service(unique_service("closing"), "1.0.0")
    nc.close(5.0)
    assert other.stopped
    other.stop()  # nothing left to drain, no error
    with pytest.raises(bns.ClosedError):
        nc.add_service("again", "1.0.0")


# -- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "bad name"}, ValueError, "letters, digits, '-' and '_'"),
        ({"name": "a.b"}, ValueError, "service name 'a.b'"),
        ({"name": ""}, ValueError, "service name ''"),
        ({"name": 7}, TypeError, "service name must be a str"),
        ({"version": "1.0"}, ValueError, "not a semantic version"),
        ({"version": "01.0.0"}, ValueError, "MAJOR.MINOR.PATCH"),
        ({"version": ""}, ValueError, "semantic version"),
        ({"metadata": {"k": 1}}, TypeError, "map str to str"),
        ({"metadata": ["k"]}, TypeError, "mapping of str to str"),
        ({"queue_group": "a b"}, bns.InvalidSubjectError, "queue group"),
        ({"description": None}, TypeError, "description"),
    ],
)
def test_bad_service_config_is_refused_before_anything_is_sent(
    client: bns.Client, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    args: dict[str, Any] = {"name": "ok", "version": "1.0.0", **kwargs}
    before = repr(client)
    with pytest.raises(error, match=match):
        client.add_service(**args)
    assert repr(client) == before and "subscriptions=" in before  # nothing was subscribed


async def _coroutine(req: bns.ServiceRequest) -> None:
    pass


@pytest.mark.parametrize(
    ("name", "handler", "kwargs", "error", "match"),
    [
        ("a.b", adder, {}, ValueError, "endpoint name 'a.b'"),
        ("", adder, {}, ValueError, "endpoint name ''"),
        ("ok", "not callable", {}, TypeError, "handler must be callable"),
        ("ok", _coroutine, {}, TypeError, "not a coroutine function"),
        ("ok", adder, {"subject": "a..b"}, bns.InvalidSubjectError, "empty token"),
        ("ok", adder, {"subject": "a.>.b"}, bns.InvalidSubjectError, "last token"),
        ("ok", adder, {"subject": "a b"}, bns.InvalidSubjectError, "whitespace"),
        ("ok", adder, {"subject": "a.b*"}, bns.InvalidSubjectError, "whole tokens"),
        ("ok", adder, {"queue_group": "q*"}, bns.InvalidSubjectError, "queue group"),
        ("ok", adder, {"metadata": {1: "x"}}, TypeError, "endpoint metadata"),
    ],
)
def test_bad_endpoint_is_refused(
    client: bns.Client,
    services: list[Any],
    name: str,
    handler: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    svc = calc(client, services)
    with pytest.raises(error, match=match):
        svc.add_endpoint(name, handler, **kwargs)
    with pytest.raises(bns.InvalidSubjectError, match="group name"):
        svc.add_group("a.>")
    assert svc.info()["endpoints"] == []


def test_respond_error_needs_a_code_and_a_description(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services)
    subject = unique_service("re")
    problems: list[str] = []

    def handler(req: bns.ServiceRequest) -> None:
        for code, text in (("", "x"), ("400", ""), (None, "x")):
            try:
                req.respond_error(code, text)  # type: ignore[arg-type]
            except ValueError as exc:
                problems.append(str(exc))
        req.respond_error(404, "not here")

    svc.add_endpoint("e", handler, subject=subject)
    rep = client.request(subject, b"", timeout=5.0)
    assert rep.headers is not None and rep.headers["Nats-Service-Error-Code"] == "404"
    assert len(problems) == 3 and "code must be a non-empty str" in problems[0]
    assert "description must be a non-empty str" in problems[1]
    with pytest.raises(ValueError, match="description must be a non-empty str"):
        ServiceError("400", " ")
    with pytest.raises(ValueError, match="code must be a non-empty str"):
        ServiceError("", "x")


# -- request_many ----------------------------------------------------------------------------------------


@pytest.fixture
def responders(make_client: MakeClient) -> Iterator[Callable[..., str]]:
    """``start(n, delays=...)``: n plain responders on a fresh subject; each echoes its index and
    the request's ``k`` header, after ``delays[i]`` seconds if given."""
    stop = threading.Event()

    def start(n: int, repeat: int = 1, gap: float = 0.0) -> str:
        subject = unique_service("scatter")
        nc = make_client()
        for i in range(n):

            def answer(msg: bns.Msg, i: int = i) -> None:
                k = (msg.headers or {}).get("k", "")
                for _ in range(repeat):
                    nc.publish(msg.reply, f"{i}{k}".encode())
                    if gap and stop.wait(gap):  # paced replies, ended with the test
                        return

            nc.subscribe(subject, answer)
        nc.flush(5.0)
        return subject

    yield start
    stop.set()


def test_request_many_stops_at_max_messages(client: bns.Client, responders: Any) -> None:
    subject = responders(5)
    t0 = time.monotonic()
    replies = client.request_many(subject, b"q", timeout=10.0, max_messages=2)
    assert len(replies) == 2 and time.monotonic() - t0 < 5.0
    assert all(isinstance(m, bns.Msg) for m in replies)


def test_request_many_stops_when_replies_stall(client: bns.Client, responders: Any) -> None:
    subject = responders(4)
    t0 = time.monotonic()
    replies = client.request_many(subject, timeout=20.0, stall=0.5, headers={"k": "!"})
    elapsed = time.monotonic() - t0
    assert sorted(m.data for m in replies) == [b"0!", b"1!", b"2!", b"3!"]
    assert 0.5 <= elapsed < 10.0


def test_request_many_stops_at_the_timeout(client: bns.Client, responders: Any) -> None:
    subject = responders(1, repeat=1000, gap=0.02)  # replies keep coming: neither stall nor max stops it
    t0 = time.monotonic()
    replies = client.request_many(subject, timeout=0.6, stall=0.5)
    elapsed = time.monotonic() - t0
    assert 0.6 <= elapsed < 3.0
    assert 2 <= len(replies) < 1000


def test_request_many_waits_the_whole_timeout_for_late_first_replies(client: bns.Client, responders: Any) -> None:
    subject = responders(3)
    t0 = time.monotonic()
    replies = client.request_many(subject, timeout=0.8)  # no stall: the whole timeout
    assert len(replies) == 3 and time.monotonic() - t0 >= 0.8


def test_request_many_without_responders_is_empty_at_once(client: bns.Client) -> None:
    t0 = time.monotonic()
    assert client.request_many(unique_service("nobody"), b"?", timeout=10.0) == []
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"subject": "a.*"}, bns.InvalidSubjectError, "wildcard"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number of seconds > 0"),
        ({"timeout": "1"}, TypeError, "timeout must be a number"),
        ({"stall": -1}, ValueError, "stall"),
        ({"max_messages": 0}, ValueError, "max_messages must be an int >= 1"),
        ({"max_messages": True}, ValueError, "max_messages"),
    ],
)
def test_request_many_bad_input(client: bns.Client, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"subject": "ok", **kwargs}
    with pytest.raises(error, match=match):
        client.request_many(**args)


# -- the bus --------------------------------------------------------------------------------------------


def test_bus_service_answers_messages_in_consumer_spans(memory_server: MemoryServer, spans: Any) -> None:
    with (
        bns.NATSMessageBus(memory_server.connect(), max_retries=0) as bus,
        bns.NATSMessageBus(memory_server.connect()) as caller,
    ):

        def bid(m: bns.Message) -> bns.Message:
            if m.payload.get("fail"):
                raise ValueError("cannot bid")
            return bns.Message(type="bid", payload={"price": 3 * m.payload["size"]})

        svc = bus.add_service(unique_service("agent"), "1.2.3", description="bids")
        svc.add_endpoint("bid", bid, subject=unique_service("agent.bid"), metadata={"unit": "eur"})
        subject = svc.info()["endpoints"][0]["subject"]
        from opentelemetry import trace

        with trace.get_tracer("test").start_as_current_span("coordinator") as root:
            reply = caller.request(subject, bns.Message(type="ask", payload={"size": 2}, message_id="m1"), timeout=5.0)
        assert reply.type == "bid" and reply.payload == {"price": 6}

        raw = caller.client.request(subject, bns.Message(type="ask", payload={"fail": True}).to_json(), timeout=5.0)
        assert raw.headers is not None and raw.headers["Nats-Service-Error-Code"] == "500"
        assert raw.headers["Nats-Service-Error"] == "cannot bid"
        err = bns.Message.from_json(raw.data)  # bus clients get serve()'s error envelope
        assert err.type == "error" and err.payload == {"error": "cannot bid", "error_type": "ValueError"}

        garbage = caller.client.request(subject, b"not json", timeout=5.0)
        assert garbage.headers is not None and garbage.headers["Nats-Service-Error-Code"] == "400"

        # counted when the handler returns, just after its answer left: wait for the count
        wait_for(lambda: svc.stats()["endpoints"][0]["num_requests"] == 3)
        (ep,) = svc.stats()["endpoints"]
        assert ep["num_errors"] == 2
        assert bus.stats.handled == 1 and bus.stats.failed == 2 and bus.stats.decode_errors == 1
        assert svc.info()["endpoints"][0]["metadata"] == {"unit": "eur"}
        with pytest.raises(TypeError, match="handler must be callable"):
            svc.add_endpoint("x", None)  # type: ignore[arg-type]
        svc.stop()
        assert svc.stopped
    wait_for(lambda: len([s for s in spans.get_finished_spans() if s.name == "nats.process"]) >= 3)
    process = [s for s in spans.get_finished_spans() if s.name == "nats.process"]
    ok = next(s for s in process if s.attributes.get("messaging.message.id") == "m1")
    assert ok.kind.name == "CONSUMER" and ok.attributes["message_type"] == "ask"
    assert ok.attributes["messaging.destination.name"] == subject
    assert ok.attributes["messaging.consumer.group.name"] == "q"
    assert ok.context.trace_id == root.get_span_context().trace_id  # the coordinator's trace, across the wire
    failed = [s for s in process if s.status.status_code.name == "ERROR"]
    assert len(failed) == 2 and {s.attributes["error.type"] for s in failed} == {"ValueError", "ServiceError"}


def test_bus_service_groups(memory_server: MemoryServer) -> None:
    with bns.NATSMessageBus(memory_server.connect()) as bus:
        prefix = unique_service("agents")
        with bus.add_service(unique_service("grp"), "1.0.0", queue_group="") as svc:
            svc.add_group(prefix).add_endpoint("echo", lambda m: bns.Message(type="echo", payload=m.payload))
            assert svc.info()["endpoints"][0] == {
                "name": "echo",
                "subject": f"{prefix}.echo",
                "queue_group": "",
                "metadata": {},
            }
            reply = bus.request(f"{prefix}.echo", bns.Message(type="q", payload={"a": 1}), timeout=5.0)
            assert reply.payload == {"a": 1}
            assert svc.name in repr(svc) and "BusService" in repr(svc)
        assert svc.stopped


# -- display ---------------------------------------------------------------------------------------------


def test_service_and_discovery_display_as_tables(client: bns.Client, services: list[Any]) -> None:
    svc = calc(client, services, name=unique_service("show"), description="<b>bold</b>")
    svc.add_endpoint("add", adder, subject=unique_service("show"))
    client.request(svc.info()["endpoints"][0]["subject"], b"[1]", timeout=5.0)
    html = svc._repr_html_()
    assert "Service " in html and svc.id in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert "<table" in html and "running" in html
    for verb, column in (("PING", "version"), ("INFO", "description"), ("STATS", "requests")):
        found = discover(client, verb, svc.name, max_messages=1, timeout=5.0)
        page = found._repr_html_()
        assert "<th" in page and column in page and svc.id in page
    assert "no service answered" in discover(client, "PING", unique_service("none"), timeout=0.3)._repr_html_()
