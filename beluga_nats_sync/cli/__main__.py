"""``python -m beluga_nats_sync.cli``: the same command line as ``python -m beluga_nats_sync``."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
