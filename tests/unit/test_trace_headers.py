"""Trace context read from multi-valued headers: W3C's ``tracestate`` may come on several lines,
which together are one list; ``traceparent`` is matched whatever its case (Go may write it so)."""

from __future__ import annotations

from opentelemetry import trace

from beluga_nats_sync.bus import tracing
from beluga_nats_sync.protocol import Headers

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _span_context(headers: object) -> trace.SpanContext:
    ctx = tracing.extract(headers)  # type: ignore[arg-type]
    assert ctx is not None
    return trace.get_current_span(ctx).get_span_context()


def test_every_tracestate_line_is_read() -> None:
    h = Headers([("traceparent", PARENT), ("tracestate", "a=1"), ("tracestate", "b=2,c=3")])
    sc = _span_context(h)
    assert format(sc.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert dict(sc.trace_state.items()) == {"a": "1", "b": "2", "c": "3"}


def test_names_match_whatever_their_case_in_headers_and_plain_dicts() -> None:
    h = Headers([("Traceparent", PARENT), ("TraceState", "a=1"), ("TraceState", "b=2")])
    sc = _span_context(h)
    assert sc.is_valid and dict(sc.trace_state.items()) == {"a": "1", "b": "2"}
    sc = _span_context({"Traceparent": PARENT, "tracestate": "x=9"})
    assert sc.is_valid and dict(sc.trace_state.items()) == {"x": "9"}
    assert not _span_context({"other": "1"}).is_valid
