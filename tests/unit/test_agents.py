"""The agent protocol between our own caller and host, on the in-memory server: the stream, its
errors and checks, heartbeats, and the edges (a host that raises or stops, a caller that leaves,
many prompts at once, an agent that is gone). A server restart is in tests/integration/test_agents.py."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.agents import (
    Agent,
    AgentError,
    Agents,
    AgentService,
    AgentServiceError,
    AgentStoppedError,
    Attachment,
    AttachmentsNotSupportedError,
    Envelope,
    PromptEmptyError,
    PromptStream,
    PromptTooLargeError,
    QueryChunk,
    QueryTimeoutError,
    ResponseChunk,
    StatusChunk,
    StreamMaxWaitError,
    StreamStalledError,
)
from beluga_nats_sync.testing import MemoryServer

from helpers import thread_names, wait_for
from shared import echo, find, unique


@pytest.fixture
def host_client(memory_server: MemoryServer) -> Iterator[bns.Client]:
    nc = memory_server.connect(name="agent-host", timeout=5.0)
    yield nc
    nc.close(timeout=5.0)


# -- the stream ------------------------------------------------------------------------------------
def test_discover_finds_the_agent_with_its_metadata(serve: Callable[..., AgentService], agents: Agents) -> None:
    svc = serve(echo, description="an echo", attachments_ok=False, max_payload=4096)
    agent = find(agents, svc)
    info = agent.info
    assert (info.agent, info.owner, info.session_name) == (svc.subject.agent, "tester", "main")
    assert info.instance_id == svc.instance_id
    assert info.protocol_version == "0.3"
    assert info.description == "an echo"
    assert info.prompt_subject == f"agents.prompt.{svc.subject.agent}.tester.main"
    assert info.prompt_endpoint.queue_group == "agents"
    assert info.max_payload == 4096 and info.prompt_endpoint.metadata["max_payload"] == "4KB"
    assert info.attachments_ok is False
    assert info.status_subject == f"agents.status.{svc.subject.agent}.tester.main"
    assert agents.discover(agent=svc.subject.agent, owner="someone-else") == []
    assert agents.discover(agent=svc.subject.agent, session="other") == []
    assert agents.ping(svc.instance_id)
    assert not agents.ping("NoSuchInstance", timeout=0.3)


def test_a_prompt_streams_ack_chunks_and_ends_at_the_terminator(
    serve: Callable[..., AgentService], agents: Agents
) -> None:
    def handler(envelope: Envelope, stream: PromptStream) -> None:
        for word in envelope.prompt.split():
            stream.send(word)
        stream.send("files", attachments=[Attachment("back.bin", b"\x00\x01")] + list(envelope.attachments))

    agent = find(agents, serve(handler))
    chunks = list(agent.prompt("one two three", [Attachment.from_bytes("a.txt", b"hello")]))
    assert chunks[0] == StatusChunk("ack")
    assert [c.text for c in chunks[1:4]] == ["one", "two", "three"]  # type: ignore[union-attr]
    last = chunks[4]
    assert isinstance(last, ResponseChunk) and last.text == "files"
    assert [(a.filename, a.data) for a in last.attachments] == [("back.bin", b"\x00\x01"), ("a.txt", b"hello")]
    assert len(chunks) == 5
    assert agent.prompt_text("a b") == "abfiles"


def test_a_query_is_answered_from_the_loop(serve: Callable[..., AgentService], agents: Agents) -> None:
    answers: list[Envelope] = []

    def handler(envelope: Envelope, stream: PromptStream) -> None:
        answers.append(stream.ask("which colour?", timeout=10.0))
        stream.send(f"you said {answers[-1].prompt}")

    agent = find(agents, serve(handler))
    texts = []
    for chunk in agent.prompt("paint"):
        if isinstance(chunk, QueryChunk):
            assert chunk.prompt == "which colour?"
            chunk.reply("blue", attachments=[Attachment("c.txt", b"#00f")])
        elif isinstance(chunk, ResponseChunk):
            texts.append(chunk.text)
    assert texts == ["you said blue"]
    assert answers[0].attachments == (Attachment("c.txt", b"#00f"),)
    assert agent.prompt_text("again", on_query=lambda q: "red") == "you said red"
    with pytest.raises(AgentError, match="on_query"):
        agent.prompt_text("unanswered")


def test_a_query_left_unanswered_times_out_in_the_handler(serve: Callable[..., AgentService], agents: Agents) -> None:
    def handler(envelope: Envelope, stream: PromptStream) -> None:
        try:
            stream.ask("anyone?", timeout=0.2)
        except QueryTimeoutError:
            stream.send("nobody answered")

    agent = find(agents, serve(handler))
    texts = [c.text for c in agent.prompt("q") if isinstance(c, ResponseChunk)]
    assert texts == ["nobody answered"]


def test_an_error_frame_raises_with_its_code(serve: Callable[..., AgentService], agents: Agents) -> None:
    def handler(envelope: Envelope, stream: PromptStream) -> None:
        stream.send("partial")
        stream.error(418, "I am a teapot\nand more")
        with pytest.raises(AgentStoppedError):
            stream.send("after the error")

    agent = find(agents, serve(handler))
    got: list[Any] = []
    with pytest.raises(AgentServiceError) as err:
        for chunk in agent.prompt("tea"):
            got.append(chunk)
    assert err.value.code == "418"
    assert err.value.description == "I am a teapot | and more"
    assert got == [StatusChunk("ack"), ResponseChunk("partial")]


def test_checks_before_sending(serve: Callable[..., AgentService], agents: Agents, client: bns.Client) -> None:
    svc = serve(echo, attachments_ok=False, max_payload=1024)
    agent = find(agents, svc)
    with pytest.raises(PromptEmptyError):
        agent.prompt("")
    with pytest.raises(AttachmentsNotSupportedError, match="attachments_ok=false"):
        agent.prompt("x", [Attachment("a", b"1")])
    with pytest.raises(PromptTooLargeError, match="over the agent") as too_big:
        agent.prompt("x" * 2000)
    assert isinstance(too_big.value, bns.PayloadTooLargeError) and too_big.value.limit == 1024
    with pytest.raises(TypeError):
        agent.prompt("x", "not a list")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        agent.prompt("x", timeout=0)
    # an agent that declares more than this server takes: the server's limit binds
    roomy = serve(echo)
    big = find(agents, roomy)
    assert big.info.max_payload == client.max_payload
    roomier = attrs.evolve(big.info, prompt_endpoint=attrs.evolve(big.info.prompt_endpoint, max_payload=10**9))
    with pytest.raises(PromptTooLargeError, match="server"):
        Agent(client, roomier).prompt("x" * (client.max_payload + 10))
    # private: AgentService shows no statistics of its own; its service's say nothing reached the host
    stats = svc._service.stats() if svc._service else {}
    assert [e["num_requests"] for e in stats["endpoints"] if e["name"] == "prompt"] == [0]


def test_the_host_refuses_what_it_cannot_take(serve: Callable[..., AgentService], client: bns.Client) -> None:
    svc = serve(echo, attachments_ok=False, max_payload=1024)
    for data in (
        b"",
        b'{"prompt": 1}',
        b"{not json",
        b"x" * 2000,
        b'{"prompt":"a","attachments":[{"filename":"f","content":"AA=="}]}',
    ):
        sub = client.subscribe(client.new_inbox())
        client.publish(svc.subject.prompt, data, reply=sub.subject)
        first = sub.next_msg(5.0)
        assert first.headers is not None and first.headers["Nats-Service-Error-Code"] == "400", data
        last = sub.next_msg(5.0)
        assert last.data == b"" and not last.headers
        sub.unsubscribe()
    # plain text is a prompt too (§5.3)
    reply = client.request_many(svc.subject.prompt, b"plain words", timeout=5.0, stall=1.0)
    assert [m.data for m in reply][:2] == [
        b'{"type":"status","data":"ack"}',
        b'{"type":"response","data":"echo: plain words"}',
    ]


def test_status_endpoint_and_heartbeats(serve: Callable[..., AgentService], agents: Agents) -> None:
    beats: list[Any] = []
    remove = agents.on_heartbeat(beats.append)
    svc = serve(echo, heartbeat_interval_s=0.2)
    wait_for(lambda: agents.liveness(svc.instance_id) is not None, what="the first heartbeat")
    live = agents.liveness(svc.instance_id)
    assert live is not None and live.is_online and live.agent == svc.subject.agent
    assert live.payload["endpoints"]["prompt"]["subject"] == svc.subject.prompt
    wait_for(lambda: sum(b.instance_id == svc.instance_id for b in beats) >= 3, what="more heartbeats")
    remove()
    assert svc.instance_id in agents.heartbeats()
    status = find(agents, svc).status()
    assert status["instance_id"] == svc.instance_id and status["protocol_version"] == "0.3"
    assert isinstance(status["interval_s"], int)


def test_only_agents_of_our_protocol_minor_are_discovered(client: bns.Client, agents: Agents) -> None:
    name = unique()
    services = [
        client.add_service("agents", "1.0.0", metadata={"agent": name, "owner": "o", "protocol_version": v})
        for v in ("0.2", "1.3", "0.3.7")
    ]
    try:
        for s in services:
            s.add_endpoint("prompt", echo_raw, subject=f"agents.prompt.{name}.o.s{s.id[:4].lower()}")
        found = agents.discover(agent=name)
        assert [a.info.protocol_version for a in found] == ["0.3.7"]
    finally:
        for s in services:
            s.stop(2.0)


def echo_raw(req: bns.ServiceRequest) -> None:
    req.respond(b"")


def test_a_coroutine_handler_is_refused(host_client: bns.Client) -> None:
    async def handler(envelope: Envelope, stream: PromptStream) -> None:
        pass

    svc = AgentService(nc=host_client, agent="x", owner="o")
    with pytest.raises(TypeError, match="coroutine"):
        svc.on_prompt(handler)
    with pytest.raises(RuntimeError, match="on_prompt"):
        svc.start()
    with pytest.raises(ValueError, match="agent"):
        AgentService(nc=host_client, agent="Not Valid", owner="o")


# -- edges -------------------------------------------------------------------------------------------
def test_a_host_that_raises_answers_500_and_logs_the_traceback(
    serve: Callable[..., AgentService], agents: Agents, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(envelope: Envelope, stream: PromptStream) -> None:
        if envelope.prompt == "boom":
            raise KeyError("the missing key")
        stream.send("fine")

    agent = find(agents, serve(handler))
    with caplog.at_level(logging.ERROR, logger="beluga_nats_sync.agents"), pytest.raises(AgentServiceError) as err:
        agent.prompt_text("boom")
    assert err.value.code == "500" and "KeyError" in err.value.description
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
    assert agent.prompt_text("again") == "fine"  # the host still serves


def test_a_handler_that_never_sends_still_ends_the_stream(serve: Callable[..., AgentService], agents: Agents) -> None:
    agent = find(agents, serve(lambda envelope, stream: None))
    assert list(agent.prompt("anything")) == [StatusChunk("ack")]
    assert agent.prompt_text("anything") == ""


def test_inactivity_and_max_wait(serve: Callable[..., AgentService], agents: Agents) -> None:
    release = threading.Event()

    def slow(envelope: Envelope, stream: PromptStream) -> None:
        if envelope.prompt == "silent":
            release.wait(10.0)
            return
        while not release.wait(0.05):
            stream.send(".")

    agent = find(agents, serve(slow, keepalive_interval_s=None))
    try:
        with pytest.raises(StreamStalledError, match="no chunk"):
            list(agent.prompt("silent", timeout=0.3))
        with pytest.raises(StreamMaxWaitError):
            list(agent.prompt("chatty", timeout=5.0, max_wait=0.5))
        assert isinstance(StreamStalledError("x"), TimeoutError)
    finally:
        release.set()


def test_keepalive_acks_keep_a_slow_stream_alive(serve: Callable[..., AgentService], agents: Agents) -> None:
    def slow(envelope: Envelope, stream: PromptStream) -> None:
        stream.stop_event.wait(0.8)
        stream.send("done")

    agent = find(agents, serve(slow, keepalive_interval_s=0.1))
    chunks = list(agent.prompt("x", timeout=0.5))
    assert chunks[-1] == ResponseChunk("done")
    assert chunks.count(StatusChunk("ack")) >= 3


def test_keepalives_start_with_the_stream_whatever_the_heartbeat(
    serve: Callable[..., AgentService], agents: Agents
) -> None:
    """A stream that begins while the heartbeat ticker sleeps (its heartbeat 30 s away) gets its
    keep-alives on time: the ticker is woken by the new stream, not at its next beat."""

    def slow(envelope: Envelope, stream: PromptStream) -> None:
        stream.stop_event.wait(1.2)
        stream.send("done")

    agent = find(agents, serve(slow, keepalive_interval_s=0.1, heartbeat_interval_s=30))
    for _ in range(2):  # two prompts: one of them begins well inside the ticker's one-second sleep
        chunks = list(agent.prompt("x", timeout=0.4))
        assert chunks[-1] == ResponseChunk("done")
        assert chunks.count(StatusChunk("ack")) >= 5


def test_a_caller_that_stops_reading_frees_its_subscription(
    serve: Callable[..., AgentService], agents: Agents, client: bns.Client
) -> None:
    finished = threading.Event()

    def long(envelope: Envelope, stream: PromptStream) -> None:
        for i in range(200):
            stream.send(str(i))
        finished.set()

    agent = find(agents, serve(long))
    before = repr(client)
    for chunk in agent.prompt("go"):
        if isinstance(chunk, ResponseChunk):
            break
    assert repr(client) == before  # the stream's subscription is gone
    stream = agent.prompt("again")
    next(stream)
    stream.close()
    assert stream.closed and repr(client) == before
    assert finished.wait(10.0)
    assert agent.prompt_text("third").startswith("0123")


def test_a_host_stopped_mid_prompt_ends_the_stream_and_leaves_no_thread(
    host_client: bns.Client, agents: Agents
) -> None:
    started = threading.Event()
    outcome: list[BaseException] = []

    def stubborn(envelope: Envelope, stream: PromptStream) -> None:
        stream.send("working")
        started.set()
        try:
            stream.ask("never answered", timeout=30.0)
        except AgentStoppedError as exc:
            outcome.append(exc)
            raise

    svc = AgentService(nc=host_client, agent=unique(), owner="o", session_name="s")
    svc.on_prompt(stubborn)
    svc.start()
    stream = find(agents, svc).prompt("x")
    chunks = [next(stream), next(stream)]
    assert chunks[1] == ResponseChunk("working")
    assert started.wait(5.0)
    svc.stop(timeout=0.2)
    with pytest.raises(AgentServiceError) as err:
        list(stream)
    assert err.value.code == "503"
    assert outcome and isinstance(outcome[0], AgentStoppedError)
    assert not [n for n in thread_names() if n.startswith(f"agent-{svc.subject.agent}")]
    assert agents.discover(agent=svc.subject.agent) == []
    svc.stop()  # idempotent


def test_a_prompt_to_an_agent_that_is_gone_fails_at_once(serve: Callable[..., AgentService], agents: Agents) -> None:
    svc = serve(echo)
    agent = find(agents, svc)
    svc.stop(2.0)
    with pytest.raises(bns.NoRespondersError, match=svc.subject.prompt):
        list(agent.prompt("hello?", timeout=30.0))


def test_fifty_prompts_at_once_to_one_host(serve: Callable[..., AgentService], agents: Agents) -> None:
    running = [0, 0]  # now, most
    lock = threading.Lock()

    def handler(envelope: Envelope, stream: PromptStream) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        try:
            stream.stop_event.wait(0.02)
            stream.send(envelope.prompt.upper())
        finally:
            with lock:
                running[0] -= 1

    agent = find(agents, serve(handler, max_concurrent=8))
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = agent.prompt_text(f"prompt {i}", timeout=30.0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60.0)
    assert not errors
    assert results == {i: f"PROMPT {i}" for i in range(50)}
    assert 1 < running[1] <= 8


def test_json_of_the_wire(serve: Callable[..., AgentService], client: bns.Client) -> None:
    """The exact frames, as another SDK reads them."""
    svc = serve(lambda e, s: s.send("hi", attachments=[Attachment("f", b"ab")]))
    sub = client.subscribe(client.new_inbox())
    client.publish(svc.subject.prompt, b'{"prompt":"x","extra":1}', reply=sub.subject)
    frames = [sub.next_msg(5.0) for _ in range(3)]
    assert json.loads(frames[0].data) == {"type": "status", "data": "ack"}
    assert json.loads(frames[1].data) == {
        "type": "response",
        "data": {"text": "hi", "attachments": [{"filename": "f", "content": "YWI="}]},
    }
    assert frames[2].data == b"" and frames[2].headers is None


def test_an_empty_answer_to_a_query_is_an_answer(serve: Callable[..., AgentService], agents: Agents) -> None:
    def handler(envelope: Envelope, stream: PromptStream) -> None:
        stream.send(f"[{stream.ask('anything to add?', timeout=10.0).prompt}]")

    agent = find(agents, serve(handler))
    assert agent.prompt_text("x", on_query=lambda q: "") == "[]"


def test_agents_takes_the_client_by_position_or_as_nc(client: bns.Client) -> None:
    with Agents(nc=client) as by_name, Agents(client) as by_position:
        assert by_name.client is by_position.client is client
    with pytest.raises(bns.ClosedError):
        by_name.watch()
