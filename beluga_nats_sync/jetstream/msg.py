"""JetStreamMsg: a message delivered by a JetStream consumer, with its acknowledgements.

It is a frozen :class:`Msg` built on the I/O thread; it holds a narrow :class:`Acker` (publish
and request), not the client. Acknowledging is publishing a short payload to the
message's ``$JS.ACK...`` reply subject, so ``ack()``, ``nak()``, ``term()`` and ``in_progress()``
go through the client's thread-safe publish path and may be called from any thread.
"""

from __future__ import annotations

import datetime
import json
import threading
from typing import TYPE_CHECKING, Any, Protocol, cast

import attrs

from .._core.msg import Msg
from .._core.protocol import check_timeout
from ..errors import MsgAlreadyAckedError, NoReplySubjectError

if TYPE_CHECKING:
    from ..protocol.headers import HeadersInput

__all__ = ["Acker", "JetStreamMsg", "MsgMetadata"]


class Acker(Protocol):
    """What a JetStream message needs of its client to answer the server."""

    @property
    def options(self) -> Any: ...

    def publish(self, subject: str, payload: Any, reply: str | None, headers: HeadersInput | None) -> None: ...

    def request(self, subject: str, payload: Any, timeout: float | None, headers: HeadersInput | None) -> Any: ...


_ACK = b"+ACK"
_NAK = b"-NAK"
_TERM = b"+TERM"
_WPI = b"+WPI"
_settle_lock = threading.Lock()  # guards every message's one-answer rule; held for a few bytecodes


@attrs.frozen
class MsgMetadata:
    """Where a JetStream message comes from, parsed from its reply subject.

    ``sequence`` is the message's sequence in the stream (stable across redeliveries);
    ``consumer_sequence`` counts deliveries by this consumer; ``num_delivered`` is 1 on the first
    delivery and grows with each redelivery; ``num_pending`` is what the consumer still has to
    deliver; ``timestamp`` is when the stream stored the message (UTC).
    """

    stream: str
    consumer: str
    sequence: int
    consumer_sequence: int
    num_delivered: int
    num_pending: int
    timestamp: datetime.datetime
    domain: str = ""


def parse_metadata(reply: str) -> MsgMetadata | None:
    """Parse a ``$JS.ACK.`` reply subject (both the old and the domain-aware form); None if not one."""
    if not reply.startswith("$JS.ACK."):
        return None
    t = reply.split(".")
    try:
        if len(t) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>
            domain, i = "", 2
        elif len(t) >= 11:  # $JS.ACK.<domain>.<account hash>.<stream>... [.<token>]
            domain, i = ("" if t[2] == "_" else t[2]), 4
        else:
            return None
        ts = datetime.datetime.fromtimestamp(int(t[i + 5]) / 1e9, datetime.timezone.utc)
        return MsgMetadata(
            stream=t[i],
            consumer=t[i + 1],
            sequence=int(t[i + 3]),
            consumer_sequence=int(t[i + 4]),
            num_delivered=int(t[i + 2]),
            num_pending=int(t[i + 6]),
            timestamp=ts,
            domain=domain,
        )
    except ValueError:
        return None


class _AckState:
    __slots__ = ("answer",)

    def __init__(self) -> None:
        self.answer = ""  # '' until acked: 'ack', 'nak' or 'term'


