"""Durable publish throughput: JetStream publishes acknowledged by a file-backed stream.

    python -m benchmarks.tools.jetstream_publish [--url URL] [--count N] [--reps R] [--size BYTES]

Starts an embedded nats-server with JetStream (temporary store) unless --url is given. Measures,
in one run against one server, msgs/s of:

- beluga_nats_sync ``js.publish`` (blocks for each ack) against nats-py ``await js.publish`` in a
  loop (also one ack at a time);
- beluga_nats_sync ``js.publish_async`` + ``publish_async_complete`` (pipelined) against nats-py
  ``await js.publish_async`` + ``publish_async_completed()``.

Each run publishes to a freshly created file stream (created and deleted outside the timed part)
and is timed from the first publish to the last ack. Each figure is the median of --reps runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable

from ..harness.server import server_url

STREAM = "BENCH"
SUBJECT = "bench.js"


def _fresh_stream_sync(js: object) -> None:
    import beluga_nats_sync as bns

    assert isinstance(js, bns.JetStream)
    with contextlib.suppress(bns.StreamNotFoundError):
        js.delete_stream(STREAM)
    js.add_stream(name=STREAM, subjects=[SUBJECT], storage="file")


def _ours_run(url: str, n: int, payload: bytes, pipelined: bool) -> float:
    import beluga_nats_sync as bns

    with bns.connect(url) as nc:
        js = nc.jetstream(timeout=30.0)
        _fresh_stream_sync(js)
        t0 = time.perf_counter()
        if pipelined:
            for _ in range(n):
                js.publish_async(SUBJECT, payload)
            js.publish_async_complete(timeout=60.0)
        else:
            for _ in range(n):
                js.publish(SUBJECT, payload)
        rate = n / (time.perf_counter() - t0)
        assert js.stream_info(STREAM).state.messages == n
        js.delete_stream(STREAM)
        return rate


def bench_ours_sync(url: str, n: int, payload: bytes) -> float:
    return _ours_run(url, n, payload, pipelined=False)


def bench_ours_async(url: str, n: int, payload: bytes) -> float:
    return _ours_run(url, n, payload, pipelined=True)


async def _natspy_run(url: str, n: int, payload: bytes, pipelined: bool) -> float:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30.0)
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(STREAM)
    await js.add_stream(name=STREAM, subjects=[SUBJECT], storage="file")
    t0 = time.perf_counter()
    if pipelined:
        for _ in range(n):
            await js.publish_async(SUBJECT, payload)
        await asyncio.wait_for(js.publish_async_completed(), 60.0)
    else:
        for _ in range(n):
            await js.publish(SUBJECT, payload)
    rate = n / (time.perf_counter() - t0)
    assert (await js.stream_info(STREAM)).state.messages == n
    await js.delete_stream(STREAM)
    await nc.close()
    return rate


def bench_natspy_sync_style(url: str, n: int, payload: bytes) -> float:
    return asyncio.run(_natspy_run(url, n, payload, pipelined=False))


def bench_natspy_async(url: str, n: int, payload: bytes) -> float:
    return asyncio.run(_natspy_run(url, n, payload, pipelined=True))


def median_of(fn: Callable[[str, int, bytes], float], url: str, n: int, payload: bytes, reps: int) -> float:
    return statistics.median(fn(url, n, payload) for _ in range(reps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None)
    ap.add_argument("--count", type=int, default=20_000, help="messages per run (pipelined runs: 5x)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size", type=int, default=128, help="payload size in bytes")
    args = ap.parse_args()
    payload = b"x" * args.size
    n_sync, n_async = args.count, args.count * 5
    with server_url(args.url, jetstream=True) as url:
        print(f"server {url}; file stream; {args.size} B payloads")
        print(f"{n_sync} msgs per run one ack at a time, {n_async} pipelined; median of {args.reps} runs")
        one = {
            "beluga_nats_sync js.publish": median_of(bench_ours_sync, url, n_sync, payload, args.reps),
            "nats-py await js.publish": median_of(bench_natspy_sync_style, url, n_sync, payload, args.reps),
        }
        piped = {
            "beluga_nats_sync publish_async": median_of(bench_ours_async, url, n_async, payload, args.reps),
            "nats-py await publish_async": median_of(bench_natspy_async, url, n_async, payload, args.reps),
        }
    for title, rows in (("one ack at a time", one), ("pipelined", piped)):
        print(f"\n{title} (msgs/s, higher is better)")
        ours = next(iter(rows.values()))
        for name, rate in rows.items():
            print(f"  {name:32s} {rate:>10,.0f}   this / it = {ours / rate:5.2f}x")


if __name__ == "__main__":
    main()
