"""The pynats2 drop-in against pynats2 itself: the same calls, two imports, one run.

    python -m benchmarks.tools.compat_pynats2 [--url URL] [--count N] [--reps R]

Starts an embedded nats-server unless --url is given. For 16-byte payloads it measures, with
``beluga_nats_sync.compat.pynats2`` and with ``pynats2``: publish msgs/s (until the server has
them all), delivery msgs/s to a subscription callback (from the first publish to the last
callback), and request/reply p50 latency with a responder of the same kind. Set-up and
tear-down stay outside the timed part; each figure is a median of --reps runs. pynats2 needs
setuptools<81 to import.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import types
from collections.abc import Callable

from ..harness.server import server_url

PAYLOAD = b"0123456789abcdef"


def _round_trip(client: object, mod: types.ModuleType) -> None:
    """Wait until the server has processed what ``client`` sent (pynats2's ping() does not wait)."""
    done = threading.Event()
    sub = client.subscribe("bench.barrier", callback=lambda m: done.set())  # type: ignore[attr-defined]
    client.publish("bench.barrier")  # type: ignore[attr-defined]
    if not done.wait(60.0):
        raise RuntimeError(f"{mod.__name__}: no round trip within 60 s")
    client.unsubscribe(sub)  # type: ignore[attr-defined]


def bench_publish(mod: types.ModuleType, url: str, n: int) -> float:
    with mod.NATSClient(url, socket_timeout=5) as client:
        t0 = time.perf_counter()
        for _ in range(n):
            client.publish("bench.pub", payload=PAYLOAD)
        _round_trip(client, mod)
        return n / (time.perf_counter() - t0)


def bench_delivery(mod: types.ModuleType, url: str, n: int) -> float:
    with mod.NATSClient(url, socket_timeout=5) as receiver, mod.NATSClient(url, socket_timeout=5) as sender:
        count = 0
        lock = threading.Lock()
        done = threading.Event()

        def callback(msg: object) -> None:
            nonlocal count
            with lock:  # pynats2 runs callbacks on a pool: count under a lock for both
                count += 1
                if count == n:
                    done.set()

        receiver.subscribe("bench.deliver", callback=callback)
        _round_trip(receiver, mod)
        t0 = time.perf_counter()
        for _ in range(n):
            sender.publish("bench.deliver", payload=PAYLOAD)
        if not done.wait(120.0):
            raise RuntimeError(f"{mod.__name__}: {count} of {n} messages delivered in 120 s")
        return n / (time.perf_counter() - t0)


def bench_request(mod: types.ModuleType, url: str, n: int) -> float:
    with mod.NATSClient(url, socket_timeout=5) as responder, mod.NATSClient(url, socket_timeout=5) as requester:
        responder.subscribe("bench.rpc", callback=lambda m: responder.publish(m.reply, payload=m.payload))
        _round_trip(responder, mod)
        for _ in range(20):
            requester.request("bench.rpc", payload=PAYLOAD, timeout=5)
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            requester.request("bench.rpc", payload=PAYLOAD, timeout=5)
            lat.append(time.perf_counter() - t0)
        return statistics.median(lat) * 1e6


def _modules() -> dict[str, types.ModuleType | None]:
    import importlib

    from beluga_nats_sync.compat import pynats2 as shim

    real: types.ModuleType | None
    try:
        real = importlib.import_module("pynats2")
    except Exception as exc:  # setuptools >= 81 has no pkg_resources
        print(f"  pynats2 skipped: {exc!r}")
        real = None
    return {"compat.pynats2": shim, "pynats2": real}


def median_of(
    fn: Callable[[types.ModuleType, str, int], float], mod: types.ModuleType | None, url: str, n: int, reps: int
) -> float | None:
    if mod is None:
        return None
    return statistics.median(fn(mod, url, n) for _ in range(reps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None)
    ap.add_argument("--count", type=int, default=50_000, help="messages per publish and delivery run")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    n, req_n = args.count, max(200, args.count // 100)
    mods = _modules()
    with server_url(args.url) as url:
        print(f"server {url}; {n} msgs per publish/delivery run, {req_n} requests, median of {args.reps}")
        rows = [
            ("publish (msgs/s, higher is better)", bench_publish, n, True),
            ("delivery to a callback (msgs/s, higher is better)", bench_delivery, n, True),
            ("request/reply p50 (microseconds, lower is better)", bench_request, req_n, False),
        ]
        for title, fn, count, higher in rows:
            figures = {name: median_of(fn, mod, url, count, args.reps) for name, mod in mods.items()}
            print(f"\n{title}")
            ours, theirs = figures["compat.pynats2"], figures["pynats2"]
            for name, value in figures.items():
                print(f"  {name:16s} {value if value is not None else float('nan'):>12,.1f}")
            if ours and theirs:
                better = ours / theirs if higher else theirs / ours
                print(f"  compat.pynats2 is {better:.2f}x {'faster' if better >= 1 else 'slower'}")


if __name__ == "__main__":
    main()
