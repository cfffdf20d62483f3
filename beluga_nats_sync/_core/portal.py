"""The I/O thread: one asyncio loop per client, run in a daemon thread.

Shape borrowed from anyio's blocking portal: the loop starts in a named daemon thread, hands
readiness back through a ``concurrent.futures.Future``, and on stop cancels what is left, closes
the loop and is joined. Work submitted from other threads runs in a copy of the caller's
``contextvars`` context (so an OpenTelemetry span current in the caller stays the parent), and a
blocking call made on the loop's own thread raises ``RuntimeError`` instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["IOLoop", "wait_future"]

T = TypeVar("T")


def wait_future(fut: concurrent.futures.Future[T], timeout: float) -> T:
    """Wait for ``fut`` at most ``timeout`` seconds; ``TimeoutError`` past it.

    The wait is a lock acquisition with a timeout, which Ctrl-C interrupts on POSIX, so a
    ``KeyboardInterrupt`` reaches the caller promptly; the work is then cancelled.
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


class IOLoop:
    """An asyncio event loop running forever in its own daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._waiting: dict[concurrent.futures.Future[Any], str] = {}
        self._waiting_lock = threading.Lock()
        self._thread.start()
        self._ready.result(10.0)

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set_result, None)
        try:
            self.loop.run_forever()
        finally:
            try:
                tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
                for t in tasks:
                    t.cancel()
                if tasks:
                    self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                # the threads of the loop's default executor (name resolution), bounded: a lookup
                # stuck in the resolver is left to finish on its own
                with contextlib.suppress(asyncio.TimeoutError):
                    self.loop.run_until_complete(asyncio.wait_for(self.loop.shutdown_default_executor(), 2.0))
            finally:
                self.loop.close()

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def guard(self, what: str) -> None:
        """Refuse a blocking call on the I/O thread itself: it would wait on itself forever."""
        if threading.get_ident() == self._thread.ident:
            raise RuntimeError(
                f"{what}() was called on the client's I/O thread and would deadlock; call it from another thread"
            )

    def submit(self, coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run ``coro_fn()`` as a task on the loop, in the caller's context; return its future."""
        cfut: concurrent.futures.Future[T] = concurrent.futures.Future()
        ctx = contextvars.copy_context()

        def start() -> None:
            try:
                if not cfut.set_running_or_notify_cancel():
                    return
            except RuntimeError:  # already failed from outside (the client closed): nothing to run
                return
            try:
                # A task copies the context current when it is created: creating it inside
                # ctx.run gives it the caller's context on every Python (create_task's own
                # context= argument only exists from 3.11).
                task = ctx.run(self.loop.create_task, coro_fn())
            except BaseException as exc:  # the loop is closing: report it through the future
                cfut.set_exception(exc)
                return

            def done(t: asyncio.Task[T]) -> None:
                if cfut.done():
                    return
                if t.cancelled():
                    cfut.cancel()
                elif (exc := t.exception()) is not None:
                    cfut.set_exception(exc)
                else:
                    cfut.set_result(t.result())

            task.add_done_callback(done)

            def cancel_task(f: concurrent.futures.Future[T]) -> None:
                # cancelled or failed from outside (a timeout, Ctrl-C, the client closing): the
                # work is abandoned, so stop it
                if not task.done():
                    with contextlib.suppress(RuntimeError):  # the loop is gone
                        self.loop.call_soon_threadsafe(task.cancel)

            cfut.add_done_callback(cancel_task)

        self.loop.call_soon_threadsafe(start)
        return cfut

    def run(self, coro_fn: Callable[[], Coroutine[Any, Any, T]], timeout: float, what: str) -> T:
        """Run ``coro_fn()`` on the loop and block at most ``timeout`` seconds for its result;
        :meth:`fail_waiting` ends the wait early."""
        self.guard(what)
        fut = self.submit(coro_fn)
        with self._waiting_lock:
            self._waiting[fut] = what
        try:
            return wait_future(fut, timeout)
        finally:
            with self._waiting_lock:
                self._waiting.pop(fut, None)

    def fail_waiting(self, error: Callable[[str], BaseException]) -> None:
        """End every :meth:`run` still waiting with ``error(what)`` and cancel its work (the client
        is closing: nobody should wait for a server that may never answer)."""
        with self._waiting_lock:
            waiting = list(self._waiting.items())
        for fut, what in waiting:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                fut.set_exception(error(what))

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float) -> None:
        """Stop the loop (cancelling what runs on it) and join the thread, at most ``timeout``."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # already closed
                self.loop.call_soon_threadsafe(self.loop.stop)
            if threading.get_ident() != self._thread.ident:
                self._thread.join(timeout)
