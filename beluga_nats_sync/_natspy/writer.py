"""The write side of one nats-py connection: one writer order on one socket, from any thread.

Bytes reach the socket four ways, and all of them keep one order:

- :meth:`SocketWriter.write`, on the I/O thread (the outbox's pump): straight into asyncio's
  socket transport while nats-py has nothing pending, else behind what it has (``_pending``),
  which nats-py's flusher writes;
- nats-py's own writer and flusher (SUB, UNSUB, PING, its publishes), on the I/O thread, through
  asyncio's ``write`` and ``writelines``;
- asyncio's ``_write_ready``, called by the loop only while asyncio's buffer holds bytes;
- :meth:`SocketWriter.try_write`, in a caller's thread: ``sock.send`` of one framed command, when
  nothing waits to be written before it.

For the last one to be safe, the first two run under one lock (asyncio's ``write`` and
``writelines`` are wrapped on every new socket), and a direct write checks under that lock that
nats-py has nothing pending and asyncio nothing buffered: with the lock held nothing can fill the
buffer, and ``_write_ready`` (CPython 3.10 to 3.13, read in their ``selector_events.py``) removes
bytes from the buffer only once the socket has taken them. The exception is 3.12+'s
``_write_send`` (used where ``sendmsg`` is missing), which takes a chunk off the buffer before
sending it: on such a transport direct writes stay off. So do they on TLS, websockets and any other
loop: the I/O thread stays the one writer there.

What the kernel does not take of a direct write stays with that socket (``_rest``) and is written
first by the next write on the I/O thread, which a call scheduled at once makes sure of: a command
begun on one connection is never resumed on another, and the lost rest of a dropped socket is lost
with the socket, as asyncio's own buffer is.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from asyncio import selector_events
from typing import Any

from nats.aio.client import Client as _NatsClient
from nats.aio.transport import TcpTransport

from .contract import direct_write_problems

__all__ = ["SocketWriter"]

_CHUNK = 1 << 20
_HIGH_WATER = 4 * _CHUNK  # bytes in nats-py's pending buffer past which we wait for the socket
_DIRECT_HIGH_WATER = 64 * 1024  # bytes in the socket transport's buffer past which we stop writing into it
_CONNECTED = _NatsClient.CONNECTED
_SOCKET_TRANSPORT: Any = getattr(selector_events, "_SelectorSocketTransport", None)
_POPS_BEFORE_SENDING = getattr(_SOCKET_TRANSPORT, "_write_send", None)


class SocketWriter:
    """Every write into one nats-py client's socket (see the module docstring)."""

    def __init__(self, nc: _NatsClient) -> None:
        self.nc = nc
        # held by every write into the socket in use: re-entrant, as asyncio's writelines calls
        # write on Python 3.10 and 3.11
        self._lock = threading.RLock()
        #: (nats-py's transport, asyncio's transport, its socket) while callers may write directly
        self._direct: tuple[Any, Any, Any] | None = None
        self._owned: Any = None  # the asyncio transport whose writes take the lock
        self._owned_write: Any = None  # its own write, unwrapped
        # the rest of a command a direct write began and the kernel did not take whole: owed to
        # that socket before anything else, and dropped with it
        self._rest: tuple[Any, memoryview] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: direct writes the socket took whole, and the ones it took in part (for tests and profiles)
        self.direct_writes = 0
        self.partial_writes = 0

    @property
    def direct(self) -> bool:
        """Callers may write directly into the socket now (any thread)."""
        return self._direct is not None

    def disown(self) -> None:
        """The connection is lost or closing: no more direct writes into its socket."""
        self._direct = None

    def own(self) -> None:
        """On the I/O thread, once per connection (a new socket each time): every write into
        the socket takes the lock from now on; then callers may write directly."""
        self._direct = None
        tcp: Any = self.nc._transport
        if type(tcp) is not TcpTransport or direct_write_problems():
            return
        writer = tcp._io_writer
        t: Any = writer.transport if writer is not None else None
        if t is None or type(t) is not _SOCKET_TRANSPORT or t.is_closing():
            return
        if _POPS_BEFORE_SENDING is not None and getattr(t._write_ready, "__func__", None) is _POPS_BEFORE_SENDING:
            return
        if self._owned is not t:
            lock = self._lock
            write, writelines = t.write, t.writelines

            def locked_write(data: Any) -> None:
                with lock:
                    if self._rest is not None:
                        self._pay_rest(t, write)
                    write(data)

            def locked_writelines(list_of_data: Any) -> None:
                with lock:
                    if self._rest is not None:
                        self._pay_rest(t, write)
                    writelines(list_of_data)

            t.write = locked_write
            t.writelines = locked_writelines
            self._owned = t
            self._owned_write = write
        self._rest = None  # owed to the socket before this one, if any: lost with it
        self._loop = asyncio.get_running_loop()
        self._direct = (tcp, t, t._sock)

    def _pay_rest(self, t: Any, write: Any) -> None:
        """Under the lock, on the I/O thread: the rest of a direct write into ``t``, into asyncio's
        buffer (which sends what it can at once and the rest when the socket drains)."""
        rest = self._rest
        if rest is not None and rest[0] is t:
            self._rest = None
            write(rest[1])

    def _write_rest(self, t: Any) -> None:
        """On the I/O thread, soon after a direct write the kernel did not take whole."""
        with self._lock:
            if self._owned is t:
                self._pay_rest(t, self._owned_write)

    def try_write(self, data: bytes) -> bool:
        """Any thread: ``sock.send`` under the lock, when nats-py has nothing pending, asyncio
        nothing buffered and no rest is owed; False (nothing written) when it cannot now. Never
        waits: while the I/O thread holds the lock, the caller queues instead."""
        d = self._direct
        if d is None:
            return False
        lock = self._lock
        if not lock.acquire(False):
            return False
        try:
            tcp, t, sock = d
            nc = self.nc
            if nc._pending or t._buffer or t._conn_lost or t._closing or self._rest is not None:
                return False
            if nc._transport is not tcp or nc._status != _CONNECTED:
                return False
            try:
                n = sock.send(data)
            except OSError:  # full (EAGAIN), or the connection broke: nats-py's reader finds out
                return False
            self.direct_writes += 1
            if n < len(data):
                self._rest = (t, memoryview(data)[n:])
                self.partial_writes += 1
        finally:
            lock.release()
        if n < len(data):  # outside the lock: wake the I/O thread to write the rest
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is gone, and the connection with it
                    loop.call_soon_threadsafe(self._write_rest, t)
        return True

    def write(self, chunks: collections.deque[bytes], force: bool) -> bool:
        """On the I/O thread (see ``Transport.write``). While nats-py holds no pending commands
        of its own, chunks go straight into the socket's transport (one loop iteration from
        publish to the wire), but only up to the transport's high-water mark: asyncio's buffer
        copies itself on each partial send, so a deep buffer costs more than it saves. When
        nats-py has commands queued, chunks go behind them into its pending buffer, which its
        flusher writes."""
        nc = self.nc
        transport = nc._transport
        if not nc._pending and type(transport) is TcpTransport:
            writer: Any = transport._io_writer
            buffered = writer.transport.get_write_buffer_size
            while chunks and (force or buffered() < _DIRECT_HIGH_WATER):
                writer.write(chunks.popleft())
            return bool(chunks)
        pending = nc._pending
        while chunks:
            c = chunks.popleft()
            pending.append(c)
            nc._pending_data_size += len(c)
        fq = nc._flush_queue
        if fq is not None and fq.empty():
            fq.put_nowait(asyncio.get_running_loop().create_future())
        return nc._pending_data_size > _HIGH_WATER
