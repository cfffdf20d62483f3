"""Our engine against nats-py's, under the same client, in the same process and the same run.

    python -m benchmarks.tools.engines [--rounds R] [--seconds S] [--url URL]

The client is the same (``beluga_nats_sync``); only the protocol engine underneath differs, as
``BELUGA_NATS_ENGINE`` chooses it at each connect (``nats-py``: the default; ``beluga``: ours).
Each round measures both engines, alternating which goes first, and the figure is the ratio
ours / nats-py's in that round (throughput: higher is better; latency: lower is better); printed:
median [min-max] over rounds. Scenarios:

- ``publish 16 B``: messages per second published (flushed at the end), no subscriber;
- ``publish 64 KiB``: the same with 64 KiB payloads;
- ``delivery 16 B``: a callback subscription in the same client, messages per second received;
- ``request p50``: sequential request/reply round trips to a responder in another client.

The server is an embedded ``nats-server`` on loopback unless ``--url`` names one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

ENGINES = ("nats-py", "beluga")
MAX_MESSAGES = 2_000_000  # every loop is bounded, whatever the machine's speed


def _connect(url: str, engine: str) -> bns.Client:
    os.environ["BELUGA_NATS_ENGINE"] = engine
    return bns.connect(url, timeout=30.0, max_outbound_bytes=8 * 1024 * 1024)


def publish(url: str, engine: str, seconds: float, size: int) -> float:
    payload = b"x" * size
    with _connect(url, engine) as nc:
        n, t0 = 0, time.perf_counter()
        deadline = t0 + seconds
        while n < MAX_MESSAGES:
            for _ in range(100):
                nc.publish("bench.pub", payload)
            n += 100
            if time.perf_counter() > deadline:
                break
        nc.flush(60.0)
        return n / (time.perf_counter() - t0)


def delivery(url: str, engine: str, seconds: float, size: int = 16) -> float:
    payload = b"x" * size
    got = [0]
    done = threading.Event()
    target = [MAX_MESSAGES]

    def on_msg(msg: bns.Msg) -> None:
        got[0] += 1
        if got[0] >= target[0]:
            done.set()

    with _connect(url, engine) as nc:
        nc.subscribe("bench.del", on_msg)
        nc.flush(10.0)
        n, t0 = 0, time.perf_counter()
        deadline = t0 + seconds
        while n < MAX_MESSAGES:
            for _ in range(100):
                nc.publish("bench.del", payload)
            n += 100
            if time.perf_counter() > deadline:
                break
        target[0] = n
        if got[0] >= n:
            done.set()
        done.wait(60.0)
        return got[0] / (time.perf_counter() - t0)


def request_p50(url: str, engine: str, seconds: float) -> float:
    with _connect(url, "nats-py") as responder, _connect(url, engine) as nc:
        responder.subscribe("bench.req", lambda m: m.respond(b"ok"))
        responder.flush(10.0)
        for _ in range(50):  # warm up
            nc.request("bench.req", b"hi", timeout=5.0)
        times: list[float] = []
        deadline = time.perf_counter() + seconds
        while len(times) < 200_000 and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            nc.request("bench.req", b"hi", timeout=5.0)
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e6


SCENARIOS: dict[str, tuple[Callable[[str, str, float], float], bool, str]] = {
    "publish 16 B": (lambda u, e, s: publish(u, e, s, 16), True, "msg/s"),
    "publish 64 KiB": (lambda u, e, s: publish(u, e, s, 65536), True, "msg/s"),
    "delivery 16 B": (lambda u, e, s: delivery(u, e, s), True, "msg/s"),
    "request p50": (request_p50, False, "us"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    server = None if args.url else EmbeddedServer().start()
    url = args.url or server.url  # type: ignore[union-attr]
    try:
        for name, (fn, higher_better, unit) in SCENARIOS.items():
            ratios = []
            figures: dict[str, list[float]] = {e: [] for e in ENGINES}
            for r in range(args.rounds):
                order = ENGINES if r % 2 == 0 else ENGINES[::-1]
                got = {e: fn(url, e, args.seconds) for e in order}
                for e in ENGINES:
                    figures[e].append(got[e])
                ratios.append(got["beluga"] / got["nats-py"])
            med = statistics.median(ratios)
            shown = " ".join(f"{e}={statistics.median(v):,.0f}{unit}" for e, v in figures.items())
            better = "higher is better" if higher_better else "lower is better"
            print(f"{name:16s} ours/nats-py {med:.2f} [{min(ratios):.2f}-{max(ratios):.2f}] ({better}; {shown})")
    finally:
        os.environ.pop("BELUGA_NATS_ENGINE", None)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
