"""Queue-group work sharing, 16 B: one publisher, N members of one queue group (N = 4).

Each message goes to exactly one member. The timed part runs from the first publish until
every message has been handled; the figure is messages handled per second. The share of the
busiest and the idlest member is recorded too (how evenly the server spread the work).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ..harness.measure import Settings, clock, measure_throughput
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
    payload_of,
    pynats2,
    pynats2_ready,
)
from ..harness.scenario import Point, Scenario

SUBJECT = "bench.work"
QUEUE = "workers"
PAYLOAD = payload_of(16)


class _Shares:
    """Per-member counts, each written by its member's delivering thread(s) only."""

    def __init__(self, n: int) -> None:
        self.counts = [0] * n

    def member(self, i: int, done: Done) -> Callable[[Any], None]:
        counts = self.counts

        def handle(_msg: Any) -> None:
            counts[i] += 1
            done.hit()

        return handle

    def record(self, result: dict[str, Any]) -> dict[str, Any]:
        total = sum(self.counts) or 1
        result["share_min_pct"] = 100.0 * min(self.counts) / total
        result["share_max_pct"] = 100.0 * max(self.counts) / total
        return result


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_members = point["members"]
    with contextlib.ExitStack() as stack:
        members = [stack.enter_context(beluga(url, f"bench-worker-{i}")) for i in range(n_members)]
        pub_nc = stack.enter_context(beluga(url, "bench-pub"))
        done, shares = Done(), _Shares(n_members)
        for i, nc in enumerate(members):
            nc.subscribe(
                SUBJECT,
                shares.member(i, done),
                queue=QUEUE,
                pending_msgs_limit=BIG_PENDING_MSGS,
                pending_bytes_limit=BIG_PENDING_BYTES,
            )
            nc.flush(10.0)
        pub = pub_nc.publish

        def once(n: int) -> float:
            done.reset(n)
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, PAYLOAD)
            return done.wait(s.rep_deadline, "queue group") - t0

        return shares.record(measure_throughput(once, s))


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_members = point["members"]
    with contextlib.ExitStack() as stack:
        r = stack.enter_context(AsyncRunner())
        members = [stack.enter_context(natspy(r, url, f"bench-worker-{i}")) for i in range(n_members)]
        pub_nc = stack.enter_context(natspy(r, url, "bench-pub"))
        done = AsyncDone()
        counts = [0] * n_members

        def member(i: int) -> Any:
            async def cb(_msg: Any) -> None:
                counts[i] += 1
                done.hit()

            return cb

        for i, nc in enumerate(members):
            r.run(nc.subscribe(SUBJECT, queue=QUEUE, cb=member(i), pending_msgs_limit=0, pending_bytes_limit=0))
            r.run(nc.flush())

        def once(n: int) -> float:
            return r.run(
                done.publish_and_wait(pub_nc, SUBJECT, PAYLOAD, n, n, s.rep_deadline, "queue group: {} of {} handled")
            )

        result = measure_throughput(once, s)
        total = sum(counts) or 1
        result["share_min_pct"] = 100.0 * min(counts) / total
        result["share_max_pct"] = 100.0 * max(counts) / total
        return result


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_members = point["members"]
    with contextlib.ExitStack() as stack:
        r = stack.enter_context(AsyncRunner())
        members = [stack.enter_context(natscore(r, url)) for _ in range(n_members)]
        pub_nc = stack.enter_context(natscore(r, url))
        done = AsyncDone()
        counts = [0] * n_members

        def member(i: int) -> Callable[[Any], None]:
            def cb(_msg: Any) -> None:
                counts[i] += 1
                done.hit()

            return cb

        subs = []
        for i, nc in enumerate(members):
            sub = r.run(nc.subscribe(SUBJECT, queue=QUEUE, max_pending_messages=None, max_pending_bytes=None))
            sub.add_callback(member(i))
            subs.append(sub)
            r.run(nc.flush(timeout=10.0))

        def once(n: int) -> float:
            try:
                wait = done.publish_and_wait(
                    pub_nc, SUBJECT.encode(), PAYLOAD, n, n, s.rep_deadline, "queue group: {} of {} handled"
                )
                return r.run(wait)
            finally:
                for sub in subs:
                    natscore_drain(sub)

        result = measure_throughput(once, s)
        total = sum(counts) or 1
        result["share_min_pct"] = 100.0 * min(counts) / total
        result["share_max_pct"] = 100.0 * max(counts) / total
        return result


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_members = point["members"]
    with contextlib.ExitStack() as stack:
        members = [stack.enter_context(pynats2(url, f"bench-worker-{i}")) for i in range(n_members)]
        pub_nc = stack.enter_context(pynats2(url, "bench-pub"))
        done, shares = Done(), _Shares(n_members)
        for i, nc in enumerate(members):
            nc.subscribe(SUBJECT, callback=shares.member(i, done), queue=QUEUE)
            pynats2_ready(nc, pub_nc)
        pub = pub_nc.publish

        def once(n: int) -> float:
            done.reset(n)
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, payload=PAYLOAD)
            return done.wait(s.rep_deadline, "queue group") - t0

        return shares.record(measure_throughput(once, s))


SCENARIO = Scenario(
    name="queue_group",
    title="queue-group work sharing, 16 B",
    unit="msgs/s",
    higher_is_better=True,
    points=lambda quick: [{"members": 4}],
    label=lambda p: f"{p['members']} members",
    impls={"beluga": _beluga, "natspy": _natspy, "natscore": _natscore, "pynats2": _pynats2},
    unsupported={
        "natspysync": "no queue groups (its subscribe() takes no queue)",
    },
    notes={"pynats2": "each member's callbacks run on a pool of 3 threads"},
)
