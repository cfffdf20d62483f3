"""What every command shares: the program name, exit statuses, CLIError, messages on stderr, the
connection, and the signal handler that stops a command like Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import NATSSyncError

if TYPE_CHECKING:
    from .._client import Client

PROG = "beluga-nats"
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
_TICK = 0.25  # how often an idle listener refreshes its progress line and checks its deadline


class CLIError(NATSSyncError):
    """Bad input to the command line, or a command that could not do its job: one line, exit 1."""


# -- small helpers ---------------------------------------------------------------------------------


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    _say(f"{PROG}: warning: {text}")


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _progress_enabled(args: argparse.Namespace) -> bool:
    if args.progress is not None:
        return bool(args.progress)
    return sys.stderr.isatty()


def _connect(args: argparse.Namespace, name: str) -> Client:
    from .._client import connect

    def on_error(exc: BaseException) -> None:
        _warn(_one_line(exc))

    return connect(args.url, context=args.context, name=name, timeout=args.connect_timeout, error_cb=on_error)


def _stop_on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM/SIGHUP end the server like Ctrl-C: nats-server is stopped and reaped
