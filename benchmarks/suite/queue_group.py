"""Queue-group work sharing, 16 B: one publisher, N members of one queue group (N = 4).

Each message goes to exactly one member. The timed part runs from the first publish until
every message has been handled; the figure is messages handled per second. The share of the
busiest and the idlest member is recorded too (how evenly the server spread the work).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..harness.loops import AsyncDone, Done
from ..harness.measure import Settings, measure_throughput
from ..harness.peers import (
    AsyncRunner,
    Subscribers,
    beluga_subscribers,
    natscore_drain,
    natscore_subscribers,
    natspy_subscribers,
    payload_of,
    pynats2_subscribers,
)
from ..harness.scenario import Point, Scenario

SUBJECT = "bench.work"
QUEUE = "workers"
PAYLOAD = payload_of(16)
NAME = "bench-worker"
INCOMPLETE = "queue group: {} of {} handled"


class _Shares:
    """Per-member counts, each written by its member's delivering thread(s) only."""

    def __init__(self, n: int) -> None:
        self.counts = [0] * n

    def member(self, i: int, done: Done | AsyncDone) -> Callable[[Any], None]:
        counts = self.counts

        def handle(_msg: Any) -> None:
            counts[i] += 1
            done.hit()

        return handle

    def async_member(self, i: int, done: AsyncDone) -> Callable[[Any], Any]:
        """:meth:`member` as a coroutine function, for nats-py's callbacks."""
        counts = self.counts

        async def cb(_msg: Any) -> None:
            counts[i] += 1
            done.hit()

        return cb

    def record(self, result: dict[str, Any]) -> dict[str, Any]:
        total = sum(self.counts) or 1
        result["share_min_pct"] = 100.0 * min(self.counts) / total
        result["share_max_pct"] = 100.0 * max(self.counts) / total
        return result


def _blocking(subscribers: Subscribers, payload_keyword: bool, url: str, point: Point, s: Settings) -> dict[str, Any]:
    """This library and pynats2: callbacks on their own threads, a blocking publish."""
    n_members = point["members"]
    done, shares = Done(), _Shares(n_members)
    handlers = [shares.member(i, done) for i in range(n_members)]
    with subscribers(url, SUBJECT, handlers, queue=QUEUE, name=NAME) as (pub_nc, _subs):
        pub = pub_nc.publish

        def once(n: int) -> float:
            return done.publish_and_wait(pub, SUBJECT, PAYLOAD, n, n, s.rep_deadline, "queue group", payload_keyword)

        return shares.record(measure_throughput(once, s))


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_members = point["members"]
    done, shares = AsyncDone(), _Shares(n_members)
    handlers = [shares.async_member(i, done) for i in range(n_members)]
    with AsyncRunner() as r, natspy_subscribers(r, url, SUBJECT, handlers, queue=QUEUE, name=NAME) as (pub_nc, _subs):

        def once(n: int) -> float:
            return r.run(done.publish_and_wait(pub_nc, SUBJECT, PAYLOAD, n, n, s.rep_deadline, INCOMPLETE))

        return shares.record(measure_throughput(once, s))


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    n_members = point["members"]
    done, shares = AsyncDone(), _Shares(n_members)
    handlers = [shares.member(i, done) for i in range(n_members)]
    with AsyncRunner() as r, natscore_subscribers(r, url, SUBJECT, handlers, queue=QUEUE) as (pub_nc, subs):

        def once(n: int) -> float:
            try:
                return r.run(done.publish_and_wait(pub_nc, SUBJECT.encode(), PAYLOAD, n, n, s.rep_deadline, INCOMPLETE))
            finally:
                for sub in subs:
                    natscore_drain(sub)

        return shares.record(measure_throughput(once, s))


SCENARIO = Scenario(
    name="queue_group",
    title="queue-group work sharing, 16 B",
    unit="msgs/s",
    higher_is_better=True,
    points=lambda quick: [{"members": 4}],
    label=lambda p: f"{p['members']} members",
    impls={
        "beluga": partial(_blocking, beluga_subscribers, False),
        "natspy": _natspy,
        "natscore": _natscore,
        "pynats2": partial(_blocking, pynats2_subscribers, True),
    },
    unsupported={
        "natspysync": "no queue groups (its subscribe() takes no queue)",
    },
    notes={"pynats2": "each member's callbacks run on a pool of 3 threads"},
)
