"""The timed loops the scenarios share: counting deliveries, publishing, pulling, timing requests.

Each helper runs a whole timed loop itself, so a scenario that uses one calls it once per
repetition and the loop body makes the same client calls per message as it would written out.
A loop that publishes through pynats2 passes ``payload_keyword=True``: its ``publish`` and
``request`` take the payload by keyword only, and an adapter would add a call per message.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from .measure import Incomplete, clock

__all__ = [
    "AsyncDone",
    "Done",
    "async_round_trips",
    "publish_and_pull",
    "publish_n",
    "publish_n_async",
    "pull_while_publishing",
    "round_trips",
]


def publish_n(pub: Callable[..., Any], subject: str, payload: bytes, n: int, payload_keyword: bool = False) -> None:
    """Call ``pub(subject, payload)`` ``n`` times (``pub(subject, payload=payload)`` with ``payload_keyword``)."""
    if payload_keyword:
        for _ in range(n):
            pub(subject, payload=payload)
    else:
        for _ in range(n):
            pub(subject, payload)


async def publish_n_async(
    pub: Callable[[Any, bytes], Awaitable[Any]], subject: str | bytes, payload: bytes, n: int
) -> None:
    """``await pub(subject, payload)`` ``n`` times."""
    for _ in range(n):
        await pub(subject, payload)


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
        await publish_n_async(pub, subject, payload, n)
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

    def publish_and_wait(
        self,
        pub: Callable[..., Any],
        subject: str,
        payload: bytes,
        n: int,
        expected: int,
        deadline: float,
        what: str,
        payload_keyword: bool = False,
    ) -> float:
        """Publish ``n`` messages with ``pub`` and wait for ``expected`` deliveries; return the
        seconds from the first publish to the last delivery."""
        self.reset(expected)
        t0 = clock()
        publish_n(pub, subject, payload, n, payload_keyword)
        return self.wait(deadline, what) - t0


def pull_while_publishing(
    receive: Callable[[float], Any],
    publish_all: Callable[[int], None],
    n: int,
    deadline: float,
    timeout_error: type[BaseException],
) -> float:
    """Pull ``n`` messages with ``receive(deadline)`` while a thread runs ``publish_all(n)``;
    return the seconds from the start to the last message pulled. ``timeout_error`` is what
    ``receive`` raises when nothing came in time."""
    go = threading.Event()

    def publisher() -> None:
        go.wait(10.0)
        publish_all(n)

    th = threading.Thread(target=publisher, daemon=True)
    th.start()
    t0 = clock()
    go.set()
    try:
        for _ in range(n):
            receive(deadline)
    except timeout_error:
        raise Incomplete(f"pull delivery: a message did not arrive within {deadline:g} s") from None
    finally:
        th.join(deadline)
    return clock() - t0


async def publish_and_pull(
    receive: Callable[[], Awaitable[Any]],
    pub: Callable[[Any, bytes], Awaitable[Any]],
    subject: str | bytes,
    payload: bytes,
    n: int,
    deadline: float,
) -> float:
    """Publish ``n`` messages with ``pub`` while a task awaits ``receive()`` ``n`` times; return
    the seconds from the first publish to the last message received."""

    async def consume() -> float:
        for _ in range(n):
            await receive()
        return clock()

    t0 = clock()
    consumer = asyncio.ensure_future(consume())
    await publish_n_async(pub, subject, payload, n)
    try:
        t_end = await asyncio.wait_for(consumer, deadline)
    except asyncio.TimeoutError:
        raise Incomplete("pull delivery did not finish in time") from None
    return t_end - t0


def round_trips(
    request: Callable[..., Any], subject: str, payload: bytes, n: int, timeout: float, payload_keyword: bool = False
) -> list[float]:
    """The seconds each of ``n`` sequential ``request(subject, payload, timeout=timeout)`` took."""
    lat = []
    if payload_keyword:
        for _ in range(n):
            t0 = clock()
            request(subject, payload=payload, timeout=timeout)
            lat.append(clock() - t0)
    else:
        for _ in range(n):
            t0 = clock()
            request(subject, payload, timeout=timeout)
            lat.append(clock() - t0)
    return lat


async def async_round_trips(
    request: Callable[..., Awaitable[Any]], subject: str, payload: bytes, n: int, timeout: float
) -> list[float]:
    """The seconds each of ``n`` sequential ``await request(subject, payload, timeout=timeout)`` took."""
    lat = []
    for _ in range(n):
        t0 = clock()
        await request(subject, payload, timeout=timeout)
        lat.append(clock() - t0)
    return lat
