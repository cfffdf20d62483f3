"""Request/reply, 16 B: one requester and one echoing responder, each its own connection.

Each client answers its own requests (sync-to-sync, async-to-async). Requests are sequential;
every round trip is timed alone, giving p50/p90/p99/p99.9 (pooled over the repetitions) and the
sequential rate. The headline is p50 latency: lower is better.
"""

from __future__ import annotations

import statistics
import threading
from typing import Any

from ..harness.loops import async_round_trips, round_trips
from ..harness.measure import Incomplete, Settings, measure_latency
from ..harness.peers import (
    AsyncRunner,
    beluga,
    natscore,
    natspy,
    natspysync,
    natspysync_flush,
    payload_of,
    pynats2,
    pynats2_ready,
)
from ..harness.raw import raw_request_reply, raw_round_trips
from ..harness.scenario import Point, Scenario

SUBJECT = "bench.rpc"
PAYLOAD = payload_of(16)


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    with beluga(url, "bench-responder") as responder, beluga(url, "bench-requester") as requester:
        responder.subscribe(SUBJECT, lambda m: m.respond(m.data))
        responder.flush(10.0)
        request = requester.request
        return measure_latency(lambda n: round_trips(request, SUBJECT, PAYLOAD, n, s.rep_deadline), s)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    with AsyncRunner() as r, natspy(r, url, "bench-responder") as responder, natspy(r, url, "bench-requester") as rq:

        async def echo(msg: Any) -> None:
            await msg.respond(msg.data)

        r.run(responder.subscribe(SUBJECT, cb=echo))
        r.run(responder.flush())

        return measure_latency(lambda n: r.run(async_round_trips(rq.request, SUBJECT, PAYLOAD, n, s.rep_deadline)), s)


def _natscore(url: str, point: Point, s: Settings) -> dict[str, Any]:
    import asyncio
    import contextlib

    with AsyncRunner() as r, natscore(r, url) as responder, natscore(r, url) as rq:
        sub = r.run(responder.subscribe(SUBJECT))
        r.run(responder.flush(timeout=10.0))

        async def echo() -> None:  # it has no async callbacks: a task answers each request
            publish = responder.publish
            async for msg in sub:
                await publish(msg.reply, msg.data)

        serving = r.loop.create_task(echo())
        try:
            return measure_latency(
                lambda n: r.run(async_round_trips(rq.request, SUBJECT, PAYLOAD, n, s.rep_deadline)), s
            )
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                r.run(serving)


def _natspysync(url: str, point: Point, s: Settings) -> dict[str, Any]:
    import nats.errors

    stop = threading.Event()
    ready = threading.Event()
    failed: list[BaseException] = []

    def serve() -> None:  # a context of its own: nats-py-sync contexts are not thread-safe
        try:
            with natspysync(url) as ctx:
                sub = ctx.subscribe(SUBJECT)
                natspysync_flush(ctx)
                ready.set()
                while not stop.is_set():
                    try:
                        msg = sub.recv(0.2)
                    except nats.errors.TimeoutError:
                        continue
                    sub.respond(msg, msg.data)
        except BaseException as exc:
            failed.append(exc)
            ready.set()

    th = threading.Thread(target=serve, name="natspysync-responder", daemon=True)
    th.start()
    try:
        if not ready.wait(10.0) or failed:
            raise Incomplete(f"the nats-py-sync responder did not start: {failed[0] if failed else 'timeout'}")
        with natspysync(url) as ctx:
            request = ctx.request
            return measure_latency(lambda n: round_trips(request, SUBJECT, PAYLOAD, n, s.rep_deadline), s)
    finally:
        stop.set()
        th.join(5.0)


def _pynats2(url: str, point: Point, s: Settings) -> dict[str, Any]:
    from pynats2 import NATSNoSubscribeClient

    with pynats2(url, "bench-responder") as responder, pynats2(url, "bench-probe") as probe:
        responder.subscribe(SUBJECT, callback=lambda m: responder.publish(m.reply, payload=m.payload))
        pynats2_ready(responder, probe)

        # NATSClient.request subscribes per request, which restarts its reader thread; the
        # thread-less NATSNoSubscribeClient blocks on the socket itself and is far faster:
        # measure pynats2 at its best, and keep the other figure for the record.
        def timed(request: Any, n: int) -> list[float]:
            return round_trips(request, SUBJECT, PAYLOAD, n, s.rep_deadline, payload_keyword=True)

        slow = sorted(timed(probe.request, 200))
        nc = NATSNoSubscribeClient(url, name="bench-requester")
        nc.connect()
        try:
            result = measure_latency(lambda n: timed(nc.request, n), s)
        finally:
            nc.close()
        result["natsclient_request_p50_us"] = statistics.median(slow) * 1e6
        return result


def _raw(url: str, point: Point, s: Settings) -> dict[str, Any]:
    """The floor: two plain sockets speaking NATS by hand, no library (benchmarks/harness/raw.py)."""
    with raw_request_reply(url, SUBJECT) as requester:
        return measure_latency(lambda n: raw_round_trips(requester, SUBJECT, PAYLOAD, n, s.rep_deadline), s)


SCENARIO = Scenario(
    name="request_reply",
    title="request/reply latency, 16 B",
    unit="us",
    higher_is_better=False,
    points=lambda quick: [{"payload": 16}],
    label=lambda p: "p50",
    impls={
        "beluga": _beluga,
        "natspy": _natspy,
        "natscore": _natscore,
        "natspysync": _natspysync,
        "pynats2": _pynats2,
        "raw": _raw,
    },
    notes={
        "natscore": "responder: a task looping over the subscription, publishing each reply; its write "
        "loop flushes at most every 5 ms, which its request() waits for",
        "pynats2": "requester: NATSNoSubscribeClient (thread-less, its fastest); responder: NATSClient callback",
        "natspysync": "responder: a thread looping recv() + respond() on a context of its own",
        "raw": "the floor: two blocking TCP_NODELAY sockets, NATS written by hand; the responder a thread "
        "reading MSG and writing PUB, the requester writing PUB and reading until its MSG",
    },
    headline="p50_us",
)
