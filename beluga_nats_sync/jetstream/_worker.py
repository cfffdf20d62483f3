"""What JetStream's long-running workers (consume handles, key watchers) share: each is built on
a :class:`~.._core.dispatch.Dispatcher` thread and registered with the client as a worker, so the
client stops and joins it on close."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, TypeVar

from .._core.dispatch import Dispatcher

__all__ = ["DispatchedWorker"]

_W = TypeVar("_W", bound="DispatchedWorker")


class DispatchedWorker:
    """What a worker built on a :class:`Dispatcher` shares (consume handles, key watchers): the
    client's worker protocol (``_shutdown`` stops it at once from the engine, ``_join`` waits for
    its thread) and use as a context manager that calls ``stop()`` on exit."""

    _disp: Dispatcher[Any]
    _loop: Any  # the client's IOLoop
    _stopped: bool  # no more work is started on the I/O thread
    _watchdog: Any  # the worker's asyncio task on the I/O thread, if any

    def stop(self) -> None:
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Stop at once (the client is closing, or ``stop()``): worker protocol."""
        self._disp.stopping = True
        self._stopped = True
        self._cancel_on_loop(self._watchdog)
        self._disp.end()

    @property
    def is_active(self) -> bool:
        return not self._disp.stopping

    def _cancel_on_loop(self, task: Any) -> None:
        """Cancel an asyncio task or handle of the I/O thread from any thread (gone loop: ignored)."""
        if task is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon(task.cancel)

    def _join(self, timeout: float) -> bool:
        return self._disp.join(timeout)

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
