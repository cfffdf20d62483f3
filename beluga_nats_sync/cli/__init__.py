"""``beluga-nats`` (also ``python -m beluga_nats_sync``): poke a NATS server from the terminal.

::

    beluga-nats [--url URL] [--json] COMMAND [ARGS]   # COMMAND: pub sub request reply server demo bench

What a command receives (messages, replies) goes to stdout, one line each, or one JSON object per
line with ``--json``; the listening notice, the live progress line, warnings and the closing summary
go to stderr, so a pipe gets only data. An error is one line on stderr and exit status 1; a usage
error exits with 2, and Ctrl-C during ``pub`` or ``request`` with 130 (``sub``, ``reply`` and
``server`` end normally on Ctrl-C, SIGTERM or SIGHUP, with their summary). Control characters in
what is printed for a terminal are escaped (``\x1b``, ``\n``); ``--json`` and a piped ``request``
reply keep the data as it is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..errors import NATSSyncError
from ._base import EXIT_ERROR, EXIT_INTERRUPTED, PROG, CLIError, _one_line
from ._parser import build_parser

__all__ = ["CLIError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "bench":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.bench_args = extra
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`| head`): nothing more to say, and nothing to flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (NATSSyncError, ValueError) as exc:  # CLIError and the server's errors among them
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_ERROR
