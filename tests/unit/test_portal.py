"""The client's own event loop (``_core/portal.py``): work handed over from any thread runs on the
loop's thread in order, timers by deadline, readiness callbacks on sockets, blocking calls in the
caller's context, and callers that lead the loop run its work one thread at a time."""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import itertools
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from beluga_nats_sync._core.portal import IOLoop

WAIT = 5.0  # the bound of every wait: far above what any step takes


class Calls:
    """A callback recording each call's arguments, thread and time; ``wait(n)`` for ``n`` calls.
    It returns False: also a ``done`` for :meth:`IOLoop.lead` that is never done."""

    def __init__(self) -> None:
        self.args: list[tuple[object, ...]] = []
        self.threads: list[threading.Thread] = []
        self.times: list[float] = []
        self._cond = threading.Condition()

    def __call__(self, *args: object) -> bool:
        with self._cond:
            self.times.append(time.monotonic())
            self.args.append(args)
            self.threads.append(threading.current_thread())
            self._cond.notify_all()
        return False

    def wait(self, n: int = 1) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.args) >= n, WAIT)


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    lp = IOLoop("test-portal")
    try:
        yield lp
    finally:
        lp.stop(2.0)
        assert not lp.thread.is_alive()


def start(target: Callable[[], object]) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def join(*threads: threading.Thread) -> None:
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()


def on_loop(loop: IOLoop, *steps: Callable[[], object]) -> None:
    """Run ``steps`` on the loop's thread, where readers and writers are set, and wait for them."""
    loop.run(lambda: [step() for step in steps] and None, WAIT, "steps")


def barrier(loop: IOLoop) -> None:
    """Two full turns of the loop from here: whatever is ready now has had its chance to run."""
    on_loop(loop)
    on_loop(loop)


def leader(loop: IOLoop, done: Callable[[], bool], leading: threading.Event, left: list[float]) -> threading.Thread:
    """A thread leading the loop; ``leading`` is set once it holds it (``done`` is asked only then),
    the time it left is put in ``left``."""

    def check() -> bool:
        leading.set()
        return done()

    def lead() -> None:
        loop.lead(check, time.monotonic() + WAIT)
        left.append(time.monotonic())

    return start(lead)


# -- call_soon ---------------------------------------------------------------------------------------
def test_call_soon_from_many_threads_runs_on_the_loop_thread_in_the_order_handed_over(loop: IOLoop) -> None:
    threads, items = 8, 500
    calls = Calls()
    numbers = itertools.count()
    order = threading.Lock()  # a number taken and handed over in one step: the loop must keep that order

    def producer() -> None:
        for _ in range(items):
            with order:
                loop.call_soon(calls, next(numbers))

    join(*[start(producer) for _ in range(threads)])
    assert calls.wait(threads * items)
    assert calls.args == [(n,) for n in range(threads * items)]
    assert set(calls.threads) == {loop.thread}


def test_call_soon_after_stop_raises(loop: IOLoop) -> None:
    loop.stop(2.0)
    assert not loop.thread.is_alive()
    with pytest.raises(RuntimeError):
        loop.call_soon(lambda: None)


# -- call_later --------------------------------------------------------------------------------------
def test_timers_set_from_any_thread_fire_in_deadline_order_and_not_before_their_delay(loop: IOLoop) -> None:
    delays = [0.15, 0.05, 0.2, 0.0, 0.1, 0.25]
    calls = Calls()
    t0 = time.monotonic()
    on_loop(loop, *[functools.partial(loop.call_later, d, calls, d) for d in delays[:3]])
    for d in delays[3:]:  # from this thread, not the loop's
        loop.call_later(d, calls, d)
    assert calls.wait(len(delays))
    assert calls.args == [(d,) for d in sorted(delays)]
    assert all(at - t0 >= d for d, at in zip(sorted(delays), calls.times, strict=True))
    assert set(calls.threads) == {loop.thread}


def test_a_cancelled_timer_never_runs(loop: IOLoop) -> None:
    calls = Calls()
    loop.call_later(0.05, calls, "cancelled").cancel()
    loop.call_later(0.1, calls, "kept")
    assert calls.wait()
    barrier(loop)
    assert calls.args == [("kept",)]  # the cancelled one was due first: it would be in the list


# -- submit and run ----------------------------------------------------------------------------------
def test_submit_and_run_bring_back_the_result_or_the_exception(loop: IOLoop) -> None:
    def fail() -> None:
        raise ValueError("from the loop")

    assert loop.submit(lambda: 6 * 7).result(WAIT) == 42
    assert loop.run(lambda: threading.current_thread() is loop.thread, WAIT, "check")
    with pytest.raises(ValueError, match="from the loop"):
        loop.submit(fail).result(WAIT)
    with pytest.raises(ValueError, match="from the loop"):
        loop.run(fail, WAIT, "fail")


SPAN: contextvars.ContextVar[str] = contextvars.ContextVar("span", default="none")


