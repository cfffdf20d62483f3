"""Unique subjects for replies: the one way inboxes are made in this package."""

from __future__ import annotations

import os
import threading

__all__ = ["new_inbox", "unique_token"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SEQ_DIGITS = 10
_SEQ_MAX = 62**_SEQ_DIGITS


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, i = divmod(n, 62)
        out.append(_ALPHABET[i])
    return "".join(reversed(out))


class _Nuid:
    """A random 12-character prefix and a 10-character sequence, like a NATS NUID: unique across
    processes without coordination; the prefix is renewed when the sequence wraps and in a
    forked child (which would otherwise repeat its parent's tokens)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._prefix = ""
        self._seq = 0

    def _reseed(self) -> None:
        self._pid = os.getpid()
        self._prefix = _base62(int.from_bytes(os.urandom(9), "big"), 12)
        self._seq = int.from_bytes(os.urandom(4), "big")

    def next(self) -> str:
        with self._lock:
            self._seq += 1
            if self._pid != os.getpid() or self._seq >= _SEQ_MAX:
                self._reseed()
            return self._prefix + _base62(self._seq, _SEQ_DIGITS)


_NUID = _Nuid()


def unique_token() -> str:
    """A 22-character token, unique across processes and time."""
    return _NUID.next()


def new_inbox(prefix: str) -> str:
    """``<prefix>.<unique token>``, e.g. ``_INBOX.3FqZ...``."""
    return f"{prefix}.{_NUID.next()}"
