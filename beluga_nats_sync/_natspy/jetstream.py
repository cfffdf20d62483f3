"""JetStream through nats-py: its JetStream API objects for one connection, its configuration
and information classes (re-exported by ``beluga_nats_sync.jetstream``), and the translation of
its JetStream errors into ours.

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

from .._core.jserrors import ERR_CONSUMER_NOT_FOUND, ERR_STREAM_NOT_FOUND, ERR_WRONG_LAST_SEQ, api_error, not_enabled
from ..errors import (
    BucketNotFoundError,
    JetStreamError,
    KeyNotFoundError,
    NATSSyncError,
    NATSTimeoutError,
    WrongRevisionError,
)
from .errors import translate

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
    "translate_js",
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


def translate_js(
    exc: BaseException,
    what: str,
    *,
    stream: str | None = None,
    consumer: str | None = None,
    bucket: str | None = None,
    key: str | None = None,
) -> BaseException:
    """The most specific of our errors for an error nats-py raised during the JetStream call
    ``what``; ``exc`` itself when it is neither nats-py's nor a timeout (ours, or a bug)."""
    if isinstance(exc, NATSSyncError):
        return exc
    err_code = getattr(exc, "err_code", None)
    if bucket is not None and isinstance(exc, jserr.KeyNotFoundError):
        # nats-py turns every "not found" of a get into KeyNotFoundError; the cause tells whether
        # the key or the whole bucket (its stream) is missing
        cause = exc.__context__
        if getattr(cause, "err_code", None) == ERR_STREAM_NOT_FOUND:
            err_code = ERR_STREAM_NOT_FOUND
    if bucket is not None and isinstance(exc, (nerr.NoRespondersError, jserr.NoStreamResponseError)):
        err_code = ERR_STREAM_NOT_FOUND  # nothing serves the bucket's stream (direct get, publish)
    if isinstance(exc, jserr.BucketNotFoundError) or (bucket is not None and err_code == ERR_STREAM_NOT_FOUND):
        return BucketNotFoundError(
            f"{what}: key-value bucket {bucket!r} does not exist; create it with js.create_key_value({bucket!r})",
            code=404,
        )
    if isinstance(exc, (jserr.KeyNotFoundError, jserr.KeyDeletedError, jserr.NoKeysError)):
        return KeyNotFoundError(f"{what}: key {key!r} has no value in bucket {bucket!r}", code=404)
    if isinstance(exc, jserr.KeyWrongLastSequenceError):
        return WrongRevisionError(
            f"{what}: key {key!r} in bucket {bucket!r} is not at the expected revision "
            f"(server: {exc.description}); another writer came first: read it again and retry",
            code=400,
            err_code=ERR_WRONG_LAST_SEQ[0],
            description=exc.description,
        )
    if isinstance(exc, jserr.ServiceUnavailableError) and exc.code is None:
        return not_enabled(what)  # no responders on $JS.API: nothing serves JetStream here
    if isinstance(exc, jserr.APIError):
        return api_error(exc.code, err_code, exc.description, what, stream=stream, consumer=consumer)
    if isinstance(exc, (nerr.TimeoutError, TimeoutError)):
        return NATSTimeoutError(f"{what}: no answer from JetStream in time")
    if isinstance(exc, nerr.Error):
        translated = translate(exc, what)
        return translated if isinstance(translated, NATSSyncError) else JetStreamError(f"{what}: {exc}")
    return exc
