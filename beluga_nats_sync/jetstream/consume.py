"""Durable pull consumers from synchronous code: :class:`ConsumeHandle` (a callback on a
dispatcher thread, acknowledged for you), and binding a durable (:func:`ensure_consumer`, used
by :class:`~.pull.PullSubscription` too, which fetches batches when you want).

``consume()`` keeps pull requests outstanding on the I/O thread for as many messages as its
dispatcher has room for (refilling at half), so a message is handed over as soon as it arrives and
at most ``batch`` wait locally (each one's ack-wait timer runs while it waits). Idle heartbeats
from the server prove a request is alive; when they stop (a server restart, a lost connection)
the request is presumed lost and made again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._core.dispatch import Dispatcher
from .._core.inbox import new_inbox
from .._core.protocol import check_timeout
from .._retry import HandlerRunner, Letter, Next, Outcome
from ..errors import (
    ConsumerNotFoundError,
    JetStreamError,
    MsgAlreadyAckedError,
    NATSSyncError,
    NATSTimeoutError,
    StreamNotFoundError,
)
from ..protocol.headers import Headers, header_text
from ._api import left
from ._worker import DispatchedWorker
from .api import JetStreamLike
from .msg import JetStreamMsg, parse_metadata
from .types import AckPolicy, ConsumerConfig, ConsumerInfo

if TYPE_CHECKING:
    from .._core.surface import Cancellable, FeatureSurface

__all__ = ["ConsumeHandle", "JsCallback", "ensure_consumer"]

log = logging.getLogger("beluga_nats_sync")

JsCallback = Callable[[JetStreamMsg], Any]

_RETRY_PAUSES = (0.1, 0.25, 0.5, 1.0, 2.0)  # after a failed pull, before asking again


def ensure_consumer(
    js: JetStreamLike,
    stream: str | None,
    durable: str,
    subject: str,
    wanted: dict[str, Any],
    what: str,
    deadline: float,
) -> tuple[str, ConsumerInfo]:
    """Find the stream, then create the durable pull consumer or bring the settings the caller
    named up to date. Settings the caller did not name are left alone, so a durable made
    elsewhere (say, with another deliver policy) can be bound to."""
    api = js._api
    if stream is None:
        stream = api.stream_for_subject(subject, left(deadline, what), what)
        if stream is None:
            raise StreamNotFoundError(
                f"{what}: no stream captures subject {subject!r}; create one with js.add_stream()", code=404
            )
    info = api.consumer_or_none(stream, durable, left(deadline, what), what)
    if info is None:
        config = ConsumerConfig(
            name=durable, durable_name=durable, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT, **wanted
        )
        return stream, api.add_consumer(stream, config, left(deadline, what), what)
    cfg = info.config
    if cfg.deliver_subject:
        raise JetStreamError(
            f"{what}: consumer {durable!r} on stream {stream!r} is a push consumer; pull from another durable name"
        )
    filters = cfg.filter_subjects or ([cfg.filter_subject] if cfg.filter_subject else [])
    if filters and subject not in filters:
        raise JetStreamError(
            f"{what}: durable {durable!r} on stream {stream!r} filters {filters}, not {subject!r}; "
            "use another durable name, or delete the consumer first"
        )
    changes = {k: v for k, v in wanted.items() if _differs(getattr(cfg, k, None), v)}
    if changes:
        info = api.add_consumer(stream, cfg.evolve(**changes), left(deadline, what), what)
    return stream, info


def _differs(have: Any, want: Any) -> bool:
    if isinstance(have, float) or isinstance(want, float):
        return have is None or want is None or abs(float(have) - float(want)) > 1e-9
    return bool(have != want)


class ConsumeHandle(DispatchedWorker):
    """A running :meth:`JetStream.consume`: stop it with :meth:`stop` (or a ``with`` block).

    The callback runs on this handle's dispatcher thread, one message at a time. It returns: the
    message is acked. It raises: the message is nak'ed with the next ``backoff`` delay, or, on
    its ``max_deliver``-th delivery, published to ``dead_letter_subject`` (if given) and
    terminated. A callback may also answer the message itself (ack, nak, term).
    """

    def __init__(
        self,
        js: JetStreamLike,
        *,
        stream: str,
        durable: str,
        subject: str,
        callback: JsCallback,
        batch: int,
        max_deliver: int,
        backoff: tuple[float, ...],
        dead_letter_subject: str | None,
        dead_letter_stored: bool,
        expires: float,
    ) -> None:
        self._js = js
        self._engine: FeatureSurface = js._engine
        self.stream = stream
        self.durable = durable
        self.subject = subject
        self._callback = callback
        self.batch = batch
        self.max_deliver = max_deliver
        self.backoff = backoff
        self.dead_letter_subject = dead_letter_subject
        self._dead_letter_stored = dead_letter_stored
        self._expires = expires
        # the one dead-letter vocabulary (beluga_nats_sync.deadletter), plus, until the next release,
        # the names these dead letters had before; the original headers are kept, less the nats ones
        self._runner = HandlerRunner(
            max_attempts=max_deliver,
            delay=lambda attempt: self.backoff[min(attempt, len(self.backoff)) - 1],
            dead_letter_subject=lambda _: self.dead_letter_subject,
            publish=self._publish_dead_letter,
            report=self._report,
            count=self._count,
            log=log,
            catch=(BaseException,),
            deprecated_names=True,
            drop="Nats-",
        )
        self._heartbeat = min(max(expires / 4, 0.05), 5.0)
        self._next_subject = f"{js.api_prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._disp: Dispatcher[JetStreamMsg] = Dispatcher(
            f"nats-js-{durable}",
            self._process,
            self._give_back,
            low_water=batch // 2,
            on_room=self._room_from_thread,
        )
        # I/O-thread state
        self._nsub: int | None = None  # the sid of the inbox subscription
        self._inbox = ""
        self._watchdog: Cancellable | None = None
        self._last_seen = 0.0
        self._failures = 0
        self._retry_at = 0.0
        self._reported = False
        self._stopped = False
        # counters, written by the dispatcher thread only
        self.delivered = 0
        self.acked = 0
        self.naked = 0
        self.dead_lettered = 0
        self.errors = 0

    # -- start (called by JetStream.consume) -------------------------------------------------------
    def _start(self, timeout: float) -> None:
        engine = self._engine
        deadline = time.monotonic() + timeout
        self._disp.start()
        engine.workers.add(self)
        try:
            inbox = new_inbox(engine.options.inbox_prefix)
            self._nsub = engine.subscribe_raw(inbox, self._on_inbox, left(deadline, "consume"), "consume")
            engine.call(lambda: self._begin(inbox), left(deadline, "consume"), "consume")
        except BaseException:
            self.stop(1.0)
            raise

    def _begin(self, inbox: str) -> None:
        """On the I/O thread: the inbox is subscribed; start pulling."""
        self._inbox = inbox
        self._last_seen = time.monotonic()
        self._start_watchdog(min(self._heartbeat, 0.25), self._check)
        self._maybe_pull()

    # -- I/O thread: pulling -------------------------------------------------------------------------
    def _maybe_pull(self) -> None:
        if self._stopped or not self._engine.connected:
            return
        if time.monotonic() < self._retry_at:
            return  # the watchdog asks again when the pause is over
        disp = self._disp
        # has_room() arms the dispatcher's wake-up when it says no, so after each request the
        # dispatcher calls back once it has drained to half; the bound only guards the loop
        for _ in range(4):
            if not disp.has_room():
                return
            n = self.batch - disp.load
            if n <= 0:
                return
            req = {
                "batch": n,
                "expires": int(self._expires * 1e9),
                "idle_heartbeat": int(self._heartbeat * 1e9),
            }
            disp.reserved += n
            try:
                self._engine.publish(self._next_subject, json.dumps(req).encode(), self._inbox, None)
            except NATSSyncError as exc:  # closing, or the outbound buffer is full: the watchdog retries
                disp.reserved -= n
                log.debug("consume %r: pull request not sent: %r", self.durable, exc)
                return

    def _room_from_thread(self) -> None:
        self._engine.call_soon(self._maybe_pull)

    def _on_inbox(self, subject: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        """Every message on our inbox, on the I/O thread: a JetStream message or a status."""
        self._last_seen = time.monotonic()
        if reply:
            disp = self._disp
            if disp.reserved > 0:
                disp.reserved -= 1
            if self._stopped:  # the dispatcher is gone: hand it straight back
                with contextlib.suppress(NATSSyncError):
                    self._engine.publish(reply, b"-NAK", None, None)
                return
            disp.put(JetStreamMsg(subject, data, reply, headers, self._engine))
            if self._failures:
                self._failures = 0
                self._reported = False
            return
        hdrs = headers or {}
        status = hdrs.get("Status", "")
        if status == "100":
            return  # idle heartbeat: the request is alive
        pending = hdrs.get("Nats-Pending-Messages")
        if status in ("404", "408") and pending is not None:
            self._disp.reserved = max(0, self._disp.reserved - int(pending))
            self._maybe_pull()
            return
        # anything else ends what we asked for: start over, after a pause if it is an error
        self._disp.reserved = 0
        desc = str(hdrs.get("Description", "")).strip()
        if status == "409" and "Exceeded" in desc:
            self._fail(JetStreamError(f"consume {self.durable!r}: the server refused the pull request: {desc}"))
        elif status == "503":
            self._fail(
                ConsumerNotFoundError(
                    f"consume: consumer {self.durable!r} on stream {self.stream!r} is gone (deleted, or the "
                    "stream is unavailable); retrying",
                    code=503,
                )
            )
        elif status == "409" and ("Deleted" in desc or "push" in desc):
            self._fail(ConsumerNotFoundError(f"consume: consumer {self.durable!r}: {desc}; retrying", code=409))
        else:  # leadership change, server shutdown, ...: ask again after a short pause
            self._fail(None)

    def _fail(self, error: NATSSyncError | None) -> None:
        pause = _RETRY_PAUSES[min(self._failures, len(_RETRY_PAUSES) - 1)]
        self._failures += 1
        self._retry_at = time.monotonic() + pause
        if error is not None and not self._reported:
            self._reported = True  # once per episode, like slow consumers
            self._engine.report(error)

    def _check(self) -> None:
        """The watchdog: re-pull when a pause is over, and when no sign of life came for two
        heartbeats while a request should be open (its server went away: restart, reconnect)."""
        hb = self._heartbeat
        now = time.monotonic()
        if self._disp.reserved > 0 and now - self._last_seen > 2 * hb + 0.1:
            self._disp.reserved = 0
            self._last_seen = now
        if now >= self._retry_at:
            self._maybe_pull()

    # -- the dispatcher thread ------------------------------------------------------------------------
    def _process(self, msg: JetStreamMsg) -> None:
        md = parse_metadata(msg.reply)
        if md is None:  # not from a consumer: nothing to answer
            return
        letter = Letter(
            msg.subject,
            msg.data,
            msg.headers,
            message_id=(msg.headers or {}).get("Nats-Msg-Id") or "",
            stream=md.stream,
            consumer=md.consumer,
            stream_seq=md.sequence,
        )
        if md.num_delivered > self.max_deliver:  # earlier attempts ran out (crash, ack_wait)
            reason = f"max_deliver ({self.max_deliver}) reached without an acknowledgement"
            self._settle(msg, self._runner.give_up(letter, None, md.num_delivered, reason), reason)
            return
        self.delivered += 1
        outcome, error = self._runner.run(
            letter, lambda _: self._call(msg), lambda delay: self._redeliver(msg, delay), md.num_delivered
        )
        if outcome is Outcome.HANDLED:
            if not msg.is_acked and self._answer(msg.ack):
                self.acked += 1
        elif outcome is not Outcome.REDELIVERED:
            self._settle(msg, outcome, header_text(str(error) or type(error).__name__))

    def _call(self, msg: JetStreamMsg) -> None:
        try:
            self._callback(msg)
        except BaseException as exc:  # SystemExit and the like in a handler must not end consuming
            self.errors += 1
            self._engine.count_callback_error()
            if msg.is_acked:  # the callback answered the message itself: nothing left to do
                log.info("consume %r: callback raised after answering its message: %r", self.durable, exc)
                return
            raise

    def _redeliver(self, msg: JetStreamMsg, delay: float) -> Next:
        if self._answer(msg.nak, delay):
            self.naked += 1
        return Next.REDELIVERED

    def _settle(self, msg: JetStreamMsg, outcome: Outcome, text: str) -> None:
        """A message given up on: terminated, or, when its dead letter could not be published,
        kept (nak'ed with the longest backoff) to be tried again."""
        if outcome is Outcome.NOT_DEAD_LETTERED:
            if self._answer(msg.nak, self.backoff[-1]):
                self.naked += 1
            return
        self._answer(msg.term, f"dead-lettered: {text}"[:200])

    def _count(self, name: str) -> None:
        if name == "dead_lettered":
            self.dead_lettered += 1

    def _publish_dead_letter(self, dlq: str, letter: Letter, headers: Headers) -> None:
        # the id makes a repeated dead-lettering of this message a duplicate, not a copy
        msg_id = f"dlq.{letter.stream}.{letter.consumer}.{letter.stream_seq}"
        self._js._publish_dead_letter(dlq, letter.data, headers, msg_id, self._dead_letter_stored)

    def _report(self, text: str) -> None:
        self._engine.report(JetStreamError(f"consume {self.durable!r}: {text}"))

    def _answer(self, fn: Callable[..., None], *args: Any) -> bool:
        try:
            fn(*args)
            return True
        except MsgAlreadyAckedError:
            return False
        except NATSSyncError as exc:  # closed: the server redelivers after ack_wait
            log.debug("consume %r: answer not sent: %r", self.durable, exc)
            return False

    def _give_back(self, msg: JetStreamMsg) -> None:
        """Stopping: hand a message that was never processed back for prompt redelivery."""
        if not msg.is_acked:
            self._answer(msg.nak)

    # -- stopping -----------------------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """Stop: no new messages; the callback in progress finishes (waited for at most
        ``timeout``); messages received and not yet processed are nak'ed for prompt redelivery.

        The durable consumer stays on the server with its position. Idempotent; may be called
        from the callback itself.
        """
        t = check_timeout(timeout, self._js.timeout)
        deadline = time.monotonic() + t
        engine = self._engine
        first = not self._disp.stopping
        self._disp.stopping = True
        if first and engine.is_open and not engine.on_io_thread():
            try:
                engine.call(self._halt, max(0.05, t), "stop")
                if self._nsub is not None:
                    engine.unsubscribe_sid(self._nsub, max(0.05, deadline - time.monotonic()))
            except NATSSyncError as exc:
                log.debug("consume %r: stop: %r", self.durable, exc)
        else:
            self._shutdown()
        self._disp.end()
        engine.workers.discard(self)
        if not self._disp.join(max(0.0, deadline - time.monotonic())):
            raise NATSTimeoutError(f"stop: the callback of consume {self.durable!r} did not return within {t:g} s")

    # -- observing ----------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Messages received and waiting for the callback."""
        return self._disp.backlog

    def __repr__(self) -> str:
        state = "active" if self.is_active else "stopped"
        return (
            f"<ConsumeHandle durable={self.durable!r} stream={self.stream!r} {state} delivered={self.delivered} "
            f"acked={self.acked} naked={self.naked} dead_lettered={self.dead_lettered}>"
        )
