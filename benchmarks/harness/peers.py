"""Connecting, flushing and closing each client the same way in every scenario.

Only the scenario workers import this (never the runner), so a peer's import cost or failure
stays in the worker's process. Peers are imported inside the functions for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

from .measure import Incomplete, clock

__all__ = [
    "BIG_PENDING_BYTES",
    "BIG_PENDING_MSGS",
    "AsyncRunner",
    "Done",
    "beluga",
    "natscore",
    "natscore_drain",
    "natspy",
    "natspysync",
    "natspysync_close",
    "natspysync_flush",
    "payload_of",
    "pynats2",
    "pynats2_ready",
]

T = TypeVar("T")

# Subscriptions in the benchmarks take everything: they measure throughput, not the
# slow-consumer policy, so a burst must never be dropped by a client-side pending limit.
BIG_PENDING_MSGS = 50_000_000
BIG_PENDING_BYTES = 4 << 30


def payload_of(size: int) -> bytes:
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


class AsyncRunner:
    """One event loop for a nats-py client; each timed part runs inside one coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.close()

    def __enter__(self) -> AsyncRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDone:
    """The nats-py twin of :class:`Done`: its callbacks count down on the loop thread."""

    def __init__(self) -> None:
        self.left = 0
        self.t_end = 0.0
        self.fut: asyncio.Future[None] | None = None

    def hit(self) -> None:
        """Count one delivery (call from a nats-py callback)."""
        self.left -= 1
        if self.left == 0 and self.fut is not None:
            self.t_end = clock()
            self.fut.set_result(None)

    async def publish_and_wait(
        self, pub_nc: Any, subject: str | bytes, payload: bytes, n: int, expected: int, deadline: float, incomplete: str
    ) -> float:
        """Publish ``n`` messages and wait for ``expected`` deliveries; return the seconds from the
        first publish to the last delivery. ``incomplete`` formats (done, expected) on a timeout."""
        self.left = expected
        self.fut = asyncio.get_running_loop().create_future()
        pub = pub_nc.publish
        t0 = clock()
        for _ in range(n):
            await pub(subject, payload)
        try:
            await asyncio.wait_for(self.fut, deadline)
        except asyncio.TimeoutError:
            raise Incomplete(incomplete.format(expected - self.left, expected)) from None
        return float(self.t_end - t0)


class Done:
    """Counts deliveries across threads and records when the target count was reached.

    ``next()`` on an ``itertools.count`` is atomic in CPython, so several delivering threads
    (queue groups, pynats2's worker pool) need no lock on the hot path.
    """

    def __init__(self) -> None:
        self.target = 0
        self.t_end = 0.0
        self.event = threading.Event()
        self._count = itertools.count()
        self.seen = 0

    def reset(self, target: int) -> None:
        self.target = target
        self.t_end = 0.0
        self.event.clear()
        self._count = itertools.count()
        self.seen = 0

    def hit(self) -> bool:
        """Count one delivery; True (once) when it is the last one awaited."""
        k = next(self._count)
        self.seen = k + 1  # for the error message only; racy across threads but never read hot
        if k == self.target - 1:
            self.t_end = clock()
            self.event.set()
            return True
        return False

    def wait(self, timeout: float, what: str) -> float:
        """Wait for the target count; return the time it was reached. Raise Incomplete past timeout."""
        if not self.event.wait(timeout):
            raise Incomplete(f"{what}: {self.seen} of {self.target} delivered within {timeout:g} s")
        return self.t_end


@contextlib.contextmanager
def beluga(url: str, name: str) -> Iterator[Any]:
    import beluga_nats_sync as bns

    nc = bns.connect(url, name=name, timeout=10.0)
    try:
        nc.flush(10.0)
        yield nc
    finally:
        nc.close(10.0)


@contextlib.contextmanager
def natspy(runner: AsyncRunner, url: str, name: str) -> Iterator[Any]:
    import nats

    nc = runner.run(nats.connect(url, name=name, connect_timeout=10, allow_reconnect=False))
    try:
        yield nc
    finally:
        runner.run(nc.close())


@contextlib.contextmanager
def natscore(runner: AsyncRunner, url: str) -> Iterator[Any]:
    """A nats-core client (Python >= 3.13; its workers run under the peer interpreter)."""
    from nats.client import connect

    nc = runner.run(connect(url, timeout=10.0, allow_reconnect=False))
    try:
        yield nc
    finally:
        runner.run(nc.close())


def natscore_drain(sub: Any) -> int:
    """Empty a nats-core subscription's queue, untimed. Its callbacks run as each message is
    queued, and every message is queued as well, callback or not: without this a callback
    subscription would hold every message of every repetition."""
    q = sub._pending_queue
    n = 0
    while not q.empty():
        q.get_nowait()
        n += 1
    sub._pending_messages = 0
    sub._pending_bytes = 0
    return n


@contextlib.contextmanager
def natspysync(url: str) -> Iterator[Any]:
    import nats_sync

    ctx = nats_sync.connect(url)
    try:
        yield ctx
    finally:
        natspysync_close(ctx)


def natspysync_flush(ctx: Any) -> None:
    """nats-py-sync has no flush; wait for the server's PONG through its private client so the
    timed part ends when the server has what was published (as for every other client)."""
    ctx._loop.run_until_complete(ctx._nc.flush(timeout=60))


def natspysync_close(ctx: Any) -> None:
    """nats-py-sync has no close; without one its loop's tasks are destroyed pending at exit."""
    with contextlib.suppress(Exception):
        ctx._loop.run_until_complete(ctx._nc.close())
    with contextlib.suppress(Exception):
        loop = ctx._loop
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()


@contextlib.contextmanager
def pynats2(url: str, name: str) -> Iterator[Any]:
    from pynats2 import NATSClient

    nc = NATSClient(url, name=name)
    nc.connect()
    try:
        yield nc
    finally:
        nc.close()


def pynats2_ready(sub_nc: Any, pub_nc: Any, timeout: float = 10.0) -> None:
    """pynats2 has no flush: wait until the server has ``sub_nc``'s subscriptions by probing a
    subject it subscribes to last (a server handles one connection's commands in order)."""
    import uuid

    subject = f"bench.probe.{uuid.uuid4().hex}"
    seen = threading.Event()
    sub = sub_nc.subscribe(subject, callback=lambda _msg: seen.set())
    deadline = clock() + timeout
    while not seen.wait(0.01):
        if clock() > deadline:
            raise Incomplete(f"pynats2: the subscriptions were not live within {timeout:g} s")
        pub_nc.publish(subject, payload=b"")
    sub_nc.unsubscribe(sub)
