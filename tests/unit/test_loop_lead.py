"""A waiting thread leads the client's I/O loop: it runs the loop's work itself, one thread at a
time, and the loop's own thread carries on when it leaves (``_core/portal.py``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from beluga_nats_sync._core.portal import IOLoop


@pytest.fixture
def loop() -> Iterator[IOLoop]:
    lp = IOLoop("test-loop")
    yield lp
    lp.stop(2.0)
    assert not lp.thread.is_alive()


def test_a_leader_runs_what_is_handed_over_and_reads_the_socket_itself(loop: IOLoop) -> None:
    ours, theirs = socket.socketpair()
    try:
        ran_on: list[int] = []
        read: list[bytes] = []

        def on_readable() -> None:
            ran_on.append(threading.get_ident())
            read.append(ours.recv(100))

        loop.run(lambda: loop.add_reader(ours.fileno(), on_readable), 2.0, "add")

        def replied() -> bool:  # asked by lead() only once it holds the loop: the reply comes now
            if not read:
                theirs.sendall(b"reply")
            return bool(read)

        loop.lead(replied, time.monotonic() + 5.0)
        assert read == [b"reply"]
        assert ran_on == [threading.get_ident()]  # read by the waiting thread, not handed over
        loop.run(lambda: loop.remove_reader(ours.fileno()), 2.0, "remove")
    finally:
        ours.close()
        theirs.close()


def test_while_leading_the_thread_is_the_io_thread(loop: IOLoop) -> None:
    seen: list[bool] = []
    loop.call_soon(lambda: seen.append(loop.in_loop_thread()))
    loop.lead(lambda: bool(seen), time.monotonic() + 5.0)
    assert seen == [True]
    assert not loop.in_loop_thread()  # no longer, once it has left


def test_a_leader_leaves_at_its_deadline_when_nothing_comes(loop: IOLoop) -> None:
    t0 = time.monotonic()
    loop.lead(lambda: False, t0 + 0.1)
    assert 0.09 <= time.monotonic() - t0 < 2.0


def test_one_leader_at_a_time_and_the_loop_work_never_overlaps(loop: IOLoop) -> None:
    inside = [0]
    overlaps = [0]
    done = threading.Event()
    count = [0]

    def work() -> None:
        inside[0] += 1
        if inside[0] != 1:
            overlaps[0] += 1
        time.sleep(0)  # hand the GIL over inside the work: another runner would show here
        inside[0] -= 1
        count[0] += 1
        if count[0] == 2000:
            done.set()

    def feed() -> None:
        for _ in range(1000):
            loop.call_soon(work)

    def lead_often() -> None:
        # as a caller does: lead if the loop is free, else wait (here: a moment) and try again
        while not done.is_set():
            loop.lead(done.is_set, time.monotonic() + 0.01)
            done.wait(0.001)

    threads = [threading.Thread(target=feed), threading.Thread(target=feed)]
    threads += [threading.Thread(target=lead_often), threading.Thread(target=lead_often)]
    for t in threads:
        t.start()
    assert done.wait(10.0)
    for t in threads:
        t.join(5.0)
    assert overlaps == [0] and count == [2000]


def test_a_second_caller_does_not_wait_while_another_leads(loop: IOLoop) -> None:
    leading = threading.Event()
    release = threading.Event()

    def holding() -> bool:  # asked by lead() only once it holds the loop
        leading.set()
        return release.is_set()

    def first() -> None:
        loop.lead(holding, time.monotonic() + 5.0)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert leading.wait(5.0)
        t0 = time.monotonic()
        loop.lead(lambda: False, t0 + 3.0)  # another caller holds the loop: back at once
        assert time.monotonic() - t0 < 1.0
    finally:
        release.set()
        t.join(5.0)


def test_work_handed_over_after_a_leader_left_is_run_by_the_loop_thread(loop: IOLoop) -> None:
    loop.lead(lambda: True, time.monotonic() + 1.0)
    ran = threading.Event()
    where: list[int] = []

    def later() -> None:
        where.append(threading.get_ident())
        ran.set()

    loop.call_soon(later)
    assert ran.wait(5.0)
    assert where == [loop.thread.ident]


def test_a_timer_set_by_a_leader_fires_after_it_left(loop: IOLoop) -> None:
    fired = threading.Event()
    armed = threading.Event()

    def arm() -> None:
        loop.call_later(0.05, fired.set)  # earlier than anything the loop's thread sleeps towards
        armed.set()

    loop.call_soon(arm)
    loop.lead(armed.is_set, time.monotonic() + 5.0)
    assert armed.is_set()
    assert fired.wait(5.0)  # the loop's thread was woken for it when the leader left


def test_stopping_the_loop_ends_a_leader_promptly() -> None:
    lp = IOLoop("test-loop")
    started = threading.Event()
    left = threading.Event()

    def never() -> bool:  # asked by lead() only once it holds the loop
        started.set()
        return False

    def lead() -> None:
        lp.lead(never, time.monotonic() + 30.0)
        left.set()

    t = threading.Thread(target=lead)
    t.start()
    assert started.wait(5.0)
    t0 = time.monotonic()
    lp.stop(5.0)
    assert left.wait(5.0)
    assert time.monotonic() - t0 < 2.0
    t.join(5.0)
    assert not lp.thread.is_alive() and not t.is_alive()
    with pytest.raises(RuntimeError):
        lp.call_soon(print)