def test_run_runs_in_a_copy_of_the_callers_context(loop: IOLoop) -> None:
    def child() -> str:
        seen = SPAN.get()
        SPAN.set("child")  # in the copy only
        return seen

    token = SPAN.set("parent")
    try:
        assert loop.run(child, WAIT, "ctx") == "parent"
        assert SPAN.get() == "parent"
    finally:
        SPAN.reset(token)
    assert loop.run(SPAN.get, WAIT, "ctx") == "none"  # the caller's context of the moment, each time


def test_run_on_the_loop_thread_raises_instead_of_deadlocking(loop: IOLoop) -> None:
    def nested() -> RuntimeError | None:
        try:
            loop.run(lambda: None, 1.0, "request")
        except RuntimeError as exc:
            return exc
        return None

    err = loop.run(nested, WAIT, "outer")
    assert isinstance(err, RuntimeError)
    assert "request()" in str(err)


def test_fail_waiting_ends_a_run_waiting_on_slow_work(loop: IOLoop) -> None:
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(WAIT)
        return "late"

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            waiting = pool.submit(loop.run, slow, WAIT, "request")
            assert started.wait(WAIT)
            # the caller registers its wait just after handing the work over: fail it until it is let go
            while not waiting.done() and time.monotonic() - t0 < WAIT:
                loop.fail_waiting(lambda what: ConnectionError(f"{what}: closed"))
                concurrent.futures.wait([waiting], 0.01)
            with pytest.raises(ConnectionError, match="^request: closed$"):
                waiting.result(0)
        finally:
            release.set()
    assert time.monotonic() - t0 < 2.0  # long before the run's own timeout


# -- readers and writers -----------------------------------------------------------------------------
def test_a_reader_fires_when_data_arrives_and_stops_after_removal(loop: IOLoop) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        calls = Calls()
        on_loop(loop, lambda: loop.add_reader(ours.fileno(), lambda: calls(ours.recv(100))))
        barrier(loop)
        assert calls.args == []  # nothing to read yet
        theirs.sendall(b"hello")
        assert calls.wait()
        on_loop(loop, lambda: loop.remove_reader(ours.fileno()))
        theirs.sendall(b"unread")
        barrier(loop)
        assert calls.args == [(b"hello",)]
        assert calls.threads == [loop.thread]


def test_reader_and_writer_on_the_same_fd_removing_one_keeps_the_other(loop: IOLoop) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        fd = ours.fileno()
        reads, writes = Calls(), Calls()
        on_loop(loop, lambda: loop.add_reader(fd, lambda: reads(ours.recv(100))), lambda: loop.add_writer(fd, writes))
        assert writes.wait()
        on_loop(loop, lambda: loop.remove_writer(fd))
        written = len(writes.args)
        theirs.sendall(b"still read")
        assert reads.wait()
        barrier(loop)
        assert reads.args == [(b"still read",)]
        assert len(writes.args) == written
        on_loop(loop, lambda: loop.add_writer(fd, writes), lambda: loop.remove_reader(fd))
        theirs.sendall(b"unread")
        barrier(loop)
        assert len(reads.args) == 1
        assert len(writes.args) > written
        on_loop(loop, lambda: loop.remove_writer(fd))


# -- lead --------------------------------------------------------------------------------------------
def test_a_leader_runs_work_handed_over_on_its_own_thread_and_returns_once_done(loop: IOLoop) -> None:
    ran: list[tuple[int, bool]] = []
    leading = threading.Event()
    t0 = time.monotonic()
    t = leader(loop, lambda: bool(ran), leading, [])
    assert leading.wait(WAIT)
    loop.call_soon(lambda: ran.append((threading.get_ident(), loop.in_loop_thread())))
    join(t)
    assert time.monotonic() - t0 < WAIT / 2  # back once done, long before its deadline
    assert ran == [(t.ident, True)]


def test_lead_returns_by_its_deadline_when_never_done(loop: IOLoop) -> None:
    checks = Calls()
    t0 = time.monotonic()
    loop.lead(checks, t0 + 0.2)
    assert 0.2 <= time.monotonic() - t0 < 0.7
    assert checks.args  # it did lead
    assert not loop.in_loop_thread()


def test_a_second_caller_returns_at_once_while_another_leads(loop: IOLoop) -> None:
    leading, release = threading.Event(), threading.Event()
    t = leader(loop, release.is_set, leading, [])
    try:
        assert leading.wait(WAIT)
        checks = Calls()
        t0 = time.monotonic()
        loop.lead(checks, t0 + WAIT)
        assert time.monotonic() - t0 < 0.5
        assert checks.args == []  # it never held the loop, so never ran its work
    finally:
        release.set()
        join(t)


