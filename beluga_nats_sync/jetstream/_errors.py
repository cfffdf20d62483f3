"""The JetStream API's errors, by the server's stable error numbers, as our error classes.

Pure: the JetStream package calls :func:`api_error` with what it parsed from an API answer or
an acknowledgement (``{"error": {"code", "err_code", "description"}}``).
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    BucketNotFoundError,
    ConsumerNotFoundError,
    JetStreamError,
    JetStreamNotEnabledError,
    KeyNotFoundError,
    StreamNotFoundError,
    WrongRevisionError,
)

__all__ = [
    "ERR_CONSUMER_NOT_FOUND",
    "ERR_NO_MESSAGE_FOUND",
    "ERR_STREAM_NOT_FOUND",
    "ERR_WRONG_LAST_SEQ",
    "NOT_ENABLED_HINT",
    "api_error",
    "bucket_not_found",
    "key_not_found",
    "not_enabled",
]

# The server's stable error numbers (nats-server's errors.json) that we map to our own classes.
ERR_STREAM_NOT_FOUND = 10059
ERR_CONSUMER_NOT_FOUND = 10014
ERR_NOT_ENABLED = (10039, 10076)  # not enabled for the account / on the server
ERR_WRONG_LAST_SEQ = (10071, 10164)
ERR_NO_MESSAGE_FOUND = 10037

NOT_ENABLED_HINT = "start nats-server with -js (or a `jetstream {}` block in its configuration)"


def not_enabled(what: str) -> JetStreamNotEnabledError:
    return JetStreamNotEnabledError(
        f"{what}: JetStream is not enabled on the server (nothing answers on the JetStream API); {NOT_ENABLED_HINT}"
    )


def bucket_not_found(what: str, bucket: str | None, **kw: Any) -> BucketNotFoundError:
    kw.setdefault("code", 404)
    return BucketNotFoundError(
        f"{what}: key-value bucket {bucket!r} does not exist; create it with js.create_key_value({bucket!r})", **kw
    )


def key_not_found(what: str, bucket: str | None, key: str | None) -> KeyNotFoundError:
    return KeyNotFoundError(f"{what}: key {key!r} has no value in bucket {bucket!r}", code=404)


def api_error(
    code: int | None,
    err_code: int | None,
    description: str | None,
    what: str,
    *,
    stream: str | None = None,
    consumer: str | None = None,
    bucket: str | None = None,
    key: str | None = None,
) -> JetStreamError:
    """The most specific of our errors for a JetStream API error answer.

    ``stream``/``consumer`` (or ``bucket``/``key`` for a key-value call) name what the call was
    about, for the message."""
    desc = description or ""
    detail = f"{desc} (code {code}, err_code {err_code})"
    kw: dict[str, Any] = dict(code=code, err_code=err_code, description=desc)
    if err_code in ERR_NOT_ENABLED:
        return JetStreamNotEnabledError(f"{what}: {desc}; {NOT_ENABLED_HINT}", **kw)
    if err_code == ERR_STREAM_NOT_FOUND and bucket is not None:
        return bucket_not_found(what, bucket, **kw)
    if err_code == ERR_STREAM_NOT_FOUND:
        name = f" {stream!r}" if stream else ""
        return StreamNotFoundError(f"{what}: stream{name} does not exist; create it with js.add_stream()", **kw)
    if err_code == ERR_CONSUMER_NOT_FOUND:
        return ConsumerNotFoundError(f"{what}: consumer {consumer!r} does not exist on stream {stream!r}", **kw)
    if err_code in ERR_WRONG_LAST_SEQ and bucket is not None:
        return WrongRevisionError(
            f"{what}: key {key!r} in bucket {bucket!r} is not at the expected revision "
            f"(server: {desc}); another writer came first: read it again and retry",
            **kw,
        )
    if err_code in ERR_WRONG_LAST_SEQ:
        return WrongRevisionError(f"{what}: {detail}", **kw)
    return JetStreamError(f"{what}: {detail}", **kw)
