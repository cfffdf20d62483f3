"""Spans, trace-context propagation in NATS headers, and messaging metrics (OpenTelemetry API only).

Span names and the tracer name are those of the Go integration guide, so Python and Go agents show up
alike in one trace view. Attributes follow the guide (``subject``, ``message_type``, ``message_size``,
``timeout_s``, ``success``) plus the OpenTelemetry messaging semantic conventions as of semantic
conventions v1.30.0 (messaging is still "development" there). With no SDK installed every call here
is a no-op of the API, which costs next to nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ..protocol.headers import Headers
from ._otel import metrics_on, telemetry_off, tracing_on

if TYPE_CHECKING:
    from ..message import Message

__all__ = [
    "TRACER_NAME",
    "extract",
    "inject",
    "metric_attributes",
    "metrics_on",
    "process",
    "record_duration",
    "record_error",
    "send",
    "span",
    "start_span",
    "telemetry_off",
    "tracing_on",
]

TRACER_NAME = "beluga.orchestration.nats"
SEMCONV_VERSION = "1.30.0"

_tracer = trace.get_tracer(TRACER_NAME, schema_url=f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}")
_meter = metrics.get_meter(TRACER_NAME, schema_url=f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}")

sent_messages = _meter.create_counter(
    "messaging.client.sent.messages", unit="{message}", description="Messages sent by the Beluga bus"
)
consumed_messages = _meter.create_counter(
    "messaging.client.consumed.messages", unit="{message}", description="Messages handed to handlers"
)
operation_duration = _meter.create_histogram(
    "messaging.client.operation.duration", unit="s", description="Duration of publish and request operations"
)
process_duration = _meter.create_histogram(
    "messaging.process.duration", unit="s", description="Duration of handler calls"
)

_KIND = {"publish": SpanKind.PRODUCER, "request": SpanKind.CLIENT, "process": SpanKind.CONSUMER}
_OP_TYPE = {"publish": "send", "request": "send", "process": "process"}


class _CaseInsensitiveGetter(Getter[Mapping[str, str]]):
    """Go code may write ``Traceparent``; the W3C header name is case-insensitive on the way in."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        """Every value of ``key`` (a repeated ``tracestate`` is one list, as W3C says), of the
        exact name if present, else of the first name that differs only in case."""
        name: str | None = key if key in carrier else None
        if name is None:
            low = key.lower()
            name = next((k for k in carrier if k.lower() == low), None)
            if name is None:
                return None
        return carrier.get_all(name) if isinstance(carrier, Headers) else [carrier[name]]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier.keys())


_GETTER = _CaseInsensitiveGetter()


def inject(headers: MutableMapping[str, str], span: Span | None = None) -> None:
    """Write the trace context (``traceparent``/``tracestate``, lower case) into ``headers``: the
    current one, or that of ``span`` (a span started but not made current)."""
    propagate.inject(headers, context=trace.set_span_in_context(span) if span is not None else None)


def extract(headers: Mapping[str, str] | None) -> Context | None:
    """The trace context carried by ``headers``, or None."""
    if not headers:
        return None
    return propagate.extract(headers, getter=_GETTER)


def attributes(
    operation: str,
    subject: str,
    *,
    message: Message | None = None,
    message_type: str | None = None,
    message_id: str | None = None,
    size: int | None = None,
    queue: str = "",
    timeout_s: float | None = None,
    server: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """The attributes of a span: the guide's and the messaging conventions' (``message`` gives
    ``message_type`` and ``message_id``)."""
    attrs: dict[str, Any] = {
        "subject": subject,
        "messaging.system": "nats",
        "messaging.operation.name": operation,
        "messaging.operation.type": _OP_TYPE[operation],
        "messaging.destination.name": subject,
    }
    if subject.startswith("_INBOX."):
        attrs["messaging.destination.temporary"] = True
    if message is not None:  # its type and id, as ``message_type`` and ``message_id`` would say
        message_type, message_id = message.type, message.message_id
    if message_type is not None:
        attrs["message_type"] = message_type
    if message_id:
        attrs["messaging.message.id"] = message_id
    if size is not None:
        attrs["message_size"] = size
        attrs["messaging.message.body.size"] = size
    if queue:
        attrs["messaging.consumer.group.name"] = queue
    if timeout_s is not None:
        attrs["timeout_s"] = timeout_s
    if server is not None:
        attrs["server.address"], attrs["server.port"] = server
    return attrs


@contextmanager
def span(operation: str, attrs: dict[str, Any], parent: Context | None = None) -> Iterator[Span]:
    """A span named ``nats.<operation>``; an exception marks it failed and propagates."""
    with _tracer.start_as_current_span(
        f"nats.{operation}",
        context=parent,
        kind=_KIND[operation],
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as s:
        try:
            yield s
        except BaseException as exc:
            record_error(s, exc)
            raise
        else:
            s.set_attribute("success", True)


def start_span(operation: str, attrs: dict[str, Any]) -> Span:
    """A span named ``nats.<operation>``, child of the current one, that the caller ends (for work
    that outlives the call that starts it, such as an agent's response stream)."""
    return _tracer.start_span(f"nats.{operation}", kind=_KIND[operation], attributes=attrs)


def metric_attributes(operation: str, subject: str, error: str | None = None) -> dict[str, Any]:
    """The attributes every messaging metric carries."""
    attrs: dict[str, Any] = {
        "messaging.system": "nats",
        "messaging.operation.name": operation,
        "messaging.destination.name": subject,
    }
    if error is not None:
        attrs["error.type"] = error
    return attrs


def record_duration(histogram: Any, operation: str, subject: str, start: float, error: str | None) -> None:
    """Record ``perf_counter() - start`` seconds in ``histogram``."""
    histogram.record(time.perf_counter() - start, metric_attributes(operation, subject, error))


@contextmanager
def send(operation: str, subject: str, attrs: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Around one publish or request: a span, the headers to send (the trace context injected),
    its duration and, when it succeeds, one more sent message."""
    start = time.perf_counter()
    error: str | None = None
    try:
        with span(operation, attrs):
            headers: dict[str, str] = {}
            inject(headers)
            yield headers
    except BaseException as exc:
        error = type(exc).__qualname__
        raise
    finally:
        record_duration(operation_duration, operation, subject, start, error)
    sent_messages.add(1, metric_attributes(operation, subject))


@contextmanager
def process(subject: str, attrs: dict[str, Any], parent: Context | None) -> Iterator[Span]:
    """Around one handler call: a ``nats.process`` span (the child of ``parent``, the context the
    message carried), its duration and, when the handler returns, one more consumed message. The
    one way every handler the bus runs is traced: ``subscribe``/``serve``, services, JetStream's
    ``consume`` and agents."""
    start = time.perf_counter()
    error: str | None = None
    try:
        with span("process", attrs, parent) as s:
            yield s
    except BaseException as exc:
        error = type(exc).__qualname__
        raise
    finally:
        record_duration(process_duration, "process", subject, start, error)
    consumed_messages.add(1, metric_attributes("process", subject))


def record_error(s: Span, exc: BaseException) -> None:
    s.record_exception(exc)
    s.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    s.set_attribute("error.type", type(exc).__qualname__)
    s.set_attribute("success", False)
