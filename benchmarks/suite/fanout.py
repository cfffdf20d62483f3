"""Fan-out, 16 B: one publisher, N subscriber connections on the same subject (N = 4).

Every subscriber receives every message. The timed part runs from the first publish until the
last subscriber has its last message; the figure is deliveries per second (messages x N).
Subscribers use callbacks, except nats-py-sync (no callbacks): a thread per subscriber pulls.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from ..harness.loops import AsyncDone, Done
from ..harness.measure import Incomplete, Settings, clock, measure_throughput
from ..harness.peers import (
    AsyncRunner,
    Subscribers,
    beluga_subscribers,
    natscore_drain,
    natscore_subscribers,
    natspy_subscribers,
    natspysync_flush,
    natspysync_subscribers,
    payload_of,
    pynats2_subscribers,
)
from ..harness.scenario import Point, Scenario

SUBJECT = "bench.fanout"
PAYLOAD = payload_of(16)
INCOMPLETE = "fan-out: {} of {} delivered"


def scaled(result: dict[str, Any], factor: int) -> dict[str, Any]:
    """Turn messages/s into deliveries/s."""
    for key in ("median", "min", "max"):
        result[key] *= factor
    result["samples"] = [v * factor for v in result["samples"]]
    return result


def _blocking(subscribers: Subscribers, payload_keyword: bool, url: str, point: Point, s: Settings) -> dict[str, Any]:
    """This library and pynats2: callbacks on their own threads, a blocking publish."""
    n_subs = point["subscribers"]
    done = Done()
    with subscribers(url, SUBJECT, [lambda _msg: done.hit()] * n_subs) as (pub_nc, _subs):
        pub = pub_nc.publish

        def once(n: int) -> float:
            expected = n * n_subs
            return done.publish_and_wait(pub, SUBJECT, PAYLOAD, n, expected, s.rep_deadline, "fan-out", payload_keyword)

        return scaled(measure_throughput(once, s), n_subs)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    done = AsyncDone()

    async def cb(_msg: Any) -> None:
        done.hit()

    with AsyncRunner() as r, natspy_subscribers(r, url, SUBJECT, [cb] * n_subs) as (pub_nc, _subs):

        def once(n: int) -> float:
            return r.run(done.publish_and_wait(pub_nc, SUBJECT, PAYLOAD, n, n * n_subs, s.rep_deadline, INCOMPLETE))

        return scaled(measure_throughput(once, s), n_subs)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    done = AsyncDone()
    handlers = [lambda _msg: done.hit()] * n_subs
    with AsyncRunner() as r, natscore_subscribers(r, url, SUBJECT, handlers) as (pub_nc, subs):

        def once(n: int) -> float:
            try:
                wait = done.publish_and_wait(
                    pub_nc, SUBJECT.encode(), PAYLOAD, n, n * n_subs, s.rep_deadline, INCOMPLETE
                )
                return r.run(wait)
            finally:
                for sub in subs:
                    natscore_drain(sub)

        return scaled(measure_throughput(once, s), n_subs)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    with natspysync_subscribers(url, SUBJECT, n_subs) as (pub_ctx, subs):

        def once(n: int) -> float:
            go = threading.Event()
            ends: list[float] = []
            errors: list[BaseException] = []

            def pull(sub: Any) -> None:  # each context is used by one thread at a time
                go.wait(10.0)
                try:
                    for _ in range(n):
                        sub.recv(s.rep_deadline)
                    ends.append(clock())
                except Exception as exc:  # a timeout, or the connection failing
                    errors.append(exc)

            threads = [threading.Thread(target=pull, args=(sub,), daemon=True) for sub in subs]
            for th in threads:
                th.start()
            t0 = clock()
            go.set()
            for _ in range(n):
                pub_ctx.publish(SUBJECT, PAYLOAD)
            natspysync_flush(pub_ctx)
            for th in threads:
                th.join(s.rep_deadline)
            if errors or len(ends) < n_subs:
                raise Incomplete(f"fan-out: {len(ends)} of {n_subs} subscribers got every message ({errors[:1]})")
            return max(ends) - t0

        return scaled(measure_throughput(once, s), n_subs)


SCENARIO = Scenario(
    name="fanout",
    title="fan-out to N subscribers, 16 B (deliveries/s)",
    unit="deliveries/s",
    higher_is_better=True,
    points=lambda quick: [{"subscribers": 4}],
    label=lambda p: f"{p['subscribers']} subscribers",
    impls={
        "beluga": partial(_blocking, beluga_subscribers, False),
        "natspy": _natspy,
        "natscore": _natscore,
        "natspysync": _natspysync,
        "pynats2": partial(_blocking, pynats2_subscribers, True),
    },
    notes={"natspysync": "no callbacks: one thread per subscriber pulls with recv()"},
)
