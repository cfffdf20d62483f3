"""Every translation of nats-py's errors into ours, in one place.

The rest of the package sees only ``beluga_nats_sync.errors``: the transport and the JetStream
backend raise what :func:`translate` (or one of the more specific functions here) makes of
nats-py's errors, ``raise ... from None`` so that no nats-py text carrying a secret travels on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors as nerr

from .._core.options import Options
from .._core.security import parse_permissions_error, scrub, secrets_of
from ..errors import (
    AuthorizationError,
    ClosedError,
    ConnectError,
    NATSSyncError,
    NATSTimeoutError,
    PermissionsError,
)
from .security import explain_connect_error, explain_reconnect_error, is_auth_error

__all__ = ["translate", "translate_async_error", "translate_connect_error"]


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
