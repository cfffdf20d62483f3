"""Watching keys of a bucket: :class:`KeyWatcher`, an ordered push consumer of our own.

Like nats.go's ordered consumer: an ephemeral push consumer (no acks, in memory, with flow
control and idle heartbeats) delivers the bucket's stream to an inbox of the watch. The I/O
thread checks that the consumer's sequence grows by one; on a gap, a heartbeat naming another
last sequence, or heartbeats that stop (a lost connection, a restarted server, a deleted
consumer), the consumer is made again from the stream sequence after the last one delivered, so
nothing is missed and nothing is seen twice. That recreation runs on the watch's dispatcher
thread, in order with the entries, never on the I/O thread.

Back-pressure: entries go to the dispatcher thread, which calls the user's callback one at a
time; when it falls behind, the server's flow-control requests are answered only once the
dispatcher has room again, so the server stops sending instead of entries piling up in memory.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core.dispatch import Dispatcher
from .._core.inbox import new_inbox
from .._core.protocol import check_timeout
from ..errors import JetStreamError, NATSSyncError, NATSTimeoutError
from ._api import left
from ._kvwire import KeyValueEntry, KvCallback, operation
from ._worker import DispatchedWorker
from .api import JetStreamLike
from .msg import parse_metadata
from .types import ConsumerConfig

if TYPE_CHECKING:
    from .._core.surface import Cancellable

__all__ = ["KeyWatcher"]

log = logging.getLogger("beluga_nats_sync")

_WATCH_BACKLOG = 256  # entries waiting for the callback before flow control holds the server back
_HEARTBEAT = 5.0  # seconds between the server's idle heartbeats (nats.go and nats-py use 5 s)
_INACTIVE = 300.0  # the server removes a consumer nobody listens to after this long
_RETRY_PAUSES = (1.0, 2.0, 5.0, 10.0)  # after failed recreations in a row, before the next try


class _Reset:
    """A dispatcher item: make the consumer again (after a gap or silence)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_INITIAL_DONE = object()


