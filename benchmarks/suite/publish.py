"""Publish only: one thread publishes as fast as it can, by payload size; nobody subscribes.

The timed part is the publish loop plus a flush (a PING/PONG round trip), so it ends when the
server has processed every message, not when the client has queued them. Payloads of 0 B, 16 B
(the headline), 1 KiB, 64 KiB and 1 MiB; MB/s (10^6 bytes) is reported alongside msgs/s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..harness.loops import publish_n, publish_n_async
from ..harness.measure import Settings, clock, measure_throughput
from ..harness.peers import AsyncRunner, beluga, natscore, natspy, natspysync, natspysync_flush, payload_of, pynats2
from ..harness.scenario import Point, Scenario, size_label

SIZES = (0, 16, 1024, 64 * 1024, 1024 * 1024)
SUBJECT = "bench.publish"


def _measured(once: Callable[[int], float], s: Settings, size: int) -> dict[str, Any]:
    """msgs/s, from a small first count for large payloads, and MB/s alongside."""
    result = measure_throughput(once, s, max(2, min(200, (1 << 22) // max(size, 1))))
    result["mb_per_s"] = result["median"] * size / 1e6
    result["payload"] = size
    return result


def _sync(
    pub: Callable[..., Any], payload: bytes, flush: Callable[[], object] | None, payload_keyword: bool = False
) -> Callable[[int], float]:
    """``once(n)``: ``n`` publishes through a blocking client, then its ``flush()`` if it has one."""

    def once(n: int) -> float:
        t0 = clock()
        publish_n(pub, SUBJECT, payload, n, payload_keyword)
        if flush is not None:
            flush()
        return clock() - t0

    return once


def _async(r: AsyncRunner, nc: Any, subject: str | bytes, payload: bytes, s: Settings) -> Callable[[int], float]:
    """``once(n)``: ``n`` publishes through a nats-py or nats-core client, then its flush."""

    async def timed(n: int) -> float:
        t0 = clock()
        await publish_n_async(nc.publish, subject, payload, n)
        await nc.flush(timeout=s.rep_deadline)
        return clock() - t0

    return lambda n: r.run(timed(n))


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    with beluga(url, "bench-publish") as nc:
        return _measured(_sync(nc.publish, payload_of(size), lambda: nc.flush(s.rep_deadline)), s, size)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    with AsyncRunner() as r, natspy(r, url, "bench-publish") as nc:
        return _measured(_async(r, nc, SUBJECT, payload_of(size), s), s, size)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    with AsyncRunner() as r, natscore(r, url) as nc:  # the subject as bytes: its documented zero-copy path
        return _measured(_async(r, nc, SUBJECT.encode(), payload_of(size), s), s, size)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    with natspysync(url) as ctx:
        return _measured(_sync(ctx.publish, payload_of(size), lambda: natspysync_flush(ctx)), s, size)


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    with pynats2(url, "bench-publish") as nc:
        return _measured(_sync(nc.publish, payload_of(size), None, payload_keyword=True), s, size)


SCENARIO = Scenario(
    name="publish",
    title="publish only, 1 thread",
    unit="msgs/s",
    higher_is_better=True,
    points=lambda quick: [{"payload": n} for n in SIZES],
    label=lambda p: size_label(p["payload"]),
    impls={
        "beluga": _beluga,
        "natspy": _natspy,
        "natscore": _natscore,
        "natspysync": _natspysync,
        "pynats2": _pynats2,
    },
    notes={
        "natscore": "subject as bytes (its zero-copy path); ends with its flush",
        "natspysync": "ends with a flush through its private nats-py client (it has no flush of its own)",
        "pynats2": "no flush exists: the timed part ends when its blocking sendall() returns",
    },
)
