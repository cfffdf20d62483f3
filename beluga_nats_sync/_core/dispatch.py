"""Dispatcher: a daemon thread that hands queued items to user code one at a time, in order,
and tells the producer on the I/O thread when its backlog is low enough to take more.

Every thread that runs user code is one of these: subscription callbacks, JetStream consumers,
key-value watchers and the client's event callbacks. The producer (the I/O thread) calls
:meth:`put`; the thread calls ``handle(item)``, or ``discard(item)`` once the dispatcher is
stopping. Counters have one writer each (``_in`` the
I/O thread, ``_out`` the dispatcher), so the backlog needs no lock. The "room" signal uses the
flag-then-recheck pattern on both sides, so a wake-up is never lost and costs one cross-thread
call per refill, not one per item.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "Dispatcher",
    "EventWorker",
    "Worker",
    "in_dispatcher_thread",
    "join_thread",
    "stop_workers",
]

log = logging.getLogger("beluga_nats_sync")
T = TypeVar("T")
_END = object()


def join_thread(t: threading.Thread | None, timeout: float) -> bool:
    """Wait at most ``timeout`` for ``t`` to end; True when it has (or when ``t`` is the calling
    thread, which a callback that stops its own dispatcher is)."""
    if t is None or not t.is_alive() or t is threading.current_thread():
        return True
    t.join(timeout)
    return not t.is_alive()


class Worker(Protocol):
    """Something that owns a thread and must end when its client closes."""

    def _shutdown(self) -> None:
        """Stop taking new work at once; the current callback may finish."""

    def _join(self, timeout: float) -> bool:
        """Wait at most ``timeout`` for the thread to end; False if it is still running."""


def stop_workers(workers: set[Worker], timeout: float) -> None:
    """Stop every worker of ``workers`` (emptying it) and wait for their threads, at most ``timeout`` in all."""
    deadline = time.monotonic() + timeout
    stopping = []
    while workers:  # pop one by one: a worker registering meanwhile is not lost
        try:
            stopping.append(workers.pop())
        except KeyError:
            break
    for w in stopping:
        w._shutdown()
    for w in stopping:
        w._join(max(0.0, deadline - time.monotonic()))


_local = threading.local()


def in_dispatcher_thread() -> bool:
    """True on a thread that runs user code for a client (a :class:`Dispatcher`'s)."""
    return bool(getattr(_local, "dispatching", False))


def _no_room_signal() -> None:
    return None


#: ``lead(done, deadline)``: run the client's I/O loop on this thread until ``done()`` (see
#: :meth:`~.portal.IOLoop.lead`)
Lead = Callable[[Callable[[], bool], float], None]
#: the longest a dispatcher leads the I/O loop at once (it leaves sooner: at its first message)
_LEAD_FOR = 60.0


class Dispatcher(Generic[T]):
    """A daemon thread handing items to ``handle`` one at a time, in order."""

    def __init__(
        self,
        name: str,
        handle: Callable[[T], None],
        discard: Callable[[T], None],
        *,
        low_water: int = 0,
        on_room: Callable[[], None] = _no_room_signal,
        counted: bool = True,
        lead: Lead | None = None,
    ) -> None:
        self._lead = lead
        self._handle = handle
        self._discard = discard
        self._low_water = low_water
        self._on_room = on_room  # called on this thread; must only schedule work on the loop
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._in = 0
        self._out = 0
        #: Items the producer expects but has not put yet (pull requests in flight); written by
        #: the I/O thread, counted with the backlog against the low-water mark.
        self.reserved = 0
        self._want_room = False
        self.stopping = False
        self._ended = False
        self.thread = threading.Thread(target=self._run, name=name[:60], daemon=True)
        if not counted:
            # a producer that keeps its own counts (a subscription) needs no backlog here: put
            # is then the queue's own method, one call less per item on the I/O thread
            self.put = self._q.put  # type: ignore[method-assign]

    def start(self) -> None:
        self.thread.start()

    # -- producer side (I/O thread) --------------------------------------------------------------
    def put(self, item: T) -> None:
        self._in += 1
        self._q.put(item)

    @property
    def backlog(self) -> int:
        return self._in - self._out

    @property
    def load(self) -> int:
        """Backlog plus reserved: what the producer has in hand or on the way."""
        return self._in - self._out + self.reserved

    def has_room(self) -> bool:
        """True if the load is at most the low-water mark; if not, ask to be told (through
        ``on_room``) once it is."""
        if self._in - self._out + self.reserved <= self._low_water:
            return True
        self._want_room = True
        # re-check after raising the flag: the dispatcher may have drained in between
        if self._in - self._out + self.reserved <= self._low_water:
            self._want_room = False
            return True
        return False

    # -- any thread --------------------------------------------------------------------------------
    def end(self) -> None:
        """No more items: the thread ends after the ones queued (discarded if stopping)."""
        if not self._ended:
            self._ended = True
            self._q.put(_END)

    def join(self, timeout: float) -> bool:
        return join_thread(self.thread, timeout)

    # -- the thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        _local.dispatching = True
        q = self._q
        get = q.get
        lead = self._lead

        def queued() -> bool:
            return not q.empty()

        while True:
            if lead is not None and q.empty():
                # nothing to do: read the socket here while nobody else does, so that the next
                # message is handled by the thread that read it, with no hand-off
                lead(queued, time.monotonic() + _LEAD_FOR)
            item = get()
            if item is _END:
                return
            self._out += 1
            try:
                if self.stopping:
                    self._discard(item)
                else:
                    self._handle(item)
            except BaseException:  # handle() contains user errors itself; this is a last resort
                log.exception("dispatcher %s: unexpected error; it goes on", self.thread.name)
            if self._want_room and self._in - self._out + self.reserved <= self._low_water:
                self._want_room = False
                with contextlib.suppress(RuntimeError):  # the loop is closed: the client is closing
                    self._on_room()


#: event callbacks waiting to run past which further errors are logged, not queued
MAX_QUEUED_EVENTS = 256


class EventWorker:
    """Runs the client's event callbacks (error/disconnected/reconnected/closed, and the
    client's own closing) off the I/O thread, in order."""

    def __init__(self, name: str) -> None:
        self._disp: Dispatcher[tuple[Callable[..., Any], tuple[Any, ...]]] = Dispatcher(name, self._call, self._call)
        self.errors_not_passed = 0
        self._disp.start()

    @property
    def thread(self) -> threading.Thread:
        return self._disp.thread

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._disp.put((fn, args))

    def submit_error(self, error_cb: Callable[[BaseException], Any], exc: BaseException) -> None:
        """``error_cb(exc)``, unless :data:`MAX_QUEUED_EVENTS` callbacks already wait to run: a
        flood of errors (a server repeating -ERR) behind a slow ``error_cb`` is logged, not queued
        without bound (the caller has counted it in the client's stats)."""
        if self._disp.backlog < MAX_QUEUED_EVENTS:
            self._disp.put((error_cb, (exc,)))
            return
        self.errors_not_passed += 1
        n = self.errors_not_passed
        if n & (n - 1) == 0:  # 1, 2, 4, 8, ...
            log.warning(
                "error_cb is %d calls behind; %d error(s) not passed to it so far (counted in stats().errors): %s",
                MAX_QUEUED_EVENTS,
                n,
                exc,
            )

    def stop(self, timeout: float) -> None:
        """Run what was submitted, then end (waiting at most ``timeout`` unless called from it)."""
        self._disp.end()
        self._disp.join(timeout)

    @staticmethod
    def _call(item: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        fn, args = item
        try:
            fn(*args)
        except BaseException:
            log.exception("client event callback %r raised", getattr(fn, "__name__", fn))
