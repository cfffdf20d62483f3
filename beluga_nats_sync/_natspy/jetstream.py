"""nats-py's JetStream configuration and information classes, re-exported by
``beluga_nats_sync.jetstream`` as the public types of its API (``StreamConfig``, ``StreamInfo``,
``ConsumerConfig``, ``ConsumerInfo``, ``KeyValueConfig``). Only their public methods are used
(``as_dict()``, ``from_response()``, ``evolve()``): the requests themselves are our own
(``beluga_nats_sync.jetstream._api``), so no nats-py JetStream object runs any more.

:class:`JetStreamBackend` remains only because the transport still offers ``jetstream()``;
nothing in the package calls it.
"""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext, JetStreamManager
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    KeyValueConfig,
    StreamConfig,
    StreamInfo,
)

__all__ = [
    "AckPolicy",
    "ConsumerConfig",
    "ConsumerInfo",
    "JetStreamBackend",
    "KeyValueConfig",
    "StreamConfig",
    "StreamInfo",
]


class JetStreamBackend:
    """nats-py's JetStream context and manager for one connection (unused by the package; see
    the module docstring)."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc

    def context(self, prefix: str, timeout: float) -> JetStreamContext:
        return JetStreamContext(self._nc, prefix=prefix, timeout=timeout)

    def manager(self, prefix: str, timeout: float) -> JetStreamManager:
        return JetStreamManager(self._nc, prefix=prefix, timeout=timeout)
