"""Key-value buckets from synchronous code: :class:`KeyValue` and its :class:`KeyWatcher`.

Each call runs the engine's key-value support (through the seam) on the I/O thread, bounded by a timeout. Entries
cross to the caller as frozen :class:`KeyValueEntry` values. A watch copies updates to a
dispatcher thread, which calls the user's callback one entry at a time; when the callback falls
behind, reading stops (up to nats-py's own buffer) instead of piling up entries in memory.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._core.dispatch import DispatchedWorker, Dispatcher
from .._core.jserrors import ERR_NO_MESSAGE_FOUND, bucket_not_found, key_not_found
from .._core.protocol import check_timeout, payload_bytes
from .._natspy.errors import translate_js
from .._natspy.jetstream import KeyValueConfig, StreamConfig, kv_watch, quietly
from ..errors import (
    JetStreamError,
    JetStreamNotEnabledError,
    KeyExistsError,
    NATSSyncError,
    NATSTimeoutError,
    StreamNotFoundError,
    WrongRevisionError,
)
from ._api import left
from ._read import read_stream
from .api import JetStreamLike, check_key

__all__ = ["KeyValue", "KeyValueEntry", "KeyWatcher", "KvCallback", "kv_stream_config"]

log = logging.getLogger("beluga_nats_sync")

_WATCH_BACKLOG = 256  # entries waiting for the callback before the watch stops reading

# the headers of key-value writes, as nats.go and nats-py send them
HDR_OPERATION = "KV-Operation"
HDR_EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
HDR_ROLLUP = "Nats-Rollup"
OP_DEL = "DEL"
OP_PURGE = "PURGE"
_DUPLICATE_WINDOW = 120.0  # seconds; a bucket with a shorter ttl uses its ttl


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
    """From nats-py's watch entry."""
    return KeyValueEntry(
        bucket=e.bucket,
        key=e.key,
        value=e.value or b"",
        revision=int(e.revision or 0),
        operation=e.operation or "PUT",
        created=e.created,
        delta=e.delta,
    )


def kv_stream_config(cfg: KeyValueConfig) -> StreamConfig:
    """The stream behind a bucket, configured as nats-py and nats.go make it (``KV_<bucket>``)."""
    window = _DUPLICATE_WINDOW
    if cfg.ttl and cfg.ttl < window:
        window = cfg.ttl
    fields: dict[str, Any] = dict(
        name=f"KV_{cfg.bucket}",
        description=cfg.description,
        subjects=[f"$KV.{cfg.bucket}.>"],
        allow_direct=cfg.direct,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
        deny_delete=True,
        discard="new",
        duplicate_window=window,
        max_age=cfg.ttl,
        max_bytes=cfg.max_bytes,
        max_consumers=-1,
        max_msg_size=cfg.max_value_size,
        max_msgs=-1,
        max_msgs_per_subject=cfg.history,
        num_replicas=cfg.replicas,
        storage=cfg.storage,
        placement=cfg.placement,
        republish=cfg.republish,
    )
    marker_ttl = getattr(cfg, "limit_marker_ttl", None)
    if marker_ttl:
        fields["subject_delete_marker_ttl"] = marker_ttl
    known = {f.name for f in dataclasses.fields(StreamConfig)}
    return StreamConfig(**{k: v for k, v in fields.items() if k in known})


def parse_headers(raw: bytes) -> dict[str, str]:
    """A ``NATS/1.0`` header block (as a stored message's ``hdrs`` carries it) as a dict."""
    out: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and name:
            out[name.strip()] = value.strip()
    return out


def _operation(headers: Mapping[str, str] | None) -> str:
    op = (headers or {}).get(HDR_OPERATION, "")
    return op if op in (OP_DEL, OP_PURGE) else "PUT"


