"""One way to run a user's handler on a message: tried again with backoff while attempts are
left, then given up on, that is dead-lettered (the one record of :mod:`.deadletter`).

The bus and JetStream's ``consume`` both run their handlers through :class:`HandlerRunner`; they
differ only in how a message is tried again, which the caller says through ``again``: the bus
waits on its dispatcher thread and calls the handler once more (:attr:`Next.CALL_AGAIN`),
``consume`` naks the message so that the server delivers it again later
(:attr:`Next.REDELIVERED`). Nothing handed to a runner is dropped without a trace: each
message given up on is counted, logged with the handler's traceback, and dead-lettered; a dead
letter that cannot be published is reported through the client's ``error_cb`` as well.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

import attrs

from .deadletter import dead_letter_headers
from .protocol.headers import Headers, HeadersInput, header_text

__all__ = ["HandlerRunner", "Letter", "Next", "Outcome"]


class Next(enum.Enum):
    """What becomes of a failed message that has attempts left (the answer of ``again``)."""

    CALL_AGAIN = "call again"
    """The caller waited the delay: call the handler again now."""
    REDELIVERED = "redelivered"
    """The message was handed back and comes again later, as its next attempt."""
    GIVE_UP = "give up"
    """Stop trying (the caller is closing): dead-letter it now."""


class Outcome(enum.Enum):
    """How :meth:`HandlerRunner.run` (or :meth:`HandlerRunner.give_up`) left a message."""

    HANDLED = "handled"
    """The handler returned."""
    REDELIVERED = "redelivered"
    """The handler raised and the message comes again later (:attr:`Next.REDELIVERED`)."""
    DEAD_LETTERED = "dead-lettered"
    """Given up on, and published to its dead-letter subject."""
    NOT_DEAD_LETTERED = "not dead-lettered"
    """Given up on, and its dead letter could not be published (reported through ``error_cb``)."""
    DEAD_LETTERS_OFF = "dead letters off"
    """Given up on, with no dead-letter subject to publish to (logged as an error)."""


@attrs.frozen
class Letter:
    """What a dead letter records of a message besides its error and attempts."""

    subject: str
    """The subject it was received on."""
    data: bytes
    """Its bytes, published unchanged."""
    headers: HeadersInput | None
    """Its headers, kept in the dead letter (less those starting with the runner's ``drop``)."""
    message_id: str = ""
    stream: str = ""
    consumer: str = ""
    stream_seq: int | None = None

    def name(self) -> str:
        """How the logs name it: its id, else its place in its stream."""
        if self.message_id:
            return self.message_id
        if self.stream_seq is not None:
            return f"{self.stream} seq {self.stream_seq}"
        return "(no id)"


Publish = Callable[[str, Letter, Headers], None]
"""Publish a dead letter: ``(dead-letter subject, the letter, its headers)``; raises on a failure."""


class HandlerRunner:
    """Runs handlers on messages with retries, then dead letters; one per bus or consumer.

    ``max_attempts``: calls of the handler before the message is given up on; ``delay(attempt)``:
    seconds to wait after the ``attempt``-th failure; ``dead_letter_subject(subject)``: where a
    message received on ``subject`` goes (None: dead letters are off); ``publish``: sends one;
    ``report``: hands a text to the client's ``error_cb`` (as the caller's error class);
    ``count(name)``: one more ``"handled"``, ``"retried"``, ``"failed"`` or ``"dead_lettered"``.
    Exceptions of ``permanent`` types are never retried; those outside ``catch`` are not caught.
    """

    def __init__(
        self,
        *,
        max_attempts: int,
        delay: Callable[[int], float],
        dead_letter_subject: Callable[[str], str | None],
        publish: Publish,
        report: Callable[[str], None],
        count: Callable[[str], None],
        log: logging.Logger,
        catch: tuple[type[BaseException], ...] = (Exception,),
        permanent: tuple[type[BaseException], ...] = (),
        deprecated_names: bool = False,
        drop: str | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self._delay = delay
        self._dead_letter_subject = dead_letter_subject
        self._publish = publish
        self._report = report
        self._count = count
        self._log = log
        self._catch = catch
        self._permanent = permanent
        self._deprecated_names = deprecated_names
        self._drop = drop

    def run(
        self,
        letter: Letter,
        call: Callable[[int], object],
        again: Callable[[float], Next],
        attempt: int = 1,
    ) -> tuple[Outcome, BaseException | None]:
        """Call ``call(attempt)`` until it returns or the message is given up on; ``attempt`` is
        the number of the first call (JetStream's delivery count). Returns how the message was
        left and the handler's last error (None when it returned)."""
        while True:
            try:
                call(attempt)
            except BaseException as exc:
                if not isinstance(exc, self._catch):
                    raise
                if attempt >= self.max_attempts or isinstance(exc, self._permanent):
                    self._count("failed")
                    return self.give_up(letter, exc, attempt), exc
                delay = self._delay(attempt)
                self._log.info(
                    "handler for %r failed (attempt %d of %d), retrying in %.3g s: %s: %s",
                    letter.subject,
                    attempt,
                    self.max_attempts,
                    delay,
                    type(exc).__name__,
                    exc,
                )
                nxt = again(delay)
                if nxt is Next.GIVE_UP:
                    self._count("failed")
                    return self.give_up(letter, exc, attempt), exc
                self._count("retried")
                if nxt is Next.REDELIVERED:
                    return Outcome.REDELIVERED, exc
                attempt += 1
            else:
                self._count("handled")
                return Outcome.HANDLED, None

    def give_up(
        self, letter: Letter, error: BaseException | None, attempts: int, reason: str = "", traceback: bool = True
    ) -> Outcome:
        """Dead-letter ``letter`` after ``attempts`` attempts, for ``error`` (or, with no
        exception, for ``reason``); log it (with ``error``'s traceback when ``traceback``)."""
        text = header_text(str(error) or type(error).__name__) if error is not None else header_text(reason)
        error_type = type(error).__qualname__ if error is not None else ""
        said = f"{type(error).__name__}: {error}" if error is not None else reason
        exc_info = error if traceback else None
        dlq = self._dead_letter_subject(letter.subject)
        if dlq is None:
            self._log.error(
                "dropped message %s from %r after %d attempt(s) (dead letters disabled): %s",
                letter.name(),
                letter.subject,
                attempts,
                said,
                exc_info=exc_info,
            )
            return Outcome.DEAD_LETTERS_OFF
        try:
            # every value of the original headers is kept; a value with CR or LF (an id) fails here
            headers = dead_letter_headers(
                letter.headers,
                subject=letter.subject,
                attempts=attempts,
                error=text,
                error_type=error_type,
                message_id=letter.message_id,
                stream=letter.stream,
                consumer=letter.consumer,
                stream_seq=letter.stream_seq,
                deprecated_names=self._deprecated_names,
                drop=self._drop,
            )
            self._publish(dlq, letter, headers)
        except Exception as exc:
            self._log.error(
                "could not dead-letter message %s from %r to %r: %s (original error: %s)",
                letter.name(),
                letter.subject,
                dlq,
                exc,
                said,
                exc_info=exc_info,
            )
            self._report(f"dead-lettering message {letter.name()} from {letter.subject!r} to {dlq!r} failed: {exc}")
            return Outcome.NOT_DEAD_LETTERED
        self._count("dead_lettered")
        self._log.warning(
            "dead-lettered message %s from %r to %r after %d attempt(s): %s",
            letter.name(),
            letter.subject,
            dlq,
            attempts,
            said,
            exc_info=exc_info,
        )
        return Outcome.DEAD_LETTERED
