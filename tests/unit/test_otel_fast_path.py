"""The bus asks on every message whether OpenTelemetry is on; the fast answer reads two private
globals of the API, checked when the module loads. Both answers must agree, in every state."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from beluga_nats_sync.bus import _otel

from helpers import ROOT


def answers() -> tuple[bool, bool, bool]:
    return _otel.tracing_on(), _otel.metrics_on(), _otel.telemetry_off()


def test_the_installed_api_has_what_the_fast_path_reads() -> None:
    assert _otel.problems() == []


def test_an_api_that_moved_its_globals_is_named_and_not_read() -> None:
    bare = types.ModuleType("opentelemetry.trace")
    found = _otel.problems(bare, None)
    assert found == [
        "opentelemetry.trace._TRACER_PROVIDER is missing",
        "opentelemetry.metrics._internal._METER_PROVIDER is missing",
    ]


def test_the_public_getters_give_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = answers()
    monkeypatch.setattr(_otel, "FAST", False)
    assert answers() == fast


SCRIPT = """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from beluga_nats_sync.bus import _otel

def both():
    fast = (_otel.tracing_on(), _otel.metrics_on(), _otel.telemetry_off())
    _otel.FAST = False
    public = (_otel.tracing_on(), _otel.metrics_on(), _otel.telemetry_off())
    _otel.FAST = True
    assert fast == public, (fast, public)
    return fast

assert _otel.FAST
print(both())
trace.set_tracer_provider(TracerProvider())
print(both())
metrics.set_meter_provider(MeterProvider())
print(both())
"""


def test_both_answers_follow_providers_being_set() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["(False, False, True)", "(True, False, False)", "(True, True, False)"]
