"""``beluga-nats`` / ``python -m beluga_nats_sync``: the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args.url, requests=args.requests)


def _server(args: argparse.Namespace) -> int:
    import threading

    from .server import EmbeddedServer

    with EmbeddedServer(port=args.port) as srv:
        print(f"nats-server running at {srv.url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()  # until Ctrl-C
        except KeyboardInterrupt:
            print("stopping", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beluga-nats", description="A synchronous NATS client for Beluga agents.")
    parser.add_argument("--url", default=None, help="NATS server URL (default: $NATS_URL or nats://localhost:4222)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the agent scenario (starts an embedded server if none answers)")
    demo.add_argument("--requests", type=int, default=20, help="messages per pattern (default 20)")
    demo.set_defaults(func=_demo)
    server = sub.add_parser("server", help="run an embedded nats-server until Ctrl-C")
    server.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    server.set_defaults(func=_server)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import NATSSyncError
    from .server import ServerNotFoundError

    try:
        return int(args.func(args))
    except (NATSSyncError, ServerNotFoundError) as exc:
        print(f"beluga-nats: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
