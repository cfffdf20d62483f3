"""Interop with the official Synadia Agent Protocol SDKs from PyPI (async, Python >= 3.11), both
ways, on a real nats-server: their caller against our host, our caller against their host.

Their side runs on an asyncio loop of its own, in a thread; every step waits a bounded time."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest

pytest.importorskip(
    "synadia_ai.agents", reason="synadia-ai-agents (the official caller SDK) needs Python >= 3.11 and is not installed"
)
pytest.importorskip(
    "synadia_ai.agent_service",
    reason="synadia-ai-agent-service (the official host SDK) needs Python >= 3.11 and is not installed",
)

import nats  # noqa: E402
from synadia_ai import agent_service as official_host  # noqa: E402
from synadia_ai import agents as official  # noqa: E402

import beluga_nats_sync as bns  # noqa: E402
from beluga_nats_sync.agents import (  # noqa: E402
    Agents,
    AgentService,
    AgentServiceError,
    Attachment,
    Envelope,
    Liveness,
    PromptStream,
    QueryChunk,
    ResponseChunk,
    StatusChunk,
)
from beluga_nats_sync.server import EmbeddedServer  # noqa: E402

from helpers import wait_for  # noqa: E402

# nats.micro (under their host) stamps its start time with datetime.utcnow(), deprecated from 3.12
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")

T = TypeVar("T")
_n = iter(range(1_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}{time.monotonic_ns() % 10**9}x{next(_n)}"


class Loop:
    """An asyncio loop in a daemon thread; ``run(coro)`` waits for its result, bounded."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="official-sdk-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def close(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10.0)
        self.loop.close()


@pytest.fixture
def their_loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def their_nc(their_loop: Loop, nats_server: EmbeddedServer) -> Iterator[Any]:
    nc = their_loop.run(nats.connect(nats_server.url))
    yield nc
    their_loop.run(nc.close())


# -- their caller, our host ----------------------------------------------------------------------------
def our_handler(envelope: Envelope, stream: PromptStream) -> None:
    if envelope.prompt == "fail":
        stream.error(429, "too many prompts")
    elif envelope.prompt == "ask":
        answer = stream.ask("which colour?", timeout=10.0)
        stream.send(f"you chose {answer.prompt}")
    elif envelope.prompt == "raise":
        raise RuntimeError("the handler broke")
    else:
        names = ",".join(a.filename for a in envelope.attachments)
        stream.send(f"echo: {envelope.prompt}")
        stream.send(f"files: {names}", attachments=[Attachment(a.filename, a.data[::-1]) for a in envelope.attachments])


@pytest.fixture
def our_host(client: bns.Client) -> Iterator[AgentService]:
    svc = AgentService(
        nc=client, agent=unique("ours"), owner="tester", session_name="main", description="ours", heartbeat_interval_s=1
    )
    svc.on_prompt(our_handler)
    with svc:
        yield svc


def test_their_caller_discovers_pings_and_prompts_our_host(
    their_loop: Loop, their_nc: Any, our_host: AgentService
) -> None:
    async def scenario() -> dict[str, Any]:
        agents = official.Agents(nc=their_nc)
        found = await agents.discover(filter=official.DiscoverFilter(agent=our_host.subject.agent))
        assert len(found) == 1
        agent = found[0]
        out: dict[str, Any] = {"info": agent.info, "ping": await agents.ping(agent.instance_id, timeout=5.0)}
        atts = [official.Attachment.from_bytes("a.txt", b"hello"), official.Attachment.from_bytes("b.bin", b"\x00\x01")]
        out["chunks"] = [c async for c in agent.prompt("hi there", attachments=atts, timeout=10.0)]
        texts = []
        async for item in agent.prompt("ask", timeout=10.0):
            if isinstance(item, official.Query):
                out["query"] = item.prompt
                await item.reply("green")
            elif isinstance(item, official.ResponseChunk):
                texts.append(item.text)
        out["answered"] = texts
        for bad in ("fail", "raise"):
            try:
                async for _ in agent.prompt(bad, timeout=10.0):
                    pass
            except official.ProtocolError as exc:
                out[bad] = str(exc)
        out["status"] = await agent.status()
        deadline = time.monotonic() + 10.0
        while agents.liveness(agent.instance_id) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        out["liveness"] = agents.liveness(agent.instance_id)
        await agents.close()
        return out

    out = their_loop.run(scenario(), timeout=40.0)
    info = out["info"]
    assert (info.agent, info.owner, info.session_name) == (our_host.subject.agent, "tester", "main")
    assert info.instance_id == our_host.instance_id and info.protocol_version == "0.3"
    assert info.prompt_endpoint.max_payload_bytes == our_host.max_payload
    assert info.prompt_endpoint.attachments_ok is True
    assert info.description == "ours"
    assert out["ping"] is True
    chunks = out["chunks"]
    assert isinstance(chunks[0], official.StatusChunk) and chunks[0].status == "ack"
    assert [c.text for c in chunks[1:]] == ["echo: hi there", "files: a.txt,b.bin"]
    assert [(a.filename, a.to_bytes()) for a in chunks[2].attachments] == [("a.txt", b"olleh"), ("b.bin", b"\x01\x00")]
    assert out["query"] == "which colour?" and out["answered"] == ["you chose green"]
    assert out["fail"] == "service error 429: too many prompts"
    assert out["raise"].startswith("service error 500: RuntimeError: the handler broke")
    assert out["status"].instance_id == our_host.instance_id and out["status"].interval_s == 1
    assert out["liveness"] is not None and out["liveness"].is_online


