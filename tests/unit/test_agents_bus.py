"""Agents on the Beluga bus: a prompt is traced from the caller's send to the end of its stream,
and the host's handler runs in a span that continues the caller's trace (ours, or any caller
that puts a W3C traceparent in the request's headers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import beluga_nats_sync as bns
from beluga_nats_sync.agents import AgentServiceError, Envelope, PromptStream
from beluga_nats_sync.testing import MemoryServer

from helpers import wait_for


@pytest.fixture
def buses(memory_server: MemoryServer) -> Iterator[tuple[bns.NATSMessageBus, bns.NATSMessageBus]]:
    host = bns.NATSMessageBus(memory_server.connect(name="agent-host"))
    caller = bns.NATSMessageBus(memory_server.connect(name="agent-caller"))
    yield host, caller
    caller.close()
    host.close()


def test_a_prompt_through_the_bus_is_one_trace(
    buses: tuple[bns.NATSMessageBus, bns.NATSMessageBus], spans: Any
) -> None:
    host, caller = buses
    inner = threading.Event()

    def handler(envelope: Envelope, stream: PromptStream) -> None:
        host.publish("agents.bus.work", bns.Message(type="step", payload={"p": envelope.prompt}))
        inner.set()
        if envelope.prompt == "fail":
            raise ValueError("no")
        stream.send("one")
        stream.send("two")

    name = f"traced{time.monotonic_ns() % 10**9}"
    service = host.agent_service(agent=name, owner="o", session_name="s", description="traced")
    service.on_prompt(handler)
    with service, caller.agents() as agents:
        (agent,) = agents.discover(agent=name)
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("user-work") as root:
            assert agent.prompt_text("go") == "onetwo"
        assert inner.wait(5.0)
        wait_for(lambda: len(spans.get_finished_spans()) >= 4, what="four spans")
        by_name = {s.name: s for s in spans.get_finished_spans()}
        req, proc, pub = by_name["nats.request"], by_name["nats.process"], by_name["nats.publish"]
        assert req.kind is SpanKind.CLIENT and proc.kind is SpanKind.CONSUMER
        assert req.parent is not None and req.parent.span_id == root.get_span_context().span_id
        assert proc.parent is not None and proc.parent.span_id == req.context.span_id
        assert pub.parent is not None and pub.parent.span_id == proc.context.span_id  # the handler's own work
        assert {s.context.trace_id for s in (req, proc, pub)} == {root.get_span_context().trace_id}
        assert req.attributes["agents.agent"] == name and req.attributes["agents.chunks"] == 3  # type: ignore[index]
        assert req.attributes["messaging.destination.name"] == agent.info.prompt_subject  # type: ignore[index]
        assert proc.attributes["messaging.consumer.group.name"] == "agents"  # type: ignore[index]

        spans.clear()
        with pytest.raises(AgentServiceError):
            agent.prompt_text("fail")
        wait_for(lambda: len(spans.get_finished_spans()) >= 3, what="the failed prompt's spans")
        by_name = {s.name: s for s in spans.get_finished_spans()}
        assert by_name["nats.request"].status.status_code is StatusCode.ERROR
        assert by_name["nats.request"].attributes["error.type"] == "AgentServiceError"  # type: ignore[index]
        assert by_name["nats.process"].status.status_code is StatusCode.ERROR


def test_a_foreign_callers_traceparent_continues_into_our_host(
    buses: tuple[bns.NATSMessageBus, bns.NATSMessageBus], spans: Any, client: bns.Client
) -> None:
    host, _ = buses
    name = f"foreign{time.monotonic_ns() % 10**9}"
    service = host.agent_service(agent=name, owner="o", session_name="s")
    service.on_prompt(lambda envelope, stream: stream.send("ok"))
    with service:
        trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        inbox = client.new_inbox()
        sub = client.subscribe(inbox)
        client.publish(
            service.subject.prompt,
            b'{"prompt":"hi"}',
            reply=inbox,
            headers={"Traceparent": f"00-{trace_id}-{parent_id}-01"},  # as Go may write it
        )
        frames = [sub.next_msg(5.0) for _ in range(3)]
        assert frames[-1].data == b"" and not frames[-1].headers
        wait_for(lambda: any(s.name == "nats.process" for s in spans.get_finished_spans()), what="the host span")
        (proc,) = [s for s in spans.get_finished_spans() if s.name == "nats.process"]
        assert format(proc.context.trace_id, "032x") == trace_id
        assert proc.parent is not None and format(proc.parent.span_id, "016x") == parent_id


def test_the_trace_headers_count_against_the_servers_max_payload(
    buses: tuple[bns.NATSMessageBus, bns.NATSMessageBus], spans: Any
) -> None:
    import attrs

    from beluga_nats_sync.agents import Agent, PromptTooLargeError

    host, caller = buses
    name = f"big{time.monotonic_ns() % 10**9}"
    service = host.agent_service(agent=name, owner="o", session_name="s")
    service.on_prompt(lambda envelope, stream: stream.send("ok"))
    with service, caller.agents() as agents:
        (agent,) = agents.discover(agent=name)
        limit = caller.client.max_payload
        roomy = attrs.evolve(agent.info, prompt_endpoint=attrs.evolve(agent.info.prompt_endpoint, max_payload=None))
        # private: an Agent made by hand traces only with the bus's hooks, which only Agents holds
        traced = Agent(caller.client, roomy, agents._hooks)
        text = "x" * (limit - len('{"prompt":""}') - 20)  # fits alone, not with a traceparent
        with pytest.raises(PromptTooLargeError, match="server"):
            traced.prompt(text)
        assert Agent(caller.client, roomy).prompt_text(text, timeout=10.0) == "ok"  # untraced, it fits
