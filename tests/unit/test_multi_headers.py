"""Repeated header values, sent as a list (or a Headers) and received with ``get_all``, survive
every path a message takes in the client, on the in-memory server: publish/subscribe,
request/respond, request_many, services, the bus's dead letters, tail and the notebook (JetStream
and the command line, which need a real server: tests/integration/test_multi_headers.py)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.testing import MemoryServer

TAGS = ["a", "b, with a comma", " c"]  # leading spaces are dropped on the way in, as nats.go does
TAGS_IN = ["a", "b, with a comma", "c"]


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def test_a_list_is_sent_as_repeated_lines_and_read_with_get_all(client: bns.Client) -> None:
    subject = unique("mh.pub")
    sub = client.subscribe(subject)
    client.publish(subject, b"1", headers={"X-Tag": TAGS, "One": "1"})
    client.publish(subject, b"2", headers={"X-Tag": ("t1", "t2")})
    sent = bns.Headers([("K", "1"), ("Other", "o"), ("K", "2")])
    client.publish(subject, b"3", headers=sent)
    client.publish(subject, b"4", headers={"Gone": [], "Kept": "k"})

    m1, m2, m3, m4 = (sub.next_msg(5.0) for _ in range(4))
    assert m1.headers is not None and isinstance(m1.headers, bns.Headers)
    assert m1.headers.get_all("X-Tag") == TAGS_IN and m1.headers["X-Tag"] == "a"
    assert m1.headers.get_all("One") == ["1"]
    assert m2.headers is not None and m2.headers == {"X-Tag": ["t1", "t2"]}
    assert m3.headers == sent and m3.headers is not None
    assert list(m3.headers.multi_items()) == [("K", "1"), ("K", "2"), ("Other", "o")]
    assert m4.headers == {"Kept": "k"}  # an empty list sends no line for its name
    assert "'X-Tag': ['a', 'b, with a comma', 'c']" in repr(m1)


def test_request_and_respond_carry_lists_both_ways(client: bns.Client) -> None:
    subject = unique("mh.rpc")
    seen: list[list[str]] = []

    def echo(msg: bns.Msg) -> None:
        assert msg.headers is not None
        seen.append(msg.headers.get_all("Ask"))
        # the received Headers handed straight back keep every value; a list adds more
        msg.respond(b"", headers=bns.Headers(msg.headers))

    client.subscribe(subject, echo)
    rep = client.request(subject, b"q", headers={"Ask": ["x", "y"], "Single": "s"}, timeout=5.0)
    assert seen == [["x", "y"]]
    assert rep.headers is not None and rep.headers.get_all("Ask") == ["x", "y"] and rep.headers["Single"] == "s"

    sub2 = unique("mh.rpc2")
    client.subscribe(sub2, lambda m: m.respond(b"ok", headers={"Answer": ["1", "2", "3"]}))
    rep2 = client.request(sub2, b"", timeout=5.0)
    assert rep2.headers is not None and rep2.headers.get_all("Answer") == ["1", "2", "3"]


def test_request_many_sends_a_list(client: bns.Client, make_client: Any) -> None:
    subject = unique("mh.many")
    other = make_client()
    for i in range(2):
        other.subscribe(subject, lambda m, i=i: m.respond(",".join(m.headers.get_all("Q")).encode() + b"#%d" % i))
    other.flush(5.0)
    replies = client.request_many(subject, b"", headers={"Q": ["p", "q"]}, timeout=5.0, max_messages=2)
    assert sorted(r.data for r in replies) == [b"p,q#0", b"p,q#1"]


@pytest.fixture
def service(client: bns.Client) -> Iterator[bns.Service]:
    svc = client.add_service(name=f"mh-{os.getpid()}-{time.monotonic_ns()}", version="1.0.0")
    yield svc
    svc.stop(timeout=5.0)


def test_services_read_lists_and_answer_with_lists_and_errors(client: bns.Client, service: bns.Service) -> None:
    subject = unique("mh.svc")

    def handler(req: bns.ServiceRequest) -> None:
        assert req.headers is not None
        got = req.headers.get_all("In")
        if req.data == b"fail":
            req.respond_error("400", "bad", headers={"Why": ["one", "two"]})
        else:
            req.respond_json(got, headers={"Out": got + ["end"]})

    service.add_endpoint("e", handler, subject=subject)
    rep = client.request(subject, b"", headers={"In": ["1", "2"]}, timeout=5.0)
    assert json.loads(rep.data) == ["1", "2"]
    assert rep.headers is not None and rep.headers.get_all("Out") == ["1", "2", "end"]

    err = client.request(subject, b"fail", headers={"In": "x"}, timeout=5.0)
    assert err.headers is not None
    assert err.headers.get_all("Why") == ["one", "two"]  # the caller's headers keep every value
    assert err.headers["Nats-Service-Error-Code"] == "400" and err.headers["Nats-Service-Error"] == "bad"


def test_bus_dead_letters_keep_every_value(memory_server: MemoryServer, client: bns.Client) -> None:
    with bns.NATSMessageBus(memory_server.connect(), max_retries=0) as bus:
        subject = unique("mh.bus")

        def broken(m: bns.Message) -> None:
            raise RuntimeError("nope")

        bus.subscribe(subject, broken)
        dlq = client.subscribe(f"{subject}.dlq")
        bus.client.flush(5.0)
        client.flush(5.0)
        body = bns.Message(type="t", message_id="m-1").to_json()
        client.publish(subject, body, headers={"Tag": ["1", "2"], "tracestate": ["a=1", "b=2"]})
        dead = dlq.next_msg(5.0)
    assert dead.headers is not None
    assert dead.headers.get_all("Tag") == ["1", "2"] and dead.headers.get_all("tracestate") == ["a=1", "b=2"]
    assert dead.headers["Beluga-Error"] == "nope"


def test_tail_and_the_notebook_show_every_value(client: bns.Client, make_client: Any) -> None:
    subject = unique("mh.tail")
    publisher = make_client()
    result: list[Any] = []
    done = threading.Event()

    def run_tail() -> None:
        result.append(client.tail(subject, n=1, timeout=20.0))
        done.set()

    threading.Thread(target=run_tail, daemon=True).start()
    deadline = time.monotonic() + 20.0
    # tail() subscribes on its own thread: publish until it has taken one message
    while not done.is_set() and time.monotonic() < deadline:
        publisher.publish(subject, b"x", headers={"T": ["1", "2"], "One": "o"})
        done.wait(0.05)
    assert done.is_set() and len(result[0]) == 1
    assert result[0][0]["headers"] == {"T": ["1", "2"], "One": "o"}

    sub = client.subscribe(subject)
    client.flush(5.0)  # the server has the subscription before the other connection publishes
    publisher.publish(subject, b"x", headers={"T": ["first-value", "second-value"]})
    html = sub.next_msg(5.0)._repr_html_()
    assert "first-value" in html and "second-value" in html
