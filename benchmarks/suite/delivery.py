"""Publish -> subscribe delivery, 16 B: one publisher connection, one subscriber connection.

Two modes: ``callback`` (the client calls a function per message) and ``pull`` (the consumer
asks for each message: ``next_msg``, nats-py's ``async for msg in sub.messages``, nats-py-sync's
``recv``). The timed part runs from the first publish to the last delivery, so the figure is the
delivered rate. Client-side pending limits are lifted: this measures throughput, not the
slow-consumer policy (a repetition that loses messages fails with the count it got).
"""

from __future__ import annotations

import asyncio
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

SUBJECT = "bench.delivery"
PAYLOAD = payload_of(16)


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    with beluga(url, "bench-sub") as sub_nc, beluga(url, "bench-pub") as pub_nc:
        pub = pub_nc.publish
        if point["mode"] == "callback":
            done = Done()
            sub_nc.subscribe(
                SUBJECT,
                lambda _msg: done.hit(),
                pending_msgs_limit=BIG_PENDING_MSGS,
                pending_bytes_limit=BIG_PENDING_BYTES,
            )
            sub_nc.flush(10.0)

            def once(n: int) -> float:
                done.reset(n)
                t0 = clock()
                for _ in range(n):
                    pub(SUBJECT, PAYLOAD)
                return done.wait(s.rep_deadline, "callback delivery") - t0

            return measure_throughput(once, s)

        sub = sub_nc.subscribe(SUBJECT, pending_msgs_limit=BIG_PENDING_MSGS, pending_bytes_limit=BIG_PENDING_BYTES)
        sub_nc.flush(10.0)

        def once_pull(n: int) -> float:
            go = threading.Event()

            def publisher() -> None:
                go.wait(10.0)
                for _ in range(n):
                    pub(SUBJECT, PAYLOAD)

            th = threading.Thread(target=publisher, daemon=True)
            th.start()
            next_msg = sub.next_msg
            t0 = clock()
            go.set()
            try:
                for _ in range(n):
                    next_msg(s.rep_deadline)
            except TimeoutError:
                raise Incomplete(f"pull delivery: a message did not arrive within {s.rep_deadline:g} s") from None
            finally:
                th.join(s.rep_deadline)
            return clock() - t0

        return measure_throughput(once_pull, s)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    with AsyncRunner() as r, natspy(r, url, "bench-sub") as sub_nc, natspy(r, url, "bench-pub") as pub_nc:
        if point["mode"] == "callback":
            done = AsyncDone()

            async def cb(_msg: Any) -> None:
                done.hit()

            r.run(sub_nc.subscribe(SUBJECT, cb=cb, pending_msgs_limit=0, pending_bytes_limit=0))
            r.run(sub_nc.flush())

            def once(n: int) -> float:
                return r.run(
                    done.publish_and_wait(
                        pub_nc, SUBJECT, PAYLOAD, n, n, s.rep_deadline, "callback delivery: {} of {} delivered"
                    )
                )

            return measure_throughput(once, s)

        sub = r.run(sub_nc.subscribe(SUBJECT, pending_msgs_limit=0, pending_bytes_limit=0))
        r.run(sub_nc.flush())
        it = sub.messages

        async def once_pull(n: int) -> float:
            async def consume() -> float:
                for _ in range(n):
                    await it.__anext__()
                return clock()

            pub = pub_nc.publish
            t0 = clock()
            consumer = asyncio.ensure_future(consume())
            for _ in range(n):
                await pub(SUBJECT, PAYLOAD)
            try:
                t_end = await asyncio.wait_for(consumer, s.rep_deadline)
            except asyncio.TimeoutError:
                raise Incomplete("pull delivery did not finish in time") from None
            return t_end - t0

        return measure_throughput(lambda n: r.run(once_pull(n)), s)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    subject = SUBJECT.encode()
    with AsyncRunner() as r, natscore(r, url) as sub_nc, natscore(r, url) as pub_nc:
        sub = r.run(sub_nc.subscribe(SUBJECT, max_pending_messages=None, max_pending_bytes=None))
        r.run(sub_nc.flush(timeout=10.0))
        if point["mode"] == "callback":
            done = AsyncDone()
            sub.add_callback(lambda _msg: done.hit())  # called on the loop as each message arrives

            def once(n: int) -> float:
                try:
                    return r.run(
                        done.publish_and_wait(
                            pub_nc, subject, PAYLOAD, n, n, s.rep_deadline, "callback delivery: {} of {} delivered"
                        )
                    )
                finally:
                    natscore_drain(sub)

            return measure_throughput(once, s)

        async def once_pull(n: int) -> float:
            async def consume() -> float:
                for _ in range(n):
                    await sub.next()
                return clock()

            pub = pub_nc.publish
            t0 = clock()
            consumer = asyncio.ensure_future(consume())
            for _ in range(n):
                await pub(subject, PAYLOAD)
            try:
                t_end = await asyncio.wait_for(consumer, s.rep_deadline)
            except asyncio.TimeoutError:
                raise Incomplete("pull delivery did not finish in time") from None
            return t_end - t0

        return measure_throughput(lambda n: r.run(once_pull(n)), s)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    import nats.errors

    with natspysync(url) as sub_ctx, natspysync(url) as pub_ctx:
        sub = sub_ctx.subscribe(SUBJECT)
        natspysync_flush(sub_ctx)

        def once(n: int) -> float:
            go = threading.Event()

            def publisher() -> None:  # its own context: a nats-py-sync context is not thread-safe
                go.wait(10.0)
                for _ in range(n):
                    pub_ctx.publish(SUBJECT, PAYLOAD)
                natspysync_flush(pub_ctx)

            th = threading.Thread(target=publisher, daemon=True)
            th.start()
            recv = sub.recv
            t0 = clock()
            go.set()
            try:
                for _ in range(n):
                    recv(s.rep_deadline)
            except nats.errors.TimeoutError:
                raise Incomplete(f"pull delivery: a message did not arrive within {s.rep_deadline:g} s") from None
            finally:
                th.join(s.rep_deadline)
            return clock() - t0

        return measure_throughput(once, s)


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    with pynats2(url, "bench-sub") as sub_nc, pynats2(url, "bench-pub") as pub_nc:
        done = Done()
        sub_nc.subscribe(SUBJECT, callback=lambda _msg: done.hit())
        pynats2_ready(sub_nc, pub_nc)

        def once(n: int) -> float:
            done.reset(n)
            pub = pub_nc.publish
            t0 = clock()
            for _ in range(n):
                pub(SUBJECT, payload=PAYLOAD)
            return done.wait(s.rep_deadline, "callback delivery") - t0

        return measure_throughput(once, s)


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
