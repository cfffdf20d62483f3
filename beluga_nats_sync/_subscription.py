"""Subscription: a bounded hand-off from the I/O thread to a dispatcher thread or to next_msg().

nats-py puts every message of a subscription into ``sub._pending_queue.put_nowait(msg)``; we
replace that queue by a sink that copies the message into a frozen :class:`Msg` and hands it to a
thread-safe queue at once, so no asyncio task, queue or coroutine sits between the socket and the
user's thread. The pending limits are ours: past them the message is dropped, counted, and the
episode reported once through the error callback.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from nats import errors as nerr

from ._dispatch import join_thread
from ._msg import Msg
from ._protocol import check_timeout
from .errors import ClosedError, NATSTimeoutError, SlowConsumerError

if TYPE_CHECKING:
    from nats.aio.subscription import Subscription as _NatsSubscription

    from ._engine import _Engine

__all__ = ["QueueStandIn", "Subscription"]

log = logging.getLogger("beluga_nats_sync")

_END = object()  # queued after the last message a subscription will ever deliver
MsgCallback = Callable[[Msg], Any]


class QueueStandIn:
    """Stands in for nats-py's per-subscription ``asyncio.Queue``; used on the I/O thread only.

    nats-py calls ``put_nowait(msg)`` for every message; subclasses hand it on at once. The rest is
    the surface nats-py touches on unsubscribe and drain: nothing is ever queued here.
    """

    __slots__ = ()

    def put_nowait(self, nmsg: Any) -> None:
        raise NotImplementedError

    def qsize(self) -> int:
        return 0

    def empty(self) -> bool:
        return True

    def task_done(self) -> None:
        pass

    async def join(self) -> None:
        return None


class _Sink(QueueStandIn):
    __slots__ = ("_sub",)

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def put_nowait(self, nmsg: Any) -> None:
        self._sub._on_msg(nmsg)


class Subscription:
    """Interest in a subject. Made by :meth:`Client.subscribe`; do not instantiate directly.

    With a callback, a dedicated dispatcher thread calls it once per message, in arrival order;
    an exception from it is logged and counted (``errors``) and delivery goes on. Without one,
    read with :meth:`next_msg` or :meth:`messages`.
    """

    def __init__(
        self,
        engine: _Engine,
        subject: str,
        queue_group: str,
        callback: MsgCallback | None,
        max_msgs: int | None,
        pending_msgs_limit: int,
        pending_bytes_limit: int,
    ) -> None:
        self._engine = engine
        self.subject = subject
        self.queue = queue_group
        self._callback = callback
        self.max_msgs = max_msgs
        self.pending_msgs_limit = pending_msgs_limit
        self.pending_bytes_limit = pending_bytes_limit
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sink = _Sink(self)
        self._nsub: _NatsSubscription | None = None
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
        self._ended = False  # the _END marker has been queued
        self._discard = False  # unsubscribed: pending messages are thrown away
        self._dispatcher: threading.Thread | None = None
        self._pull_lock = threading.Lock()
        if callback is not None:
            name = f"nats-dispatch-{subject}"[:60]
            self._dispatcher = threading.Thread(target=self._dispatch, name=name, daemon=True)

    # -- set-up, from the client -------------------------------------------------------------
    def _attach(self, nsub: _NatsSubscription) -> None:
        self._nsub = nsub
        self.sid = nsub._id
        if self._dispatcher is not None:
            self._dispatcher.start()

    # -- the I/O thread side -----------------------------------------------------------------
    def _on_msg(self, nmsg: Any) -> None:
        self._on_parts(nmsg.subject, nmsg.data, nmsg.reply, nmsg.headers)

    def _on_parts(self, subject: str, data: bytes, reply: str, headers: Any) -> None:
        if self._closed:
            return
        size = len(data)
        self._received += 1
        pending = self._in_msgs - self._out_msgs
        if pending >= self.pending_msgs_limit or (self._in_bytes - self._out_bytes) + size > self.pending_bytes_limit:
            self._dropped += 1
            self._engine._count_dropped()
            if not self._slow:
                self._slow = True
                self._engine._report(SlowConsumerError(self.subject, self.sid, self._dropped))
        else:
            if self._slow and pending <= self.pending_msgs_limit // 2:
                self._slow = False
            self._in_msgs += 1
            self._in_bytes += size
            self._q.put(Msg(subject, data, reply, headers, self._engine))
        if self.max_msgs is not None and self._received >= self.max_msgs:
            self._finish()

    def _finish(self) -> None:
        """No more messages will come: let the consumer end after the ones queued."""
        self._closed = True
        if not self._ended:
            self._ended = True
            self._q.put(_END)
        self._engine._forget(self)

    # -- the consuming side ------------------------------------------------------------------
    def _dispatch(self) -> None:
        cb = self._callback
        assert cb is not None
        get = self._q.get
        while True:
            msg = get()
            if msg is _END:
                return
            self._out_msgs += 1
            self._out_bytes += len(msg.data)
            if self._discard:
                continue
            try:
                cb(msg)
            except Exception:
                self._errors += 1
                self._engine._count_callback_error()
                log.exception("callback of subscription %r (sid %d) raised; delivery goes on", self.subject, self.sid)

    def next_msg(self, timeout: float | None = None) -> Msg:
        """Return the next message, waiting at most ``timeout`` seconds (``None``: the client's default).

        Raises ``NATSTimeoutError`` (a ``TimeoutError``) when none arrives in time and
        ``ClosedError`` once the subscription has ended and every message was read.
        """
        if self._callback is not None:
            raise RuntimeError("next_msg() is for subscriptions made without a callback")
        t = check_timeout(timeout, self._engine.options.timeout)
        if self._engine.forked:
            raise self._engine.closed_error("next_msg")
        self._engine.loop.guard("next_msg")
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
        self._discard = True
        self._closed = True
        nsub = self._nsub
        if nsub is not None and self._engine.is_open:
            t = check_timeout(timeout, self._engine.options.timeout)
            self._engine._run(lambda: _safe_unsubscribe(nsub), t, "unsubscribe")
        self._engine._forget(self)
        self._end_queue()
        self._join_dispatcher(check_timeout(timeout, self._engine.options.timeout))

    def drain(self, timeout: float | None = None) -> None:
        """Remove interest but deliver what the server already sent, then end.

        With a callback, waits (at most ``timeout``) until the callback has run for each of them;
        without one, the remaining messages stay readable with :meth:`next_msg`.
        """
        if self._closed:
            self._join_dispatcher(check_timeout(timeout, self._engine.options.timeout))
            return
        t = check_timeout(timeout, self._engine.options.timeout)
        nsub = self._nsub
        if nsub is not None and self._engine.is_open:
            self._engine._run(lambda: _safe_drain(nsub), t, "drain")
        self._closed = True
        self._engine._forget(self)
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
            self._q.put(_END)

    def _join_dispatcher(self, timeout: float) -> bool:
        return join_thread(self._dispatcher, timeout)

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
        from ._display import subscription_html

        return subscription_html(self)


_GONE = (nerr.BadSubscriptionError, nerr.ConnectionClosedError, nerr.ConnectionDrainingError)


async def _safe_unsubscribe(nsub: _NatsSubscription) -> None:
    with contextlib.suppress(*_GONE):  # already gone on the server side: nothing to undo
        await nsub.unsubscribe()


async def _safe_drain(nsub: _NatsSubscription) -> None:
    with contextlib.suppress(*_GONE):
        await nsub.drain()  # type: ignore[no-untyped-call]