@attrs.frozen(repr=False)
class JetStreamMsg(Msg):
    """A message from a JetStream consumer: a :class:`Msg` with acknowledgements and metadata.

    Each message takes one answer: :meth:`ack` (done), :meth:`nak` (redeliver, optionally after a
    delay) or :meth:`term` (never redeliver); a second one raises :class:`MsgAlreadyAckedError`.
    :meth:`in_progress` asks the server for more time before it redelivers, any number of times
    before the answer. All are safe from any thread and return at once.
    """

    _state: _AckState = attrs.field(factory=_AckState, eq=False, alias="state")

    # -- answers ---------------------------------------------------------------------------------
    def ack(self) -> None:
        """Acknowledge: the message was processed and is not delivered again."""
        self._answer("ack", _ACK)

    def ack_sync(self, timeout: float | None = None) -> None:
        """Acknowledge and wait (at most ``timeout``) until the server confirms it recorded the ack.

        Use it when the work must not be redone even if this process stops right after.
        """
        engine = self._sender("ack_sync")
        t = check_timeout(timeout, engine.options.timeout, "ack_sync timeout", wait=True)
        with _settle_lock:
            if self._state.answer:
                raise self._already("ack_sync")
            self._state.answer = "ack"
        try:
            engine.request(self.reply, _ACK, t, None)
        except BaseException:
            self._state.answer = ""  # not confirmed: the caller may try again
            raise

    def nak(self, delay: float | None = None) -> None:
        """Negative acknowledgement: redeliver, after ``delay`` seconds if given (else at once)."""
        if delay is None:
            payload = _NAK
        else:
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
                raise ValueError(f"nak delay must be a number of seconds >= 0 or None, got {delay!r}")
            payload = _NAK + b" " + json.dumps({"delay": int(delay * 1e9)}).encode()
        self._answer("nak", payload)

    def term(self, reason: str | None = None) -> None:
        """Terminate: never deliver this message again (it stays in the stream)."""
        payload = _TERM
        if reason:
            if not isinstance(reason, str) or "\r" in reason or "\n" in reason:
                raise ValueError("term reason must be a one-line str")
            payload = _TERM + b" " + reason.encode()
        self._answer("term", payload)

    def in_progress(self) -> None:
        """Tell the server work is still going on: restart its ack-wait timer for this message."""
        engine = self._sender("in_progress")
        if self._state.answer:
            raise self._already("in_progress")
        engine.publish(self.reply, _WPI, None, None)

    # -- observing -------------------------------------------------------------------------------
    @property
    def metadata(self) -> MsgMetadata:
        """Stream, sequence, delivery count and timestamp (see :class:`MsgMetadata`)."""
        md = parse_metadata(self.reply)
        if md is None:
            raise NoReplySubjectError(self._not_js())
        return md

    @property
    def is_acked(self) -> bool:
        """True once ack, nak or term was sent."""
        return bool(self._state.answer)

    @property
    def answer(self) -> str:
        """'' before an answer, then 'ack', 'nak' or 'term'."""
        return self._state.answer

    # -- helpers ---------------------------------------------------------------------------------
    def _answer(self, kind: str, payload: bytes) -> None:
        engine = self._sender(kind)
        with _settle_lock:
            if self._state.answer:
                raise self._already(kind)
            self._state.answer = kind
        try:
            engine.publish(self.reply, payload, None, None)
        except BaseException:
            self._state.answer = ""
            raise

    def _sender(self, what: str) -> Acker:
        if not self.reply.startswith("$JS.ACK.") or self._publisher is None:
            raise NoReplySubjectError(self._not_js())
        return cast(Acker, self._publisher)

    def _already(self, what: str) -> MsgAlreadyAckedError:
        return MsgAlreadyAckedError(
            f"{what}: the message (subject {self.subject!r}) was already answered with {self._state.answer}; "
            "a JetStream message takes one ack, nak or term"
        )

    def _not_js(self) -> str:
        return (
            f"message on {self.subject!r} was not delivered by a JetStream consumer (no $JS.ACK reply "
            "subject); only those can be acknowledged"
        )

    def __repr__(self) -> str:
        md = parse_metadata(self.reply)
        where = f", stream={md.stream!r}, seq={md.sequence}, delivered={md.num_delivered}" if md else ""
        data = self.data if len(self.data) <= 64 else self.data[:64] + b"..."
        return f"JetStreamMsg(subject={self.subject!r}, data={data!r}{where})"
