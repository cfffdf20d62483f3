"""The engine's contract: what the core asks of the code that speaks the NATS protocol.

The core (this package) is plain synchronous machinery plus one asyncio loop on the I/O thread;
it never touches a socket. Everything it needs from a protocol engine is the :class:`Transport`
below, implemented by ``beluga_nats_sync.engine``, in the spirit of anyio's ``AsyncBackend`` and
httpx's transports. The transport reports what happens to the connection through
:class:`TransportEvents`, and raises only our own errors (``beluga_nats_sync.errors``): whatever
the socket, the TLS layer or the server did is put in those words by the engine.

Every method is called on the I/O thread unless its docstring says otherwise.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from typing import Protocol

__all__ = ["Deliver", "Transport", "TransportEvents"]

#: ``deliver(subject, data, reply, headers)``: one message of a subscription, on the I/O thread.
#: ``reply`` is '' when there is none; ``headers`` is None when there are none.
Deliver = Callable[[str, bytes, str, "Mapping[str, str] | None"], None]


class TransportEvents(Protocol):
    """What the transport tells the core, on the I/O thread. None of these may block."""

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
    """A NATS connection, driven from the I/O thread."""

    async def connect(self, timeout: float) -> bool:
        """Connect within ``timeout``: True when connected; False when the first round of
        attempts failed and (with ``retry_on_failed_connect``) it goes on in the background, to
        end in ``on_connected`` or ``on_connect_failed``. Raises ``ConnectError`` otherwise."""

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

    def try_write(self, data: bytes) -> bool:
        """Any thread: write ``data`` straight into the socket, now, if the connection is up and
        nothing the transport holds (its own commands, bytes buffered for the socket) waits to be
        written before it. True: the transport took all of it (what the kernel did not take at
        once stays with this connection and is written next, by the I/O thread: a command begun on
        one connection is never resumed on another). False: nothing was written; the caller queues
        it for :meth:`write`. Never blocks. The caller has made sure that nothing of its own (queued,
        carried, being handed to :meth:`write`) waits before ``data``: with the transport's own
        check, nothing written before ``data`` reaches the wire after it."""

    def write_waiting(self, data: bytes, timeout: float) -> bool:
        """Any thread but the I/O thread, for large commands: as :meth:`try_write`, but when bytes
        the transport holds are owed to the socket, wait at most ``timeout`` for the kernel to take
        them (writing them meanwhile), then write ``data``. False: nothing was written; the
        caller queues it. The same ordering promise as :meth:`try_write`."""

    def write(self, chunks: collections.deque[bytes], force: bool) -> bool:
        """Hand framed protocol bytes to the connection, taking chunks from the left of
        ``chunks``; stop early (leaving the rest) when the socket is congested, unless ``force``.
        Returns True when the caller should wait for :meth:`drain_writes` before writing more."""

    async def drain_writes(self) -> None:
        """Wait until what was written has been handed to the socket."""

    async def ping(self, timeout: float) -> None:
        """A PING/PONG round trip within ``timeout``: everything written before was processed."""

    async def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        """Subscribe; every message is handed to ``deliver`` on the I/O thread. Returns the sid."""

    async def unsubscribe(self, sid: int, limit: int = 0) -> None:
        """Remove the subscription (with ``limit``: after that many messages in all)."""

    async def drain_subscription(self, sid: int) -> None:
        """Remove interest, delivering what the server already sent."""

    async def close(self, timeout: float) -> None:
        """Flush (at most ``timeout``) and close; no event is reported after this."""
