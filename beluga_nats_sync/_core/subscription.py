"""Subscription: a bounded hand-off from the I/O thread to a dispatcher thread or to next_msg().

The transport hands every message of a subscription to :meth:`Subscription._on_parts` on the
I/O thread, which makes a frozen :class:`Msg` and puts it on a thread-safe queue at once, so no
task, queue or coroutine sits between the socket and the user's thread. A dispatcher with nothing
queued reads the socket itself while no other thread does (it leads the I/O loop), so the next
message is handled by the thread that read it. The pending
limits are ours: past them the message is dropped, counted, and the episode reported once
through the error callback.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ClosedError, NATSTimeoutError, SlowConsumerError
from .dispatch import Dispatcher
from .handlers import check_handler
from .html import html_of
from .msg import Msg, Publisher
from .protocol import DEFAULT_MAX_CONTROL_LINE, check_control_line, check_queue, check_subject, check_timeout

if TYPE_CHECKING:
    from .options import Options

__all__ = ["MsgCallback", "Subscription", "SubscriptionOwner", "check_subscribe"]

log = logging.getLogger("beluga_nats_sync")

_END = object()  # queued after the last message a subscription will ever deliver
MsgCallback = Callable[[Msg], Any]


def check_subscribe(
    subject: str,
    callback: MsgCallback | None,
    queue: str,
    max_msgs: int | None,
    pending_msgs_limit: int | None,
    pending_bytes_limit: int | None,
    options: Options,
    max_line: int = DEFAULT_MAX_CONTROL_LINE,
) -> tuple[int, int]:
    """Check subscribe()'s arguments in the caller's thread; return the pending limits to use."""
    check_subject(subject, wildcards=True)
    check_queue(queue)
    check_control_line(max_line, "subject" if len(subject) >= len(queue) else "queue group", subject, queue)
    check_handler(callback, "callback", "a Msg", optional=True)
    if max_msgs is not None and (isinstance(max_msgs, bool) or not isinstance(max_msgs, int) or max_msgs < 1):
        raise ValueError(f"max_msgs must be an int >= 1 or None, got {max_msgs!r}")
    pm = options.pending_msgs_limit if pending_msgs_limit is None else pending_msgs_limit
    pb = options.pending_bytes_limit if pending_bytes_limit is None else pending_bytes_limit
    for name, v in (("pending_msgs_limit", pm), ("pending_bytes_limit", pb)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    return pm, pb


class SubscriptionOwner(Protocol):
    """What a subscription needs of its client's connection."""

    options: Options
    forked: bool

    @property
    def is_open(self) -> bool: ...

    @property
    def publisher(self) -> Publisher: ...

    def closed_error(self, what: str = "client") -> ClosedError: ...

    def guard(self, what: str) -> None: ...

    def unsubscribe_sid(self, sid: int, timeout: float, limit: int = 0) -> None: ...

    def drain_sid(self, sid: int, timeout: float) -> None: ...

    def forget(self, sub: Subscription) -> None: ...

    def report(self, exc: BaseException) -> None: ...

    def count_dropped(self) -> None: ...

    def count_callback_error(self) -> None: ...

    def lead(self, done: Callable[[], bool], deadline: float) -> None:
        """Run the I/O loop's work on this thread until ``done()``, while nobody else does."""


