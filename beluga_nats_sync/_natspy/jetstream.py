"""nats-py's JetStream configuration and information classes, re-exported by
``beluga_nats_sync.jetstream`` as the public types of its API (``StreamConfig``, ``StreamInfo``,
``ConsumerConfig``, ``ConsumerInfo``, ``KeyValueConfig``). Only their public methods are used
(``as_dict()``, ``from_response()``, ``evolve()``): the requests themselves are our own
(``beluga_nats_sync.jetstream._api``), so no nats-py JetStream object runs any more.
"""

from __future__ import annotations

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
    "KeyValueConfig",
    "StreamConfig",
    "StreamInfo",
]
