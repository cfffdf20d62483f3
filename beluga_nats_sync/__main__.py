"""``python -m beluga_nats_sync``: the ``beluga-nats`` command line (see :mod:`beluga_nats_sync.cli`)."""

from __future__ import annotations

import sys

from .cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