class KeyValue:
    """A key-value bucket. Made by :meth:`JetStream.key_value` / :meth:`JetStream.create_key_value`.

    Keys are dot-separated like subjects (``agent-1.status``); values are bytes. Writes return the
    new revision, which :meth:`update` takes to write only if nobody wrote in between.
    """

    def __init__(self, js: JetStreamLike, bucket: str, *, direct: bool = False) -> None:
        self._js = js
        self.bucket = bucket
        self._stream = f"KV_{bucket}"
        self._pre = f"$KV.{bucket}."
        self._direct = direct  # the stream answers direct gets (from any replica)

    # -- reading ---------------------------------------------------------------------------------
    def get(self, key: str, *, revision: int | None = None, timeout: float | None = None) -> KeyValueEntry:
        """The current value of ``key`` (or the given ``revision`` of it); :class:`KeyNotFoundError`
        if it has none (never written, deleted or purged)."""
        check_key(key)
        if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int) or revision < 1):
            raise ValueError(f"revision must be an int >= 1 or None, got {revision!r}")
        entry = self._get(key, revision, self._js._t(timeout), "get")
        if entry is None or entry.operation != "PUT":
            raise key_not_found("get", self.bucket, key)
        return entry

    def _get(self, key: str, revision: int | None, timeout: float, what: str) -> KeyValueEntry | None:
        """The latest (or the given) revision of ``key``, deletes included; None if there is none."""
        subject = self._pre + key
        body: dict[str, Any] = {"seq": revision} if revision is not None else {"last_by_subj": subject}
        found = self._direct_get(body, timeout, what) if self._direct else None
        if found is None:
            api = self._js._api
            try:
                resp = api.request(f"STREAM.MSG.GET.{self._stream}", body, timeout, what, bucket=self.bucket, key=key)
            except JetStreamError as exc:
                if exc.err_code == ERR_NO_MESSAGE_FOUND:
                    return None
                raise
            m = resp.get("message") or {}
            hdrs: Mapping[str, str] | None = parse_headers(base64.b64decode(m["hdrs"])) if m.get("hdrs") else None
            data = base64.b64decode(m["data"]) if m.get("data") else b""
            found = (str(m.get("subject", "")), data, int(m.get("seq", 0)), hdrs)
        got_subject, data, seq, hdrs = found
        if not got_subject:  # a direct get found nothing
            return None
        if got_subject != subject:  # that revision is of another key
            return None
        return KeyValueEntry(self.bucket, key, data, seq, _operation(hdrs))

    def _direct_get(
        self, body: dict[str, Any], timeout: float, what: str
    ) -> tuple[str, bytes, int, Mapping[str, str] | None] | None:
        """A direct get: the stored message itself, or ('', ...) if there is none; None when the
        stream did not answer (then the plain get tells why)."""
        import json

        try:
            msg = self._js._api.request_msg(f"DIRECT.GET.{self._stream}", json.dumps(body).encode(), timeout, what)
        except JetStreamNotEnabledError:  # nothing serves direct gets of this stream: ask the API why
            return None
        hdrs = msg.headers or {}
        status = hdrs.get("Status")
        if status == "404":
            return ("", b"", 0, None)
        if status:
            return None
        return (hdrs.get("Nats-Subject", ""), msg.data, int(hdrs.get("Nats-Sequence", 0)), hdrs)

    def keys(self, *, timeout: float | None = None) -> list[str]:
        """The keys that have a value now (deleted ones excluded); [] for an empty bucket."""
        msgs = self._read(self._pre + ">", "last_per_subject", True, timeout, "keys")
        return [m.subject[len(self._pre) :] for m in msgs if _operation(m.headers) == "PUT"]

    def history(self, key: str, *, timeout: float | None = None) -> list[KeyValueEntry]:
        """Every revision of ``key`` still kept (up to the bucket's ``history``), oldest first,
        deletes included; :class:`KeyNotFoundError` if there is none."""
        check_key(key)
        msgs = self._read(self._pre + key, "all", False, timeout, "history", key)
        if not msgs:
            raise key_not_found("history", self.bucket, key)
        return [
            KeyValueEntry(
                self.bucket,
                key,
                m.data,
                m.sequence,
                _operation(m.headers),
                created=m.timestamp,
                delta=m.pending,
            )
            for m in msgs
        ]

    def _read(
        self, subject: str, policy: str, headers_only: bool, timeout: float | None, what: str, key: str | None = None
    ) -> list[Any]:
        js = self._js
        try:
            return read_stream(js, self._stream, subject, policy, headers_only, js._t(timeout), what)
        except StreamNotFoundError:
            raise bucket_not_found(what, self.bucket) from None

    # -- writing ---------------------------------------------------------------------------------
    def _publish(
        self, key: str, data: bytes, headers: dict[str, str] | None, timeout: float | None, what: str
    ) -> int:
        try:
            return self._js.publish(self._pre + key, data, headers=headers, timeout=timeout).seq
        except StreamNotFoundError:
            raise bucket_not_found(what, self.bucket) from None
        except WrongRevisionError as exc:
            raise WrongRevisionError(
                f"{what}: key {key!r} in bucket {self.bucket!r} is not at the expected revision "
                f"(server: {exc.description}); another writer came first: read it again and retry",
                code=exc.code,
                err_code=exc.err_code,
                description=exc.description,
            ) from None

    def put(self, key: str, value: bytes | bytearray | memoryview, *, timeout: float | None = None) -> int:
        """Set ``key`` to ``value``; return the new revision."""
        check_key(key)
        return self._publish(key, payload_bytes(value), None, timeout, "put")

    def create(self, key: str, value: bytes | bytearray | memoryview, *, timeout: float | None = None) -> int:
        """Set ``key`` only if it has no value; return the revision. :class:`KeyExistsError` if it has."""
        check_key(key)
        data = payload_bytes(value)
        deadline = time.monotonic() + self._js._t(timeout)
        try:
            return self._publish(key, data, {HDR_EXPECTED_LAST_SUBJECT_SEQ: "0"}, timeout, "create")
        except WrongRevisionError:
            # a deleted or purged key keeps a marker: it may be created again over that marker
            latest = self._get(key, None, left(deadline, "create"), "create")
            if latest is not None and latest.operation != "PUT":
                try:
                    last = {HDR_EXPECTED_LAST_SUBJECT_SEQ: str(latest.revision)}
                    return self._publish(key, data, last, left(deadline, "create"), "create")
                except WrongRevisionError:
                    pass  # someone else wrote it first
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
        return self._publish(key, data, {HDR_EXPECTED_LAST_SUBJECT_SEQ: str(last)}, timeout, "update")

    def delete(self, key: str, *, last: int | None = None, timeout: float | None = None) -> None:
        """Delete ``key`` (a delete marker; history is kept). With ``last``, only if that is its
        latest revision (:class:`WrongRevisionError` otherwise)."""
        check_key(key)
        if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
            raise ValueError(f"last must be an int >= 1 or None, got {last!r}")
        headers = {HDR_OPERATION: OP_DEL}
        if last is not None:
            headers[HDR_EXPECTED_LAST_SUBJECT_SEQ] = str(last)
        self._publish(key, b"", headers, timeout, "delete")

    def purge(self, key: str, *, timeout: float | None = None) -> None:
        """Delete ``key`` and all its earlier revisions."""
        check_key(key)
        self._publish(key, b"", {HDR_OPERATION: OP_PURGE, HDR_ROLLUP: "sub"}, timeout, "purge")

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
        kv = self._kv
        backend = self._engine.transport.jetstream()
        prefix = kv._js.api_prefix

        async def do_watch() -> None:
            self._room = asyncio.Event()
            self._nwatch = await kv_watch(
                backend, prefix, timeout, kv.bucket, self.key, include_history, ignore_deletes
            )
            self._task = asyncio.get_running_loop().create_task(self._pump())

        self._disp.start()
        self._engine.workers.add(self)
        try:
            try:
                self._engine.run(do_watch, timeout, "watch")
            except Exception as exc:
                err = translate_js(exc, "watch", bucket=kv.bucket, key=self.key)
                if err is exc:
                    raise
                raise err from None
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
