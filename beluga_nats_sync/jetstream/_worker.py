"""What JetStream's long-running workers (consume handles, key watchers) share: each is built on
a :class:`~.._core.dispatch.Dispatcher` thread, registered with the client as a worker (so the
client stops and joins it on close), and may run a watchdog on the I/O thread."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._core.dispatch import Dispatcher

if TYPE_CHECKING:
    from .._core.surface import Cancellable, FeatureSurface

__all__ = ["DispatchedWorker"]

_W = TypeVar("_W", bound="DispatchedWorker")


class DispatchedWorker:
    """What a worker built on a :class:`Dispatcher` shares (consume handles, key watchers): the
    client's worker protocol (``_shutdown`` stops it at once from the engine, ``_join`` waits for
    its thread) and use as a context manager that calls ``stop()`` on exit."""

    _disp: Dispatcher[Any]
    _engine: FeatureSurface
    _stopped: bool  # no more work is started on the I/O thread
    _watchdog: Cancellable | None  # the next run of the watchdog on the I/O thread, if any

    def stop(self) -> None:
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Stop at once (the client is closing, or ``stop()``): worker protocol."""
        self._disp.stopping = True
        self._stopped = True
        self._engine.call_soon(self._stop_watchdog)
        self._disp.end()

    @property
    def is_active(self) -> bool:
        return not self._disp.stopping

    def _start_watchdog(self, period: float, check: Callable[[], None]) -> None:
        """On the I/O thread: ``check()`` there every ``period`` seconds until the worker stops."""

        def tick() -> None:
            if self._stopped:
                return
            check()
            if not self._stopped:
                self._watchdog = self._engine.call_later(period, tick)

        self._stop_watchdog()
        self._watchdog = self._engine.call_later(period, tick)

    def _halt(self) -> None:
        """On the I/O thread: start no more work there."""
        self._stopped = True
        self._stop_watchdog()

    def _stop_watchdog(self) -> None:
        """On the I/O thread."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _join(self, timeout: float) -> bool:
        return self._disp.join(timeout)

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
