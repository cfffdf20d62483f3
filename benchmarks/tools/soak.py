"""Soak: a sustained publish rate with a subscriber, RSS and thread count sampled every 10 s.

    python -m benchmarks.tools.soak [--minutes 5] [--rate 20000] [--url URL]

Starts an embedded nats-server unless --url is given. Both samples should stay flat: a growing
RSS or thread count is a leak. Bounded by --minutes.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import beluga_nats_sync as bns

from ..harness.server import server_url


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=20_000, help="messages per second")
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    samples = []
    with server_url(args.url) as url, bns.connect(url) as nc:
        received = [0]
        nc.subscribe("soak.stream", lambda m: received.__setitem__(0, received[0] + 1))
        # also exercise request/reply and subscription churn, at a low rate
        nc.subscribe("soak.rpc", lambda m: m.respond(m.data))
        nc.flush(5.0)
        payload = b"x" * 128
        start = time.monotonic()
        end = start + args.minutes * 60
        next_sample = start
        sent = 0
        tick = 0.01
        per_tick = max(1, int(args.rate * tick))
        while (now := time.monotonic()) < end:
            if now >= next_sample:
                s = {
                    "t_s": round(now - start, 1),
                    "rss_kib": rss_kib(),
                    "threads": threading.active_count(),
                    "sent": sent,
                    "received": received[0],
                }
                samples.append(s)
                print(json.dumps(s), flush=True)
                next_sample += 10.0
                nc.request("soak.rpc", b"ping", timeout=5.0)
                churn = nc.subscribe("soak.churn", lambda m: None)
                churn.unsubscribe()
            for _ in range(per_tick):
                nc.publish("soak.stream", payload)
            sent += per_tick
            time.sleep(max(0.0, tick - (time.monotonic() - now)))  # pacing the load, not synchronising
        nc.flush(10.0)
    first, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
    print(
        f"soak {args.minutes:g} min at {args.rate}/s: sent={sent} received={received[0]} "
        f"rss {first['rss_kib']} -> {last['rss_kib']} KiB, threads {first['threads']} -> {last['threads']}"
    )


if __name__ == "__main__":
    main()
