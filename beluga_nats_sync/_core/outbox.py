"""The outbox: framed commands on their way from callers' threads to the socket.

``publish`` validates and frames in the caller's thread. When nothing is waiting to be written
(the outbox, ``_carry`` and a pump in progress are all empty) and the message is one somebody
waits for (a request, a reply to an inbox subject) or a large one, the caller writes it straight
into the socket (:meth:`Transport.try_write`): no hand-off to the I/O thread. A large one that
finds bytes owed to the socket waits for it in the caller's thread, at most :data:`SOCKET_WAIT`
(:meth:`Transport.write_waiting`): woken by the kernel, not by the I/O thread. Otherwise, and
when the transport cannot write it now, it appends to one locked list and wakes the I/O thread
once per batch: a stream of small publishes is written in batches, as before (a send per small
message would cost several times the append, and hand the GIL over each time).

On the I/O thread, :meth:`Outbox.pump` hands batches to the
transport in chunks of about a megabyte; when the socket is congested the rest waits in
``_carry`` (served first) until the transport says the socket drained, and publishers
feel the back-pressure of the outbox's bound. While disconnected the outbox is the reconnect
buffer: bounded by ``reconnect_buffer_size``, sent in order once connected again.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ClosedError, OutboundBufferFullError, PayloadTooLargeError
from .lifetime import Lifecycle
from .options import Options
from .portal import IOLoop
from .protocol import DEFAULT_MAX_CONTROL_LINE, frame_pub, payload_bytes, pub_prefix
from .transport import Transport

if TYPE_CHECKING:
    from ..protocol.headers import HeadersInput

__all__ = ["Outbox"]

log = logging.getLogger("beluga_nats_sync")

_SUBJECT_CACHE_MAX = 4096
CHUNK = 1 << 20  # batches are handed to the transport in pieces of about this size
#: a framed command at least this large is written straight into the socket when nothing waits
DIRECT_SIZE = 16 * 1024
#: a large command waits this long for the socket to take what is owed to it, then is queued
SOCKET_WAIT = 0.005


class Outbox:
    """Framed commands waiting for the I/O thread, with their bound and counters."""

    def __init__(
        self,
        options: Options,
        life: Lifecycle,
        loop: IOLoop,
        transport: Transport,
        closed_error: Callable[[str], ClosedError],
    ) -> None:
        self._options = options
        self._life = life  # the connection's state, read here, moved by the connection only
        self._loop = loop
        self._transport = transport
        self.closed_error = closed_error
        #: set by the connection from the server's INFO
        self.max_payload = 1024 * 1024
        self.max_control_line = DEFAULT_MAX_CONTROL_LINE
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._items: list[bytes] = []
        self._bytes = 0
        self._space_waiters = 0
        self._wake_scheduled = False
        self._writer_busy = False  # the socket is congested: pump again once it drained
        self._writer_on = False
        # the bound: the reconnect buffer's size while disconnected, max_outbound_bytes while connected
        self._low_limit = min(options.reconnect_buffer_size, options.max_outbound_bytes)
        self._carry: collections.deque[bytes] = collections.deque()  # taken from the outbox, not yet written
        # True from the moment pump() takes the outbox's content (under the lock) until it has handed
        # it to the transport: while it is, and while anything is carried, no caller writes directly
        self._pumping = False
        # a subject under one of these is a reply: its requester waits for it
        self._reply_prefixes = tuple(dict.fromkeys((options.inbox_prefix + ".", "_INBOX.")))
        self._try_write = transport.try_write
        self._write_waiting = transport.write_waiting
        self._pub_prefix: dict[str, bytes] = {}
        self.out_msgs = 0
        self.out_bytes = 0

    @property
    def pending(self) -> bool:
        """Something published waits for the I/O thread (queued, carried, being pumped)."""
        return bool(self._items or self._carry or self._pumping)

    @property
    def open(self) -> bool:
        """Publishing is accepted (sent now, or buffered until connected)."""
        return self._life.accepting

    @property
    def connected(self) -> bool:
        """Connected, and the core's wiring (its reply subscription) is in place."""
        return self._life.linked

    def _limit(self) -> int:
        """The bound, as the connection's state says: the socket's while linked, else the reconnect buffer's."""
        return self._options.max_outbound_bytes if self._life.linked else self._options.reconnect_buffer_size

    def _full(self, size: int) -> bool:
        """With the lock held: ``size`` more bytes go over the bound."""
        total = self._bytes + size
        return total > self._low_limit and self._bytes > 0 and total > self._limit()

    # -- callers' threads --------------------------------------------------------------------------
    def publish(
        self,
        subject: str,
        payload: Any,
        reply: str | None,
        headers: HeadersInput | None,
        urgent: bool = False,
    ) -> None:
        """Frame and queue one message; see Client.publish. ``urgent`` (a request, whose caller
        waits for the reply) writes it straight into the socket whenever nothing waits before it;
        so does a reply (a subject under an inbox prefix)."""
        if not self._life.accepting:
            raise self.closed_error("publish")
        prefix = self._pub_prefix.get(subject)
        if prefix is None:
            prefix = pub_prefix(subject, self.max_control_line)
            if subject.startswith(self._reply_prefixes):
                urgent = True  # a reply; and not cached: each request has its own subject
            else:
                if len(self._pub_prefix) >= _SUBJECT_CACHE_MAX:
                    self._pub_prefix.clear()
                self._pub_prefix[subject] = prefix
        if type(payload) is not bytes:
            payload = payload_bytes(payload)
        n = len(payload)
        if n > self.max_payload:
            raise PayloadTooLargeError(n, self.max_payload)
        if reply is None and headers is None:
            if n >= DIRECT_SIZE:
                self._enqueue_large([b"%b%d\r\n" % (prefix, n), payload, b"\r\n"], n)
                return
            cmd = b"%b%d\r\n%b\r\n" % (prefix, n, payload)
        else:
            cmd = frame_pub(subject, payload, reply, headers, self.max_payload, self.max_control_line)
        self.enqueue(cmd, n, urgent)

    def enqueue(self, cmd: bytes, payload_size: int, urgent: bool = False) -> None:
        size = len(cmd)
        # No call inside the lock: a thread preempted while holding it (the GIL is handed over at
        # calls, and always at a send) makes every other publisher queue behind it; that cost 4x
        # with 4 threads. A direct write is decided here and made after.
        with self._lock:
            # Direct when nothing of ours waits to be written. pump() sets _pumping under this
            # lock, and the carry changes only while it is set, so this is one consistent view:
            # what this thread published before is with the transport or in the socket, and the
            # transport checks that nothing of its own waits either.
            direct = (
                (urgent or size >= DIRECT_SIZE)
                and not self._items
                and self._life.linked
                and not self._pumping
                and not self._carry
            )
            if direct:  # counted here, under the lock; uncounted if it cannot be queued after all
                self.out_msgs += 1
                self.out_bytes += payload_size
            else:
                if self._bytes + size > self._low_limit and self._full(size):  # one compare when well below
                    self._wait_for_space(size)
                self._items.append(cmd)
                self._bytes += size
                self.out_msgs += 1
                self.out_bytes += payload_size
                if self._wake_scheduled:
                    return
                self._wake_scheduled = True
        if direct:
            if self._try_write(cmd):
                return
            if size >= DIRECT_SIZE and not self._loop.in_loop_thread() and self._write_waiting(cmd, SOCKET_WAIT):
                return
            self._queue_refused(cmd, payload_size)
            return
        # RuntimeError: the loop is gone; close() is running and will report unsent data
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon(self.pump)

    def _enqueue_large(self, parts: list[bytes], payload_size: int) -> None:
        """A large PUB as its pieces (line, payload, CRLF): written into the socket as they are
        when nothing waits before them (``sendmsg``: the payload is not copied into a frame),
        joined and queued otherwise."""
        with self._lock:  # the same decision as enqueue()'s
            direct = not self._items and self._life.linked and not self._pumping and not self._carry
            if direct:
                self.out_msgs += 1
                self.out_bytes += payload_size
        if not direct:
            self.enqueue(b"".join(parts), payload_size)
        elif not (
            self._try_write(parts) or (not self._loop.in_loop_thread() and self._write_waiting(parts, SOCKET_WAIT))
        ):
            self._queue_refused(b"".join(parts), payload_size)

    def _queue_refused(self, cmd: bytes, payload_size: int) -> None:
        """The transport could not write ``cmd`` directly (already counted): queue it as any other."""
        size = len(cmd)
        with self._lock:
            if self._full(size):
                try:
                    self._wait_for_space(size)
                except BaseException:  # not accepted after all
                    self.out_msgs -= 1
                    self.out_bytes -= payload_size
                    raise
            self._items.append(cmd)
            self._bytes += size
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon(self.pump)

    def _wait_for_space(self, size: int) -> None:
        """Called with the lock held: wait for room in the outbox, or raise.

        Connected, the socket is draining: wait up to ``Options.timeout``. Disconnected, the
        outbox is the reconnect buffer: wait up to ``reconnect_buffer_timeout`` (0: raise at once).
        """
        if self._loop.in_loop_thread():
            raise OutboundBufferFullError("the outbound buffer is full; publish from the I/O thread cannot wait")
        start = time.monotonic()
        self._space_waiters += 1
        try:
            while self._bytes > 0 and self._bytes + size > (limit := self._limit()):
                if not self.open:  # closed while waiting: this message was never accepted
                    raise self.closed_error("publish")
                connected = self.connected
                allowed = self._options.timeout if connected else self._options.reconnect_buffer_timeout
                remaining = start + allowed - time.monotonic()
                if remaining <= 0:
                    if connected:
                        why = f"the socket did not take them within {allowed:g} s"
                    else:
                        why = "the client is disconnected and the reconnect buffer (reconnect_buffer_size) is full"
                    raise OutboundBufferFullError(
                        f"{self._bytes} bytes of published messages are waiting to be sent "
                        f"(limit {limit} bytes) and {why}; this message ({size} bytes) was not queued"
                    )
                self._space.wait(min(remaining, 0.25))
            if not self.open:  # woken by the close emptying the outbox
                raise self.closed_error("publish")
        finally:
            self._space_waiters -= 1

    def _take(self) -> list[bytes]:
        with self._lock:
            self._wake_scheduled = False
            self._pumping = True  # under the lock: a direct write now waits its turn in the outbox
            batch = self._items
            if not batch:
                return batch
            self._items = []
            self._bytes = 0
            if self._space_waiters:
                self._space.notify_all()
            return batch

    def discard(self) -> tuple[int, int]:
        """The client is closed: drop what was not sent; return (messages, framed bytes) dropped."""
        with self._lock:
            unsent = len(self._items)
            unsent_bytes = sum(len(c) for c in self._carry)
            self._carry.clear()
            self._items = []
            self._bytes = 0
            self._space.notify_all()
        return unsent, unsent_bytes

    # -- the I/O thread ----------------------------------------------------------------------------
    def start_writer(self) -> None:
        """On the I/O thread, once connected: congestion is waited out (see :meth:`pump`)."""
        self._writer_on = True
        self._writer_busy = False

    def stop_writer(self) -> None:
        self._writer_on = False

    def pump(self, force: bool = False) -> None:
        """On the I/O thread: hand what was published to the transport, in order.

        ``force`` (flush, subscribe, close) hands over everything at once, congested or not.
        """
        if not force and self._writer_busy:
            return
        if not (self._life.linked and self._transport.is_connected):
            # Our outbox is the reconnect buffer: publishers feel its bound; it is sent once we are
            # connected again and, on a background first connect, once the reply subscription exists.
            return
        try:
            batch = self._take()
            carry = self._carry
            if batch:
                if len(batch) == 1:
                    carry.append(batch[0])
                else:
                    cur: list[bytes] = []
                    cur_size = 0
                    for cmd in batch:
                        cur.append(cmd)
                        cur_size += len(cmd)
                        if cur_size >= CHUNK:
                            carry.append(b"".join(cur))
                            cur, cur_size = [], 0
                    if cur:
                        carry.append(b"".join(cur))
            if not carry:
                return
            congested = self._transport.write(carry, force)
        finally:
            # what was taken is now in the transport's hands, or still carried (served first)
            self._pumping = False
        if congested and self._writer_on and not self._writer_busy:
            self._writer_busy = True
            self._transport.when_drained(self._drained)

    def _drained(self) -> None:
        """On the I/O thread: the socket took what was owed (or the connection is gone): go on."""
        self._writer_busy = False
        if self._writer_on:
            self.pump()
