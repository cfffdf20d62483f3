"""Our own protocol engine: sockets and parsing we own, behind the core's transport contract."""

from __future__ import annotations

from .._core.options import Options
from .._core.transport import Transport, TransportEvents

__all__ = ["create_transport"]


def create_transport(options: Options, events: TransportEvents) -> Transport:
    """A connection of our own engine for ``options``, reporting to ``events``."""
    from .transport import EngineTransport

    return EngineTransport(options, events)
