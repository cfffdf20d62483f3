"""The agent protocol on a real nats-server: a server restart during a prompt, and the benchmark
(the rest of the protocol is tested on the in-memory server: tests/unit/test_agents.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.agents import (
    Agents,
    AgentService,
    Envelope,
    PromptStream,
    ResponseChunk,
    StatusChunk,
)
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for
from shared import find, unique


@pytest.fixture
def host_client(nats_server: EmbeddedServer) -> Iterator[bns.Client]:
    nc = bns.connect(nats_server.url, name="agent-host", timeout=5.0)
    yield nc
    nc.close(timeout=5.0)


def echo_raw(req: bns.ServiceRequest) -> None:
    req.respond(b"")


def test_a_server_restart_during_a_prompt(fresh_server: EmbeddedServer) -> None:
    step = threading.Event()
    host = bns.connect(fresh_server.url, reconnect_wait=0.1, max_reconnects=-1, timeout=5.0)
    caller = bns.connect(fresh_server.url, reconnect_wait=0.1, max_reconnects=-1, timeout=5.0)
    try:

        def handler(envelope: Envelope, stream: PromptStream) -> None:
            stream.send("before")
            step.wait(20.0)
            stream.send("after")

        svc = AgentService(nc=host, agent=unique(), owner="o", session_name="s")
        svc.on_prompt(handler)
        with svc, Agents(caller) as agents:
            agent = find(agents, svc)
            stream = agent.prompt("ride it out", timeout=20.0)
            assert next(stream) == StatusChunk("ack")
            assert next(stream) == ResponseChunk("before")
            fresh_server.restart()
            wait_for(lambda: host.is_connected and caller.is_connected, 20.0, "both clients back")
            caller.flush(5.0)
            host.flush(5.0)
            step.set()
            assert list(stream) == [ResponseChunk("after")]
            assert agent.prompt_text("and again", timeout=10.0) == "before" + "after"
    finally:
        step.set()
        host.close(timeout=5.0)
        caller.close(timeout=5.0)


def test_the_agents_benchmark_runs() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(root)
    args = ["--chunks", "50", "--prompts", "20", "--threads", "4", "--reps", "1"]
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.tools.agents_stream", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "chunks/s" in lines[1] and "prompts/s x4" in lines[1]
    assert lines[2].startswith("beluga_nats_sync") and len(lines[2].split()) == 5
    assert lines[3].startswith("official SDKs (async)")
