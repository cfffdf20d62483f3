"""The Beluga bus with a real nats-server: the example, JetStream, and the server named in the spans
(envelopes, tracing, retries and dead letters are tested on the in-memory server: tests/unit/test_bus.py)."""

from __future__ import annotations

import threading
from typing import Any

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import ROOT, wait_for


def test_the_agents_example_runs(nats_server: EmbeddedServer) -> None:
    import os
    import subprocess
    import sys

    script = ROOT / "examples" / "agents.py"
    env = dict(os.environ, NATS_URL=nats_server.url)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "9 results" in out.stdout and "analyst answered" in out.stdout


def test_bus_jetstream_speaks_message(nats_server: EmbeddedServer, spans: Any) -> None:
    with bns.NATSMessageBus(nats_server.url, retry_backoff=0.01) as bus:
        js = bus.jetstream()
        js.add_stream(name="BUSJS", subjects=["busjs.>"])
        try:
            msg = bns.Message(type="job", payload={"n": 1}, message_id="job-1")
            ack = js.publish("busjs.jobs", msg)
            assert ack.stream == "BUSJS" and not ack.duplicate
            assert js.publish("busjs.jobs", msg).duplicate  # the envelope id deduplicates
            got: list[bns.Message] = []
            done = threading.Event()

            def handle(m: bns.Message) -> None:
                got.append(m)
                done.set()

            handle_ = js.consume("busjs.jobs", handle, durable="bus-workers", max_deliver=2, backoff=0.05)
            try:
                assert done.wait(5.0)
            finally:
                handle_.stop()
            assert got == [msg]
            wait_for(lambda: {"nats.publish", "nats.process"} <= {s.name for s in spans.get_finished_spans()})
            by_name = {s.name: s for s in spans.get_finished_spans()}
            proc, pubs = by_name["nats.process"], [s for s in spans.get_finished_spans() if s.name == "nats.publish"]
            assert proc.parent is not None and proc.parent.span_id in {p.context.span_id for p in pubs}
        finally:
            js.delete_stream("BUSJS")


def test_spans_name_the_server_in_use(nats_server: EmbeddedServer, spans: Any) -> None:
    """The span attributes of the server's address and port are those of the real server in use
    (the rest of the spans' attributes are tested on the in-memory server: tests/unit/test_bus.py)."""
    with bns.NATSMessageBus(nats_server.url) as bus:
        done = threading.Event()
        bus.subscribe("bus.where", lambda m: done.set())
        bus.client.flush(2.0)
        bus.publish("bus.where", bns.Message(type="ping", payload={}))
        assert done.wait(2.0)
        wait_for(lambda: len(spans.get_finished_spans()) == 2, what="two spans")
    for s in spans.get_finished_spans():
        a = s.attributes or {}
        assert a["server.address"] == "127.0.0.1" and a["server.port"] == nats_server.port
