"""Publish only: one thread publishes as fast as it can, by payload size; nobody subscribes.

The timed part is the publish loop plus a flush (a PING/PONG round trip), so it ends when the
server has processed every message, not when the client has queued them. Payloads of 0 B, 16 B
(the headline), 1 KiB, 64 KiB and 1 MiB; MB/s (10^6 bytes) is reported alongside msgs/s.
"""

from __future__ import annotations

from typing import Any

from ..harness.measure import Settings, clock, measure_throughput
from ..harness.peers import (
    AsyncRunner,
    beluga,
    natscore,
    natspy,
    natspysync,
    natspysync_flush,
    payload_of,
    pynats2,
)
from ..harness.scenario import Point, Scenario, size_label

SIZES = (0, 16, 1024, 64 * 1024, 1024 * 1024)
SUBJECT = "bench.publish"


def _first_count(size: int) -> int:
    return max(2, min(200, (1 << 22) // max(size, 1)))


def _with_mb(result: dict[str, Any], size: int) -> dict[str, Any]:
    result["mb_per_s"] = result["median"] * size / 1e6
    result["payload"] = size
    return result


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    payload = payload_of(size)
    with beluga(url, "bench-publish") as nc:
        pub = nc.publish

        def once(n: int) -> float:
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, payload)
            nc.flush(s.rep_deadline)
            return clock() - t0

        return _with_mb(measure_throughput(once, s, _first_count(size)), size)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    payload = payload_of(size)
    with AsyncRunner() as r, natspy(r, url, "bench-publish") as nc:

        async def once(n: int) -> float:
            pub = nc.publish
            t0 = clock()
            for _ in range(n):
                await pub(SUBJECT, payload)
            await nc.flush(timeout=s.rep_deadline)
            return clock() - t0

        return _with_mb(measure_throughput(lambda n: r.run(once(n)), s, _first_count(size)), size)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    payload = payload_of(size)
    subject = SUBJECT.encode()  # bytes: its documented zero-copy path
    with AsyncRunner() as r, natscore(r, url) as nc:

        async def once(n: int) -> float:
            pub = nc.publish
            t0 = clock()
            for _ in range(n):
                await pub(subject, payload)
            await nc.flush(timeout=s.rep_deadline)
            return clock() - t0

        return _with_mb(measure_throughput(lambda n: r.run(once(n)), s, _first_count(size)), size)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    payload = payload_of(size)
    with natspysync(url) as ctx:
        pub = ctx.publish

        def once(n: int) -> float:
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, payload)
            natspysync_flush(ctx)
            return clock() - t0

        return _with_mb(measure_throughput(once, s, _first_count(size)), size)


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    size = point["payload"]
    payload = payload_of(size)
    with pynats2(url, "bench-publish") as nc:
        pub = nc.publish

        def once(n: int) -> float:
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, payload=payload)
            return clock() - t0

        return _with_mb(measure_throughput(once, s, _first_count(size)), size)


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
