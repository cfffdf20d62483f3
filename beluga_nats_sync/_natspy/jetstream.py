"""JetStream through nats-py: its JetStream API objects for one connection, and its configuration
and information classes (re-exported by ``beluga_nats_sync.jetstream``). The translation of its
JetStream errors is in :mod:`.errors` with all the others.

Every coroutine here runs on the I/O thread and raises only our errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats.errors as nerr
import nats.js.errors as jserr
from nats.js import JetStreamContext, JetStreamManager
from nats.js.api import (
    DEFAULT_PREFIX,
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    KeyValueConfig,
    StreamConfig,
    StreamInfo,
)

from .._core.jserrors import ERR_CONSUMER_NOT_FOUND
from .errors import translate_js

__all__ = [
    "DEFAULT_PREFIX",
    "AckPolicy",
    "ConsumerConfig",
    "ConsumerInfo",
    "JetStreamBackend",
    "JetStreamManager",
    "KeyValueConfig",
    "StreamConfig",
    "StreamInfo",
    "consumer_or_none",
    "kv_keys",
    "quietly",
    "stream_for_subject",
]

T = TypeVar("T")
_GONE = (nerr.BadSubscriptionError, nerr.ConnectionClosedError, nerr.ConnectionDrainingError)


class JetStreamBackend:
    """Makes nats-py's JetStream context and manager for one connection (used on the I/O thread)."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc

    def context(self, prefix: str, timeout: float) -> JetStreamContext:
        return JetStreamContext(self._nc, prefix=prefix, timeout=timeout)

    def manager(self, prefix: str, timeout: float) -> JetStreamManager:
        return JetStreamManager(self._nc, prefix=prefix, timeout=timeout)


async def stream_for_subject(jsm: JetStreamManager, subject: str) -> str | None:
    """The stream that captures ``subject``, or None."""
    try:
        name: str = await jsm.find_stream_name_by_subject(subject)
    except jserr.NotFoundError:
        return None
    except Exception as exc:
        raise translate_js(exc, "find the stream of a subject") from None
    return name


async def consumer_or_none(jsm: JetStreamManager, stream: str, durable: str, what: str) -> ConsumerInfo | None:
    """The consumer's info, or None if the stream has no such consumer."""
    try:
        info: ConsumerInfo = await jsm.consumer_info(stream, durable)
    except jserr.NotFoundError as exc:
        if exc.err_code not in (None, ERR_CONSUMER_NOT_FOUND):
            raise translate_js(exc, what, stream=stream, consumer=durable) from None
        return None
    return info


async def kv_keys(nkv: Any) -> list[str]:
    """The keys of a bucket that have a value; [] for an empty bucket."""
    try:
        return list(await nkv.keys())
    except jserr.NoKeysError:
        return []


async def quietly(fn: Callable[[], Awaitable[Any]]) -> None:
    """Await ``fn()`` (an unsubscribe or a watcher's stop), ignoring that it is already gone."""
    with contextlib.suppress(*_GONE):
        await fn()
