"""A small progress bar on stderr: redrawn in place on a terminal, one line per step otherwise."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:d}:{s:02d}"


class Progress:
    """``step(label)`` once per finished point; ``note(text)`` for a line that must stay."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self.current = ""
        self._drawn = False

    def start(self, label: str) -> None:
        self.current = label
        if self.tty:
            self._draw()

    def step(self, label: str, outcome: str = "") -> None:
        self.done = min(self.total, self.done + 1)
        if self.tty:
            self.current = label
            self._draw()
        else:
            elapsed = _clock(time.monotonic() - self.t0)
            line = f"[{self.done:>3}/{self.total}] {elapsed} {label}"
            self.stream.write(f"{line}  {outcome}\n" if outcome else line + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        if self.tty and self.done < self.total:
            self._draw()

    def close(self) -> None:
        self._clear()

    def _bar(self, width: int) -> str:
        filled = int(width * self.done / self.total)
        return "#" * filled + "." * (width - filled)

    def _draw(self) -> None:
        elapsed = time.monotonic() - self.t0
        eta = ""
        if 0 < self.done < self.total:
            eta = f" eta {_clock(elapsed / self.done * (self.total - self.done))}"
        cols = shutil.get_terminal_size((100, 20)).columns
        head = f"[{self._bar(24)}] {self.done}/{self.total} {_clock(elapsed)}{eta} "
        line = (head + self.current)[: max(10, cols - 1)]
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
