"""Fixtures: a real nats-server on a free loopback port, and clients connected to it."""

from __future__ import annotations

import signal
import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync import _client
from beluga_nats_sync.agents import Agents, AgentService
from beluga_nats_sync.compat import pynats2 as pynats2_shim
from beluga_nats_sync.server import EmbeddedServer

from shared import NO_REAL, REAL, Handler, unique

# Tests press Ctrl-C (SIGINT) in the processes they start and expect Python's KeyboardInterrupt.
# A run started in the background of a non-interactive shell inherits SIGINT ignored, and so would
# every process it starts (an ignored signal survives exec): hand them the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def close_leftover_clients() -> Iterator[None]:
    """Close every client a test made and left open (a failing assertion skips its own close), so
    that no test sees the threads, subscriptions or connections of an earlier one. Clients are
    held weakly: a test of what the garbage collector does with a dropped client still sees it."""
    made: weakref.WeakSet[bns.Client] = weakref.WeakSet()
    init = _client.Client.__init__

    def tracked_init(self: bns.Client, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.add(self)

    # a MonkeyPatch of its own: taking the shared `monkeypatch` fixture here would set it up before
    # every other fixture, and so undo a test's own patches only after their teardowns ran
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_client.Client, "__init__", tracked_init)
        yield
    for nc in list(made):
        if not nc.is_closed:
            nc.close(timeout=5.0)


@pytest.fixture(scope="session", autouse=True)
def no_nats_contexts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite never reads the developer's own NATS contexts: an empty configuration directory,
    and no $NATS_CONTEXT (the CLI's subprocesses inherit both)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        for name in ("NATS_CONTEXT", "NATS_CONFIG_HOME"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def nats_server() -> Iterator[EmbeddedServer]:
    """One server for the session (JetStream on, temporary store)."""
    with EmbeddedServer() as srv:
        yield srv


@pytest.fixture
def fresh_server() -> Iterator[EmbeddedServer]:
    """A server of the test's own, for tests that stop or restart it."""
    with EmbeddedServer() as srv:
        yield srv


@pytest.fixture
def client(nats_server: EmbeddedServer) -> Iterator[bns.Client]:
    nc = bns.connect(nats_server.url, name="test", timeout=5.0)
    try:
        yield nc
    finally:
        nc.close(timeout=5.0)


@pytest.fixture
def make_client(nats_server: EmbeddedServer) -> Iterator[Callable[..., bns.Client]]:
    made: list[bns.Client] = []

    def make(**options: object) -> bns.Client:
        nc = bns.connect(nats_server.url, **options)  # type: ignore[arg-type]
        made.append(nc)
        return nc

    yield make
    for nc in made:
        nc.close(timeout=5.0)


@pytest.fixture(scope="session")
def otel() -> Iterator[tuple[object, object]]:
    """The OpenTelemetry SDK with in-memory exporters, installed once for the session."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield exporter, reader


@pytest.fixture
def spans(otel: tuple[object, object]) -> object:
    """The span exporter, emptied for the test."""
    exporter = otel[0]
    exporter.clear()  # type: ignore[attr-defined]
    return exporter


# -- shared by the unit and integration tests of one feature (their helpers: tests/shared.py) ---------
@pytest.fixture
def serve(host_client: bns.Client) -> Iterator[Callable[..., AgentService]]:
    """Start agents on ``host_client`` (each test module says which client that is); stopped after."""
    made: list[AgentService] = []

    def make(handler: Handler, **options: Any) -> AgentService:
        options.setdefault("agent", unique())
        options.setdefault("owner", "tester")
        options.setdefault("session_name", "main")
        svc = AgentService(nc=options.pop("nc", host_client), **options)
        svc.on_prompt(handler)
        made.append(svc.start())
        return svc

    yield make
    for svc in made:
        svc.stop(2.0)


@pytest.fixture
def agents(client: bns.Client) -> Iterator[Agents]:
    with Agents(client) as a:
        yield a


@pytest.fixture
def services() -> Iterator[list[bns.Service]]:
    made: list[bns.Service] = []
    yield made
    for svc in made:
        svc.stop(timeout=5.0)


@pytest.fixture(params=["shim", "pynats2"])
def impl(request: pytest.FixtureRequest) -> types.ModuleType:
    """The module under test: our shim, or the real pynats2 for a side-by-side run."""
    if request.param == "shim":
        return pynats2_shim
    if REAL is None:
        pytest.skip(NO_REAL)
    return REAL
