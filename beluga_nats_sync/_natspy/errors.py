"""Every translation of nats-py's errors into ours, in one place.

The rest of the package sees only ``beluga_nats_sync.errors``: the transport and the JetStream
backend raise what :func:`translate` (or one of the more specific functions here) makes of
nats-py's errors, ``raise ... from None`` so that no nats-py text carrying a secret travels on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors as nerr
import nats.js.errors as jserr

from .._core.jserrors import ERR_STREAM_NOT_FOUND, ERR_WRONG_LAST_SEQ, api_error, not_enabled
from .._core.options import Options
from .._core.security import parse_permissions_error, scrub, secrets_of
from ..errors import (
    AuthorizationError,
    BucketNotFoundError,
    ClosedError,
    ConnectError,
    JetStreamError,
    KeyNotFoundError,
    NATSSyncError,
    NATSTimeoutError,
    PermissionsError,
    WrongRevisionError,
)
from .security import explain_connect_error, explain_reconnect_error, is_auth_error

__all__ = ["translate", "translate_async_error", "translate_connect_error", "translate_js"]


def translate_connect_error(
    exc: BaseException | None, url: str, options: Options | None = None, server_info: dict[str, Any] | None = None
) -> ConnectError:
    """The ConnectError for a failed connect to ``url`` (the servers, shown without secrets)."""
    error = explain_connect_error(exc, url, options, server_info) if options is not None else None
    if error is None:
        error = _plain_connect_error(exc, url)
    if options is not None:  # a last guard: no password, token or seed leaves in a message
        error.args = (scrub(str(error), secrets_of(options)),)
    return error


def _plain_connect_error(exc: BaseException | None, url: str) -> ConnectError:
    text = str(exc) if exc is not None else "no answer"
    low = text.lower()
    if exc is not None and is_auth_error(exc):
        return AuthorizationError(
            f"cannot connect to {url}: the server refused the credentials (authorization violation)"
        )
    if isinstance(exc, ConnectionRefusedError) or "refused" in low:
        reason = "connection refused"
    elif isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or exc is None:
        reason = "no answer within the connect timeout"
    else:
        reason = text or type(exc).__name__
    return ConnectError(
        f"cannot connect to {url}: {reason}; is nats-server running? "
        "(start one with `nats-server`, or `python -m beluga_nats_sync server`)"
    )


def translate_async_error(exc: BaseException) -> BaseException:
    """One of ours for an error nats-py reports through its error callback."""
    if isinstance(exc, NATSSyncError):
        return exc
    text = str(exc)
    if "permissions violation" in text.lower():
        operation, subject = parse_permissions_error(text)
        return PermissionsError(text, operation=operation, subject=subject)
    if is_auth_error(exc):
        return AuthorizationError(text)
    return explain_reconnect_error(exc) or exc


def translate(exc: BaseException, what: str, timeout: float | None = None) -> BaseException:
    """One of ours for an error nats-py raised during the operation ``what``; ``exc`` itself when
    it is not nats-py's (ours, or a programming error to surface as it is)."""
    if isinstance(exc, NATSSyncError):
        return exc
    if isinstance(exc, (nerr.ConnectionClosedError, nerr.ConnectionDrainingError)):
        return ClosedError(f"{what}: the client is closed")
    if isinstance(exc, nerr.ConnectionReconnectingError):
        return NATSTimeoutError(f"{what}: the client is reconnecting; try again later")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, nerr.TimeoutError)):
        within = f" within {timeout:g} s" if timeout is not None else " in time"
        return NATSTimeoutError(f"{what} did not complete{within}")
    if isinstance(exc, nerr.Error):
        return translate_async_error(exc)
    return exc


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
