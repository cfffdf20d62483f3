"""JetStream durable publish with ack, 16 B: each publish waits for the stream's ack.

Runs only where the client has JetStream (``Client.jetstream``); the stream (file storage, one
per client, deleted afterwards) is made with nats-py outside the timed part. Sequential, so
the figure is acks per second; ack latency percentiles are recorded too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..harness.measure import Incomplete, Settings, clock, measure_latency
from ..harness.peers import AsyncRunner, beluga, natspy, payload_of
from ..harness.scenario import Point, Scenario

PAYLOAD = payload_of(16)


def _unavailable() -> str | None:
    from beluga_nats_sync import Client

    return None if hasattr(Client, "jetstream") else "JetStream not built"


def _stream(url: str, client: str, create: bool) -> str:
    """Create (or delete) this client's stream with nats-py; return its subject."""
    import nats
    import nats.js.errors

    name = f"BENCH_{client.upper()}"
    subject = f"bench.js.{client}"

    async def go() -> None:
        nc = await nats.connect(url, connect_timeout=10, allow_reconnect=False)
        try:
            js = nc.jetstream()
            if create:
                try:
                    await js.add_stream(name=name, subjects=[subject], storage="file")
                except nats.js.errors.ServiceUnavailableError as exc:
                    raise Incomplete(f"the server has no JetStream ({exc})") from None
            else:
                await js.delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(go())
    return subject


def _beluga(url: str, point: Point, s: Settings) -> dict[str, Any]:
    subject = _stream(url, "beluga", True)
    try:
        with beluga(url, "bench-js") as nc:
            js = nc.jetstream()

            def once(n: int) -> list[float]:
                lat = []
                for _ in range(n):
                    t0 = clock()
                    js.publish(subject, PAYLOAD)
                    lat.append(clock() - t0)
                return lat

            return measure_latency(once, s)
    finally:
        _stream(url, "beluga", False)


def _natspy(url: str, point: Point, s: Settings) -> dict[str, Any]:
    subject = _stream(url, "natspy", True)
    try:
        with AsyncRunner() as r, natspy(r, url, "bench-js") as nc:
            js = nc.jetstream()

            async def once(n: int) -> list[float]:
                lat = []
                for _ in range(n):
                    t0 = clock()
                    await js.publish(subject, PAYLOAD)
                    lat.append(clock() - t0)
                return lat

            return measure_latency(lambda n: r.run(once(n)), s)
    finally:
        _stream(url, "natspy", False)


SCENARIO = Scenario(
    name="jetstream",
    title="JetStream durable publish with ack, 16 B",
    unit="acks/s",
    higher_is_better=True,
    points=lambda quick: [{"payload": 16}],
    label=lambda p: "sequential",
    impls={"beluga": _beluga, "natspy": _natspy},
    unsupported={
        "natspysync": "no JetStream publish (its JetStream wrapper offers key-value only)",
        "pynats2": "no JetStream",
        "natscore": "no JetStream API in nats-core",
    },
    headline="rate_per_s",
    unavailable=_unavailable,
)
