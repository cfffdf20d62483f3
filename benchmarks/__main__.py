"""``python -m benchmarks``: this library against its peers, in one run, as ratios.

    python -m benchmarks [--quick] [--out DIR] [--url URL]

Starts its own nats-server (unless --url), measures every scenario for every client installed
(beluga_nats_sync, nats-py async, nats-core, nats-py-sync, pynats2) and, for request/reply, the
raw-socket floor; prints the ratio of this library to each peer and to the floor, and writes
results.json and PNG plots into --out (default benchmarks/results/).
``beluga-nats bench`` calls :func:`main`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .harness.clients import CLIENTS, OURS, PEER_PYTHON_ENV
from .harness.runner import FULL, QUICK, Config, run
from .harness.scenario import SCENARIO_MODULES

__all__ = ["build_parser", "main"]

T = TypeVar("T", int, float)

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _names(text: str, known: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {', '.join(known)}"
        )
    return names


def _positive(kind: Callable[[str], T], what: str) -> Callable[[str], T]:
    """An argparse type: ``kind(text)``, refused with ``expected {what}`` unless it is > 0."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive_int = _positive(int, "a whole number >= 1")
_positive_float = _positive(float, "a number of seconds > 0")


def build_parser() -> argparse.ArgumentParser:
    keys = tuple(c.key for c in CLIENTS)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Throughput and latency of beluga_nats_sync against nats-py, nats-core, nats-py-sync and pynats2, "
        "as ratios measured in one run, and against a raw-socket floor (request/reply).",
    )
    parser.add_argument("--quick", action="store_true", help="short repetitions, for a smoke test (under a minute)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--url", default=None, help="use this nats-server instead of starting one")
    parser.add_argument(
        "--rounds", type=_positive_int, default=None, help="worker runs per point, alternating clients (3; quick: 1)"
    )
    parser.add_argument("--reps", type=_positive_int, default=None, help="timed repetitions per round (2)")
    parser.add_argument(
        "--seconds", type=_positive_float, default=None, help="target length of one repetition (0.75; quick: 0.05)"
    )
    parser.add_argument("--count", type=_positive_int, default=None, help="cap on messages/requests per repetition")
    parser.add_argument(
        "--scenarios",
        type=lambda t: _names(t, SCENARIO_MODULES, "scenario"),
        default=list(SCENARIO_MODULES),
        help=f"comma-separated subset of: {', '.join(SCENARIO_MODULES)}",
    )
    parser.add_argument(
        "--clients",
        type=lambda t: _names(t, keys, "client"),
        default=list(keys),
        help=f"comma-separated subset of: {', '.join(keys)} ({OURS} is always measured)",
    )
    parser.add_argument("--pin", action="store_true", help="pin the server to one CPU and the clients to the others")
    parser.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    parser.add_argument(
        "--peer-python",
        default=None,
        metavar="PATH",
        help="interpreter for peers that need a newer Python than this one (nats-core: 3.13), "
        f"with the peer installed (default: ${PEER_PYTHON_ENV}; none: their cells are skipped)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark suite with command-line ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.reps is not None:
        settings = dataclasses.replace(settings, reps=args.reps)
    if args.seconds is not None:
        settings = dataclasses.replace(settings, rep_seconds=args.seconds)
    if args.count is not None:
        settings = dataclasses.replace(settings, max_count=args.count)
    clients = list(dict.fromkeys([OURS, *args.clients]))
    cfg = Config(
        out=args.out,
        url=args.url,
        quick=args.quick,
        settings=settings,
        rounds=args.rounds or (1 if args.quick else 3),
        scenarios=list(dict.fromkeys(args.scenarios)),
        clients=clients,
        pin=args.pin,
        plots=not args.no_plots,
        peer_python=args.peer_python,
    )
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