class KeyWatcher(DispatchedWorker):
    """A running :meth:`KeyValue.watch`; end it with :meth:`stop` (or a ``with`` block).

    ``initialized`` turns True once the callback has seen every value that existed when the
    watch started; entries after that are changes.
    """

    def __init__(
        self,
        js: JetStreamLike,
        bucket: str,
        key: str,
        callback: KvCallback,
        *,
        include_history: bool = False,
        ignore_deletes: bool = False,
    ) -> None:
        self._js = js
        self._engine = js._engine
        self.bucket = bucket
        self.key = key
        self._stream = f"KV_{bucket}"
        self._pre = f"$KV.{bucket}."
        self._policy = "all" if include_history else "last_per_subject"
        self._ignore_deletes = ignore_deletes
        self._callback = callback
        self._heartbeat = _HEARTBEAT
        self._initialized = threading.Event()
        self._disp: Dispatcher[Any] = Dispatcher(
            f"nats-kv-{bucket}-{key}",
            self._deliver,
            lambda item: None,
            low_water=_WATCH_BACKLOG,
            on_room=self._room_from_thread,
        )
        # I/O-thread state (written there only, except before the first subscription)
        self._gen = 0  # which consumer's messages count: bumped on each recreation
        self._sid: int | None = None
        self._cseq = 0  # the consumer sequence last seen
        self._sseq = 0  # the stream sequence (revision) last delivered
        self._last_seen = 0.0
        self._fc_reply: str | None = None  # a flow-control request held back until there is room
        self._resetting = False
        self._failures = 0  # recreations failed in a row (the dispatcher thread's count)
        self._initial = True  # still delivering the values that existed at the start
        self._stopped = False
        self._watchdog: Cancellable | None = None
        # the consumer on the server (written by the thread that makes it)
        self._consumer = ""
        self.delivered = 0
        self.errors = 0
        self.resets = 0

    # -- making the consumer (caller thread at start, dispatcher thread after a gap) ---------------
    def _start(self, timeout: float) -> None:
        self._disp.start()
        self._engine.workers.add(self)
        try:
            self._make(time.monotonic() + timeout, start_seq=0)
        except BaseException:
            self._shutdown()
            self._engine.workers.discard(self)
            raise

    def _make(self, deadline: float, start_seq: int) -> None:
        """Subscribe a new inbox and create the consumer that delivers to it, from the stream
        sequence ``start_seq`` (0: by the watch's own policy)."""
        engine = self._engine
        if self._stopped:
            return
        inbox = new_inbox(engine.options.inbox_prefix)
        old = self._consumer
        gen = [0]  # this consumer's generation: set on the I/O thread before it can deliver anything
        sid = engine.subscribe_raw(
            inbox, lambda s, d, r, h: self._on_msg(gen[0], s, d, r, h), left(deadline, "watch"), "watch"
        )
        switched, prev = engine.call(lambda: self._switch(sid, gen), left(deadline, "watch"), "watch")
        if prev is not None:
            engine.unsubscribe_sid(prev, left(deadline, "watch"))
        if not switched:
            return
        if old:
            self._delete_consumer(old)
        cfg = ConsumerConfig(
            deliver_subject=inbox,
            deliver_policy="by_start_sequence" if start_seq else self._policy,
            opt_start_seq=start_seq or None,
            filter_subject=self._pre + self.key,
            ack_policy="none",
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=self._heartbeat,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=_INACTIVE,
        )
        info = self._js._api.add_consumer(
            self._stream, cfg, left(deadline, "watch"), "watch", bucket=self.bucket, key=self.key
        )
        self._consumer = info.name
        if self._stopped:  # stopped meanwhile: nobody will read it
            self._delete_consumer(info.name)
            return
        if self._initial and not info.num_pending and not (info.delivered and info.delivered.consumer_seq):
            self._initial = False  # nothing existed: every entry from now on is a change
            self._initialized.set()

    def _delete_consumer(self, name: str) -> None:
        """Delete a consumer without waiting (it would go by itself once nobody listens)."""
        with contextlib.suppress(NATSSyncError):
            subject = self._js._api.subject(f"CONSUMER.DELETE.{self._stream}.{name}")
            self._engine.publish(subject, b"", None, None)

    # -- I/O thread ----------------------------------------------------------------------------------
    def _switch(self, sid: int, gen: list[int]) -> tuple[bool, int | None]:
        """Count only the new subscription's messages from now on; return whether it is in use
        and the sid to unsubscribe (the one it replaces, or itself when the watch has stopped)."""
        if self._stopped:
            return False, sid
        gen[0] = self._gen + 1
        prev, self._sid, self._gen = self._sid, sid, gen[0]
        self._cseq = 0
        self._fc_reply = None
        self._last_seen = time.monotonic()
        if self._watchdog is None:
            self._start_watchdog(min(self._heartbeat / 2, 1.0), self._check)
        return True, prev

    def _on_msg(self, gen: int, subject: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        if gen != self._gen or self._stopped:
            return  # from a consumer replaced since
        self._last_seen = time.monotonic()
        hdrs = headers or {}
        status = hdrs.get("Status")
        if status is not None and not data:
            if status == "100":
                if reply:  # a flow-control request
                    self._answer_flow_control(reply)
                    return
                stalled = hdrs.get("Nats-Consumer-Stalled")
                if stalled:
                    self._answer_flow_control(stalled)
                last = hdrs.get("Nats-Last-Consumer")
                if last is not None and last.isdigit() and int(last) != self._cseq:
                    self._reset(f"the heartbeat says {last}, the last seen was {self._cseq}")
            return
        md = parse_metadata(reply) if reply else None
        if md is None:
            return
        if md.consumer_sequence != self._cseq + 1:
            self._reset(f"sequence {md.consumer_sequence} after {self._cseq}")
            return
        self._cseq = md.consumer_sequence
        self._sseq = md.sequence
        op = operation(headers)
        if not (self._ignore_deletes and op != "PUT"):
            key = subject[len(self._pre) :]
            self._disp.put(
                KeyValueEntry(self.bucket, key, data, md.sequence, op, created=md.timestamp, delta=md.num_pending)
            )
        if self._initial and md.num_pending == 0:
            self._initial = False
            self._disp.put(_INITIAL_DONE)

    def _answer_flow_control(self, reply: str) -> None:
        if self._disp.has_room():
            self._fc_reply = None
            with contextlib.suppress(NATSSyncError):
                self._engine.publish(reply, b"", None, None)
        else:
            self._fc_reply = reply  # answered once the dispatcher has drained

    def _room_from_thread(self) -> None:
        self._engine.call_soon(self._on_room)

    def _on_room(self) -> None:
        reply = self._fc_reply
        if reply is not None and not self._stopped:
            self._answer_flow_control(reply)

    def _reset(self, reason: str) -> None:
        if self._resetting or self._stopped:
            return
        self._resetting = True
        self._gen += 1  # nothing more from this consumer counts
        self._disp.put(_Reset(reason))

    def _check(self) -> None:
        """The watchdog: make the consumer again when no sign of life came for two heartbeats
        (its server went away, the connection was lost, it was deleted)."""
        if self._resetting or not self._engine.connected:
            return
        if time.monotonic() - self._last_seen > 2 * self._heartbeat + 0.1:
            self._reset("no heartbeat")

    # -- the dispatcher thread ----------------------------------------------------------------------
    def _deliver(self, item: Any) -> None:
        if item is _INITIAL_DONE:
            self._initialized.set()
            return
        if isinstance(item, _Reset):
            self._recreate(item.reason)
            return
        self.delivered += 1
        try:
            self._callback(item)
        except BaseException:  # SystemExit and the like in a callback must not end the watch
            self.errors += 1
            self._engine.count_callback_error()
            log.exception("watch %r on bucket %r: callback raised; delivery goes on", self.key, self.bucket)

    def _recreate(self, reason: str) -> None:
        log.debug("watch %r on bucket %r: making its consumer again (%s)", self.key, self.bucket, reason)
        pause = 0.0
        try:
            # _sseq is not written while resetting: the old consumer's messages no longer count
            self._make(time.monotonic() + self._js.timeout, start_seq=self._sseq + 1 if self._sseq else 0)
            self.resets += 1
            self._failures = 0
        except NATSSyncError as exc:
            pause = _RETRY_PAUSES[min(self._failures, len(_RETRY_PAUSES) - 1)]
            self._failures += 1
            log.debug("watch %r on bucket %r: consumer not made again yet: %r", self.key, self.bucket, exc)
            if self._failures == 1 and not self._stopped:  # once per episode, like slow consumers
                self._engine.report(
                    JetStreamError(
                        f"watch {self.key!r} on bucket {self.bucket!r}: lost its consumer and cannot make it "
                        f"again yet ({exc}); retrying"
                    )
                )
        self._engine.call_soon(self._reset_done, pause)

    def _reset_done(self, pause: float) -> None:
        """On the I/O thread: the recreation ended; a failed one is tried again after ``pause``."""
        self._resetting = False
        if pause:
            self._last_seen = time.monotonic() - 2 * self._heartbeat - 0.1 + pause

    # -- stopping --------------------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """End the watch; the callback in progress finishes (waited for at most ``timeout``).
        Idempotent; may be called from the callback."""
        t = check_timeout(timeout, self._js.timeout)
        deadline = time.monotonic() + t
        engine = self._engine
        first = not self._disp.stopping
        self._disp.stopping = True
        if first and engine.is_open and not engine.on_io_thread():
            try:
                engine.call(self._halt, max(0.05, t), "stop")
                if self._sid is not None:
                    engine.unsubscribe_sid(self._sid, max(0.05, deadline - time.monotonic()))
            except NATSSyncError as exc:
                log.debug("watch %r: stop: %r", self.key, exc)
            if self._consumer:
                self._delete_consumer(self._consumer)
        self._shutdown()
        engine.workers.discard(self)
        if not self._disp.join(max(0.0, deadline - time.monotonic())):
            raise NATSTimeoutError(f"stop: the callback of the watch on {self.key!r} did not return within {t:g} s")

    # -- observing --------------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return self._initialized.is_set()

    def __repr__(self) -> str:
        state = "active" if self.is_active else "stopped"
        return f"<KeyWatcher bucket={self.bucket!r} key={self.key!r} {state} delivered={self.delivered}>"
