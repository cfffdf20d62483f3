"""What a service endpoint costs over a plain responder: the stats keeping of the services protocol.

    python -m benchmarks.tools.service_overhead [--count N] [--reps R] [--size BYTES]

One process, one embedded nats-server, two clients (responder and requester). The same echo
handler answers through ``svc.add_endpoint`` (a queue subscription that wraps each message in a
ServiceRequest and counts requests, errors and processing time) and through a plain
``nc.subscribe(subject, callback, queue="q")``; runs alternate, and the medians of the runs are
printed: requests/s of a sequential request loop and the p50 of one request's round trip.
On a shared machine the round trip's noise can exceed the difference, so the bookkeeping is also
timed alone: the endpoint's per-message path around a handler that does nothing, against
calling that handler directly.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer


def run(nc: bns.Client, subject: str, payload: bytes, count: int) -> tuple[float, float]:
    """Requests per second and the median latency (us) of ``count`` sequential requests."""
    lat: list[int] = []
    t0 = time.perf_counter()
    for _ in range(count):
        s = time.perf_counter_ns()
        nc.request(subject, payload, timeout=10.0)
        lat.append(time.perf_counter_ns() - s)
    elapsed = time.perf_counter() - t0
    return count / elapsed, statistics.median(lat) / 1e3


def bookkeeping(svc: bns.Service, count: int) -> tuple[float, float]:
    """Nanoseconds per message: the endpoint's path around a no-op handler, and the handler alone."""
    endpoint = svc._endpoints[-1]  # the no-op endpoint added last
    msg = bns.Msg("bench.noop", b"x")
    handler = endpoint.handler
    t0 = time.perf_counter_ns()
    for _ in range(count):
        endpoint.on_msg(msg)
    wrapped = (time.perf_counter_ns() - t0) / count
    req = bns.ServiceRequest(msg)
    t0 = time.perf_counter_ns()
    for _ in range(count):
        handler(req)
    bare = (time.perf_counter_ns() - t0) / count
    return wrapped, bare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5_000, help="requests per run (default 5000)")
    ap.add_argument("--reps", type=int, default=5, help="runs of each kind (default 5)")
    ap.add_argument("--size", type=int, default=16, help="payload bytes (default 16)")
    args = ap.parse_args()
    payload = b"x" * args.size
    with EmbeddedServer(jetstream=False) as srv, bns.connect(srv.url) as server_side, bns.connect(srv.url) as nc:
        svc = server_side.add_service("bench", "1.0.0")
        svc.add_endpoint("echo", lambda req: req.respond(req.data), subject="bench.service")
        svc.add_endpoint("noop", lambda req: None, subject="bench.noop")
        server_side.subscribe("bench.plain", lambda msg: msg.respond(msg.data), queue="q")
        server_side.flush(10.0)
        kinds: dict[str, Callable[[], tuple[float, float]]] = {
            "plain": lambda: run(nc, "bench.plain", payload, args.count),
            "service": lambda: run(nc, "bench.service", payload, args.count),
        }
        for measure in kinds.values():  # warm-up
            measure()
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        for rep in range(args.reps):
            order = list(kinds) if rep % 2 == 0 else list(reversed(kinds))  # neither always runs first
            for kind in order:
                results[kind].append(kinds[kind]())
        books = [bookkeeping(svc, 100_000) for _ in range(args.reps)]
        svc.stop()
    wrapped = statistics.median(w for w, _ in books)
    bare = statistics.median(b for _, b in books)
    rate = {k: statistics.median(r for r, _ in v) for k, v in results.items()}
    p50 = {k: statistics.median(p for _, p in v) for k, v in results.items()}
    print(f"{args.count} sequential requests x {args.reps} runs, {args.size} B payload")
    print(f"plain subscribe responder: {rate['plain']:>9,.0f} req/s   p50 {p50['plain']:7.1f} us")
    print(f"service endpoint:          {rate['service']:>9,.0f} req/s   p50 {p50['service']:7.1f} us")
    print(
        f"service overhead: {(rate['plain'] / rate['service'] - 1) * 100:+.1f} % time per request, "
        f"{p50['service'] - p50['plain']:+.1f} us at p50"
    )
    extra_us = (wrapped - bare) / 1e3
    print(f"bookkeeping alone (no network): {extra_us:.2f} us per request ({wrapped:.0f} ns vs {bare:.0f} ns)")


if __name__ == "__main__":
    main()
