"""The JetStream API's errors, by the server's stable error numbers, as our error classes.

Pure: the seam calls :func:`api_error` with what nats-py parsed, and the JetStream package
with what it parsed itself from an acknowledgement.
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    ConsumerNotFoundError,
    JetStreamError,
    JetStreamNotEnabledError,
    StreamNotFoundError,
    WrongRevisionError,
)

__all__ = [
    "ERR_CONSUMER_NOT_FOUND",
    "ERR_STREAM_NOT_FOUND",
    "ERR_WRONG_LAST_SEQ",
    "NOT_ENABLED_HINT",
    "api_error",
    "not_enabled",
]

# The server's stable error numbers (nats-server's errors.json) that we map to our own classes.
ERR_STREAM_NOT_FOUND = 10059
ERR_CONSUMER_NOT_FOUND = 10014
ERR_NOT_ENABLED = (10039, 10076)  # not enabled for the account / on the server
ERR_WRONG_LAST_SEQ = (10071, 10164)

NOT_ENABLED_HINT = "start nats-server with -js (or a `jetstream {}` block in its configuration)"


def not_enabled(what: str) -> JetStreamNotEnabledError:
    return JetStreamNotEnabledError(
        f"{what}: JetStream is not enabled on the server (nothing answers on the JetStream API); {NOT_ENABLED_HINT}"
    )


def api_error(
    code: int | None,
    err_code: int | None,
    description: str | None,
    what: str,
    *,
    stream: str | None = None,
    consumer: str | None = None,
) -> JetStreamError:
    """The most specific of our errors for a JetStream API error answer."""
    desc = description or ""
    detail = f"{desc} (code {code}, err_code {err_code})"
    kw: dict[str, Any] = dict(code=code, err_code=err_code, description=desc)
    if err_code in ERR_NOT_ENABLED:
        return JetStreamNotEnabledError(f"{what}: {desc}; {NOT_ENABLED_HINT}", **kw)
    if err_code == ERR_STREAM_NOT_FOUND:
        name = f" {stream!r}" if stream else ""
        return StreamNotFoundError(f"{what}: stream{name} does not exist; create it with js.add_stream()", **kw)
    if err_code == ERR_CONSUMER_NOT_FOUND:
        return ConsumerNotFoundError(f"{what}: consumer {consumer!r} does not exist on stream {stream!r}", **kw)
    if err_code in ERR_WRONG_LAST_SEQ:
        return WrongRevisionError(f"{what}: {detail}", **kw)
    return JetStreamError(f"{what}: {detail}", **kw)
