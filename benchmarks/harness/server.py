"""The server a stand-alone benchmark runs against: ``--url``, or an embedded nats-server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def server_url(url: str | None, *, jetstream: bool = False) -> Iterator[str]:
    """Yield ``url`` as it is, or the URL of an embedded nats-server started for the block."""
    if url:
        yield url
        return
    from beluga_nats_sync.server import EmbeddedServer

    with EmbeddedServer(jetstream=jetstream) as srv:
        yield srv.url
