"""``bench``: run the benchmark suite of a checkout or a source distribution (it is not in the wheel)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from ._base import CLIError


def _bench_main() -> Callable[[list[str]], Any]:
    try:
        module = importlib.import_module("benchmarks.__main__")
    except ImportError as exc:
        # The suite lives in the repository, not in the installed package: from a checkout, the
        # console script does not have the working directory on sys.path, `python -m` does.
        here = os.getcwd()
        if here in sys.path or not os.path.isfile(os.path.join(here, "benchmarks", "__main__.py")):
            if isinstance(exc, ModuleNotFoundError) and exc.name == "benchmarks":
                raise CLIError(
                    "the benchmark suite is not importable: it is not installed with the package. It is "
                    "the benchmarks/ folder of the source distribution (`pip download --no-binary :all: "
                    "--no-deps beluga-nats-sync`, then unpack it) or of a checkout; in that folder run "
                    "`pip install -e '.[bench]'` and `python -m beluga_nats_sync bench`"
                ) from None
            raise CLIError(
                f"the benchmark suite is not importable ({exc}); it is the benchmarks/ folder of the "
                "repository: run `pip install -e '.[bench]'` and `python -m beluga_nats_sync bench` there"
            ) from None
        sys.path.insert(0, here)
        return _bench_main()
    entry = getattr(module, "main", None)
    if not callable(entry):
        raise CLIError("benchmarks.__main__ has no main(argv) function to run")
    return entry  # type: ignore[no-any-return]


def _cmd_bench(args: argparse.Namespace) -> int:
    entry = _bench_main()
    result = entry(list(args.bench_args))
    return int(result or 0)
