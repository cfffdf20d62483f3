"""The core ratios: publish throughput and request/reply latency against the peers, one run.

    python -m benchmarks.core_ratios [--url URL] [--count N] [--reps R]

Starts an embedded nats-server unless --url is given. Prints, for 16-byte payloads, publish
msgs/s of this library, nats-py async (``await nc.publish`` in a loop), nats-py-sync and
pynats2, and request/reply p50 latency sync-to-sync against nats-py async-to-async; then the
ratios. Set-up and tear-down stay outside the timed part; each figure is a median of --reps runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

PAYLOAD = b"0123456789abcdef"


def bench_ours_publish(url: str, n: int) -> float:
    import beluga_nats_sync as bns

    with bns.connect(url) as nc:
        nc.flush(5.0)
        t0 = time.perf_counter()
        for _ in range(n):
            nc.publish("bench.pub", PAYLOAD)
        nc.flush(30.0)
        return n / (time.perf_counter() - t0)


def bench_natspy_publish(url: str, n: int) -> float:
    import nats

    async def run() -> float:
        nc = await nats.connect(url)
        await nc.flush()
        t0 = time.perf_counter()
        for _ in range(n):
            await nc.publish("bench.pub", PAYLOAD)
        await nc.flush(timeout=30)
        rate = n / (time.perf_counter() - t0)
        await nc.close()
        return rate

    return asyncio.run(run())


def bench_natspysync_publish(url: str, n: int) -> float:
    import nats_sync

    ctx = nats_sync.connect(url)
    t0 = time.perf_counter()
    for _ in range(n):
        ctx.publish("bench.pub", PAYLOAD)
    rate = n / (time.perf_counter() - t0)
    with contextlib.suppress(Exception):
        ctx.close()  # type: ignore[attr-defined]
    return rate


def bench_pynats2_publish(url: str, n: int) -> float:
    from pynats2 import NATSClient

    with NATSClient(url) as nc:
        t0 = time.perf_counter()
        for _ in range(n):
            nc.publish("bench.pub", payload=PAYLOAD)
        nc.ping()
        return n / (time.perf_counter() - t0)


def bench_ours_request(url: str, n: int) -> float:
    import beluga_nats_sync as bns

    with bns.connect(url) as responder, bns.connect(url) as requester:
        responder.subscribe("bench.rpc", lambda m: m.respond(m.data))
        responder.flush(5.0)
        for _ in range(50):
            requester.request("bench.rpc", PAYLOAD, timeout=5.0)
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            requester.request("bench.rpc", PAYLOAD, timeout=5.0)
            lat.append(time.perf_counter() - t0)
        return statistics.median(lat) * 1e6


def bench_natspy_request(url: str, n: int) -> float:
    import nats

    async def run() -> float:
        responder = await nats.connect(url)
        requester = await nats.connect(url)

        async def echo(msg) -> None:  # type: ignore[no-untyped-def]
            await msg.respond(msg.data)

        await responder.subscribe("bench.rpc", cb=echo)
        await responder.flush()
        for _ in range(50):
            await requester.request("bench.rpc", PAYLOAD, timeout=5)
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            await requester.request("bench.rpc", PAYLOAD, timeout=5)
            lat.append(time.perf_counter() - t0)
        await requester.close()
        await responder.close()
        return statistics.median(lat) * 1e6

    return asyncio.run(run())


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from beluga_nats_sync.server import EmbeddedServer

    with EmbeddedServer(jetstream=False) as srv:
        yield srv.url


def median_of(fn: Callable[[str, int], float], url: str, n: int, reps: int) -> float | None:
    try:
        return statistics.median(fn(url, n) for _ in range(reps))
    except ImportError as exc:
        print(f"  skipped {fn.__name__}: {exc}")
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None)
    ap.add_argument("--count", type=int, default=200_000, help="messages per publish run")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    n, slow_n, req_n = args.count, max(1000, args.count // 10), max(500, args.count // 100)
    with server(args.url) as url:
        print(f"server {url}; {n} msgs per publish run ({slow_n} for the sync peers), {req_n} requests")
        pub = {
            "beluga_nats_sync": median_of(bench_ours_publish, url, n, args.reps),
            "nats-py async": median_of(bench_natspy_publish, url, n, args.reps),
            "nats-py-sync": median_of(bench_natspysync_publish, url, slow_n, args.reps),
            "pynats2": median_of(bench_pynats2_publish, url, slow_n, args.reps),
        }
        req = {
            "beluga_nats_sync": median_of(bench_ours_request, url, req_n, args.reps),
            "nats-py async": median_of(bench_natspy_request, url, req_n, args.reps),
        }
    print("\npublish, 16 B payload (msgs/s, higher is better)")
    ours = pub["beluga_nats_sync"]
    for name, rate in pub.items():
        ratio = f"{ours / rate:6.2f}x" if ours and rate else "   n/a"
        print(f"  {name:18s} {rate or float('nan'):>12,.0f}   this / it = {ratio}")
    print("\nrequest/reply p50 latency, 16 B (microseconds, lower is better)")
    mine = req["beluga_nats_sync"]
    for name, us in req.items():
        ratio = f"{mine / us:6.2f}x" if mine and us else "   n/a"
        print(f"  {name:18s} {us or float('nan'):>12,.1f}   this / it = {ratio}")


if __name__ == "__main__":
    main()
