"""The one internal surface that features built on the client (``jetstream/``) may use beyond the
Client's public methods: raw subscriptions whose messages are handled on the I/O thread, work run
there (now, soon, later), requests with a waiter, and the connection's error reporting.

Nothing here names the transport or its event loop, so the engine underneath can change without
touching a feature. The one rule features rely on: the ``deliver`` callables of raw subscriptions
and the functions given to :meth:`FeatureSurface.call`, :meth:`~FeatureSurface.call_soon` and
:meth:`~FeatureSurface.call_later` never run at the same time as each other (they run on the I/O
thread), so the state they share needs no lock. None of them may block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import ClosedError
from .dispatch import Worker
from .msg import Msg
from .options import Options
from .requests import Waiter
from .transport import Deliver

if TYPE_CHECKING:
    from ..protocol.headers import HeadersInput

__all__ = ["Cancellable", "FeatureSurface"]

T = TypeVar("T")


class Cancellable(Protocol):
    def cancel(self) -> None:
        """Do not run it (when it has not run yet)."""


class FeatureSurface(Protocol):
    """What a feature may ask of the connection (implemented by ``Connection``)."""

    options: Options
    #: threads owned by features (consume handles, key watchers): stopped and joined on close
    workers: set[Worker]

    @property
    def is_open(self) -> bool:
        """Neither closing nor closed."""

    @property
    def connected(self) -> bool:
        """Connected now, with the client's wiring in place."""

    def closed_error(self, what: str = "client") -> ClosedError: ...

    def guard(self, what: str) -> None:
        """Raise ``RuntimeError`` when called on the I/O thread (a blocking call there would deadlock)."""

    def publish(self, subject: str, payload: Any, reply: str | None, headers: HeadersInput | None) -> None: ...

    def request(self, subject: str, payload: Any, timeout: float | None, headers: HeadersInput | None) -> Msg: ...

    def start_request(
        self, subject: str, payload: Any, headers: HeadersInput | None, waiter: Waiter, what: str = "request"
    ) -> str: ...

    def cancel_request(self, reply: str) -> bool: ...

    def report(self, exc: BaseException) -> None:
        """Hand an asynchronous error to ``error_cb`` (counted in the stats)."""

    def count_callback_error(self) -> None: ...

    def subscribe_raw(self, subject: str, deliver: Deliver, timeout: float, what: str) -> int:
        """Subscribe (blocking, at most ``timeout``; not on the I/O thread); every message goes to
        ``deliver(subject, data, reply, headers)`` on the I/O thread. Returns the sid."""

    def unsubscribe_sid(self, sid: int, timeout: float, limit: int = 0) -> None:
        """Remove a subscription (blocking, at most ``timeout``; not on the I/O thread)."""

    def call(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        """Run ``fn()`` on the I/O thread and return what it returned (blocking, at most ``timeout``)."""

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """From any thread: run ``fn(*args)`` on the I/O thread soon; nothing once the client closed."""

    def call_later(self, delay: float, fn: Callable[[], Any]) -> Cancellable:
        """On the I/O thread only: run ``fn()`` there after ``delay`` seconds."""

    def on_io_thread(self) -> bool: ...

    def lead(self, done: Callable[[], bool], deadline: float) -> None:
        """Not on the I/O thread: while nobody else does, run the I/O thread's work on this thread
        until ``done()`` or ``deadline`` (monotonic), so that what this thread waits for is read by
        it (a request's reply) with no hand-off; returns at once when another thread does."""