def test_callbacks_never_run_at_the_same_time(loop: IOLoop) -> None:
    total = 4000
    inside = [0]  # a plain counter on purpose: nothing of the test's keeps the callbacks apart
    overlaps: list[int] = []
    ran_on: list[int] = []
    leading, loop_turn = threading.Event(), threading.Event()

    def callback() -> None:
        inside[0] += 1
        for _ in range(20):  # a few steps inside, where another thread could step in
            if inside[0] != 1:
                overlaps.append(inside[0])
        inside[0] -= 1
        ran_on.append(threading.get_ident())
        if threading.current_thread() is loop.thread:
            loop_turn.set()

    def producer() -> None:
        leading.wait(WAIT)
        for _ in range(total // 2):
            loop.call_soon(callback)

    def enough(mark: int) -> bool:
        leading.set()
        return len(ran_on) >= mark

    def lead_in_turns() -> None:
        # a few callbacks at a time, then the loop's thread has a turn: both run the work
        end = time.monotonic() + WAIT
        while len(ran_on) < total and time.monotonic() < end:
            loop.lead(functools.partial(enough, min(len(ran_on) + 50, total)), time.monotonic() + 1.0)
            loop_turn.wait(0.05)
            loop_turn.clear()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads switch often, inside callbacks too: an overlap would show
    try:
        threads = [start(producer), start(producer), start(lead_in_turns)]
        join(*threads)
    finally:
        sys.setswitchinterval(interval)
    assert len(ran_on) == total
    assert overlaps == []
    assert threads[2].ident in ran_on  # enough() is true only once the leader ran some itself
    assert set(ran_on) <= {loop.thread.ident, threads[2].ident}


def test_stop_while_a_caller_leads_ends_the_leader_and_the_loop_thread(loop: IOLoop) -> None:
    leading, left = threading.Event(), list[float]()
    t = leader(loop, Calls(), leading, left)
    assert leading.wait(WAIT)
    t0 = time.monotonic()
    loop.stop(2.0)
    join(t)
    assert left[0] - t0 < 0.5  # its deadline is seconds away
    assert not loop.thread.is_alive()


def test_after_a_leader_leaves_the_loop_thread_runs_work_handed_over(loop: IOLoop) -> None:
    calls, leading = Calls(), threading.Event()
    t = leader(loop, lambda: bool(calls.args), leading, [])
    assert leading.wait(WAIT)
    loop.call_soon(calls, "while leading")
    join(t)
    loop.call_soon(calls, "after")
    assert calls.wait(2)
    assert calls.threads == [t, loop.thread]


def test_a_new_earliest_timer_set_by_a_leader_fires_on_the_loop_thread_after_it_left(loop: IOLoop) -> None:
    calls = Calls()
    pushed: list[float] = []

    def done() -> bool:
        # asked on the leader with the loop held: the timer goes straight onto the heap without
        # waking the loop's thread, asleep with no timer to wait for; leaving must wake it
        pushed.append(time.monotonic())
        loop.call_later(0.05, calls)
        return True

    loop.lead(done, time.monotonic() + WAIT)
    assert len(pushed) == 1
    assert calls.wait()
    assert calls.threads == [loop.thread]
    assert calls.times[0] - pushed[0] >= 0.05


# -- errors ------------------------------------------------------------------------------------------
def test_an_exception_in_a_callback_is_logged_and_the_loop_goes_on(
    loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls()

    def broken() -> None:
        raise ValueError("broken callback")

    with caplog.at_level(logging.ERROR, logger="beluga_nats_sync"):
        loop.call_soon(broken)
        loop.call_soon(calls)
        assert calls.wait()
    errors = [r for r in caplog.records if r.name == "beluga_nats_sync" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and isinstance(errors[0].exc_info[1], ValueError)
    assert loop.run(lambda: "still running", WAIT, "after") == "still running"


def test_fail_waiting_on_running_work_keeps_its_error_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    loop = IOLoop("bug")
    try:
        started, release = threading.Event(), threading.Event()
        outcome: list[BaseException] = []

        def slow() -> str:
            started.set()
            release.wait(5)
            return "late"

        def caller() -> None:
            try:
                loop.run(slow, 5, "request")
            except BaseException as exc:
                outcome.append(exc)

        t0 = time.monotonic()
        t = threading.Thread(target=caller)
        t.start()
        assert started.wait(5)
        while t.is_alive() and time.monotonic() - t0 < 5:
            loop.fail_waiting(lambda what: ConnectionError(what))
            t.join(0.01)
        assert isinstance(outcome[0], ConnectionError)
        with caplog.at_level(logging.ERROR, logger="beluga_nats_sync"):
            release.set()
            loop.run(lambda: None, 5, "barrier")
        assert [r.getMessage() for r in caplog.records] == []
    finally:
        loop.stop(2)
        assert not loop.thread.is_alive()


def test_stop_called_while_leading_ends_the_loops_own_thread() -> None:
    loop = IOLoop("bug2")
    try:

        def done() -> bool:
            loop.stop(1.0)  # on the leader: in_loop_thread() is True, so stop neither wakes nor joins
            return True

        loop.lead(done, time.monotonic() + 5)
        loop.thread.join(2.0)
        assert not loop.thread.is_alive()
        assert loop.closed
    finally:
        loop.stop(2)
