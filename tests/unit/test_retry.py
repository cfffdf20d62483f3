"""HandlerRunner, the one retry-and-dead-letter runner of the bus and JetStream's consume, on
plain functions (no server): what it calls, counts, publishes, reports and logs."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

import pytest

from beluga_nats_sync._retry import HandlerRunner, Letter, Next, Outcome
from beluga_nats_sync.protocol.headers import Headers

LOG = logging.getLogger("tests.retry")


class Permanent(Exception):
    pass


class Recorder:
    """The runner's collaborators: where dead letters go, what is reported and counted."""

    def __init__(self, *, fail_publish: bool = False) -> None:
        self.published: list[tuple[str, Letter, Headers]] = []
        self.reported: list[str] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.fail_publish = fail_publish

    def publish(self, dlq: str, letter: Letter, headers: Headers) -> None:
        if self.fail_publish:
            raise OSError("no route")
        self.published.append((dlq, letter, headers))

    def runner(
        self,
        max_attempts: int = 3,
        dlq: str | None = "{subject}.dlq",
        catch: tuple[type[BaseException], ...] = (Exception,),
        permanent: tuple[type[BaseException], ...] = (),
        deprecated_names: bool = False,
        drop: str | None = None,
    ) -> HandlerRunner:
        return HandlerRunner(
            max_attempts=max_attempts,
            delay=lambda attempt: 0.01 * attempt,
            dead_letter_subject=lambda subject: None if dlq is None else dlq.format(subject=subject),
            publish=self.publish,
            report=self.reported.append,
            count=lambda name: self.counts.update([name]),
            log=LOG,
            catch=catch,
            permanent=permanent,
            deprecated_names=deprecated_names,
            drop=drop,
        )


def failing(times: int, exc: BaseException) -> tuple[list[int], Callable[[int], None]]:
    calls: list[int] = []

    def call(attempt: int) -> None:
        calls.append(attempt)
        if len(calls) <= times:
            raise exc

    return calls, call


LETTER = Letter("jobs.new", b"payload", {"Tag": "t"}, message_id="job-1")


def test_a_handler_that_recovers_is_called_again_and_counted_handled() -> None:
    rec = Recorder()
    calls, call = failing(2, ValueError("transient"))
    delays: list[float] = []

    def again(delay: float) -> Next:
        delays.append(delay)
        return Next.CALL_AGAIN

    assert rec.runner().run(LETTER, call, again) == (Outcome.HANDLED, None)
    assert calls == [1, 2, 3] and delays == [0.01, 0.02]
    assert rec.counts == {"retried": 2, "handled": 1} and rec.published == []


