"""Fixtures for tests without a nats-server: clients connected to the package's in-memory server
(``beluga_nats_sync.testing``), under the same names as the real-server fixtures of
tests/conftest.py, so that a test of client behaviour reads the same here and there."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.testing import MemoryServer


@pytest.fixture
def memory_server() -> MemoryServer:
    """An in-memory server of the test's own."""
    return MemoryServer()


@pytest.fixture
def client(memory_server: MemoryServer) -> Iterator[bns.Client]:
    nc = bns.connect(transport=memory_server.transport, name="test", timeout=5.0)
    try:
        yield nc
    finally:
        nc.close(timeout=5.0)


@pytest.fixture
def make_client(memory_server: MemoryServer) -> Iterator[Callable[..., bns.Client]]:
    made: list[bns.Client] = []

    def make(**options: object) -> bns.Client:
        nc = bns.connect(transport=memory_server.transport, **options)  # type: ignore[arg-type]
        made.append(nc)
        return nc

    yield make
    for nc in made:
        nc.close(timeout=5.0)
