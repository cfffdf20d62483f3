"""Whether OpenTelemetry is on, asked on every message: the only code that reads the API's privates.

The API's public getters (``trace.get_tracer_provider()``, ``metrics.get_meter_provider()``)
look in the environment on each call, about 2.7 µs for both, paid on every message of the bus
when no SDK is installed (the common case). What they look at first are two module globals,
``opentelemetry.trace._TRACER_PROVIDER`` and ``opentelemetry.metrics._internal._METER_PROVIDER``,
None until a provider is set (and set only once). Reading those costs 0.09 µs.

:func:`problems` checks, when this module loads, that both globals exist and mean what we read:
while one is None, its getter hands out the API's proxy. If either check fails (an API release
that moved them), or a provider is named in the environment (the getters then build it on first
use), the public getters are used instead: slower, never wrong. ``FAST`` says which.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

from opentelemetry import metrics, trace

__all__ = ["FAST", "metrics_on", "problems", "telemetry_off", "tracing_on"]

log = logging.getLogger("beluga_nats_sync")

TRACE_GLOBAL = "_TRACER_PROVIDER"  # in opentelemetry.trace
METER_GLOBAL = "_METER_PROVIDER"  # in opentelemetry.metrics._internal
_ENV = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")
_NO_METERS = ("_ProxyMeterProvider", "NoOpMeterProvider")  # metrics has no public proxy class

_meters: Any
try:
    from opentelemetry.metrics import _internal as _meters
except ImportError:  # pragma: no cover - an API without the module: the public getters serve
    _meters = None


def problems(trace_module: ModuleType = trace, meter_module: ModuleType | None = _meters) -> list[str]:
    """What is missing or changed in the API for the fast path; [] when it can be used."""
    found = []
    if not hasattr(trace_module, TRACE_GLOBAL):
        found.append(f"opentelemetry.trace.{TRACE_GLOBAL} is missing")
    elif getattr(trace_module, TRACE_GLOBAL) is None and not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider
    ):
        found.append(f"opentelemetry.trace.{TRACE_GLOBAL} is None, yet a tracer provider is in use")
    if meter_module is None or not hasattr(meter_module, METER_GLOBAL):
        found.append(f"opentelemetry.metrics._internal.{METER_GLOBAL} is missing")
    elif getattr(meter_module, METER_GLOBAL) is None and type(metrics.get_meter_provider()).__name__ not in _NO_METERS:
        found.append(f"opentelemetry.metrics._internal.{METER_GLOBAL} is None, yet a meter provider is in use")
    return found


_problems = problems()
if _problems:
    log.debug("OpenTelemetry: the public getters are used on every message (%s)", "; ".join(_problems))
#: the globals can be read (else the public getters are asked)
FAST = not _problems and not any(name in os.environ for name in _ENV)


def _tracing_on_public() -> bool:
    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def _metrics_on_public() -> bool:
    return type(metrics.get_meter_provider()).__name__ not in _NO_METERS


def tracing_on() -> bool:
    """Whether a real tracer provider is installed; without one, spans are skipped."""
    if not FAST:
        return _tracing_on_public()
    provider = trace._TRACER_PROVIDER
    return provider is not None and not isinstance(provider, trace.NoOpTracerProvider)


def metrics_on() -> bool:
    """Whether a real meter provider is installed; without one, recording is skipped."""
    if not FAST:
        return _metrics_on_public()
    provider = _meters._METER_PROVIDER
    return provider is not None and type(provider).__name__ != "NoOpMeterProvider"


def telemetry_off() -> bool:
    """True when neither a tracer nor a meter provider is installed: the common, fast case."""
    if FAST:
        return trace._TRACER_PROVIDER is None and _meters._METER_PROVIDER is None
    return not _tracing_on_public() and not _metrics_on_public()
