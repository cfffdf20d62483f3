"""Publish -> subscribe delivery, 16 B: one publisher connection, one subscriber connection.

Two modes: ``callback`` (the client calls a function per message) and ``pull`` (the consumer
asks for each message: ``next_msg``, nats-py's ``async for msg in sub.messages``, nats-py-sync's
``recv``). The timed part runs from the first publish to the last delivery, so the figure is the
delivered rate. Client-side pending limits are lifted: this measures throughput, not the
slow-consumer policy (a repetition that loses messages fails with the count it got).
"""

from __future__ import annotations

from typing import Any

from ..harness.loops import AsyncDone, Done, publish_and_pull, publish_n, pull_while_publishing
from ..harness.measure import Settings, measure_throughput
from ..harness.peers import (
    AsyncRunner,
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

SUBJECT = "bench.delivery"
PAYLOAD = payload_of(16)
CALLBACK_INCOMPLETE = "callback delivery: {} of {} delivered"


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    done = Done()
    callback = point["mode"] == "callback"
    with beluga_subscribers(url, SUBJECT, [(lambda _msg: done.hit()) if callback else None]) as (pub_nc, (sub,)):
        pub = pub_nc.publish
        if callback:
            return measure_throughput(
                lambda n: done.publish_and_wait(pub, SUBJECT, PAYLOAD, n, n, s.rep_deadline, "callback delivery"), s
            )
        return measure_throughput(
            lambda n: pull_while_publishing(
                sub.next_msg, lambda k: publish_n(pub, SUBJECT, PAYLOAD, k), n, s.rep_deadline, TimeoutError
            ),
            s,
        )


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    done = AsyncDone()

    async def cb(_msg: Any) -> None:
        done.hit()

    callback = point["mode"] == "callback"
    with AsyncRunner() as r, natspy_subscribers(r, url, SUBJECT, [cb if callback else None]) as (pub_nc, (sub,)):
        if callback:
            return measure_throughput(
                lambda n: r.run(
                    done.publish_and_wait(pub_nc, SUBJECT, PAYLOAD, n, n, s.rep_deadline, CALLBACK_INCOMPLETE)
                ),
                s,
            )
        it = sub.messages
        return measure_throughput(
            lambda n: r.run(publish_and_pull(it.__anext__, pub_nc.publish, SUBJECT, PAYLOAD, n, s.rep_deadline)), s
        )


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    subject = SUBJECT.encode()
    done = AsyncDone()
    callback = point["mode"] == "callback"
    handler = (lambda _msg: done.hit()) if callback else None  # called on the loop as each message arrives
    with AsyncRunner() as r, natscore_subscribers(r, url, SUBJECT, [handler]) as (pub_nc, (sub,)):
        if callback:

            def once(n: int) -> float:
                try:
                    return r.run(
                        done.publish_and_wait(pub_nc, subject, PAYLOAD, n, n, s.rep_deadline, CALLBACK_INCOMPLETE)
                    )
                finally:
                    natscore_drain(sub)

            return measure_throughput(once, s)
        return measure_throughput(
            lambda n: r.run(publish_and_pull(sub.next, pub_nc.publish, subject, PAYLOAD, n, s.rep_deadline)), s
        )


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    import nats.errors

    with natspysync_subscribers(url, SUBJECT, 1) as (pub_ctx, (sub,)):

        def publish_all(n: int) -> None:  # its own context: a nats-py-sync context is not thread-safe
            publish_n(pub_ctx.publish, SUBJECT, PAYLOAD, n)
            natspysync_flush(pub_ctx)

        return measure_throughput(
            lambda n: pull_while_publishing(sub.recv, publish_all, n, s.rep_deadline, nats.errors.TimeoutError), s
        )


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    done = Done()
    with pynats2_subscribers(url, SUBJECT, [lambda _msg: done.hit()]) as (pub_nc, _subs):
        pub = pub_nc.publish
        return measure_throughput(
            lambda n: done.publish_and_wait(pub, SUBJECT, PAYLOAD, n, n, s.rep_deadline, "callback delivery", True), s
        )


SCENARIO = Scenario(
    name="delivery",
    title="publish -> subscribe delivery, 16 B",
    unit="msgs/s",
    higher_is_better=True,
    points=lambda quick: [{"mode": "callback"}, {"mode": "pull"}],
    label=lambda p: str(p["mode"]),
    impls={
        "beluga": _beluga,
        "natspy": _natspy,
        "natscore": _natscore,
        "natspysync": _natspysync,
        "pynats2": _pynats2,
    },
    unsupported={
        "natspysync/callback": "no callback subscriptions (pull with recv() only)",
        "pynats2/pull": "no pull mode (callbacks only)",
    },
    notes={
        "natspy": "pull: `async for` over sub.messages, its fastest pull API",
        "natscore": "callback: add_callback (run on its loop as each message is queued; the queue is emptied "
        "between repetitions, untimed); pull: await sub.next()",
        "pynats2": "callbacks run on a pool of 3 threads, out of order",
    },
)
