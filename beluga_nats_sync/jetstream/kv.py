"""Key-value buckets from synchronous code: :class:`KeyValue` (a watch: :mod:`.watch`).

A bucket is the stream ``KV_<bucket>`` on subjects ``$KV.<bucket>.<key>``, laid out as nats.go
and nats-py lay it out, so buckets are shared with them. Reads are JetStream API requests
(``STREAM.MSG.GET``, or ``DIRECT.GET`` when the bucket allows it); writes are JetStream
publishes with acknowledgement carrying the usual headers (``Nats-Expected-Last-Subject-Sequence``
for a conditional write, ``KV-Operation: DEL``/``PURGE`` and ``Nats-Rollup: sub`` for deletes).
Every call blocks the calling thread, bounded by a timeout; entries are frozen
:class:`KeyValueEntry` values.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

from .._core.handlers import check_handler
from .._core.protocol import payload_bytes
from ..errors import (
    JetStreamError,
    JetStreamNotEnabledError,
    KeyExistsError,
    StreamNotFoundError,
    WrongRevisionError,
)
from ._api import left
from ._errors import ERR_NO_MESSAGE_FOUND, bucket_not_found, key_not_found
from ._kvwire import (
    HDR_EXPECTED_LAST_SUBJECT_SEQ,
    HDR_OPERATION,
    HDR_ROLLUP,
    OP_DEL,
    OP_PURGE,
    KeyValueEntry,
    KvCallback,
    operation,
    parse_headers,
)
from ._read import read_stream
from .api import JetStreamLike, check_key
from .types import KeyValueConfig, StreamConfig
from .watch import KeyWatcher

__all__ = ["KeyValue", "KeyValueEntry", "KeyWatcher", "KvCallback", "kv_stream_config", "parse_headers"]

_DUPLICATE_WINDOW = 120.0  # seconds; a bucket with a shorter ttl uses its ttl


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
        return KeyValueEntry(self.bucket, key, data, seq, operation(hdrs))

    def _direct_get(
        self, body: dict[str, Any], timeout: float, what: str
    ) -> tuple[str, bytes, int, Mapping[str, str] | None] | None:
        """A direct get: the stored message itself, or ('', ...) if there is none; None when the
        stream did not answer (then the plain get tells why)."""
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
        return [m.subject[len(self._pre) :] for m in msgs if operation(m.headers) == "PUT"]

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
                operation(m.headers),
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
    def _publish(self, key: str, data: bytes, headers: dict[str, str] | None, timeout: float | None, what: str) -> int:
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
        check_handler(callback, "callback", "a KeyValueEntry")
        w = KeyWatcher(
            self._js, self.bucket, key, callback, include_history=include_history, ignore_deletes=ignore_deletes
        )
        w._start(self._js._t(timeout))
        return w

    def __repr__(self) -> str:
        return f"<KeyValue bucket={self.bucket!r}>"
