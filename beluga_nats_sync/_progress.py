"""A live progress line with rates for the command line, and the closing summary line."""

from __future__ import annotations

import collections
import time
from typing import TextIO

from ._text import format_size

__all__ = ["Progress", "format_seconds", "summary_line"]

_BAR = 24
_WINDOW = 1.0  # seconds of history behind the live rate


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


#: Fewer messages, or less time, and a rate says more about the clock than about the traffic.
RATE_MIN_COUNT = 10
RATE_MIN_SECONDS = 0.001


def format_seconds(seconds: float) -> str:
    """``0.0523`` -> ``'52.3 ms'``, ``1.5`` -> ``'1.500 s'``, ``4e-05`` -> ``'40 us'``."""
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 0.001:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def summary_line(verb: str, count: int, nbytes: int, seconds: float, where: str) -> str:
    """``published 1,000 messages (15.6 KiB) to 'a' in 52.3 ms: 19,120 msgs/s, 298.7 KiB/s``.

    Without a duration (one message, or none) no time is shown; a rate only for at least
    ``RATE_MIN_COUNT`` messages over at least ``RATE_MIN_SECONDS``.
    """
    noun = "message" if count == 1 else "messages"
    text = f"{verb} {count:,} {noun} ({format_size(nbytes)}) {where}"
    if seconds <= 0 or count < 2:
        return text
    text += f" in {format_seconds(seconds)}"
    if count < RATE_MIN_COUNT or seconds < RATE_MIN_SECONDS:
        return text
    return f"{text}: {_rate(count, seconds):,.0f} msgs/s, {format_size(int(_rate(nbytes, seconds)))}/s"


class Progress:
    """One status line on ``stream`` (normally stderr), redrawn in place at most every ``interval``.

    Shows a bar when the total is known, the count, and the rate over the last second. Disabled,
    it does nothing, so callers need no conditionals. Call :meth:`clear` before printing other
    lines to the same terminal and :meth:`finish` at the end.
    """

    def __init__(self, label: str, total: int | None, stream: TextIO, *, enabled: bool, interval: float = 0.1) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.interval = interval
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque()

    def update(self, count: int, nbytes: int, *, force: bool = False) -> None:
        """Record the running totals; redraw when ``interval`` has passed (or ``force``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        self._samples.append((now, count, nbytes))
        while len(self._samples) > 2 and now - self._samples[1][0] >= _WINDOW:
            self._samples.popleft()
        self.stream.write("\r\x1b[K" + self.line(count, nbytes, now))
        self.stream.flush()
        self._drawn = True

    def line(self, count: int, nbytes: int, now: float | None = None) -> str:
        """The text of the status line for these totals."""
        now = time.monotonic() if now is None else now
        t0, c0, b0 = self._samples[0] if len(self._samples) > 1 else (self.started, 0, 0)
        span = now - t0
        parts = [self.label]
        if self.total:
            filled = min(_BAR, int(_BAR * count / self.total))
            parts.append(f"[{'#' * filled}{'-' * (_BAR - filled)}] {count:,}/{self.total:,}")
        else:
            parts.append(f"{count:,} msgs")
        parts.append(format_size(nbytes))
        parts.append(f"{_rate(count - c0, span):,.0f} msgs/s")
        parts.append(f"{format_size(int(_rate(nbytes - b0, span)))}/s")
        parts.append(f"{now - self.started:.1f} s")
        return "  ".join(parts)

    def clear(self) -> None:
        """Erase the status line so another line can be printed in its place."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def finish(self) -> None:
        self.clear()
