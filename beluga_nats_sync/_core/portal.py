"""The I/O thread: one small event loop of our own per client, run in a daemon thread.

No asyncio: a :mod:`selectors` loop over the connection's socket and a wake-up socket pair, a
queue of callbacks (:meth:`IOLoop.call_soon`, from any thread), a heap of timers
(:meth:`IOLoop.call_later`) and readiness callbacks (:meth:`IOLoop.add_reader`,
:meth:`IOLoop.add_writer`). A thread that hands work over writes to the wake-up socket only when
the loop sleeps in ``select``: a stream of publishes costs one append each, not a system call.

Shape borrowed from anyio's blocking portal: work submitted from other threads
(:meth:`IOLoop.submit`, :meth:`IOLoop.run`) runs in a copy of the caller's ``contextvars`` context
(so an OpenTelemetry span current in the caller stays the parent), its outcome comes back through a
``concurrent.futures.Future``, and a blocking call made on the loop's own thread raises
``RuntimeError`` instead of deadlocking. On stop, the thread ends, the selector and the sockets are
closed, and the thread is joined.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import contextvars
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ClosedError, NATSSyncError, NATSTimeoutError

__all__ = ["IOLoop", "Timer", "run_on", "wait_future"]

log = logging.getLogger("beluga_nats_sync")
T = TypeVar("T")

#: the longest single select of a caller leading the loop
_LEAD_SLICE = 0.02
#: the longest a caller waits for the loop's thread to finish what it is doing, to lead
_HANDOVER = 0.002

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


def wait_future(fut: concurrent.futures.Future[T], timeout: float) -> T:
    """Wait for ``fut`` at most ``timeout`` seconds; ``TimeoutError`` past it.

    The wait is a lock acquisition with a timeout, which Ctrl-C interrupts on POSIX, so a
    ``KeyboardInterrupt`` reaches the caller promptly; work not yet begun is then cancelled.
    """
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:
        if fut.done() and not fut.cancelled():
            # the work raised a TimeoutError of its own (from 3.11 concurrent.futures' is the
            # builtin, so ours are caught here too), or finished just now: its outcome stands
            return fut.result(0)
        fut.cancel()
        # the builtin TimeoutError on every Python (concurrent.futures' is another class before 3.11)
        raise TimeoutError(f"no result within {timeout:g} s") from None
    except BaseException:
        fut.cancel()
        raise


def run_on(
    loop: IOLoop, fn: Callable[[], T], timeout: float, what: str, closed: Callable[[str], ClosedError] | None = None
) -> T:
    """From a caller's thread: ``fn()`` on ``loop``'s I/O thread, at most ``timeout``, raising our
    errors only: ``NATSTimeoutError`` past it, ``closed(what)`` once the loop has stopped."""
    try:
        return loop.run(fn, timeout, what)
    except TimeoutError as exc:
        if isinstance(exc, NATSSyncError):
            raise
        raise NATSTimeoutError(f"{what} did not complete within {timeout:g} s") from None
    except RuntimeError:
        if not loop.closed:  # a blocking call on the I/O thread itself (guard): as it is
            raise
        raise (closed or _closed)(what) from None


def _closed(what: str) -> ClosedError:
    return ClosedError(f"{what}: the client is closed")


class Timer:
    """A call scheduled by :meth:`IOLoop.call_later`; :meth:`cancel` stops it if it has not run."""

    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class IOLoop:
    """An event loop of our own running in its own daemon thread until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, _READ, None)
        self._ready: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = collections.deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._fds: dict[int, list[Callable[[], Any] | None]] = {}  # fd -> [on_readable, on_writable]
        self._sleeping = False  # in select(): a thread handing work over must wake it
        self._lead_sleeping = False  # the same, for a caller leading the loop
        self._new_head = False  # a timer earlier than any the loop's thread sleeps towards
        self._stopping = False
        self.closed = False
        #: held by the thread doing the loop's work: the loop's own thread, or a caller leading it
        self._token = threading.Lock()
        self._owner = 0  # that thread's ident
        self._led = 0  # turns run by leading callers: the loop's thread skips what it saw before
        self._waiting: dict[concurrent.futures.Future[Any], str] = {}
        self._waiting_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    # -- the loop ---------------------------------------------------------------------------------
    def _timeout(self, cap: float | None) -> float | None:
        """How long the next select may sleep: not past the next timer, not at all with work queued."""
        if self._ready:
            return 0
        timeout = cap
        try:
            due = max(0.0, self._timers[0][0] - time.monotonic())
        except IndexError:  # no timer (or the last one just ran on a leading caller's thread)
            return timeout
        return due if timeout is None else min(timeout, due)

    def _select(self, timeout: float | None, leading: bool) -> list[tuple[selectors.SelectorKey, int]]:
        # one flag per sleeper (the loop's thread, a leading caller): a thread handing work over
        # wakes them when either sleeps
        if leading:
            self._lead_sleeping = True
        else:
            self._sleeping = True
        if self._ready:  # handed over between the check and the flag: it did not wake us
            timeout = 0
        try:
            return self._selector.select(timeout)
        finally:
            if leading:
                self._lead_sleeping = False
            else:
                self._sleeping = False

    def _process(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        """With the token held: what select found, the timers due, then what was handed over."""
        for key, mask in events:
            callbacks = key.data
            if callbacks is None:
                with contextlib.suppress(OSError):
                    while self._wake_r.recv(4096):
                        pass
                continue
            if mask & _READ and callbacks[0] is not None:
                self._call(callbacks[0], ())
            if mask & _WRITE and callbacks[1] is not None:
                self._call(callbacks[1], ())
        timers = self._timers
        if timers:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                timer = heapq.heappop(timers)[2]
                if not timer.cancelled:
                    self._call(timer.fn, timer.args)
        ready = self._ready
        for _ in range(len(ready)):  # what arrives meanwhile waits for the next turn
            fn, args = ready.popleft()
            self._call(fn, args)

    def _run(self) -> None:
        token = self._token
        me = threading.get_ident()
        try:
            while not self._stopping:
                # select without the token: a caller waiting for a reply may lead meanwhile
                self._new_head = False
                led = self._led
                events = self._select(self._timeout(None), False)
                with token:
                    if self._stopping:
                        break
                    if self._led != led:
                        # a caller led meanwhile and may have handled what woke us: look again
                        # (what is still ready shows again at once) rather than hold the token
                        continue
                    self._owner = me
                    try:
                        self._process(events)
                    finally:
                        self._owner = 0
        finally:
            # a leader leaves within one of its short selects once it sees the loop stopping
            got = token.acquire(True, 2.0)
            try:
                self.closed = True
                self._ready.clear()
                self._timers.clear()
                with contextlib.suppress(OSError):
                    self._selector.close()
                for s in (self._wake_r, self._wake_w):
                    with contextlib.suppress(OSError):
                        s.close()
            finally:
                if got:
                    token.release()

    def lead(self, done: Callable[[], bool], deadline: float) -> None:
        """A caller's thread: while nobody else is running the loop's work, run it here until
        ``done()`` or ``deadline`` (monotonic). A caller waiting for a reply reads the socket
        itself and is not woken by another thread. Returns at once when another thread holds the
        loop (the caller then waits its usual way). While it leads, this thread is the I/O thread:
        what runs there never runs at the same time as anything else the loop runs."""
        token = self._token
        if self._stopping or self.in_loop_thread():
            return
        # the loop's thread, busy for a moment (often with what woke it beside the last leader):
        # worth a short wait; another caller leading: it hands our reply over
        if not token.acquire(False) and (
            self._owner not in (0, self._thread.ident) or not token.acquire(True, _HANDOVER)
        ):
            return
        self._owner = threading.get_ident()
        try:
            while not done() and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                # short selects: a waiter released by another thread (a close) is seen promptly
                events = self._select(self._timeout(min(left, _LEAD_SLICE)), True)
                if self._stopping:
                    return
                self._led += 1
                self._process(events)
        except (OSError, ValueError):  # the selector was closed under us: the loop has stopped
            return
        finally:
            self._owner = 0
            token.release()
            if self._ready or self._new_head or self._stopping:  # what the loop's thread, asleep, has not seen
                self._wake()

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("unexpected error in %r on the I/O thread", fn)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            self._wake_w.send(b"\0")

    # -- from any thread -------------------------------------------------------------------------
    def in_loop_thread(self) -> bool:
        """This thread is doing the loop's work (the loop's own thread, or a caller leading it)."""
        return threading.get_ident() == self._owner

    def guard(self, what: str) -> None:
        """Refuse a blocking call on the I/O thread itself: it would wait on itself forever."""
        if threading.get_ident() == self._owner:
            raise RuntimeError(
                f"{what}() was called on the client's I/O thread and would deadlock; call it from another thread"
            )

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the I/O thread soon, after what was handed over before it.
        ``RuntimeError`` once the loop has stopped."""
        if self.closed:
            raise RuntimeError("the I/O loop is closed")
        self._ready.append((fn, args))
        if self._sleeping or self._lead_sleeping:
            self._wake()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` on the I/O thread after ``delay`` seconds (unless cancelled)."""
        timer = Timer(time.monotonic() + max(0.0, delay), fn, args)
        if self.in_loop_thread():
            self._push(timer)
        else:
            self.call_soon(self._push, timer)
        return timer

    def _push(self, timer: Timer) -> None:
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        if self._timers[0][2] is timer:
            self._new_head = True

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn()`` on the I/O thread in the caller's context; its outcome comes in the future."""
        cfut: concurrent.futures.Future[T] = concurrent.futures.Future()
        ctx = contextvars.copy_context()

        def start() -> None:
            try:
                if not cfut.set_running_or_notify_cancel():
                    return
            except RuntimeError:  # already failed from outside (the client closed): nothing to run
                return
            # a waiter failed from outside meanwhile (fail_waiting, at a close) keeps that outcome
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                try:
                    result = ctx.run(fn)
                except BaseException as exc:
                    cfut.set_exception(exc)
                else:
                    cfut.set_result(result)

        self.call_soon(start)
        return cfut

    def run(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        """Run ``fn()`` on the loop and block at most ``timeout`` seconds for its result;
        :meth:`fail_waiting` ends the wait early. ``RuntimeError`` once the loop has stopped."""
        self.guard(what)
        return self.wait(self.submit(fn), timeout, what)

    def wait(self, fut: concurrent.futures.Future[T], timeout: float, what: str) -> T:
        """Wait for ``fut`` at most ``timeout`` seconds (see :func:`wait_future`);
        :meth:`fail_waiting` ends the wait early."""
        with self._waiting_lock:
            self._waiting[fut] = what
        try:
            return wait_future(fut, timeout)
        finally:
            with self._waiting_lock:
                self._waiting.pop(fut, None)

    def fail_waiting(self, error: Callable[[str], BaseException]) -> None:
        """End every :meth:`run` still waiting with ``error(what)`` (the client is closing:
        nobody should wait for a server that may never answer)."""
        with self._waiting_lock:
            waiting = list(self._waiting.items())
        for fut, what in waiting:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                fut.set_exception(error(what))

    def stop(self, timeout: float) -> None:
        """Stop the loop (what is still queued does not run) and join the thread, at most ``timeout``."""
        self._stopping = True
        self._wake()  # also from a leading caller: the loop's thread may sleep in select
        if self._thread.is_alive() and not self.in_loop_thread():
            self._thread.join(timeout)

    # -- on the I/O thread -----------------------------------------------------------------------
    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        self._set(fd, 0, callback)

    def remove_reader(self, fd: int) -> None:
        self._set(fd, 0, None)

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        self._set(fd, 1, callback)

    def remove_writer(self, fd: int) -> None:
        self._set(fd, 1, None)

    def _set(self, fd: int, which: int, callback: Callable[[], Any] | None) -> None:
        if self.closed:
            return
        callbacks = self._fds.get(fd)
        if callbacks is None:
            if callback is None:
                return
            callbacks = self._fds[fd] = [None, None]
            callbacks[which] = callback
            self._selector.register(fd, _READ if which == 0 else _WRITE, callbacks)
            return
        callbacks[which] = callback
        mask = (_READ if callbacks[0] is not None else 0) | (_WRITE if callbacks[1] is not None else 0)
        if mask:
            self._selector.modify(fd, mask, callbacks)
        else:
            del self._fds[fd]
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(fd)