# -- our caller, their host ------------------------------------------------------------------------------
class TheirHost:
    """The official host SDK serving the reference agent's echo (prefix ``echo: ``, names the
    attachments it got), plus a query and an error, on their loop."""

    def __init__(self, loop: Loop, nc: Any, agent: str) -> None:
        self.loop = loop

        async def handler(envelope: Any, stream: Any) -> None:
            if envelope.prompt == "ask":
                answer = await stream.ask("your name?", timeout=10.0)
                await stream.send(f"hello {answer.prompt}")
                return
            if envelope.prompt == "refuse":
                raise official_host.RequestRejectedError(403, "not for you")
            echoed = f"echo: {envelope.prompt}"
            if envelope.attachments:
                names = ", ".join(a.filename for a in envelope.attachments)
                echoed += f" [received {len(envelope.attachments)} attachment(s): {names}]"
            await stream.send(echoed)

        async def start() -> Any:
            svc = official_host.AgentService(
                agent=agent,
                owner="them",
                session_name="example",
                nc=nc,
                description="python reference agent",
                heartbeat_interval_s=1,
            )
            svc.on_prompt(handler)
            await svc.start()
            return svc

        self.service = loop.run(start())

    @property
    def instance_id(self) -> str:
        return str(self.service.instance_id)

    def stop(self) -> None:
        self.loop.run(self.service.stop())


@pytest.fixture
def their_host(their_loop: Loop, their_nc: Any) -> Iterator[TheirHost]:
    host = TheirHost(their_loop, their_nc, unique("ref"))
    yield host
    host.stop()


def test_our_caller_discovers_and_prompts_their_reference_host(their_host: TheirHost, client: bns.Client) -> None:
    beats: list[Liveness] = []
    with Agents(client) as agents:
        agents.on_heartbeat(lambda live: beats.append(live) if live.instance_id == their_host.instance_id else None)
        found = agents.discover(timeout=5.0, owner="them", session="example")
        found = [a for a in found if a.instance_id == their_host.instance_id]
        assert len(found) == 1
        agent = found[0]
        assert agent.info.protocol_version == "0.3"
        assert agent.info.description == "python reference agent"
        assert agent.info.max_payload is not None and agent.info.max_payload <= client.max_payload
        assert agent.info.attachments_ok is True
        assert agents.ping(agent.instance_id)

        chunks = list(agent.prompt("hi", [Attachment("a.txt", b"abc")], timeout=10.0))
        assert chunks[0] == StatusChunk("ack")
        assert chunks[-1] == ResponseChunk("echo: hi [received 1 attachment(s): a.txt]")

        answered = []
        for chunk in agent.prompt("ask", timeout=10.0):
            if isinstance(chunk, QueryChunk):
                assert chunk.prompt == "your name?"
                chunk.reply("beluga")
            elif isinstance(chunk, ResponseChunk):
                answered.append(chunk.text)
        assert answered == ["hello beluga"]

        with pytest.raises(AgentServiceError) as err:
            agent.prompt_text("refuse", timeout=10.0)
        assert err.value.code == "403" and err.value.description == "not for you"

        status = agent.status()
        assert status["instance_id"] == their_host.instance_id
        wait_for(lambda: len(beats) >= 1, 10.0, "a heartbeat of their host")
        live = agents.liveness(their_host.instance_id)
        assert live is not None and live.is_online and live.interval_s == 1 and live.owner == "them"


def test_the_cli_lists_and_prompts_their_reference_host(their_host: TheirHost, nats_server: EmbeddedServer) -> None:
    from test_cli import cli

    name = their_host.service.subject.agent
    listed = cli("--url", nats_server.url, "agents", "ls", "--json", "--agent", name)
    assert listed.returncode == 0, listed.stderr
    (doc,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert doc["instance_id"] == their_host.instance_id
    assert (doc["owner"], doc["session"], doc["protocol_version"]) == ("them", "example", "0.3")
    assert doc["description"] == "python reference agent"
    table = cli("--url", nats_server.url, "agents", "ls", "--agent", name)
    assert their_host.instance_id in table.stdout

    answered = cli("--url", nats_server.url, "agents", "prompt", name, "hello", "--attach", "setup.cfg")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout == "echo: hello [received 1 attachment(s): setup.cfg]\n"

    asked = cli("--url", nats_server.url, "agents", "prompt", name, "ask", stdin="beluga\n")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == "hello beluga\n" and "asks: your name?" in asked.stderr