class Subscription:
    """Interest in a subject. Made by :meth:`Client.subscribe`; do not instantiate directly.

    With a callback, a dedicated dispatcher thread calls it once per message, in arrival order;
    an exception from it is logged and counted (``errors``) and delivery goes on. Without one,
    read with :meth:`next_msg` or :meth:`messages`.
    """

    def __init__(
        self,
        owner: SubscriptionOwner,
        subject: str,
        queue_group: str,
        callback: MsgCallback | None,
        max_msgs: int | None,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
    ) -> None:
        self._owner = owner
        self._publisher = owner.publisher
        self.subject = subject
        self.queue = queue_group
        self._callback = callback
        self.max_msgs = max_msgs
        self.pending_msgs_limit = pending_msgs_limit
        self.pending_bytes_limit = pending_bytes_limit
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.sid = 0
        # Counters with one writer each, so no lock is needed: the I/O thread writes the
        # _in_* ones, the consuming thread the _out_* ones; pending is their difference.
        self._received = 0
        self._in_msgs = 0
        self._in_bytes = 0
        self._out_msgs = 0
        self._out_bytes = 0
        self._dropped = 0
        self._errors = 0
        self._slow = False
        self._closed = False  # no more messages will be accepted
        self._ended = False  # the end has been queued
        self._discard = False  # unsubscribed: pending messages are thrown away
        self._disp: Dispatcher[Msg] | None = None
        self._pull_lock = threading.Lock()
        if callback is not None:
            self._disp = Dispatcher(
                f"nats-dispatch-{subject}", self._handle, self._skip, counted=False, lead=owner.lead
            )
            self._put = self._disp.put
        else:
            self._put = self._q.put

    # -- set-up, from the client -------------------------------------------------------------
    def _attach(self, sid: int) -> None:
        self.sid = sid
        if self._disp is not None:
            self._disp.start()

    # -- the I/O thread side -----------------------------------------------------------------
    def _on_parts(self, subject: str, data: bytes, reply: str, headers: Any) -> None:
        if self._closed:
            return
        size = len(data)
        self._received += 1
        pending = self._in_msgs - self._out_msgs
        if pending >= self.pending_msgs_limit or (self._in_bytes - self._out_bytes) + size > self.pending_bytes_limit:
            self._dropped += 1
            self._owner.count_dropped()
            if not self._slow:
                self._slow = True
                self._owner.report(SlowConsumerError(self.subject, self.sid, self._dropped))
        else:
            if self._slow and pending <= self.pending_msgs_limit // 2:
                self._slow = False
            self._in_msgs += 1
            self._in_bytes += size
            self._put(Msg(subject, data, reply, headers, self._publisher))
        if self.max_msgs is not None and self._received >= self.max_msgs:
            self._finish()

    def _finish(self) -> None:
        """No more messages will come: let the consumer end after the ones queued."""
        self._closed = True
        self._end_queue()
        self._owner.forget(self)

    # -- the consuming side ------------------------------------------------------------------
    def _handle(self, msg: Msg) -> None:
        """On the dispatcher thread: one message to the callback."""
        self._out_msgs += 1
        self._out_bytes += len(msg.data)
        if self._discard:
            return
        try:
            self._callback(msg)  # type: ignore[misc]  # set whenever there is a dispatcher
        except BaseException:  # SystemExit or KeyboardInterrupt in a callback must not end delivery either
            self._errors += 1
            self._owner.count_callback_error()
            log.exception("callback of subscription %r (sid %d) raised; delivery goes on", self.subject, self.sid)

    def _skip(self, msg: Msg) -> None:
        self._out_msgs += 1
        self._out_bytes += len(msg.data)

    def next_msg(self, timeout: float | None = None) -> Msg:
        """Return the next message, waiting at most ``timeout`` seconds (``None``: the client's default).

        Raises ``NATSTimeoutError`` (a ``TimeoutError``) when none arrives in time and
        ``ClosedError`` once the subscription has ended and every message was read.
        """
        if self._callback is not None:
            raise RuntimeError("next_msg() is for subscriptions made without a callback")
        owner = self._owner
        t = check_timeout(timeout, owner.options.timeout)
        if owner.forked:
            raise owner.closed_error("next_msg")
        owner.guard("next_msg")
        if self._discard:
            raise ClosedError(f"subscription to {self.subject!r} is unsubscribed")
        try:
            msg = self._q.get(timeout=t) if t > 0 else self._q.get_nowait()
        except queue.Empty:
            raise NATSTimeoutError(f"no message on {self.subject!r} within {t:g} s") from None
        if msg is _END:
            self._q.put(_END)  # keep the subscription ended for every later reader
            raise ClosedError(f"subscription to {self.subject!r} has ended")
        with self._pull_lock:  # several threads may read one subscription (and not every Python has a GIL)
            self._out_msgs += 1
            self._out_bytes += len(msg.data)
        return msg  # type: ignore[no-any-return]

    def messages(self, timeout: float | None = None, limit: int | None = None) -> Iterator[Msg]:
        """Yield messages until none arrives for ``timeout`` seconds, ``limit`` were yielded,
        or the subscription ends. Never raises a timeout."""
        count = 0
        while limit is None or count < limit:
            try:
                yield self.next_msg(timeout)
            except (NATSTimeoutError, ClosedError):
                return
            count += 1

    def __iter__(self) -> Iterator[Msg]:
        return self.messages()

    # -- ending --------------------------------------------------------------------------------
    def unsubscribe(self, timeout: float | None = None) -> None:
        """Remove interest now; messages not yet delivered are discarded. Idempotent."""
        if self._discard:
            return
        owner = self._owner
        t = check_timeout(timeout, owner.options.timeout)
        self._discard = True
        self._closed = True
        if self.sid and owner.is_open:
            owner.unsubscribe_sid(self.sid, t)
        owner.forget(self)
        self._end_queue()
        self._join_dispatcher(t)

    def auto_unsubscribe(self, max_msgs: int, timeout: float | None = None) -> None:
        """Ask the server to end this subscription once it has sent ``max_msgs`` messages in all
        (counted from the subscription's start); delivery ends there too."""
        if isinstance(max_msgs, bool) or not isinstance(max_msgs, int) or max_msgs < 1:
            raise ValueError(f"max_msgs must be an int >= 1, got {max_msgs!r}")
        owner = self._owner
        t = check_timeout(timeout, owner.options.timeout)
        if self._closed:
            return
        self.max_msgs = max_msgs
        if self._received >= max_msgs:
            self.unsubscribe(t)
            return
        if self.sid and owner.is_open:
            owner.unsubscribe_sid(self.sid, t, limit=max_msgs)

    def drain(self, timeout: float | None = None) -> None:
        """Remove interest but deliver what the server already sent, then end.

        With a callback, waits (at most ``timeout``) until the callback has run for each of them;
        without one, the remaining messages stay readable with :meth:`next_msg`.
        """
        owner = self._owner
        t = check_timeout(timeout, owner.options.timeout)
        if self._closed:
            self._join_dispatcher(t)
            return
        if self.sid and owner.is_open:
            owner.drain_sid(self.sid, t)
        self._closed = True
        owner.forget(self)
        self._end_queue()
        if not self._join_dispatcher(t):
            raise NATSTimeoutError(
                f"drain of {self.subject!r}: the callback did not finish the "
                f"{self.pending} pending message(s) in {t:g} s"
            )

    def _end_queue(self) -> None:
        self._closed = True
        if not self._ended:
            self._ended = True
            if self._disp is not None:
                self._disp.end()
            else:
                self._q.put(_END)

    def _join_dispatcher(self, timeout: float) -> bool:
        return self._disp.join(timeout) if self._disp is not None else True

    def _shutdown(self) -> None:
        """The client is closing: end delivery at once."""
        self._discard = True
        self._end_queue()

    # -- observing -----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Messages received and not yet handed to the callback or ``next_msg``."""
        return max(0, self._in_msgs - self._out_msgs)

    @property
    def pending_bytes(self) -> int:
        return max(0, self._in_bytes - self._out_bytes)

    @property
    def delivered(self) -> int:
        """Messages handed to the callback or returned by ``next_msg``."""
        return self._out_msgs

    @property
    def dropped(self) -> int:
        """Messages dropped because the pending limit was reached (slow consumer)."""
        return self._dropped

    @property
    def errors(self) -> int:
        """Exceptions raised by the callback."""
        return self._errors

    @property
    def is_active(self) -> bool:
        return not self._closed

    def __repr__(self) -> str:
        mode = "callback" if self._callback is not None else "pull"
        state = "active" if not self._closed else "closed"
        q = f" queue={self.queue!r}" if self.queue else ""
        return (
            f"<Subscription {self.subject!r}{q} sid={self.sid} {mode} {state} pending={self.pending} "
            f"delivered={self.delivered} dropped={self.dropped}>"
        )

    def _repr_html_(self) -> str:
        return html_of(self)
