"""Fan-out, 16 B: one publisher, N subscriber connections on the same subject (N = 4).

Every subscriber receives every message. The timed part runs from the first publish until the
last subscriber has its last message; the figure is deliveries per second (messages x N).
Subscribers use callbacks, except nats-py-sync (no callbacks): a thread per subscriber pulls.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from ..harness.measure import Incomplete, Settings, clock, measure_throughput
from ..harness.peers import (
    BIG_PENDING_BYTES,
    BIG_PENDING_MSGS,
    AsyncDone,
    AsyncRunner,
    Done,
    beluga,
    natscore,
    natscore_drain,
    natspy,
    natspysync,
    natspysync_flush,
    payload_of,
    pynats2,
    pynats2_ready,
)
from ..harness.scenario import Point, Scenario

SUBJECT = "bench.fanout"
PAYLOAD = payload_of(16)


def scaled(result: dict[str, Any], factor: int) -> dict[str, Any]:
    """Turn messages/s into deliveries/s."""
    for key in ("median", "min", "max"):
        result[key] *= factor
    result["samples"] = [v * factor for v in result["samples"]]
    return result


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    with contextlib.ExitStack() as stack:
        subs = [stack.enter_context(beluga(url, f"bench-sub-{i}")) for i in range(n_subs)]
        pub_nc = stack.enter_context(beluga(url, "bench-pub"))
        done = Done()
        for nc in subs:
            nc.subscribe(
                SUBJECT,
                lambda _msg: done.hit(),
                pending_msgs_limit=BIG_PENDING_MSGS,
                pending_bytes_limit=BIG_PENDING_BYTES,
            )
            nc.flush(10.0)
        pub = pub_nc.publish

        def once(n: int) -> float:
            done.reset(n * n_subs)
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, PAYLOAD)
            return done.wait(s.rep_deadline, "fan-out") - t0

        return scaled(measure_throughput(once, s), n_subs)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    with contextlib.ExitStack() as stack:
        r = stack.enter_context(AsyncRunner())
        subs = [stack.enter_context(natspy(r, url, f"bench-sub-{i}")) for i in range(n_subs)]
        pub_nc = stack.enter_context(natspy(r, url, "bench-pub"))
        done = AsyncDone()

        async def cb(_msg: Any) -> None:
            done.hit()

        for nc in subs:
            r.run(nc.subscribe(SUBJECT, cb=cb, pending_msgs_limit=0, pending_bytes_limit=0))
            r.run(nc.flush())

        def once(n: int) -> float:
            wait = done.publish_and_wait(
                pub_nc, SUBJECT, PAYLOAD, n, n * n_subs, s.rep_deadline, "fan-out: {} of {} delivered"
            )
            return r.run(wait)

        return scaled(measure_throughput(once, s), n_subs)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    with contextlib.ExitStack() as stack:
        r = stack.enter_context(AsyncRunner())
        subs_nc = [stack.enter_context(natscore(r, url)) for _ in range(n_subs)]
        pub_nc = stack.enter_context(natscore(r, url))
        done = AsyncDone()
        subs = []
        for nc in subs_nc:
            sub = r.run(nc.subscribe(SUBJECT, max_pending_messages=None, max_pending_bytes=None))
            sub.add_callback(lambda _msg: done.hit())
            subs.append(sub)
            r.run(nc.flush(timeout=10.0))

        def once(n: int) -> float:
            try:
                wait = done.publish_and_wait(
                    pub_nc, SUBJECT.encode(), PAYLOAD, n, n * n_subs, s.rep_deadline, "fan-out: {} of {} delivered"
                )
                return r.run(wait)
            finally:
                for sub in subs:
                    natscore_drain(sub)

        return scaled(measure_throughput(once, s), n_subs)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    with contextlib.ExitStack() as stack:
        ctxs = [stack.enter_context(natspysync(url)) for _ in range(n_subs)]
        subs = [ctx.subscribe(SUBJECT) for ctx in ctxs]
        for ctx in ctxs:
            natspysync_flush(ctx)
        pub_ctx = stack.enter_context(natspysync(url))

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


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_subs = point["subscribers"]
    with contextlib.ExitStack() as stack:
        subs = [stack.enter_context(pynats2(url, f"bench-sub-{i}")) for i in range(n_subs)]
        pub_nc = stack.enter_context(pynats2(url, "bench-pub"))
        done = Done()
        for nc in subs:
            nc.subscribe(SUBJECT, callback=lambda _msg: done.hit())
            pynats2_ready(nc, pub_nc)
        pub = pub_nc.publish

        def once(n: int) -> float:
            done.reset(n * n_subs)
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, payload=PAYLOAD)
            return done.wait(s.rep_deadline, "fan-out") - t0

        return scaled(measure_throughput(once, s), n_subs)


SCENARIO = Scenario(
    name="fanout",
    title="fan-out to N subscribers, 16 B (deliveries/s)",
    unit="deliveries/s",
    higher_is_better=True,
    points=lambda quick: [{"subscribers": 4}],
    label=lambda p: f"{p['subscribers']} subscribers",
    impls={"beluga": _beluga, "natspy": _natspy, "natscore": _natscore, "natspysync": _natspysync, "pynats2": _pynats2},
    notes={"natspysync": "no callbacks: one thread per subscriber pulls with recv()"},
)
