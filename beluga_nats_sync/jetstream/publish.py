"""Acknowledged publishing to JetStream: :class:`PubAck`, :class:`PubAckFuture`, and the
publishing half of the JetStream context.

A JetStream publish is a request to the subject itself, answered by the stream with an ack; it
goes through the client's request router (one waiter per publish), so ``publish_async``
pipelines as many as ``publish_async_max_pending`` without a thread or task of its own.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from .._core.protocol import check_timeout
from .._core.requests import Reply, Waiter
from ..errors import JetStreamError, JetStreamNotEnabledError, NATSTimeoutError, StreamNotFoundError
from ..protocol.headers import headers_with
from ._errors import api_error, not_enabled

if TYPE_CHECKING:
    from .._core.surface import FeatureSurface
    from ..protocol.headers import HeadersInput
    from ._api import JsApi

__all__ = ["PubAck", "PubAckFuture", "Publishing"]

_MSG_ID = "Nats-Msg-Id"


class _NoLeaderError(JetStreamError):
    """A publish nothing answered while the stream may exist: worth sending again shortly."""


_CHECK_TIMEOUT = 2.0  # for the "is JetStream there at all?" question after a no-responders answer


@attrs.frozen
class PubAck:
    """The server's acknowledgement of a JetStream publish: the message is stored.

    ``duplicate`` is True when a message with the same ``msg_id`` was already stored within the
    stream's duplicate window; ``seq`` is then the sequence of that earlier message.
    """

    stream: str
    seq: int
    duplicate: bool = False
    domain: str | None = None


class PubAckFuture:
    """The pending acknowledgement of :meth:`JetStream.publish_async`.

    :meth:`result` blocks until the ack is in and returns the :class:`PubAck` or raises; it never
    waits past the publish's own ``timeout``, after which the publish counts as failed with
    :class:`NATSTimeoutError` (the message may still have been stored: publish it again with the
    same ``msg_id`` to be sure without duplicating it).
    """

    __slots__ = ("_deadline", "_js", "_lock", "_outcome", "_subject", "_timeout", "_token", "_waiter")

    def __init__(self, js: Publishing, subject: str, waiter: Waiter, token: str, timeout: float) -> None:
        self._js = js
        self._subject = subject
        self._waiter = waiter
        self._token = token
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._outcome: PubAck | BaseException | None = None
        self._lock = threading.Lock()

    def done(self) -> bool:
        """True once the ack (or an error) is in, or the publish's timeout has passed."""
        if self._outcome is not None or self._waiter.msg is not None or self._waiter.error is not None:
            return True
        return time.monotonic() >= self._deadline

    def result(self, timeout: float | None = None) -> PubAck:
        """The :class:`PubAck`; waits at most ``timeout`` (default: until the publish's own
        timeout). Raises what a :meth:`JetStream.publish` would."""
        outcome = self._outcome if self._outcome is not None else self._wait(timeout)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The error the publish ended with, or None if it was acknowledged."""
        try:
            self.result(timeout)
        except NATSTimeoutError as exc:
            if self._outcome is None:  # only the wait ran out: the publish is still pending
                raise
            return exc
        except Exception as exc:
            return exc
        return None

    def _wait(self, timeout: float | None) -> PubAck | BaseException:
        js = self._js
        js._engine.guard("result")
        remaining = self._deadline - time.monotonic()
        limit = remaining if timeout is None else min(check_timeout(timeout, remaining), remaining)
        lock = self._waiter.lock
        if self._waiter.wait(limit, js._engine.lead):  # reading the acknowledgement itself if it can
            lock.release()  # leave it open for any other thread waiting on this future
        elif limit < remaining:
            raise NATSTimeoutError(f"no acknowledgement yet for the publish to {self._subject!r} (still pending)")
        elif js._engine.cancel_request(self._token):
            return self._settle(
                NATSTimeoutError(f"publish to {self._subject!r}: no acknowledgement within {self._timeout:g} s")
            )
        elif not lock.acquire(True, 1.0):  # the ack raced the deadline: it is being handed over
            return self._settle(NATSTimeoutError(f"publish to {self._subject!r}: acknowledgement lost"))
        else:
            lock.release()
        with self._lock:
            if self._outcome is not None:
                return self._outcome
        w = self._waiter
        try:
            within = self._deadline - time.monotonic()
            outcome: PubAck | BaseException = js._parse_ack(self._subject, w.msg, w.error, "publish", within)
        except Exception as exc:
            outcome = exc
        return self._settle(outcome)

    def _settle(self, outcome: PubAck | BaseException) -> PubAck | BaseException:
        with self._lock:
            if self._outcome is None:
                self._outcome = outcome
            return self._outcome

    def __repr__(self) -> str:
        state = repr(self._outcome) if self._outcome is not None else ("done" if self.done() else "pending")
        return f"<PubAckFuture {self._subject!r} {state}>"


class Publishing:
    """The publishing half of :class:`~.context.JetStream` (which sets these attributes)."""

    _engine: FeatureSurface
    timeout: float
    max_pending: int
    _pending: collections.deque[PubAckFuture]
    _pending_lock: threading.Lock
    _api: JsApi

    def _t(self, timeout: float | None) -> float:
        return check_timeout(timeout, self.timeout, wait=True)

    def publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        timeout: float | None = None,
    ) -> PubAck:
        """Publish to the stream that captures ``subject`` and block until it is stored.

        ``headers``: a str or a list of str per name (each value its own header line), or a
        :class:`~beluga_nats_sync.Headers`; ``msg_id`` is added to them as ``Nats-Msg-Id``.

        ``msg_id`` deduplicates: within the stream's ``duplicate_window`` (2 minutes by default)
        a second message with the same id is not stored again and its ack says ``duplicate``.
        Raises :class:`StreamNotFoundError` when no stream captures the subject,
        :class:`NATSTimeoutError` when no ack came within ``timeout``.
        """
        t = self._t(timeout)
        deadline = time.monotonic() + t
        pause = 0.05
        while True:
            try:
                return self._start(subject, payload, headers, msg_id, t).result()
            except _NoLeaderError:
                # Nothing received the message (no responders), so sending it again cannot store it
                # twice: wait for the stream's new leader, within the publish's own timeout.
                t = deadline - time.monotonic()
                if t <= pause:
                    raise
                time.sleep(pause)  # a bounded back-off (Ctrl-C interrupts it)
                pause = min(pause * 2, 0.5)
                t = deadline - time.monotonic()

    def publish_async(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        timeout: float | None = None,
    ) -> PubAckFuture:
        """Publish like :meth:`publish` but return at once with a :class:`PubAckFuture`.

        Publishes pipeline: many are in flight while acks come back. At most
        ``publish_async_max_pending`` acks are outstanding per context; past that this call
        waits for the oldest (bounded by its timeout). :meth:`publish_async_complete` waits for all.
        """
        t = self._t(timeout)
        pending = self._pending
        while True:
            with self._pending_lock:
                while pending and pending[0].done():
                    pending.popleft()
                oldest = pending.popleft() if len(pending) >= self.max_pending else None
            if oldest is None:
                break
            with contextlib.suppress(NATSTimeoutError):  # never raised without a timeout; be safe
                oldest.exception()  # waits until its ack or its own deadline
        fut = self._start(subject, payload, headers, msg_id, t)
        with self._pending_lock:
            pending.append(fut)
        return fut

    def publish_async_complete(self, timeout: float | None = None) -> None:
        """Wait until every :meth:`publish_async` so far has its ack (or has failed); raise
        :class:`NATSTimeoutError` if some are still outstanding after ``timeout``. The outcome
        of each is in its future."""
        t = self._t(timeout)
        deadline = time.monotonic() + t
        self._engine.guard("publish_async_complete")
        with self._pending_lock:
            outstanding = list(self._pending)
        for fut in outstanding:
            remaining = deadline - time.monotonic()
            try:
                fut.exception(max(0.0, remaining))
            except NATSTimeoutError:
                left = sum(1 for f in outstanding if not f.done())
                raise NATSTimeoutError(
                    f"publish_async_complete: {left} acknowledgement(s) still outstanding after {t:g} s"
                ) from None
        with self._pending_lock:
            while self._pending and self._pending[0].done():
                self._pending.popleft()

    @property
    def publish_async_pending(self) -> int:
        """Asynchronous publishes whose ack has not come in yet."""
        with self._pending_lock:
            outstanding = list(self._pending)
        return sum(1 for f in outstanding if not f.done())

    def _start(
        self,
        subject: str,
        payload: Any,
        headers: HeadersInput | None,
        msg_id: str | None,
        timeout: float,
    ) -> PubAckFuture:
        if msg_id is not None:
            if not isinstance(msg_id, str) or not msg_id or "\r" in msg_id or "\n" in msg_id:
                raise ValueError(f"msg_id must be a non-empty one-line str, got {msg_id!r}")
            headers = headers_with(headers, {_MSG_ID: msg_id})
        waiter = Waiter()
        token = self._engine.start_request(subject, payload, headers, waiter, "publish")
        return PubAckFuture(self, subject, waiter, token, timeout)

    def _parse_ack(self, subject: str, nmsg: Any, error: BaseException | None, what: str, within: float) -> PubAck:
        if error is not None:
            raise error
        ack = _ack_or_none(nmsg, subject, what)
        if ack is None:
            raise self._no_stream(subject, what, within)
        return ack

    def _no_stream(self, subject: str, what: str, within: float) -> BaseException:
        """Nothing answered a publish (so nothing was stored). Ask JetStream, within what is left of
        the publish's time, which it is: no stream captures the subject, the stream that does has
        no leader right now (a replicated stream electing one), or no JetStream at all."""
        t = min(_CHECK_TIMEOUT, within)
        unknown = _NoLeaderError(
            f"{what} to {subject!r}: nothing answered; no stream captures the subject, or its stream has no "
            "leader right now (JetStream did not say which in time); publish again, with the same msg_id",
            code=503,
        )
        if t < 0.01:
            return unknown
        try:
            stream = self._api.stream_for_subject(subject, t, what)
        except JetStreamNotEnabledError:
            return not_enabled(what)
        except Exception:
            return unknown
        if stream is not None:
            return _NoLeaderError(
                f"{what} to {subject!r}: stream {stream!r} captures the subject but did not answer: it has no "
                "leader right now (an election, or too few of its replicas up); publish again, with the same msg_id",
                code=503,
            )
        return StreamNotFoundError(
            f"{what}: no stream captures subject {subject!r}; create one with "
            f"js.add_stream(name=..., subjects=[{subject!r}])",
            code=503,
        )

    def _publish_dead_letter(
        self, subject: str, payload: bytes, headers: HeadersInput, msg_id: str, stored: bool
    ) -> None:
        """Publish a dead letter: stored and acknowledged if a stream captures ``subject`` (as
        found when the consumer started), else as a plain NATS message. Raises on a failure."""
        if stored:
            try:
                self._start(subject, payload, headers, msg_id, self.timeout).result()
                return
            except StreamNotFoundError:  # the stream went away since: fall back to plain NATS
                pass
        self._engine.publish(subject, payload, None, headers)


def _ack_or_none(nmsg: Reply, subject: str, what: str) -> PubAck | None:
    """Parse a publish acknowledgement; None if nothing captured the subject (no responders)."""
    if nmsg.no_responders:
        return None
    try:
        resp = json.loads(nmsg.data)
    except ValueError:
        raise JetStreamError(f"{what} to {subject!r}: the answer is not a JetStream acknowledgement") from None
    err = resp.get("error")
    if err is not None:
        raise api_error(err.get("code"), err.get("err_code"), err.get("description"), f"{what} to {subject!r}")
    return PubAck(
        stream=resp["stream"], seq=int(resp["seq"]), duplicate=bool(resp.get("duplicate")), domain=resp.get("domain")
    )
