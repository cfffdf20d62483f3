"""pynats2's exception classes, with the same names, constructors and hierarchy.

Each class keeps its pynats2 parents and gains the built-in it resembles, so handlers written
for pynats2 0.9 (which let ``ConnectionRefusedError``/``socket.error`` escape from ``connect``)
and for pynats2's own classes both keep working, and ``except beluga_nats_sync.NATSSyncError``
catches all of them::

    NATSError (beluga_nats_sync.NATSSyncError)
     ├── NATSUnexpectedResponse
     ├── NATSInvalidResponse
     ├── NATSConnectionError (ConnectionError, so also OSError / socket.error)
     │    ├── NATSTCPConnectionRequiredError
     │    ├── NATSTLSConnectionRequiredError
     │    ├── NATSInvalidUrlError (ValueError)
     │    └── NATSInvalidSchemeError (ValueError)
     └── NATSRequestTimeoutError (TimeoutError, so also socket.timeout)

Unlike pynats2's, every error carries a message that says what went wrong (``str(exc)``).
"""

from __future__ import annotations

from typing import Any

from ..errors import NATSSyncError

__all__ = [
    "NATSConnectionError",
    "NATSError",
    "NATSInvalidResponse",
    "NATSInvalidSchemeError",
    "NATSInvalidUrlError",
    "NATSRequestTimeoutError",
    "NATSTCPConnectionRequiredError",
    "NATSTLSConnectionRequiredError",
    "NATSUnexpectedResponse",
]


class NATSError(NATSSyncError):
    """Root of the pynats2-compatible errors."""


class NATSUnexpectedResponse(NATSError):
    """pynats2 raised it for a protocol line it did not expect. Never raised here: the protocol
    is handled by our engine, and server errors go to the log instead of killing a reader thread."""

    def __init__(self, line: bytes, *args: Any, **kwargs: Any) -> None:
        self.line = line
        super().__init__(line)


class NATSInvalidResponse(NATSError):
    """pynats2 raised it for a malformed protocol line. Never raised here (see above)."""

    def __init__(self, line: bytes, *args: Any, **kwargs: Any) -> None:
        self.line = line
        super().__init__(line)


class NATSConnectionError(NATSError, ConnectionError):
    """The client is not connected, could not connect, or lost the connection for good.

    When every server refused the connection it is also a ``ConnectionRefusedError``, which is
    what pynats2 0.9 let escape from ``connect()``.
    """

    def __init__(self, line: str, *args: Any, **kwargs: Any) -> None:
        self.line = line
        super().__init__(line)


class NATSTCPConnectionRequiredError(NATSConnectionError):
    """The URL asks for TLS (``tls://``) but the server does not offer it."""


class NATSTLSConnectionRequiredError(NATSConnectionError):
    """The URL asks for plain TCP (``nats://``) but the server requires TLS."""


class NATSInvalidUrlError(NATSConnectionError, ValueError):
    """The server URL cannot be parsed (bad port, no host, a path that is no subject prefix)."""


class NATSInvalidSchemeError(NATSConnectionError, ValueError):
    """The server URL's scheme is neither ``nats://`` nor ``tls://``."""


class NATSRequestTimeoutError(NATSError, TimeoutError):
    """No reply arrived within the request's timeout, or (at once) nobody listens on the subject."""


class _NATSConnectionRefused(NATSConnectionError, ConnectionRefusedError):
    """Every server refused the TCP connection."""
