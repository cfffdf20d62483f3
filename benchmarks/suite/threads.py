"""Publisher threads, 16 B: 1, 4 and 16 threads publish at once; the figure is total msgs/s.

The count of a repetition is split evenly between the threads, which start together from a
barrier; the timed part ends when every thread is done and a flush has come back. Clients that
are thread-safe share one connection (this library, pynats2); nats-py-sync is not (its loop
cannot be entered by two threads), so each thread gets a context of its own; nats-py async has
no threads to offer: it runs that many tasks on its one loop and connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from ..harness.loops import publish_n, publish_n_async
from ..harness.measure import Incomplete, Settings, clock, measure_throughput
from ..harness.peers import AsyncRunner, beluga, natscore, natspy, natspysync, natspysync_flush, payload_of, pynats2
from ..harness.scenario import Point, Scenario

THREADS = (1, 4, 16)
SUBJECT = "bench.threads"
PAYLOAD = payload_of(16)


def _in_threads(n_threads: int, work: Callable[[int, int], None], finish: Callable[[], None], s: Settings) -> Any:
    """``once(n)`` for measure_throughput: ``work(i, share)`` in each thread, then ``finish()``."""

    def once(n: int) -> float:
        share = max(1, n // n_threads)
        barrier = threading.Barrier(n_threads + 1, timeout=10.0)
        errors: list[BaseException] = []

        def run(i: int) -> None:
            try:
                barrier.wait()
                work(i, share)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n_threads)]
        for th in threads:
            th.start()
        barrier.wait()
        t0 = clock()
        for th in threads:
            th.join(s.rep_deadline)
        if errors or any(th.is_alive() for th in threads):
            raise Incomplete(f"publisher threads failed or did not finish: {errors[:1]}")
        finish()
        # n may not divide evenly: report the rate of what was actually sent
        return (clock() - t0) * n / (share * n_threads)

    return once


def _in_tasks(r: AsyncRunner, nc: Any, subject: str | bytes, n_tasks: int, s: Settings) -> Callable[[int], float]:
    """``once(n)`` for measure_throughput: ``n_tasks`` tasks publish on ``nc``'s loop, then a flush."""

    async def timed(n: int) -> float:
        share = max(1, n // n_tasks)
        pub = nc.publish
        t0 = clock()
        await asyncio.gather(*(publish_n_async(pub, subject, PAYLOAD, share) for _ in range(n_tasks)))
        await nc.flush(timeout=s.rep_deadline)
        return float(clock() - t0) * n / (share * n_tasks)

    return lambda n: r.run(timed(n))


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_threads = int(point["threads"])
    with beluga(url, "bench-threads") as nc:
        pub = nc.publish

        def work(_i: int, share: int) -> None:
            publish_n(pub, SUBJECT, PAYLOAD, share)

        return measure_throughput(_in_threads(n_threads, work, lambda: nc.flush(s.rep_deadline), s), s, 400)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_tasks = int(point["threads"])
    with AsyncRunner() as r, natspy(r, url, "bench-threads") as nc:
        return measure_throughput(_in_tasks(r, nc, SUBJECT, n_tasks, s), s, 400)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_tasks = int(point["threads"])
    with AsyncRunner() as r, natscore(r, url) as nc:
        return measure_throughput(_in_tasks(r, nc, SUBJECT.encode(), n_tasks, s), s, 400)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_threads = int(point["threads"])
    with contextlib.ExitStack() as stack:
        ctxs = [stack.enter_context(natspysync(url)) for _ in range(n_threads)]

        def work(i: int, share: int) -> None:
            publish_n(ctxs[i].publish, SUBJECT, PAYLOAD, share)
            natspysync_flush(ctxs[i])

        return measure_throughput(_in_threads(n_threads, work, lambda: None, s), s, 400)


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_threads = int(point["threads"])
    with pynats2(url, "bench-threads") as nc:
        pub = nc.publish

        def work(_i: int, share: int) -> None:
            publish_n(pub, SUBJECT, PAYLOAD, share, payload_keyword=True)

        return measure_throughput(_in_threads(n_threads, work, lambda: None, s), s, 400)


SCENARIO = Scenario(
    name="threads",
    title="N publisher threads, 16 B",
    unit="msgs/s",
    higher_is_better=True,
    points=lambda quick: [{"threads": n} for n in THREADS],
    label=lambda p: f"{p['threads']} thread{'s' if p['threads'] > 1 else ''}",
    impls={"beluga": _beluga, "natspy": _natspy, "natscore": _natscore, "natspysync": _natspysync, "pynats2": _pynats2},
    notes={
        "natspy": "N tasks on one loop and connection (it has no threads)",
        "natspysync": "one context (connection) per thread: a context is not thread-safe",
        "pynats2": "one shared NATSClient (its publish holds a lock); no flush exists",
    },
)
