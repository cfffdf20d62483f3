"""Repeated header values, sent as a list (or a Headers) and received with ``get_all``, survive
every path a message takes: publish/subscribe, request/respond, request_many, services, JetStream
(publish, fetch, consume and its dead letters), the bus's dead letters, and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream, JetStreamMsg
from beluga_nats_sync.server import EmbeddedServer

from helpers import ROOT

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


@pytest.fixture
def js(client: bns.Client) -> Iterator[tuple[JetStream, str]]:
    js = client.jetstream(timeout=5.0)
    name = f"MH_{uuid.uuid4().hex[:8]}"
    js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    yield js, name
    if client.is_connected:
        js.delete_stream(name)


def test_jetstream_stores_and_delivers_every_value(js: tuple[JetStream, str]) -> None:
    j, name = js
    p = name.lower()
    ack = j.publish(f"{p}.a", b"one", headers={"Tag": ["x", "y"], "Plain": "p"}, msg_id="mh-1")
    fut = j.publish_async(f"{p}.a", b"two", headers=bns.Headers([("Tag", "z"), ("Tag", "w")]))
    assert ack.seq == 1 and fut.result(5.0).seq == 2
    got = j.pull_subscribe(f"{p}.a", durable="reader").fetch(2, timeout=5.0)
    assert [m.data for m in got] == [b"one", b"two"]
    first, second = got
    assert first.headers is not None and second.headers is not None
    assert first.headers.get_all("Tag") == ["x", "y"]  # msg_id added to them, none lost
    assert first.headers["Nats-Msg-Id"] == "mh-1" and first.headers["Plain"] == "p"
    assert second.headers.get_all("Tag") == ["z", "w"]

    seen: list[list[str]] = []
    done = threading.Event()

    def handle(msg: JetStreamMsg) -> None:
        assert msg.headers is not None
        seen.append(msg.headers.get_all("Tag"))
        if len(seen) == 2:
            done.set()

    with j.consume(f"{p}.a", durable="pusher", callback=handle):
        assert done.wait(10.0), seen
    assert seen == [["x", "y"], ["z", "w"]]


def test_jetstream_dead_letters_keep_every_value(client: bns.Client, js: tuple[JetStream, str]) -> None:
    j, name = js
    p = name.lower()
    dlq = client.subscribe(f"{p}-dlq")

    def always_fails(msg: JetStreamMsg) -> None:
        raise ValueError("no")

    j.publish(f"{p}.bad", b"poison", headers={"Tag": ["x", "y", "z"]}, msg_id="orig")
    with j.consume(f"{p}.bad", durable="dl", callback=always_fails, max_deliver=1, dead_letter_subject=f"{p}-dlq"):
        dead = dlq.next_msg(10.0)
    assert dead.headers is not None
    assert dead.headers.get_all("Tag") == ["x", "y", "z"]
    assert dead.headers["Beluga-Msg-Id"] == "orig" and "Nats-Msg-Id" not in dead.headers
    assert dead.headers.get_all("Beluga-Message-Id") == ["orig"]  # the one vocabulary, written once
    assert (dead.headers["Beluga-Error"], dead.headers["Beluga-Error-Type"]) == ("no", "ValueError")


def test_bus_dead_letters_keep_every_value(nats_server: EmbeddedServer, client: bns.Client) -> None:
    with bns.NATSMessageBus(nats_server.url, max_retries=0) as bus:
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


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60.0,
    )


def test_cli_header_given_twice_sends_both_values(nats_server: EmbeddedServer, client: bns.Client) -> None:
    subject = unique("mh.cli")
    sub = client.subscribe(subject)
    client.flush(5.0)
    r = _cli("--url", nats_server.url, "pub", subject, "x", "--header", "k=1", "--header", "o=x", "--header", "k=2")
    assert r.returncode == 0, r.stderr
    msg = sub.next_msg(5.0)
    assert msg.headers is not None and msg.headers.get_all("k") == ["1", "2"] and msg.headers["o"] == "x"


def test_cli_request_shows_every_value(nats_server: EmbeddedServer, client: bns.Client) -> None:
    subject = unique("mh.clireq")
    client.subscribe(subject, lambda m: m.respond(b"ok", headers={"Got": m.headers.get_all("q") if m.headers else []}))
    client.flush(5.0)
    r = _cli("--url", nats_server.url, "--json", "request", subject, "", "--header", "q=1", "--header", "q=2")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout.splitlines()[-1])
    assert rec["headers"] == {"Got": ["1", "2"]}


def test_cli_sub_shows_every_value(nats_server: EmbeddedServer, client: bns.Client) -> None:
    subject = unique("mh.clisub")
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    args = [sys.executable, "-m", "beluga_nats_sync", "--url", nats_server.url, "sub", subject, "--count", "1"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listening = threading.Event()

        def watch() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if "listening" in line:
                    listening.set()
                    return

        threading.Thread(target=watch, daemon=True).start()
        assert listening.wait(30.0), "the sub command never said it was listening"
        client.publish(subject, b"hi", headers={"T": ["3", "4"]})
        out, _ = proc.communicate(timeout=30.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert out == f"[#1] {subject} (2 B) [T=3, T=4]: hi\n"


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