def test_a_handler_that_keeps_failing_is_dead_lettered_with_the_one_record(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    error = ValueError("cannot\r\nhandle this")
    calls, call = failing(99, error)
    with caplog.at_level(logging.INFO, logger="tests.retry"):
        outcome = rec.runner().run(LETTER, call, lambda _: Next.CALL_AGAIN)
    assert outcome == (Outcome.DEAD_LETTERED, error) and calls == [1, 2, 3]
    ((dlq, letter, headers),) = rec.published
    assert (dlq, letter) == ("jobs.new.dlq", LETTER)
    assert headers == {
        "Tag": "t",
        "Beluga-Error": "cannot handle this",  # the text only: the type has its own header
        "Beluga-Error-Type": "ValueError",
        "Beluga-Original-Subject": "jobs.new",
        "Beluga-Attempts": "3",
        "Beluga-Message-Id": "job-1",
    }
    assert rec.counts == {"retried": 2, "failed": 1, "dead_lettered": 1} and rec.reported == []
    final = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(final) == 1 and "job-1" in final[0].getMessage() and final[0].exc_info is not None
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2


def test_a_permanent_error_is_not_retried() -> None:
    rec = Recorder()
    calls, call = failing(99, Permanent("a bug"))
    outcome, error = rec.runner(permanent=(Permanent,)).run(LETTER, call, lambda _: Next.CALL_AGAIN)
    assert outcome is Outcome.DEAD_LETTERED and isinstance(error, Permanent) and calls == [1]
    assert rec.published[0][2]["Beluga-Attempts"] == "1"


def test_redelivered_returns_after_one_call_and_the_last_delivery_gives_up() -> None:
    """JetStream's way: one call a delivery, ``attempt`` the delivery count."""
    rec = Recorder()
    runner = rec.runner()
    calls, call = failing(99, KeyError("k"))
    assert runner.run(LETTER, call, lambda _: Next.REDELIVERED, attempt=2)[0] is Outcome.REDELIVERED
    assert runner.run(LETTER, call, lambda _: Next.REDELIVERED, attempt=3)[0] is Outcome.DEAD_LETTERED
    assert calls == [2, 3] and rec.counts == {"retried": 1, "failed": 1, "dead_lettered": 1}
    assert rec.published[0][2]["Beluga-Attempts"] == "3"


def test_give_up_from_again_dead_letters_at_once() -> None:
    rec = Recorder()
    calls, call = failing(99, RuntimeError("x"))
    outcome, _ = rec.runner(max_attempts=5).run(LETTER, call, lambda _: Next.GIVE_UP)
    assert outcome is Outcome.DEAD_LETTERED and calls == [1]
    assert rec.counts == {"failed": 1, "dead_lettered": 1}


def test_a_dead_letter_that_cannot_be_published_is_reported_not_dropped() -> None:
    rec = Recorder(fail_publish=True)
    _, call = failing(99, RuntimeError("x"))
    outcome, _ = rec.runner(max_attempts=1).run(LETTER, call, lambda _: Next.CALL_AGAIN)
    assert outcome is Outcome.NOT_DEAD_LETTERED and rec.counts == {"failed": 1}
    (text,) = rec.reported
    assert "job-1" in text and "'jobs.new'" in text and "'jobs.new.dlq'" in text and "no route" in text


def test_an_id_that_cannot_be_a_header_is_reported() -> None:
    rec = Recorder()
    _, call = failing(99, RuntimeError("x"))
    letter = Letter("jobs.new", b"", None, message_id="two\nlines")
    outcome, _ = rec.runner(max_attempts=1).run(letter, call, lambda _: Next.CALL_AGAIN)
    assert outcome is Outcome.NOT_DEAD_LETTERED and rec.published == [] and len(rec.reported) == 1


def test_without_a_dead_letter_subject_the_loss_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    _, call = failing(99, RuntimeError("x"))
    with caplog.at_level(logging.INFO, logger="tests.retry"):
        outcome, _ = rec.runner(max_attempts=1, dlq=None).run(LETTER, call, lambda _: Next.CALL_AGAIN)
    assert outcome is Outcome.DEAD_LETTERS_OFF and rec.published == [] and rec.counts == {"failed": 1}
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR and "dead letters disabled" in record.getMessage()


def test_an_exception_outside_catch_propagates() -> None:
    rec = Recorder()
    _, call = failing(99, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        rec.runner().run(LETTER, call, lambda _: Next.CALL_AGAIN)
    _, call = failing(1, KeyboardInterrupt())
    outcome, _ = rec.runner(catch=(BaseException,)).run(LETTER, call, lambda _: Next.CALL_AGAIN)
    assert outcome is Outcome.HANDLED


def test_give_up_without_an_exception_and_with_the_old_names() -> None:
    rec = Recorder()
    runner = rec.runner(deprecated_names=True, drop="Nats-")
    letter = Letter("o.new", b"x", {"Nats-Msg-Id": "m", "Keep": "k"}, "m", "ORDERS", "billing", 7)
    assert runner.give_up(letter, None, 6, "max_deliver (5) reached") is Outcome.DEAD_LETTERED
    headers = rec.published[0][2]
    assert "Beluga-Error-Type" not in headers and "Nats-Msg-Id" not in headers and headers["Keep"] == "k"
    assert headers["Beluga-Error"] == "max_deliver (5) reached"
    assert (headers["Beluga-Num-Delivered"], headers["Beluga-Stream-Seq"]) == ("6", "7")
    assert letter.name() == "m" and Letter("s", b"", None, stream="S", stream_seq=3).name() == "S seq 3"
