"""Where a connection is in its life, and what ends it besides ``close()``: the garbage collector
(through the client's finaliser) and ``os.fork()`` (in the child, every connection is unusable)."""

from __future__ import annotations

import enum
import os
import threading
import weakref
from typing import Protocol

from ..errors import ClosedError

__all__ = ["ConnState", "Lifecycle", "closed_error", "finalize_connection", "track"]


class ConnState(enum.Enum):
    """Where a client's connection is in its life (``Client.state``).

    ``NEW`` until ``connect()``; ``CONNECTING`` until the first connection is up with the client's
    own wiring in place (publishes are buffered meanwhile); then ``CONNECTED``, ``RECONNECTING``
    while a lost connection is replaced (publishes go to the reconnect buffer), ``DRAINING`` while
    ``drain()`` lets subscriptions finish; ``CLOSING`` and ``CLOSED`` at the end, which is for good.
    """

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    CLOSING = "closing"
    CLOSED = "closed"


#: publishes and subscriptions are accepted (sent now, or buffered until connected)
_ACCEPTING = frozenset({ConnState.CONNECTING, ConnState.CONNECTED, ConnState.RECONNECTING, ConnState.DRAINING})
#: connected, with the client's own wiring (its reply subscription) in place
_LINKED = frozenset({ConnState.CONNECTED, ConnState.DRAINING})


class Lifecycle:
    """The one place a connection's :class:`ConnState` is kept; everything else reads it here.

    ``accepting`` and ``linked`` are read on every publish, so they are plain attributes kept in
    step with ``state`` by :meth:`move`, the only writer. A drain in progress survives a reconnect:
    the connection comes back ``DRAINING``, not ``CONNECTED``.
    """

    __slots__ = ("state", "accepting", "linked", "_draining")

    def __init__(self) -> None:
        self.state = ConnState.NEW
        self.accepting = False
        self.linked = False
        self._draining = False

    @property
    def ending(self) -> bool:
        """Closing or closed: nothing is accepted any more, and it never will be again."""
        return self.state is ConnState.CLOSING or self.state is ConnState.CLOSED

    def move(self, state: ConnState) -> None:
        """Go to ``state``; from ``CLOSING`` only to ``CLOSED``, from ``CLOSED`` nowhere."""
        if self.state is ConnState.CLOSED or (self.state is ConnState.CLOSING and state is not ConnState.CLOSED):
            return
        if state is ConnState.DRAINING:
            self._draining = True
            if not self.linked:  # disconnected: it drains once connected again
                return
        elif state is ConnState.CONNECTED and self._draining:
            state = ConnState.DRAINING
        if state is ConnState.CLOSING:  # still linked, if it was: what is buffered is sent before the close
            self.accepting = False
            self.state = state
            return
        self.state = state
        self.linked = state in _LINKED
        self.accepting = state in _ACCEPTING

    def lost(self) -> None:
        """The connection was lost (or the transport closed itself): no longer linked; a
        connected (or draining) state becomes ``RECONNECTING``, any other stays as it is."""
        self.linked = False
        if self.state is ConnState.CONNECTED or self.state is ConnState.DRAINING:
            self.state = ConnState.RECONNECTING


def closed_error(what: str, state: ConnState, *, forked: bool = False) -> ClosedError:
    """The error of a call (``what``) made when nothing is accepted, saying why and what to do."""
    if forked:
        return ClosedError(
            f"{what}: this client was created before os.fork() and cannot be used in the child "
            "process; connect a new client after forking"
        )
    if state is ConnState.NEW:
        return ClosedError(f"{what}: the client is not connected; call connect() first")
    return ClosedError(f"{what}: the client is closed; create a new one with beluga_nats_sync.connect()")


class Owned(Protocol):
    """What this module needs of a connection."""

    @property
    def state(self) -> ConnState: ...

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
    if conn.state in (ConnState.CLOSING, ConnState.CLOSED):
        return
    if conn.on_io_or_events_thread():
        threading.Thread(target=conn.close, args=(2.0,), name="nats-finalize", daemon=True).start()
    else:
        conn.close(2.0)
