"""One dead-letter record: the headers every dead letter carries, and :class:`DeadLetter` to read one.

The bus (a handler that keeps failing, a message that cannot be decoded) and JetStream's
``consume`` (a message that reached ``max_deliver``) publish a failed message to a dead-letter
subject as its original bytes and headers, plus the headers named here. One vocabulary for both,
so a tool that reads a dead-letter subject reads every dead letter the same way::

    dead = bns.DeadLetter.from_msg(sub.next_msg(timeout=5.0))
    print(dead.subject, dead.attempts, dead.error_type, dead.error)

JetStream's dead letters used to name three of them differently (``Beluga-Subject``,
``Beluga-Num-Delivered``, ``Beluga-Msg-Id``); those names are still written beside the new ones
until the next release (:data:`DEPRECATED_NAMES`), and :meth:`DeadLetter.from_msg` reads them
when the new ones are absent.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._core.msg import Msg
from .errors import MessageDecodeError
from .protocol.headers import Headers, HeadersInput, headers_with

__all__ = [
    "ATTEMPTS_HEADER",
    "CONSUMER_HEADER",
    "DEPRECATED_NAMES",
    "ERROR_HEADER",
    "ERROR_TYPE_HEADER",
    "MESSAGE_ID_HEADER",
    "STREAM_HEADER",
    "STREAM_SEQ_HEADER",
    "SUBJECT_HEADER",
    "DeadLetter",
    "dead_letter_headers",
]

ERROR_HEADER = "Beluga-Error"
"""Dead-letter header: the exception's text on one line (its type is in :data:`ERROR_TYPE_HEADER`),
or, when no exception was raised (JetStream's ``max_deliver`` reached), why it was given up on."""
ERROR_TYPE_HEADER = "Beluga-Error-Type"
"""Dead-letter header: the error's class name (absent when no exception was raised: JetStream's
``max_deliver`` reached without an answer)."""
SUBJECT_HEADER = "Beluga-Original-Subject"
"""Dead-letter header: the subject the message was received on."""
ATTEMPTS_HEADER = "Beluga-Attempts"
"""Dead-letter header: how many times it was tried (the bus's handler calls, JetStream's deliveries)."""
MESSAGE_ID_HEADER = "Beluga-Message-Id"
"""Dead-letter header: the message's id (the bus: the envelope's ``message_id``; JetStream: its
``Nats-Msg-Id``), absent when it had none."""
STREAM_HEADER = "Beluga-Stream"
"""Dead-letter header, JetStream only: the stream the message came from."""
CONSUMER_HEADER = "Beluga-Consumer"
"""Dead-letter header, JetStream only: the durable consumer that gave up on it."""
STREAM_SEQ_HEADER = "Beluga-Stream-Seq"
"""Dead-letter header, JetStream only: its sequence in that stream."""

DEPRECATED_NAMES: Mapping[str, str] = {
    SUBJECT_HEADER: "Beluga-Subject",
    ATTEMPTS_HEADER: "Beluga-Num-Delivered",
    MESSAGE_ID_HEADER: "Beluga-Msg-Id",
}
"""Deprecated: the names JetStream's dead letters used before (new name -> old name), written
beside the new ones until the next release, and read by :meth:`DeadLetter.from_msg` when the new
one is absent."""


def dead_letter_headers(
    base: HeadersInput | None,
    *,
    subject: str,
    attempts: int,
    error: str,
    error_type: str = "",
    message_id: str = "",
    stream: str = "",
    consumer: str = "",
    stream_seq: int | None = None,
    deprecated_names: bool = False,
    drop: str | None = None,
) -> Headers:
    """The headers of a dead letter: every value of ``base`` (less the names starting with
    ``drop``), then this vocabulary's headers; an empty ``error_type``, ``message_id``, ``stream``
    or ``consumer``, or no ``stream_seq``, is left out. ``deprecated_names`` also writes the old
    JetStream names of :data:`DEPRECATED_NAMES`. A value holding CR or LF raises ``ValueError``."""
    added = {ERROR_HEADER: error}
    if error_type:
        added[ERROR_TYPE_HEADER] = error_type
    added[SUBJECT_HEADER] = subject
    added[ATTEMPTS_HEADER] = str(attempts)
    if message_id:
        added[MESSAGE_ID_HEADER] = message_id
    if stream:
        added[STREAM_HEADER] = stream
    if consumer:
        added[CONSUMER_HEADER] = consumer
    if stream_seq is not None:
        added[STREAM_SEQ_HEADER] = str(stream_seq)
    if deprecated_names:
        added.update({old: added[new] for new, old in DEPRECATED_NAMES.items() if new in added})
    return headers_with(base, added, drop=drop)


def _read(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None and name in DEPRECATED_NAMES:
        value = headers.get(DEPRECATED_NAMES[name])
    return value or ""


def _number(headers: Mapping[str, str], name: str) -> int | None:
    text = _read(headers, name)
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise MessageDecodeError(f"dead letter header {name} is not a whole number: {text!r}")
    return int(text)


@attrs.frozen
class DeadLetter:
    """A dead letter as a value, whoever wrote it (the bus or JetStream's ``consume``).

    Build it with :meth:`from_msg`. A field whose header is absent is ``""`` (``stream_seq``:
    None; ``attempts``: 0).
    """

    subject: str
    """The subject the failed message was received on."""
    attempts: int
    """How many times it was tried: the bus's handler calls, JetStream's deliveries."""
    message_id: str
    """Its id: the envelope's ``message_id`` (the bus) or its ``Nats-Msg-Id`` (JetStream)."""
    error: str
    """The error, on one line."""
    error_type: str
    """The error's class name."""
    stream: str
    """JetStream: the stream it came from."""
    consumer: str
    """JetStream: the durable consumer that gave up on it."""
    stream_seq: int | None
    """JetStream: its sequence in that stream."""
    headers: Mapping[str, str]
    """Every header of the dead letter: the original message's and the ones above."""
    data: bytes
    """The original message's bytes."""

    @classmethod
    def from_msg(cls, msg: Msg) -> DeadLetter:
        """Read a dead letter received on a dead-letter subject (a :class:`~beluga_nats_sync.Msg`
        or a JetStream message). The names of this vocabulary are read first, then the deprecated
        ones of :data:`DEPRECATED_NAMES`. Raises
        :class:`~beluga_nats_sync.MessageDecodeError` when ``msg`` has no ``Beluga-Error`` header
        (it is not a dead letter) or a count that is not a whole number."""
        headers = msg.headers
        if not headers or ERROR_HEADER not in headers:
            raise MessageDecodeError(
                f"the message on {msg.subject!r} is not a dead letter: it has no {ERROR_HEADER} header"
            )
        return cls(
            subject=_read(headers, SUBJECT_HEADER),
            attempts=_number(headers, ATTEMPTS_HEADER) or 0,
            message_id=_read(headers, MESSAGE_ID_HEADER),
            error=_read(headers, ERROR_HEADER),
            error_type=_read(headers, ERROR_TYPE_HEADER),
            stream=_read(headers, STREAM_HEADER),
            consumer=_read(headers, CONSUMER_HEADER),
            stream_seq=_number(headers, STREAM_SEQ_HEADER),
            headers=headers,
            data=msg.data,
        )
