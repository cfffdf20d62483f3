"""Python and a real Go agent (nats.go, written like the integration guide) exchange Messages both ways."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for

GO_SOURCE = Path(__file__).parent / "go_agent" / "main.go"
GOPATH = "/usr/share/gocode"  # where Debian's golang-github-nats-io-go-nats-dev puts nats.go


@pytest.fixture(scope="session")
def go_agent(tmp_path_factory: pytest.TempPathFactory) -> str:
    go = shutil.which("go")
    if go is None or not Path(GOPATH, "src/github.com/nats-io/nats.go").is_dir():
        pytest.skip("Go or nats.go is not installed (apt-get install golang-go golang-github-nats-io-go-nats-dev)")
    out = tmp_path_factory.mktemp("go") / "go_agent"
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOPROXY="off", GOFLAGS="")
    env.setdefault("GOCACHE", str(tmp_path_factory.mktemp("gocache")))
    build = subprocess.run(
        [go, "build", "-o", str(out), str(GO_SOURCE)], env=env, capture_output=True, text=True, timeout=300
    )
    if build.returncode != 0:
        pytest.fail(f"building the Go agent failed:\n{build.stderr}")
    return str(out)


def run_go(agent: str, *args: str, timeout: float = 20.0) -> str:
    out = subprocess.run([agent, *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def go_process(go_agent: str) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        p = subprocess.Popen([go_agent, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(5.0)


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_go_publishes_python_handles(go_agent: str, nats_server: EmbeddedServer, spans: Any) -> None:
    got: list[bns.Message] = []
    with bns.NATSMessageBus(nats_server.url) as bus:
        bus.subscribe("interop.from_go", got.append)
        bus.client.flush(2.0)
        run_go(go_agent, "publish", nats_server.url, "interop.from_go", TRACEPARENT)
        wait_for(lambda: len(got) == 1, what="the Go message")
    m = got[0]
    assert m.type == "from-go" and m.message_id == "go-1"
    assert m.payload == {"task": "process", "n": 42, "nested": {"ok": True}, "html": "<a&b>"}
    assert m.timestamp.isoformat() == "2026-11-25T18:20:50.123456+02:00"
    wait_for(lambda: any(s.name == "nats.process" for s in spans.get_finished_spans()))
    proc = next(s for s in spans.get_finished_spans() if s.name == "nats.process")
    assert format(proc.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert proc.parent is not None and format(proc.parent.span_id, "016x") == "b7ad6b7169203331"


def test_python_publishes_go_decodes(go_process: Any, nats_server: EmbeddedServer, spans: Any) -> None:
    sent = [
        bns.Message(
            type="from-python", payload={"task": "process", "x": 1.5, "list": [1, "two", None]}, message_id="py-1"
        ),
        bns.Message(type="unicode", payload={"s": "héllo <&> ✓", "big": 2**40}, message_id="py-2"),
    ]
    go = go_process("subscribe", nats_server.url, "interop.to_go", str(len(sent)))
    with bns.NATSMessageBus(nats_server.url) as bus:
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("python-agent") as root:
            for m in sent:
                bus.publish("interop.to_go", m)
        bus.client.flush(2.0)
    out, err = go.communicate(timeout=20)
    assert go.returncode == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == len(sent)
    for line, m in zip(lines, sent, strict=True):
        body, traceparent = line.split("\t")
        # what Go decoded and marshalled again is exactly what we sent
        assert bns.Message.from_json(body.encode()) == m
        assert body.encode() == m.to_json()
        assert traceparent.startswith("00-" + format(root.get_span_context().trace_id, "032x"))


def test_go_requests_python_serves(go_agent: str, nats_server: EmbeddedServer) -> None:
    with bns.NATSMessageBus(nats_server.url) as bus:
        bus.serve("interop.py_rpc", lambda m: bns.Message(type="py-answer", payload={"seen": m.payload, "t": m.type}))
        bus.client.flush(2.0)
        out = run_go(go_agent, "request", nats_server.url, "interop.py_rpc")
    reply = json.loads(out)
    assert reply["Type"] == "py-answer"
    assert reply["Payload"] == {"seen": {"q": 7}, "t": "go-question"}


def test_python_requests_go_replies(go_process: Any, nats_server: EmbeddedServer) -> None:
    go = go_process("reply", nats_server.url, "interop.go_rpc", "1")
    with bns.NATSMessageBus(nats_server.url) as bus:
        reply = bus.request("interop.go_rpc", bns.Message(type="py-question", payload={"q": [1, 2]}), timeout=5.0)
    go.communicate(timeout=10)
    assert reply.type == "go-reply" and reply.message_id == "go-rep"
    assert reply.payload == {"echo": {"q": [1, 2]}, "type": "py-question"}
    assert reply.timestamp.isoformat() == "2026-01-02T03:04:05+00:00"


def test_go_subscriber_gets_python_publishes_in_order(go_process: Any, nats_server: EmbeddedServer) -> None:
    # Python publishes reach a Go subscriber in order while a Python handler keeps working beside it
    go = go_process("subscribe", nats_server.url, "interop.both", "3")
    seen = threading.Event()
    with bns.NATSMessageBus(nats_server.url) as bus:
        bus.subscribe("interop.py_only", lambda m: seen.set())
        for i in range(3):
            bus.publish("interop.both", bns.Message(type="t", payload={"i": i}))
        bus.publish("interop.py_only", bns.Message(type="t"))
        assert seen.wait(5.0)
        bus.client.flush(2.0)
    out, err = go.communicate(timeout=20)
    assert go.returncode == 0, err
    assert [json.loads(line.split("\t")[0])["Payload"]["i"] for line in out.strip().splitlines()] == [0, 1, 2]


# -- repeated header values, both ways ------------------------------------------------------------


def test_go_repeated_header_values_reach_python(go_agent: str, nats_server: EmbeddedServer, client: bns.Client) -> None:
    sub = client.subscribe("interop.headers_from_go")
    client.flush(2.0)
    run_go(go_agent, "headers-publish", nats_server.url, "interop.headers_from_go")
    msg = sub.next_msg(10.0)
    assert msg.data == b"go headers" and msg.headers is not None
    assert msg.headers.get_all("X-Tag") == ["a", "b, with a comma", "c"]  # Header.Add's order
    assert msg.headers["X-Tag"] == "a"  # the first value, as Go's Header.Get
    assert msg.headers.get_all("x-tag") == ["lower"] and msg.headers.get_all("Single") == ["s"]


def test_python_lists_reach_go_header_values_and_come_back(
    go_process: Any, nats_server: EmbeddedServer, client: bns.Client
) -> None:
    go = go_process("headers-echo", nats_server.url, "interop.headers_to_go")
    sent = {"X-Tag": ["one", "two", "three, too"], "Single": "s", "Empty": []}
    rep = client.request("interop.headers_to_go", b"", headers=sent, timeout=10.0)
    out, err = go.communicate(timeout=20)
    assert go.returncode == 0, err
    seen = json.loads(out)
    assert seen["values"] == ["one", "two", "three, too"]  # Go's msg.Header.Values("X-Tag")
    assert seen["header"] == {"X-Tag": ["one", "two", "three, too"], "Single": ["s"]}  # no line for Empty
    assert rep.headers is not None
    assert rep.headers.get_all("X-Tag") == ["one", "two", "three, too"]
    assert rep.headers.get_all("Go-Added") == ["1", "2"] and rep.headers["Single"] == "s"
