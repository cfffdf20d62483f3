"""Bus handlers a hostile user writes: coroutines, wrong return types, errors worth a traceback."""

from __future__ import annotations

import functools
import logging
import time
import warnings
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.testing import MemoryServer

from helpers import wait_for


@pytest.fixture
def bus(memory_server: MemoryServer) -> Any:
    # a long backoff: a permanent error that were retried would take seconds to answer
    with bns.NATSMessageBus(memory_server.connect(), retry_backoff=5.0, max_retries=3) as b:
        yield b


async def _async_handler(m: bns.Message) -> bns.Message:
    return m


class _AsyncCallable:
    async def __call__(self, m: bns.Message) -> bns.Message:
        return m


async def _async_gen(m: bns.Message) -> Any:
    yield m


ASYNC_HANDLERS = {
    "async def": _async_handler,
    "partial of async def": functools.partial(_async_handler),
    "object with async __call__": _AsyncCallable(),
    "async generator": _async_gen,
}


@pytest.mark.parametrize("method", ["subscribe", "serve"])
@pytest.mark.parametrize("kind", list(ASYNC_HANDLERS))
def test_async_handlers_are_refused_before_subscribing(bus: bns.NATSMessageBus, method: str, kind: str) -> None:
    subject = f"bus.async.{method}.{kind.replace(' ', '_')}"
    with pytest.raises(TypeError, match=r"not a coroutine function \(async def\)"):
        getattr(bus, method)(subject, ASYNC_HANDLERS[kind])
    # nothing was subscribed: nobody answers on the subject
    with pytest.raises(bns.NoRespondersError):
        bus.client.request(subject, b"", timeout=2.0)


def test_a_handler_returning_a_coroutine_fails_at_once_without_a_warning(bus: bns.NATSMessageBus) -> None:
    bus.subscribe("bus.coro", lambda m: _async_handler(m))
    dlq = bus.client.subscribe("bus.coro.dlq")
    bus.client.flush(2.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bus.publish("bus.coro", bns.Message(type="t"))
        dead = dlq.next_msg(3.0)  # at once: a retry would wait retry_backoff=5 s first
        assert dead.headers is not None and "awaitable" in dead.headers["Beluga-Error"]
        wait_for(lambda: bus.stats.failed == 1)
    assert bus.stats.retried == 0 and bus.stats.handled == 0
    assert not [w for w in caught if "never awaited" in str(w.message)]


@pytest.mark.parametrize("wrong", [{"type": "answer"}, None, "text"])
def test_serve_returning_the_wrong_type_answers_an_error_at_once(bus: bns.NATSMessageBus, wrong: object) -> None:
    calls: list[bns.Message] = []

    def handler(m: bns.Message) -> Any:
        calls.append(m)
        return wrong

    bus.serve("bus.wrongtype", handler)
    dlq = bus.client.subscribe("bus.wrongtype.dlq")
    bus.client.flush(2.0)
    t0 = time.monotonic()
    reply = bus.request("bus.wrongtype", bns.Message(type="q"), timeout=5.0)
    elapsed = time.monotonic() - t0
    assert reply.type == "error"
    assert reply.payload["error_type"] == "HandlerResultError"
    assert "must return a Message" in reply.payload["error"] and type(wrong).__name__ in reply.payload["error"]
    assert elapsed < 3.0, f"answered after {elapsed:.2f} s: the error was retried"
    assert len(calls) == 1
    assert dlq.next_msg(2.0).headers is not None  # kept for replay once the handler is fixed
    wait_for(lambda: bus.stats.failed == 1)
    assert bus.stats.retried == 0 and bus.stats.dead_lettered == 1


def _explode(m: bns.Message) -> None:
    raise ValueError("deep inside the handler")


@pytest.mark.parametrize("dead_letters", [True, False])
def test_handler_errors_are_logged_with_their_traceback(
    memory_server: MemoryServer, caplog: pytest.LogCaptureFixture, dead_letters: bool
) -> None:
    dlq = "{subject}.dlq" if dead_letters else None
    with (
        caplog.at_level(logging.INFO, logger="beluga_nats_sync.bus"),
        bns.NATSMessageBus(memory_server.connect(), retry_backoff=0.01, max_retries=1, dead_letter_subject=dlq) as bus,
    ):
        bus.subscribe("bus.tb", _explode)
        bus.client.flush(2.0)
        bus.publish("bus.tb", bns.Message(type="t", message_id="tb-1"))
        wait_for(lambda: bus.stats.failed == 1)
        wait_for(lambda: any(r.levelno >= logging.WARNING for r in caplog.records), what="the give-up log record")
    final = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(final) == 1, [r.getMessage() for r in final]
    record = final[0]
    assert "tb-1" in record.getMessage() and "ValueError" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert "_explode" in caplog.text and "deep inside the handler" in caplog.text  # the traceback itself
    retry = [r for r in caplog.records if r.levelno == logging.INFO and "retrying" in r.getMessage()]
    assert len(retry) == 1 and "ValueError" in retry[0].getMessage()


def test_a_dead_letter_that_cannot_be_published_reaches_error_cb(memory_server: MemoryServer) -> None:
    """Not dropped without a trace: counted as failed, logged, and reported through error_cb."""
    errors: list[BaseException] = []
    with (
        memory_server.connect(error_cb=errors.append) as client,
        bns.NATSMessageBus(client, max_retries=0) as bus,
    ):
        bus.subscribe("bus.unlettered", _explode)
        client.flush(2.0)
        # the id comes from the sender's JSON; it cannot be a dead letter's header line
        bus.publish("bus.unlettered", bns.Message(type="t", message_id="two\nlines"))
        wait_for(lambda: errors, what="the error reported")
        assert bus.stats.failed == 1 and bus.stats.dead_lettered == 0
    (error,) = errors
    assert isinstance(error, bns.NATSSyncError)
    assert "'bus.unlettered'" in str(error) and "'bus.unlettered.dlq'" in str(error)
