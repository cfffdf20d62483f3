"""``server`` (an embedded nats-server in the foreground) and ``demo``."""

from __future__ import annotations

import argparse
import os
import signal
import time

from ._base import _TICK, CLIError, _say, _stop_on_signal, _warn
from ._output import _json_line

_DEFAULT_PORT = 4222
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, or 0 for a free one; got {text!r}")
    return port


def _clients_port(url: str | None) -> int:
    """The port clients reach by default: that of ``--url``/``$NATS_URL`` when it is one URL on this
    machine, else NATS's 4222."""
    from urllib.parse import urlsplit

    url = url or os.environ.get("NATS_URL") or ""
    if not url or "," in url:
        return _DEFAULT_PORT
    try:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return _DEFAULT_PORT
    if host in _LOOPBACK or host.startswith("127."):
        return port or _DEFAULT_PORT
    return _DEFAULT_PORT


def _cmd_server(args: argparse.Namespace) -> int:
    from ..server import EmbeddedServer, PortInUseError

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_on_signal)
    if args.port is not None:  # asked for: that port (0: a free one), or an error
        try:
            srv = EmbeddedServer(port=args.port).start()
        except PortInUseError as exc:
            raise CLIError(f"port {exc.port} is taken by another process; --port 0 picks a free one") from None
    else:  # where clients look by default, unless it is taken
        url = args.url
        if url is None and args.context is not None:  # the port that context's clients reach
            from .._context import load_context

            url = load_context(args.context).options["servers"]
        preferred = _clients_port(url)
        try:
            srv = EmbeddedServer(port=preferred).start()
        except PortInUseError:
            srv = EmbeddedServer().start()
            _warn(
                f"port {preferred} is taken (another nats-server?); serving on port {srv.port} instead: "
                f"give clients --url {srv.url} or NATS_URL={srv.url}"
            )
    with srv:
        try:
            if args.json:
                print(_json_line({"url": srv.url, "pid": srv.pid}), flush=True)
            else:
                print(f"nats-server running at {srv.url} (Ctrl-C to stop)", flush=True)
            while srv.is_running:
                time.sleep(_TICK)  # idle until Ctrl-C, checking that the server is still alive
        except KeyboardInterrupt:
            _say("stopping nats-server")
            return 0
        raise CLIError(f"nats-server exited on its own; the end of its log: {srv.log_text()[-300:]}")


def _cmd_demo(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    return run_demo(args.url, requests=args.requests, context=args.context)
