"""JetStream through nats-py: its JetStream API objects for one connection, and its configuration
and information classes (re-exported by ``beluga_nats_sync.jetstream``). The translation of its
JetStream errors is in :mod:`.errors` with all the others.

Every coroutine here runs on the I/O thread and raises only our errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors as nerr
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
    "kv_watch",
    "quietly",
]
_GONE = (nerr.BadSubscriptionError, nerr.ConnectionClosedError, nerr.ConnectionDrainingError)


class JetStreamBackend:
    """Makes nats-py's JetStream context and manager for one connection (used on the I/O thread)."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc

    def context(self, prefix: str, timeout: float) -> JetStreamContext:
        return JetStreamContext(self._nc, prefix=prefix, timeout=timeout)

    def manager(self, prefix: str, timeout: float) -> JetStreamManager:
        return JetStreamManager(self._nc, prefix=prefix, timeout=timeout)


async def kv_watch(
    backend: JetStreamBackend,
    prefix: str,
    timeout: float,
    bucket: str,
    key: str,
    include_history: bool,
    ignore_deletes: bool,
) -> Any:
    """nats-py's watcher of ``key`` in ``bucket`` (an async iterator of its entries, None marking
    the end of the initial values)."""
    nkv = await backend.context(prefix, timeout).key_value(bucket)
    return await nkv.watch(key, include_history=include_history, ignore_deletes=ignore_deletes)


async def quietly(fn: Callable[[], Awaitable[Any]]) -> None:
    """Await ``fn()`` (an unsubscribe or a watcher's stop), ignoring that it is already gone."""
    with contextlib.suppress(*_GONE):
        await fn()
