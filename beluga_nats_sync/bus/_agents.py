"""Agents on the bus: the hooks that trace a prompt (a ``nats.request`` span from the send to the
terminator, its trace context in the request's headers) and its handling (a ``nats.process``
span around the handler, a child of the caller's span when the request carried one)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from ..agents._hooks import NO_HOOKS, PromptFinish
from ..agents._protocol import QUEUE_GROUP
from . import tracing as _tracing

__all__ = ["BusAgentHooks"]


class _Bus(Protocol):
    """What the hooks read of their ``NATSMessageBus`` (named by this protocol, not imported: the
    bus imports this module)."""

    def _server(self) -> tuple[str, int] | None: ...


class BusAgentHooks:
    """Tracing and metrics of agents served and prompted through a bus."""

    def __init__(self, bus: _Bus) -> None:
        self._bus = bus

    def start_prompt(self, subject: str, size: int, agent: str) -> tuple[dict[str, str], PromptFinish]:
        if _tracing.telemetry_off():
            return NO_HOOKS.start_prompt(subject, size, agent)
        attrs = _tracing.attributes("request", subject, size=size, server=self._bus._server())
        attrs["agents.agent"] = agent
        span = _tracing.start_span("request", attrs)
        headers: dict[str, str] = {}
        _tracing.inject(headers, span)
        start = time.perf_counter()

        def finish(error: BaseException | None, chunks: int) -> None:
            span.set_attribute("agents.chunks", chunks)
            if error is None:
                span.set_attribute("success", True)
                _tracing.sent_messages.add(1, _tracing.metric_attributes("request", subject))
            else:
                _tracing.record_error(span, error)
            span.end()
            kind = None if error is None else type(error).__qualname__
            _tracing.record_duration(_tracing.operation_duration, "request", subject, start, kind)

        return headers, finish

    @contextmanager
    def serve_prompt(self, subject: str, headers: Mapping[str, str] | None, size: int, agent: str) -> Iterator[None]:
        if _tracing.telemetry_off():
            yield
            return
        attrs = _tracing.attributes("process", subject, size=size, queue=QUEUE_GROUP, server=self._bus._server())
        attrs["agents.agent"] = agent
        start = time.perf_counter()
        error: str | None = None
        try:
            with _tracing.span("process", attrs, _tracing.extract(headers)):
                yield
        except BaseException as exc:
            error = type(exc).__qualname__
            raise
        finally:
            _tracing.consumed_messages.add(1, _tracing.metric_attributes("process", subject))
            _tracing.record_duration(_tracing.process_duration, "process", subject, start, error)
