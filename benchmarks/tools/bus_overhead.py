"""What tracing costs the bus when no OpenTelemetry SDK is configured (the API's no-op tracer).

    python -m benchmarks.tools.bus_overhead [--count N] [--reps R]

Compares ``bus.publish(subject, message)`` (span, context injection, metrics: all no-ops) with the
same work done without any tracing call (``client.publish(subject, message.to_json())``), in one
process, alternating runs; prints the median overhead.
"""

from __future__ import annotations

import argparse
import statistics
import time

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=50_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    msg = bns.Message(type="request", payload={"task": "process", "n": 1})
    with EmbeddedServer(jetstream=False) as srv, bns.NATSMessageBus(srv.url) as bus:
        nc = bus.client

        def plain() -> float:
            t0 = time.perf_counter()
            for _ in range(args.count):
                nc.publish("bench.bus", msg.to_json())
            nc.flush(30.0)
            return time.perf_counter() - t0

        def traced() -> float:
            t0 = time.perf_counter()
            for _ in range(args.count):
                bus.publish("bench.bus", msg)
            nc.flush(30.0)
            return time.perf_counter() - t0

        plain()
        traced()
        p, t = [], []
        for _ in range(args.reps):
            p.append(plain())
            t.append(traced())
    mp, mt = statistics.median(p), statistics.median(t)
    print(f"plain publish of the envelope: {args.count / mp:,.0f} msg/s ({mp / args.count * 1e6:.2f} us/msg)")
    print(f"bus.publish, no SDK:           {args.count / mt:,.0f} msg/s ({mt / args.count * 1e6:.2f} us/msg)")
    print(f"tracing overhead without an SDK: {(mt / mp - 1) * 100:+.1f} %")


if __name__ == "__main__":
    main()
