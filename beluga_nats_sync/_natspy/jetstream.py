"""JetStream through nats-py: its JetStream API objects, made for one connection."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext, JetStreamManager

__all__ = ["JetStreamBackend"]


class JetStreamBackend:
    """Makes nats-py's JetStream context and manager for one connection (used on the I/O thread)."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc

    def context(self, prefix: str, timeout: float) -> JetStreamContext:
        return JetStreamContext(self._nc, prefix=prefix, timeout=timeout)

    def manager(self, prefix: str, timeout: float) -> JetStreamManager:
        return JetStreamManager(self._nc, prefix=prefix, timeout=timeout)
