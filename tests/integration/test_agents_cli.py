"""``beluga-nats agents``: ls, prompt (streaming, queries from stdin, Ctrl-C) and serve-echo."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from test_cli import Running, cli, start

import beluga_nats_sync as bns
from beluga_nats_sync.agents import Agents, AgentService, Envelope, PromptStream
from beluga_nats_sync.server import EmbeddedServer


def unique(prefix: str) -> str:
    return f"{prefix}{time.monotonic_ns() % 10**9}"


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """The long-running CLI processes of a test; the leftovers are killed."""
    procs: list[Running] = []
    yield procs
    for p in procs:
        p.kill()


@pytest.fixture
def asker(client: bns.Client) -> Iterator[AgentService]:
    release = threading.Event()

    def handler(envelope: Envelope, stream: PromptStream) -> None:
        if envelope.prompt == "slow":
            stream.send("first\n")
            release.wait(30.0)
            return
        answer = stream.ask("your favourite colour?", timeout=10.0)
        stream.send(f"{answer.prompt}, ")
        stream.send("noted")

    svc = AgentService(nc=client, agent=unique("asker"), owner="tester", session_name="cli")
    svc.on_prompt(handler)
    svc.start()
    yield svc
    release.set()
    svc.stop(1.0)


def test_serve_echo_is_listed_and_prompted(nats_server: EmbeddedServer, running: list[Running]) -> None:
    name = unique("echo")
    server = start(running, "agents", "serve-echo", "--url", nats_server.url, "--agent", name, "--owner", "me")
    server.wait_line(f"serving agents.prompt.{name}.me.default")

    listed = cli("--url", nats_server.url, "agents", "ls", "--agent", name)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:5] == ["AGENT", "OWNER", "SESSION", "INSTANCE_ID", "PROTOCOL"]
    assert row.split()[:3] == [name, "me", "default"] and "0.3" in row.split()
    assert "1 agent(s) answered" in listed.stderr

    as_json = cli("--url", nats_server.url, "agents", "ls", "--json", "--agent", name)
    (doc,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert doc["prompt_subject"] == f"agents.prompt.{name}.me.default" and doc["attachments_ok"] is True

    answered = cli("--url", nats_server.url, "agents", "prompt", name, "hello there", "--attach", "setup.cfg")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout == "echo: hello there [received 1 attachment(s): setup.cfg]\n"

    server.proc.send_signal(signal.SIGINT)
    assert server.finish() == 130
    assert "1 prompt(s) served" in "".join(server.err)


def test_prompt_answers_a_query_from_stdin(nats_server: EmbeddedServer, asker: AgentService) -> None:
    result = cli("--url", nats_server.url, "agents", "prompt", asker.subject.agent, "hi", stdin="green\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "green, noted\n"
    assert "asks: your favourite colour?" in result.stderr

    as_json = cli("--url", nats_server.url, "agents", "prompt", asker.subject.agent, "hi", "--json", stdin="red\n")
    docs = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [d["type"] for d in docs] == ["status", "query", "response", "response"]
    assert docs[2]["text"] == "red, "

    closed = cli("--url", nats_server.url, "agents", "prompt", asker.subject.agent, "hi", stdin="")
    assert closed.returncode == 1 and "stdin is closed" in closed.stderr and "Traceback" not in closed.stderr


def test_ctrl_c_ends_a_prompt_cleanly(
    nats_server: EmbeddedServer, asker: AgentService, running: list[Running], client: bns.Client
) -> None:
    proc = start(running, "--url", nats_server.url, "agents", "prompt", asker.subject.agent, "slow")
    proc.wait_line("first")
    proc.proc.send_signal(signal.SIGINT)
    assert proc.finish() == 130
    assert "Traceback" not in "".join(proc.err)
    with Agents(client) as agents:  # the agent is still there for the next caller
        assert len(agents.discover(agent=asker.subject.agent)) == 1


def test_prompt_errors(nats_server: EmbeddedServer) -> None:
    missing = cli("--url", nats_server.url, "agents", "prompt", unique("nobody"), "x")
    assert missing.returncode == 1 and "agents ls" in missing.stderr
    empty = cli("--url", nats_server.url, "agents", "ls", "--agent", unique("nobody"))
    assert empty.returncode == 0 and empty.stdout == "" and "0 agent(s)" in empty.stderr
