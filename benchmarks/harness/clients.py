"""The clients compared, and how to tell whether each can run here, and under which interpreter."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

__all__ = [
    "CLIENTS",
    "OURS",
    "PEER_PYTHON_ENV",
    "RAW",
    "ClientSpec",
    "Interpreter",
    "by_key",
    "current_interpreter",
    "interpreter_for",
    "missing_reason",
    "probe_interpreter",
    "version_of",
]

#: the environment variable naming the interpreter for peers that need a newer Python than the
#: run's own (the same as ``--peer-python``)
PEER_PYTHON_ENV = "BELUGA_BENCH_PEER_PYTHON"


@dataclass(frozen=True)
class ClientSpec:
    key: str  #: short name used on the command line and in results.json
    label: str  #: what the table and the plots call it
    module: str  #: what must be importable
    dist: str  #: the distribution whose version is recorded
    sync: bool  #: a blocking client (the "best sync peer" is chosen among these, ours aside)
    color: str  #: one colour per client in every plot
    #: the oldest Python it runs on; older than the run's own: its workers run under the peer interpreter
    min_python: tuple[int, int] | None = None
    #: how to install it, for the reason printed when it is missing
    install: str = "pip install 'beluga-nats-sync[bench]'"
    #: no library at all: a physical floor that clients are measured against, never a peer to beat
    floor: bool = False


OURS = "beluga"
#: the floor: the NATS protocol written by hand on two blocking sockets (benchmarks/harness/raw.py)
RAW = "raw"
CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(OURS, "beluga_nats_sync", "beluga_nats_sync", "beluga-nats-sync", True, "#1f77b4"),
    ClientSpec("natspy", "nats-py async", "nats", "nats-py", False, "#ff7f0e"),
    ClientSpec(
        "natscore",
        "nats-core",
        "nats.client",
        "nats-core",
        False,
        "#8c564b",
        min_python=(3, 13),
        install="pip install 'nats-core[nkeys]'",
    ),
    ClientSpec("natspysync", "nats-py-sync", "nats_sync", "nats-py-sync", True, "#2ca02c"),
    ClientSpec("pynats2", "pynats2", "pynats2", "pynats2", True, "#9467bd"),
    ClientSpec(RAW, "raw sockets", "socket", "", False, "#7f7f7f", floor=True),
)
_BY_KEY = {c.key: c for c in CLIENTS}


def by_key(key: str) -> ClientSpec:
    return _BY_KEY[key]


@dataclass(frozen=True)
class Interpreter:
    """A Python a worker runs under: its path, version with patch level, and implementation."""

    executable: str
    version: str  #: e.g. "3.13.0"
    implementation: str = "CPython"

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split(".")[:2] if p.isdigit())

    def describe(self) -> str:
        return f"{self.implementation} {self.version} ({self.executable})"

    def to_json(self) -> dict[str, str]:
        return {"executable": self.executable, "version": self.version, "implementation": self.implementation}


def current_interpreter() -> Interpreter:
    return Interpreter(sys.executable, platform.python_version(), platform.python_implementation())


_PROBE = (
    "import importlib.util, importlib.metadata as m, json, platform, sys\n"
    "mod, dist = sys.argv[1], sys.argv[2]\n"
    "try:\n"
    "    found = importlib.util.find_spec(mod) is not None\n"
    "except (ImportError, ValueError):\n"
    "    found = False\n"
    "try:\n"
    "    version = m.version(dist)\n"
    "except m.PackageNotFoundError:\n"
    "    version = None\n"
    "print(json.dumps({'executable': sys.executable, 'version': platform.python_version(),\n"
    "    'implementation': platform.python_implementation(), 'found': found, 'dist_version': version}))\n"
)


def probe_interpreter(executable: str, spec: ClientSpec) -> tuple[Interpreter | None, bool, str | None, str | None]:
    """Ask ``executable`` what it is and whether it has ``spec``'s package: (interpreter,
    installed, the package's version, why the interpreter could not be asked)."""
    try:
        proc = subprocess.run(
            [executable, "-c", _PROBE, spec.module, spec.dist],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, False, None, f"cannot run {executable}: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, False, None, f"{executable} failed: {tail}"
    try:
        facts: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, False, None, f"{executable} did not say what it is"
    interp = Interpreter(str(facts["executable"]), str(facts["version"]), str(facts["implementation"]))
    return interp, bool(facts["found"]), facts.get("dist_version"), None


def interpreter_for(spec: ClientSpec, peer_python: str | None) -> tuple[Interpreter | None, str | None, str | None]:
    """The interpreter ``spec``'s workers run under, the version of its package there, and why
    it cannot run (None when it can). Cheap for clients that run under this interpreter: nothing
    is imported. A package that is installed but fails to import (pynats2 on setuptools >= 81)
    is found out by the worker, which reports the import error as the reason."""
    here = current_interpreter()
    if spec.min_python is None or sys.version_info[:2] >= spec.min_python:
        return here, version_of(spec.dist), missing_reason(spec)
    need = ".".join(map(str, spec.min_python))
    if not peer_python:
        peer_python = os.environ.get(PEER_PYTHON_ENV) or None
    if not peer_python:
        return (
            None,
            None,
            f"{spec.dist} needs Python >= {need} and this run is on {here.version}; give a Python {need} "
            f"interpreter with it installed: --peer-python PATH or {PEER_PYTHON_ENV}=PATH",
        )
    interp, found, version, why = probe_interpreter(peer_python, spec)
    if interp is None:
        return None, None, f"{spec.dist} needs Python >= {need}: {why}"
    if interp.as_tuple() < spec.min_python:
        return interp, None, f"{spec.dist} needs Python >= {need}; {peer_python} is Python {interp.version}"
    if not found:
        return interp, None, f"{spec.dist} is not installed in {peer_python} ({peer_python} -m {spec.install})"
    return interp, version, None


def missing_reason(spec: ClientSpec) -> str | None:
    """Why ``spec`` cannot run under this interpreter (not installed), or None. Cheap: nothing is
    imported."""
    try:
        found = importlib.util.find_spec(spec.module) is not None
    except (ImportError, ValueError):  # a dotted name whose parent is missing
        found = False
    if not found:
        return f"{spec.dist} is not installed ({spec.install})"
    return None


def version_of(dist: str) -> str | None:
    if not dist:  # the floor: no distribution, only the interpreter's socket module
        return f"Python {platform.python_version()}"
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
