"""The engine's contract: what the core asks of the code that speaks the NATS protocol.

The core (this package) is plain synchronous machinery plus one I/O thread running an event loop
of our own (:class:`~.portal.IOLoop`); it never touches a socket. Everything it needs from a
protocol engine is the :class:`Transport` below, implemented by ``beluga_nats_sync.engine``, in
the spirit of anyio's ``AsyncBackend`` and httpx's transports. The transport reports what happens
to the connection through :class:`TransportEvents`, and raises only our own errors
(``beluga_nats_sync.errors``): whatever the socket, the TLS layer or the server did is put in
those words by the engine.

Each method says on which thread it is called: the I/O thread (where it must not block), a
caller's thread (where it may block, bounded by its timeout, but never on the I/O thread), or any.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .portal import IOLoop

__all__ = ["Buffers", "Deliver", "Transport", "TransportEvents"]

#: ``deliver(subject, data, reply, headers)``: one message of a subscription, on the I/O thread.
#: ``reply`` is '' when there is none; ``headers`` is None when there are none.
#: what a direct write takes: bytes, or pieces written in order as if joined (a large payload
#: goes to the socket as it is, between its PUB line and CRLF)
Buffers = bytes | list[bytes]

Deliver = Callable[[str, bytes, str, "Mapping[str, str] | None"], None]


class TransportEvents(Protocol):
    """What the transport tells the core, on the I/O thread. None of these may block."""

    #: the client's I/O thread: the transport watches its socket and runs its timers there
    loop: IOLoop

    def on_connected(self) -> None:
        """The first connection is up (also after a connect that went on in the background)."""

    def on_connect_failed(self, error: BaseException) -> None:
        """A connect that went on in the background has failed for good."""

    def on_disconnected(self) -> None:
        """The connection was lost; the transport is reconnecting (if allowed)."""

    def on_reconnected(self) -> None:
        """A connection is up again; subscriptions have been restored."""

    def on_closed(self, error: BaseException | None) -> None:
        """The transport closed itself (reconnects exhausted, a fatal server error): ``error`` says why."""

    def on_error(self, error: BaseException) -> None:
        """An asynchronous error (already one of ours: permissions, authorization, TLS, ...)."""


class Transport(Protocol):
    """A NATS connection: read on the I/O thread, written from any thread."""

    def connect(self, timeout: float) -> bool:
        """A caller's thread: connect within ``timeout``: True when connected (``on_connected``
        has run on the I/O thread); False when the first round of attempts failed and (with
        ``retry_on_failed_connect``) it goes on in the background, to end in ``on_connected`` or
        ``on_connect_failed``. Raises ``ConnectError`` otherwise."""

    @property
    def is_connected(self) -> bool:
        """Connected now (any thread)."""

    @property
    def max_payload(self) -> int:
        """The largest payload the current server accepts."""

    @property
    def max_control_line(self) -> int:
        """The longest protocol line the current server accepts."""

    @property
    def connected_address(self) -> tuple[str, str, int] | None:
        """``(scheme, host, port)`` of the server in use, or None (any thread)."""

    def counters(self) -> tuple[int, int, int]:
        """``(in_msgs, in_bytes, reconnects)`` (any thread)."""

    def try_write(self, data: Buffers) -> bool:
        """Any thread: write ``data`` (bytes, or a list of pieces written as if joined, without
        joining them) straight into the socket, now, if the connection is up and
        nothing the transport holds (its own commands, bytes buffered for the socket) waits to be
        written before it. True: the transport took all of it (what the kernel did not take at
        once stays with this connection and is written next, by the I/O thread: a command begun on
        one connection is never resumed on another). False: nothing was written; the caller queues
        it for :meth:`write`. Never blocks. The caller has made sure that nothing of its own (queued,
        carried, being handed to :meth:`write`) waits before ``data``: with the transport's own
        check, nothing written before ``data`` reaches the wire after it."""

    def write_waiting(self, data: Buffers, timeout: float) -> bool:
        """Any thread but the I/O thread, for large commands: as :meth:`try_write`, but when bytes
        the transport holds are owed to the socket, wait at most ``timeout`` for the kernel to take
        them (writing them meanwhile), then write ``data``. False: nothing was written; the
        caller queues it. The same ordering promise as :meth:`try_write`."""

    def write(self, chunks: collections.deque[bytes], force: bool) -> bool:
        """I/O thread: hand framed protocol bytes to the connection, taking chunks from the left
        of ``chunks``; stop early (leaving the rest) when the socket is congested, unless ``force``.
        Returns True when the caller should wait for :meth:`when_drained` before writing more."""

    def when_drained(self, callback: Callable[[], object]) -> None:
        """I/O thread: call ``callback`` there once what was written has been handed to the socket
        (at once when nothing is owed, or when the connection is gone)."""

    def ping(self, timeout: float) -> None:
        """A caller's thread: a PING/PONG round trip within ``timeout``: everything written before
        was processed. Raises ``NATSTimeoutError`` past it, ``ClosedError`` when closed meanwhile."""

    def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        """I/O thread: subscribe; every message is handed to ``deliver`` on the I/O thread. Returns the sid."""

    def unsubscribe(self, sid: int, limit: int = 0) -> None:
        """I/O thread: remove the subscription (with ``limit``: after that many messages in all)."""

    def drain_subscription(self, sid: int, timeout: float) -> None:
        """A caller's thread: remove interest, delivering what the server already sent (at most ``timeout``)."""

    def close(self, timeout: float) -> None:
        """A caller's thread: flush (at most ``timeout``) and close; no event is reported after this."""
