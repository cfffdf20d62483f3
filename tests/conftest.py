"""Fixtures: a real nats-server on a free loopback port, and clients connected to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer


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
