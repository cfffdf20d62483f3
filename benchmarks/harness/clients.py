"""The clients compared, and how to tell whether each can run here."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import metadata

__all__ = ["CLIENTS", "OURS", "ClientSpec", "by_key", "missing_reason", "version_of"]


@dataclass(frozen=True)
class ClientSpec:
    key: str  #: short name used on the command line and in results.json
    label: str  #: what the table and the plots call it
    module: str  #: what must be importable
    dist: str  #: the distribution whose version is recorded
    sync: bool  #: a blocking client (the "best sync peer" is chosen among these, ours aside)
    color: str  #: one colour per client in every plot


OURS = "beluga"
CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(OURS, "beluga_nats_sync", "beluga_nats_sync", "beluga-nats-sync", True, "#1f77b4"),
    ClientSpec("natspy", "nats-py async", "nats", "nats-py", False, "#ff7f0e"),
    ClientSpec("natspysync", "nats-py-sync", "nats_sync", "nats-py-sync", True, "#2ca02c"),
    ClientSpec("pynats2", "pynats2", "pynats2", "pynats2", True, "#9467bd"),
)
_BY_KEY = {c.key: c for c in CLIENTS}


def by_key(key: str) -> ClientSpec:
    return _BY_KEY[key]


def missing_reason(spec: ClientSpec) -> str | None:
    """Why ``spec`` cannot run here (not installed), or None. Cheap: nothing is imported.

    A package that is installed but fails to import (pynats2 on setuptools >= 81) is found out
    by the worker, which reports the import error as the reason.
    """
    if importlib.util.find_spec(spec.module) is None:
        return f"{spec.dist} is not installed (pip install 'beluga-nats-sync[bench]')"
    return None


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
