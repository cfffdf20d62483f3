"""Where a connection is in its life, and what ends it besides ``close()``: the garbage collector
(through the client's finaliser) and ``os.fork()`` (in the child, every connection is unusable)."""

from __future__ import annotations

import enum
import os
import threading
import weakref
from typing import Protocol

__all__ = ["State", "finalize_connection", "track"]


class State(enum.Enum):
    """Where a connection is in its life; it only ever moves down this list."""

    NEW = "new"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Owned(Protocol):
    """What this module needs of a connection."""

    state: State

    def close(self, timeout: float) -> None: ...

    def after_fork_in_child(self) -> None: ...

    def on_io_or_events_thread(self) -> bool: ...


_CONNECTIONS: weakref.WeakSet[Owned] = weakref.WeakSet()


def track(conn: Owned) -> None:
    """Mark ``conn`` unusable in a forked child (it holds no strong reference)."""
    _CONNECTIONS.add(conn)


def _after_fork_in_child() -> None:
    for conn in list(_CONNECTIONS):
        conn.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def finalize_connection(conn: Owned) -> None:
    """The client was garbage collected: close its connection (never waiting on its own thread)."""
    if conn.state in (State.CLOSING, State.CLOSED):
        return
    if conn.on_io_or_events_thread():
        threading.Thread(target=conn.close, args=(2.0,), name="nats-finalize", daemon=True).start()
    else:
        conn.close(2.0)
