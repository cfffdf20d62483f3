"""Text for people, shared by the command line and the notebook: byte counts."""

from __future__ import annotations

__all__ = ["format_size"]


def format_size(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``: a byte count for people."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
