"""Connecting, subscribing, flushing and closing each client the same way in every scenario.

Only the scenario workers import this (never the runner), so a peer's import cost or failure
stays in the worker's process. Peers are imported inside the functions for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from .measure import Incomplete, clock

__all__ = [
    "BIG_PENDING_BYTES",
    "BIG_PENDING_MSGS",
    "AsyncRunner",
    "Handlers",
    "Subscribers",
    "beluga",
    "beluga_subscribers",
    "natscore",
    "natscore_drain",
    "natscore_subscribers",
    "natspy",
    "natspy_subscribers",
    "natspysync",
    "natspysync_close",
    "natspysync_flush",
    "natspysync_subscribers",
    "payload_of",
    "pynats2",
    "pynats2_ready",
    "pynats2_subscribers",
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


#: one message handler per subscriber connection; None: a subscription to pull from
Handlers = Sequence[Callable[[Any], Any] | None]
#: :func:`beluga_subscribers` or :func:`pynats2_subscribers`: (url, subject, handlers, queue=, name=)
#: -> a context yielding (the publisher's connection, the subscriptions)
Subscribers = Callable[..., AbstractContextManager[tuple[Any, list[Any]]]]


@contextlib.contextmanager
def _subscribers(
    open_conn: Callable[[str], AbstractContextManager[Any]],
    n: int,
    name: str,
    subscribe: Callable[[int, Any, Any], Any],
) -> Iterator[tuple[Any, list[Any]]]:
    """``n`` subscriber connections (``name-0`` ...) and a publisher's (``bench-pub``); then
    ``subscribe(i, conn, pub_conn)`` on each. Yields the publisher's connection and what each
    ``subscribe`` returned; closes every connection, the publisher's first."""
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(open_conn(f"{name}-{i}")) for i in range(n)]
        pub_nc = stack.enter_context(open_conn("bench-pub"))
        yield pub_nc, [subscribe(i, nc, pub_nc) for i, nc in enumerate(conns)]


def beluga_subscribers(
    url: str, subject: str, handlers: Handlers, queue: str = "", name: str = "bench-sub"
) -> AbstractContextManager[tuple[Any, list[Any]]]:
    """A connection per handler, subscribed to ``subject`` (in ``queue`` if given) with no
    pending limit and flushed, and the publisher's: yields (publisher, subscriptions)."""

    def subscribe(i: int, nc: Any, _pub: Any) -> Any:
        sub = nc.subscribe(
            subject,
            handlers[i],
            queue=queue,
            pending_msgs_limit=BIG_PENDING_MSGS,
            pending_bytes_limit=BIG_PENDING_BYTES,
        )
        nc.flush(10.0)
        return sub

    return _subscribers(lambda conn_name: beluga(url, conn_name), len(handlers), name, subscribe)


def natspy_subscribers(
    runner: AsyncRunner, url: str, subject: str, handlers: Handlers, queue: str = "", name: str = "bench-sub"
) -> AbstractContextManager[tuple[Any, list[Any]]]:
    """As :func:`beluga_subscribers`, for nats-py (handlers are coroutine functions; 0 lifts its limits)."""

    def subscribe(i: int, nc: Any, _pub: Any) -> Any:
        sub = runner.run(
            nc.subscribe(subject, queue=queue, cb=handlers[i], pending_msgs_limit=0, pending_bytes_limit=0)
        )
        runner.run(nc.flush())
        return sub

    return _subscribers(lambda conn_name: natspy(runner, url, conn_name), len(handlers), name, subscribe)


def natscore_subscribers(
    runner: AsyncRunner, url: str, subject: str, handlers: Handlers, queue: str = ""
) -> AbstractContextManager[tuple[Any, list[Any]]]:
    """As :func:`beluga_subscribers`, for nats-core: a handler is added with ``add_callback``
    (run on its loop as each message is queued; drain the subscriptions with :func:`natscore_drain`)."""
    queue_kw = {"queue": queue} if queue else {}

    def subscribe(i: int, nc: Any, _pub: Any) -> Any:
        sub = runner.run(nc.subscribe(subject, **queue_kw, max_pending_messages=None, max_pending_bytes=None))
        if handlers[i] is not None:
            sub.add_callback(handlers[i])
        runner.run(nc.flush(timeout=10.0))
        return sub

    return _subscribers(lambda _name: natscore(runner, url), len(handlers), "bench-sub", subscribe)


def natspysync_subscribers(url: str, subject: str, n: int) -> AbstractContextManager[tuple[Any, list[Any]]]:
    """``n`` nats-py-sync contexts subscribed to ``subject`` (it has no callbacks: pull with
    ``recv``) and flushed, and the publisher's context: yields (publisher, subscriptions)."""

    def subscribe(_i: int, ctx: Any, _pub: Any) -> Any:
        sub = ctx.subscribe(subject)
        natspysync_flush(ctx)
        return sub

    return _subscribers(lambda _name: natspysync(url), n, "bench-sub", subscribe)


def pynats2_subscribers(
    url: str, subject: str, handlers: Sequence[Callable[[Any], Any]], queue: str = "", name: str = "bench-sub"
) -> AbstractContextManager[tuple[Any, list[Any]]]:
    """As :func:`beluga_subscribers`, for pynats2 (callbacks only; each subscription is made
    sure of with :func:`pynats2_ready`, as it has no flush)."""

    def subscribe(i: int, nc: Any, pub_nc: Any) -> Any:
        sub = nc.subscribe(subject, callback=handlers[i], queue=queue)
        pynats2_ready(nc, pub_nc)
        return sub

    return _subscribers(lambda conn_name: pynats2(url, conn_name), len(handlers), name, subscribe)
