"""Key-value buckets from synchronous code: :class:`KeyValue` and its :class:`KeyWatcher`.

Each call runs the engine's key-value support (through the seam) on the I/O thread, bounded by a timeout. Entries
cross to the caller as frozen :class:`KeyValueEntry` values. A watch copies updates to a
dispatcher thread, which calls the user's callback one entry at a time; when the callback falls
behind, reading stops (up to nats-py's own buffer) instead of piling up entries in memory.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from .._core.dispatch import DispatchedWorker, Dispatcher
from .._core.protocol import check_timeout, payload_bytes
from .._natspy.errors import translate_js
from .._natspy.jetstream import kv_keys, quietly
from ..errors import KeyExistsError, NATSSyncError, NATSTimeoutError, WrongRevisionError
from .api import JetStreamLike, check_key

__all__ = ["KeyValue", "KeyValueEntry", "KeyWatcher", "KvCallback"]

log = logging.getLogger("beluga_nats_sync")

_WATCH_BACKLOG = 256  # entries waiting for the callback before the watch stops reading


@attrs.frozen
class KeyValueEntry:
    """One revision of a key: ``value`` (b'' for a delete), ``revision`` (the stream sequence,
    growing across the bucket), ``operation`` ('PUT', 'DEL' or 'PURGE'); ``created`` and
    ``delta`` (revisions still to come in a watch) are set on entries from watch and history."""

    bucket: str
    key: str
    value: bytes
    revision: int
    operation: str = "PUT"
    created: datetime.datetime | None = None
    delta: int | None = None


KvCallback = Callable[[KeyValueEntry], Any]


def _entry(e: Any) -> KeyValueEntry:
    return KeyValueEntry(
        bucket=e.bucket,
        key=e.key,
        value=e.value or b"",
        revision=int(e.revision or 0),
        operation=e.operation or "PUT",
        created=e.created,
        delta=e.delta,
    )


class KeyValue:
    """A key-value bucket. Made by :meth:`JetStream.key_value` / :meth:`JetStream.create_key_value`.

    Keys are dot-separated like subjects (``agent-1.status``); values are bytes. Writes return the
    new revision, which :meth:`update` takes to write only if nobody wrote in between.
    """

    def __init__(self, js: JetStreamLike, nkv: Any, bucket: str) -> None:
        self._js = js
        self._nkv = nkv  # the engine's key-value object: used on the I/O thread only
        self.bucket = bucket

    def _call(self, fn: Callable[[], Any], timeout: float | None, what: str, key: str | None = None) -> Any:
        js = self._js
        e = js._engine
        if not e.is_open:
            raise e.closed_error(what)
        try:
            return e.run(fn, js._t(timeout), what)
        except Exception as exc:
            err = translate_js(exc, what, bucket=self.bucket, key=key)
            if err is exc:
                raise
            raise err from None

    def get(self, key: str, *, revision: int | None = None, timeout: float | None = None) -> KeyValueEntry:
        """The current value of ``key`` (or the given ``revision`` of it); :class:`KeyNotFoundError`
        if it has none (never written, deleted or purged)."""
        check_key(key)
        if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int) or revision < 1):
            raise ValueError(f"revision must be an int >= 1 or None, got {revision!r}")
        nkv = self._nkv

        async def do_get() -> KeyValueEntry:
            return _entry(await nkv.get(key, revision))

        return self._call(do_get, timeout, "get", key)  # type: ignore[no-any-return]

    def put(self, key: str, value: bytes | bytearray | memoryview, *, timeout: float | None = None) -> int:
        """Set ``key`` to ``value``; return the new revision."""
        check_key(key)
        data = payload_bytes(value)
        nkv = self._nkv
        return int(self._call(lambda: nkv.put(key, data), timeout, "put", key))

    def create(self, key: str, value: bytes | bytearray | memoryview, *, timeout: float | None = None) -> int:
        """Set ``key`` only if it has no value; return the revision. :class:`KeyExistsError` if it has."""
        check_key(key)
        data = payload_bytes(value)
        nkv = self._nkv
        try:
            return int(self._call(lambda: nkv.create(key, data), timeout, "create", key))
        except WrongRevisionError:
            raise KeyExistsError(
                f"create: key {key!r} already has a value in bucket {self.bucket!r}; update() it with its revision",
                code=400,
                err_code=10071,
            ) from None

    def update(
        self, key: str, value: bytes | bytearray | memoryview, last: int, *, timeout: float | None = None
    ) -> int:
        """Set ``key`` only if its latest revision is ``last``; return the new revision.

        :class:`WrongRevisionError` if someone wrote it since (read it again and retry).
        """
        check_key(key)
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            raise ValueError(f"last must be the key's current revision (an int >= 0), got {last!r}")
        data = payload_bytes(value)
        nkv = self._nkv
        return int(self._call(lambda: nkv.update(key, data, last), timeout, "update", key))

    def delete(self, key: str, *, last: int | None = None, timeout: float | None = None) -> None:
        """Delete ``key`` (a delete marker; history is kept). With ``last``, only if that is its
        latest revision (:class:`WrongRevisionError` otherwise)."""
        check_key(key)
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise ValueError(f"last must be an int >= 1 or None, got {last!r}")
        nkv = self._nkv
        self._call(lambda: nkv.delete(key, last), timeout, "delete", key)

    def purge(self, key: str, *, timeout: float | None = None) -> None:
        """Delete ``key`` and all its earlier revisions."""
        check_key(key)
        nkv = self._nkv
        self._call(lambda: nkv.purge(key), timeout, "purge", key)

    def keys(self, *, timeout: float | None = None) -> list[str]:
        """The keys that have a value now (deleted ones excluded); [] for an empty bucket."""
        nkv = self._nkv

        return self._call(lambda: kv_keys(nkv), timeout, "keys")  # type: ignore[no-any-return]

    def history(self, key: str, *, timeout: float | None = None) -> list[KeyValueEntry]:
        """Every revision of ``key`` still kept (up to the bucket's ``history``), oldest first,
        deletes included; :class:`KeyNotFoundError` if there is none."""
        check_key(key)
        nkv = self._nkv

        async def do_history() -> list[KeyValueEntry]:
            return [_entry(e) for e in await nkv.history(key)]

        return self._call(do_history, timeout, "history", key)  # type: ignore[no-any-return]

    def watch(
        self,
        key: str,
        callback: KvCallback,
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
        timeout: float | None = None,
    ) -> KeyWatcher:
        """Call ``callback(entry)`` on a dispatcher thread for the current value of each key
        matching ``key`` (wildcards ``*`` and ``>`` accepted), then for every change, in order,
        until :meth:`KeyWatcher.stop`. Deletes arrive as entries with ``operation`` 'DEL' or
        'PURGE' unless ``ignore_deletes``; ``include_history`` starts with every kept revision."""
        check_key(key, wildcards=True)
        if not callable(callback):
            raise TypeError(f"callback must be callable (it receives a KeyValueEntry), got {type(callback).__name__}")
        if asyncio.iscoroutinefunction(callback):
            raise TypeError("callback must be a plain function, not a coroutine function; it runs on its own thread")
        w = KeyWatcher(self, key, callback)
        w._start(include_history, ignore_deletes, self._js._t(timeout))
        return w

    def __repr__(self) -> str:
        return f"<KeyValue bucket={self.bucket!r}>"


_INITIAL_DONE = object()


class KeyWatcher(DispatchedWorker):
    """A running :meth:`KeyValue.watch`; end it with :meth:`stop` (or a ``with`` block).

    ``initialized`` turns True once the callback has seen every value that existed when the
    watch started; entries after that are changes.
    """

    def __init__(self, kv: KeyValue, key: str, callback: KvCallback) -> None:
        self._kv = kv
        self._engine = kv._js._engine
        self._loop = self._engine.loop
        self.key = key
        self._callback = callback
        self._initialized = threading.Event()
        self._disp: Dispatcher[Any] = Dispatcher(
            f"nats-kv-{kv.bucket}-{key}",
            self._deliver,
            lambda item: None,
            low_water=_WATCH_BACKLOG,
            on_room=self._room_from_thread,
        )
        self._nwatch: Any = None
        self._task: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None
        self.delivered = 0
        self.errors = 0

    def _start(self, include_history: bool, ignore_deletes: bool, timeout: float) -> None:
        nkv = self._kv._nkv

        async def do_watch() -> None:
            self._room = asyncio.Event()
            self._nwatch = await nkv.watch(self.key, include_history=include_history, ignore_deletes=ignore_deletes)
            self._task = asyncio.get_running_loop().create_task(self._pump())

        self._disp.start()
        self._engine.workers.add(self)
        try:
            self._kv._call(do_watch, timeout, "watch", self.key)
        except BaseException:
            self._shutdown()
            self._engine.workers.discard(self)
            raise

    # -- I/O thread --------------------------------------------------------------------------------
    async def _pump(self) -> None:
        disp = self._disp
        room = self._room
        assert room is not None
        async for e in self._nwatch:
            disp.put(_INITIAL_DONE if e is None else _entry(e))
            while not disp.has_room():
                room.clear()
                await room.wait()

    def _room_from_thread(self) -> None:
        room = self._room
        if room is not None:
            self._engine.loop.call_soon(room.set)

    # -- the dispatcher thread ----------------------------------------------------------------------
    def _deliver(self, item: Any) -> None:
        if item is _INITIAL_DONE:
            self._initialized.set()
            return
        self.delivered += 1
        try:
            self._callback(item)
        except BaseException:  # SystemExit and the like in a callback must not end the watch
            self.errors += 1
            self._engine.count_callback_error()
            log.exception("watch %r on bucket %r: callback raised; delivery goes on", self.key, self._kv.bucket)

    # -- stopping --------------------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """End the watch; the callback in progress finishes (waited for at most ``timeout``).
        Idempotent; may be called from the callback."""
        t = check_timeout(timeout, self._kv._js.timeout)
        deadline = time.monotonic() + t
        engine = self._engine
        first = not self._disp.stopping
        self._disp.stopping = True
        if first and engine.is_open and not engine.loop.in_loop_thread():
            try:
                engine.run(self._stop_on_loop, max(0.05, t), "stop")
            except NATSSyncError as exc:
                log.debug("watch %r: stop: %r", self.key, exc)
        self._shutdown()
        engine.workers.discard(self)
        if not self._disp.join(max(0.0, deadline - time.monotonic())):
            raise NATSTimeoutError(f"stop: the callback of the watch on {self.key!r} did not return within {t:g} s")

    async def _stop_on_loop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        w = self._nwatch
        if w is not None:
            await quietly(w.stop)

    def _shutdown(self) -> None:
        self._disp.stopping = True
        self._cancel_on_loop(self._task)
        self._disp.end()

    # -- observing --------------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return self._initialized.is_set()

    @property
    def is_active(self) -> bool:
        return not self._disp.stopping

    def __repr__(self) -> str:
        state = "active" if self.is_active else "stopped"
        return f"<KeyWatcher bucket={self._kv.bucket!r} key={self.key!r} {state} delivered={self.delivered}>"
