"""Reading a stream once, in order: what key-value ``keys()`` and ``history()`` are made of.

An ephemeral push consumer (no acks, in memory) delivers the messages of one subject filter to
an inbox of our own, as nats.go's ordered consumer does; the read ends with the message that
says nothing is pending. A gap in the consumer's sequence (a message lost on a reconnect) starts
the read over, within the call's timeout.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Mapping

import attrs

from .._core.inbox import new_inbox
from ..errors import JetStreamError, NATSSyncError, NATSTimeoutError
from ._api import left
from .api import JetStreamLike
from .msg import parse_metadata
from .types import ConsumerConfig

__all__ = ["StoredMsg", "read_stream"]

_ATTEMPTS = 3
_INACTIVE = 5.0  # seconds: the server removes a consumer we could not delete ourselves


@attrs.frozen
class StoredMsg:
    """A message as the stream stores it, with where it stands in the read."""

    subject: str
    data: bytes
    headers: Mapping[str, str] | None
    sequence: int  # in the stream
    pending: int  # messages of the read still to come after this one
    timestamp: datetime.datetime | None


class _Gap(Exception):
    pass


class _Read:
    """One read in progress: filled on the I/O thread, waited for by the caller, woken by a
    close of the client (worker protocol)."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.got: list[StoredMsg] = []
        self.done = False
        self.gap = False
        self.gone = False

    def _shutdown(self) -> None:
        with self.cond:
            self.gone = True
            self.cond.notify_all()

    def _join(self, timeout: float) -> bool:
        return True  # no thread of its own


def read_stream(
    js: JetStreamLike,
    stream: str,
    subject: str,
    deliver_policy: str,
    headers_only: bool,
    timeout: float,
    what: str,
) -> list[StoredMsg]:
    """The messages of ``stream`` on ``subject`` (a filter), oldest first: all of them, or the
    last of each subject (``deliver_policy='last_per_subject'``); only their headers with
    ``headers_only``. Bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    for _ in range(_ATTEMPTS):
        try:
            return _read_once(js, stream, subject, deliver_policy, headers_only, deadline, what)
        except _Gap:
            continue
    raise JetStreamError(f"{what}: messages of stream {stream!r} kept arriving with gaps; try again")


def _read_once(
    js: JetStreamLike,
    stream: str,
    subject: str,
    deliver_policy: str,
    headers_only: bool,
    deadline: float,
    what: str,
) -> list[StoredMsg]:
    engine = js._engine
    inbox = new_inbox(engine.options.inbox_prefix)
    r = _Read()

    def on_msg(subj: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        md = parse_metadata(reply) if reply else None
        if md is None:  # a status (none is asked for): nothing to keep
            return
        with r.cond:
            if r.done or r.gap:
                return
            if md.consumer_sequence != len(r.got) + 1:
                r.gap = True
            else:
                r.got.append(StoredMsg(subj, data, headers, md.sequence, md.num_pending, md.timestamp))
                r.done = md.num_pending == 0
            if r.done or r.gap:
                r.cond.notify_all()

    sid = engine.subscribe_raw(inbox, on_msg, left(deadline, what), what)
    name = ""
    engine.workers.add(r)
    try:
        cfg = ConsumerConfig(
            deliver_subject=inbox,
            deliver_policy=deliver_policy,
            filter_subject=subject,
            ack_policy="none",
            max_deliver=1,
            headers_only=True if headers_only else None,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=_INACTIVE,
        )
        info = js._api.add_consumer(stream, cfg, left(deadline, what), what)
        name = info.name
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        if not info.num_pending and not delivered:
            return []  # nothing matches
        with r.cond:
            while not (r.done or r.gap or r.gone):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NATSTimeoutError(f"{what}: the messages of stream {stream!r} did not all arrive in time")
                r.cond.wait(remaining)
            if r.gone:
                raise engine.closed_error(what)
            if r.gap:
                raise _Gap()
            return r.got
    finally:
        engine.workers.discard(r)
        if name:  # no need to wait for it: the server would remove it after _INACTIVE anyway
            with contextlib.suppress(NATSSyncError):
                engine.publish(js._api.subject(f"CONSUMER.DELETE.{stream}.{name}"), b"", None, None)
        with contextlib.suppress(NATSSyncError):
            engine.unsubscribe_sid(sid, max(0.5, deadline - time.monotonic()))
