"""The one dispatcher kind, without a server."""

from __future__ import annotations

import threading

from beluga_nats_sync._core.dispatch import Dispatcher, EventWorker


def test_items_are_handled_in_order_on_one_thread() -> None:
    seen: list[int] = []
    threads: set[str] = set()

    def handle(i: int) -> None:
        seen.append(i)
        threads.add(threading.current_thread().name)

    d: Dispatcher[int] = Dispatcher("test-order", handle, lambda i: None)
    d.start()
    for i in range(1000):
        d.put(i)
    d.end()
    assert d.join(5.0)
    assert seen == list(range(1000)) and threads == {"test-order"}


def test_a_raising_handler_does_not_end_delivery() -> None:
    seen: list[int] = []

    def handle(i: int) -> None:
        if i == 1:
            raise ValueError("one")
        if i == 2:
            raise SystemExit("two")  # a BaseException must not end the thread either
        seen.append(i)

    d: Dispatcher[int] = Dispatcher("test-raise", handle, lambda i: None)
    d.start()
    for i in range(5):
        d.put(i)
    d.end()
    assert d.join(5.0)
    assert seen == [0, 3, 4]


def test_stopping_discards_instead_of_handling() -> None:
    handled: list[int] = []
    discarded: list[int] = []
    gate = threading.Event()

    def handle(i: int) -> None:
        gate.wait(5.0)
        handled.append(i)

    d: Dispatcher[int] = Dispatcher("test-stop", handle, discarded.append)
    d.start()
    for i in range(3):
        d.put(i)
    d.stopping = True
    gate.set()
    d.end()
    assert d.join(5.0)
    assert handled + discarded == [0, 1, 2] and len(discarded) >= 2


def test_room_is_signalled_once_below_the_low_water_mark() -> None:
    gate = threading.Event()
    room = threading.Event()
    d: Dispatcher[int] = Dispatcher(
        "test-room", lambda i: gate.wait(5.0), lambda i: None, low_water=2, on_room=room.set
    )
    d.start()
    for i in range(6):
        d.put(i)
    assert not d.has_room()  # backlog above the mark: asks to be told
    gate.set()
    assert room.wait(5.0)
    d.end()
    assert d.join(5.0)
    assert d.has_room()


def test_event_worker_runs_callbacks_in_order_and_survives_errors() -> None:
    seen: list[str] = []
    done = threading.Event()
    w = EventWorker("test-events")

    def boom() -> None:
        raise RuntimeError("user callback")

    w.submit(seen.append, "a")
    w.submit(boom)
    w.submit(seen.append, "b")
    w.submit(done.set)
    assert done.wait(5.0)
    w.stop(5.0)
    assert seen == ["a", "b"] and not w.thread.is_alive()


def test_a_portal_wait_that_runs_out_raises_the_builtin_timeout_error() -> None:
    from beluga_nats_sync._core.portal import IOLoop

    loop = IOLoop("test-portal")
    release = threading.Event()
    try:

        def slow() -> None:
            release.wait(5.0)

        try:
            loop.run(slow, 0.05, "wait")
        except TimeoutError as exc:  # concurrent.futures.TimeoutError is another class on Python 3.10
            assert type(exc) is TimeoutError
        else:
            raise AssertionError("the wait did not time out")
    finally:
        release.set()
        loop.stop(2.0)
    assert not loop.thread.is_alive()


def test_a_timeout_error_raised_by_the_work_reaches_the_caller_as_it_is() -> None:
    """From 3.11 ``concurrent.futures.TimeoutError`` is the builtin, so a wait that catches it
    also catches the work's own ``NATSTimeoutError``: it must not be reworded as the wait's."""
    from beluga_nats_sync._core.portal import IOLoop
    from beluga_nats_sync.errors import NATSTimeoutError

    loop = IOLoop("test-portal")
    try:

        def gives_up() -> None:
            raise NATSTimeoutError("flush did not complete within 0.2 s")

        try:
            loop.run(gives_up, 5.0, "flush")
        except NATSTimeoutError as exc:
            assert str(exc) == "flush did not complete within 0.2 s"
        else:
            raise AssertionError("the work's error was lost")
    finally:
        loop.stop(2.0)
