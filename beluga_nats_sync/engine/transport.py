"""Our own protocol engine: a socket we own, our parser, the core's transport contract.

Threads: a connection is set up with blocking calls, each bounded by the attempt's deadline, on
the thread that connects (the caller of ``connect``, or this transport's ``nats-reconnect`` thread
when a connection was lost or the first connect goes on in the background); it is then handed to
the client's I/O thread (:class:`~beluga_nats_sync._core.portal.IOLoop`, our own loop, no asyncio),
which reads the socket when it is readable, runs the PING timer and reports every event. Callers'
threads write into the socket under the wire's lock; a flush waits for its PONG in the caller's
thread. Nothing here names a private of ssl or socket, and nothing imports nats-py.

- **Reading**: one ``recv`` of at most 64 KiB per readable event, fed to
  :class:`~beluga_nats_sync.protocol.Parser`, whose callbacks hand each message to its
  subscription's ``deliver`` on the I/O thread. A frame the parser refuses is a
  :class:`~beluga_nats_sync.errors.ProtocolError`: reported, and the connection is replaced.
- **Writing** and **TLS**: :class:`~.wire.Wire` (callers' threads write straight into the socket
  when nothing is owed to it; one lock around the socket's write side and the SSL object).
- **Connecting**: :class:`~.pool.ServerPool` says which server next and how long to wait
  (backoff with jitter, discovery, lame duck); :mod:`.handshake` what CONNECT says. A PING,
  ``+OK`` or INFO before the handshake's PONG is handled as the protocol means it.
- **State**: the socket's own, in the core's :class:`~beluga_nats_sync._core.lifetime.ConnState`
  vocabulary (never ``DRAINING``: draining is the client's). The client's state, the one users
  and features read, is the connection's :class:`~beluga_nats_sync._core.lifetime.Lifecycle`, moved
  by the events this transport reports.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import ssl
import threading
import time
from typing import Any, TypeVar

from .._core.lifetime import ConnState
from .._core.options import Options
from .._core.portal import Timer, run_on
from .._core.security import build_ssl_context, parse_permissions_error
from .._core.transport import Deliver, TransportEvents
from ..errors import (
    AuthorizationError,
    ClosedError,
    ConnectError,
    DisconnectedError,
    NATSSyncError,
    NATSTimeoutError,
    PermissionsError,
    ProtocolError,
)
from ..protocol.checks import DEFAULT_MAX_CONTROL_LINE
from ..protocol.events import Info, Ping, Pong, ServerError
from ..protocol.framing import PING_FRAME, PONG_FRAME, frame_unsub
from ..protocol.parser import DEFAULT_MAX_PAYLOAD, Parser
from .explain import connect_error, is_auth_error, websocket_refusal
from .opener import Opener, _Handshake
from .pool import Server, ServerPool
from .subs import SubTable
from .wire import Wire

__all__ = ["EngineTransport"]

log = logging.getLogger("beluga_nats_sync")
T = TypeVar("T")


class EngineTransport:
    """One NATS connection (reconnected as needed): set up by the thread that connects, read on
    the client's I/O thread, written from any thread."""

    def __init__(self, options: Options, events: TransportEvents) -> None:
        self._o = options
        self._events = events
        self._loop = events.loop
        self.state = ConnState.NEW
        self._pool = ServerPool(options)
        self._ssl_context = build_ssl_context(options)
        #: the socket and its TLS (``direct_writes``, ``partial_writes``: for tests and profiles)
        self.wire = Wire(self._loop)
        # the hot paths, without a hop through this object
        self.try_write = self.wire.try_write
        self.write_waiting = self.wire.write_waiting
        self.write = self.wire.write
        self.when_drained = self.wire.when_drained
        self._server: Server | None = None
        self._parser: Parser | None = None
        self._subs = SubTable()
        self._opener = Opener(options, self._pool, self.wire, self._subs.on_msg, self._on_control)
        self._opener.set_ssl_context(self._ssl_context)
        # one entry per PING sent (None for the keep-alive's), in order: a PONG answers the oldest
        self._pongs: collections.deque[concurrent.futures.Future[None] | None] = collections.deque()
        self._ping_lock = threading.Lock()  # a PING and its entry go together
        self._pings_out = 0
        self._ping_timer: Timer | None = None
        self._reconnector: threading.Thread | None = None
        self._stop = threading.Event()  # set on close: a wait between attempts ends at once
        self._reconnects = 0
        self._closing = False

    @property
    def _info(self) -> dict[str, Any]:
        return self._opener.info

    # -- state (any thread) ------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self.state is ConnState.CONNECTED

    @property
    def max_payload(self) -> int:
        value = self._info.get("max_payload")
        return value if isinstance(value, int) else DEFAULT_MAX_PAYLOAD

    @property
    def max_control_line(self) -> int:
        value = self._info.get("max_control_line")
        return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_CONTROL_LINE

    @property
    def connected_address(self) -> tuple[str, str, int] | None:
        s = self._server
        if s is None or not self.is_connected:
            return None
        return s.scheme, s.host, s.port

    def server_info(self) -> dict[str, Any]:
        return dict(self._info)

    def server_pool(self) -> list[str]:
        """``host:port`` of every server known, the ones learnt from INFO included."""
        return [s.address for s in self._pool.servers]

    def counters(self) -> tuple[int, int, int]:
        return self._subs.in_msgs, self._subs.in_bytes, self._reconnects

    # -- connecting (the caller's thread, or the reconnecting one) ------------------------------------
    def connect(self, timeout: float) -> bool:
        refused = websocket_refusal(self._o)
        if refused is not None:
            self.state = ConnState.CLOSED
            raise refused
        self.state = ConnState.CONNECTING
        deadline = time.monotonic() + timeout
        errors: list[ConnectError] = []
        for _ in range(len(self._pool.servers)):
            left = deadline - time.monotonic()
            if left <= 0 or self._closing:
                break
            picked = self._pool.next(time.monotonic())
            if picked is None:
                break
            server, _wait = picked  # the first round tries each server once, without waiting
            try:
                self._open(server, min(left, self._o.connect_timeout))
            except _Handshake as exc:
                errors.append(exc.error)
                if isinstance(exc.error, AuthorizationError):
                    break  # the same credentials again is futile
                continue
            run_on(self._loop, lambda: self._adopt(initial=True), max(1.0, timeout), "connect")
            return True
        last = errors[-1] if errors else self._connect_error(None, "no answer within the connect timeout")
        if self._o.retry_on_failed_connect and not isinstance(last, AuthorizationError) and not self._closing:
            log.info("connect attempt failed, retrying in the background: %s", last)
            self.state = ConnState.RECONNECTING
            self._start_reconnecting(initial=True)
            return False
        self.state = ConnState.CLOSED
        raise last

    def _connect_error(self, server: Server | None, reason: str) -> ConnectError:
        return connect_error(self._o, server.url if server is not None else None, reason)

    def _open(self, server: Server, timeout: float) -> None:
        """Set up a connection to ``server`` (blocking, within ``timeout``), for :meth:`_adopt`;
        raises :class:`_Handshake`."""
        self._server = server
        self._pings_out = 0
        parser = self._opener.open(server, timeout, _version())
        if self._closing:
            self.wire.close()
            raise _Handshake(self._connect_error(server, "the client is closing"))
        self._parser = parser

    def _adopt(self, *, initial: bool) -> None:
        """On the I/O thread: the connection just set up is the current one, read by the loop."""
        wire = self.wire
        if self._closing or wire.sock is None:
            wire.close()
            return
        server = self._server
        assert server is not None
        self._pool.connected(server)
        with self._ping_lock:
            self.state = ConnState.CONNECTED
            wire.go_live()
            self._loop.add_reader(wire.sock.fileno(), self._on_readable)
            self._arm_ping()
            if initial:
                self._events.on_connected()
            else:
                restore = self._subs.restore(self.max_control_line)
                if restore:
                    wire.send(restore)
                self._reconnects += 1
                self._events.on_reconnected()
            # the flushes that spanned the reconnect: their PINGs again, behind what was sent again
            waiting = [f for f in self._pongs if f is not None and not f.done()]
            self._pongs.clear()
            self._pongs.extend(waiting)
            if waiting and self.state is ConnState.CONNECTED:
                wire.send(PING_FRAME * len(waiting))
        leftover, self._opener.leftover = self._opener.leftover, []
        for event in leftover:
            self._on_control(event)

    # -- the read side (I/O thread) ------------------------------------------------------------------
    def _on_readable(self) -> None:
        parser = self._parser
        if parser is None:
            return
        try:
            data = self.wire.recv()
            if data:
                parser.feed(data)
        except ProtocolError as exc:
            self._lost(exc, report=True)
        except (OSError, ssl.SSLError) as exc:  # ConnectionError among them
            self._lost(DisconnectedError(f"the connection was lost: {exc}"))

    def _on_control(self, event: Any) -> None:
        if isinstance(event, Pong):
            self._pings_out = 0
            if self._pongs:
                fut = self._pongs.popleft()
                if fut is not None:
                    with contextlib.suppress(concurrent.futures.InvalidStateError):
                        fut.set_result(None)
        elif isinstance(event, Ping):
            self.wire.send(PONG_FRAME)
        elif isinstance(event, Info):
            self._on_info(event.info)
        elif isinstance(event, ServerError):
            self._on_server_error(event.text)

    def _on_info(self, info: dict[str, Any]) -> None:
        self._opener.info = info
        server = self._server
        if server is None:
            return
        self._pool.update_from_info(info, server)
        if info.get("ldm"):
            if self._o.allow_reconnect and self._pool.lame_duck(server):
                log.info("the server entered lame-duck mode; moving to another server")
                self._lost(None)
            else:
                log.info("the server entered lame-duck mode and there is no other server to move to")

    def _on_server_error(self, text: str) -> None:
        low = text.lower()
        if "stale connection" in low:
            self._lost(DisconnectedError("the server found the connection stale"), report=True)
        elif "permissions violation" in low:
            operation, subject = parse_permissions_error(text)
            self._events.on_error(PermissionsError(text, operation=operation, subject=subject))
        elif is_auth_error(text):
            # the server closes the connection after it: reconnect, and let the core count refusals
            self._lost(AuthorizationError(text), report=True)
        else:
            # like nats.go: any other -ERR closes the client (the server closes the connection too)
            self._fatal(ConnectError(f"the server reported an error and closed the connection: {text}"))

    # -- pings ---------------------------------------------------------------------------------------
    def ping(self, timeout: float) -> None:
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._ping_lock:
            if self.state in (ConnState.CLOSING, ConnState.CLOSED):
                raise ClosedError("flush: the client is closed")
            self._pongs.append(fut)
            if self.state is ConnState.CONNECTED:
                self.wire.send(PING_FRAME)
            # else: reconnecting; the ping goes out with the others once a server takes the connection
        try:
            self._loop.wait(fut, max(timeout, 0.001), "flush")
        except TimeoutError as exc:
            if isinstance(exc, NATSSyncError):
                raise
            why = "" if self.state is ConnState.CONNECTED else " (the client is reconnecting)"
            raise NATSTimeoutError(f"flush did not complete within {timeout:g} s{why}") from None

    def _arm_ping(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        self._ping_timer = self._loop.call_later(self._o.ping_interval, self._on_ping_timer)

    def _on_ping_timer(self) -> None:
        self._ping_timer = None
        if self.state is not ConnState.CONNECTED:
            return
        if self._pings_out >= self._o.max_outstanding_pings:
            self._lost(DisconnectedError("stale connection: the server did not answer our pings"), report=True)
            return
        self._pings_out += 1
        with self._ping_lock:
            self._pongs.append(None)
            self.wire.send(PING_FRAME)
        self._arm_ping()

    # -- subscriptions -------------------------------------------------------------------------------
    def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        if self.state in (ConnState.CLOSING, ConnState.CLOSED):
            raise ClosedError("subscribe: the client is closed")
        sid, frame = self._subs.add(subject, queue, deliver, self.max_control_line)
        if self.state is ConnState.CONNECTED:
            self.wire.send(frame)
        return sid

    def unsubscribe(self, sid: int, limit: int = 0) -> None:
        frame = self._subs.unsubscribe(sid, limit)
        if frame is not None and self.state is ConnState.CONNECTED:
            self.wire.send(frame)

    def drain_subscription(self, sid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout

        def stop_interest() -> bool:
            if sid not in self._subs:
                return False
            if self.state is ConnState.CONNECTED:
                self.wire.send(frame_unsub(sid))
                return True
            self._subs.remove(sid)
            return False

        if not run_on(self._loop, stop_interest, timeout, "drain"):
            return
        with contextlib.suppress(NATSSyncError):
            # what the server sent before the UNSUB has arrived
            self.ping(max(0.001, min(self._o.timeout, deadline - time.monotonic())))
        run_on(self._loop, lambda: self._subs.remove(sid), max(0.05, deadline - time.monotonic()), "drain")

    # -- losing and finding a connection (I/O thread) ------------------------------------------------
    def _fatal(self, error: BaseException) -> None:
        """Close for good, reporting ``error`` as the reason."""
        if self.state is not ConnState.CONNECTED:
            return
        self._drop_socket()
        _fail(self._pongs, ClosedError(f"flush: the client closed: {error}"))
        self.state = ConnState.CLOSED
        self._events.on_disconnected()
        self._events.on_closed(error)

    def _drop_socket(self) -> None:
        self.wire.close()
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        self._parser = None
        # pings waiting for their PONG stay: they are sent again on the next connection, behind
        # what the outbox sends again there (a flush spans a reconnect, bounded by its timeout)

    def _lost(self, error: BaseException | None, *, report: bool = False) -> None:
        """The current connection is gone (or must go): reconnect or close."""
        if self.state is not ConnState.CONNECTED:
            return
        if self._server is not None:
            self._pool.lost(self._server, time.monotonic())
        self._drop_socket()
        if report and error is not None:
            self._events.on_error(error)
        if self._closing:
            return
        if not self._o.allow_reconnect:
            self.state = ConnState.CLOSED
            _fail(self._pongs, ClosedError("flush: the connection was lost and reconnecting is off"))
            self._events.on_disconnected()
            self._events.on_closed(None)
            return
        self.state = ConnState.RECONNECTING
        self._events.on_disconnected()
        self._start_reconnecting(initial=False)

    def _start_reconnecting(self, *, initial: bool) -> None:
        previous = self._reconnector
        thread = threading.Thread(target=self._reconnect, args=(initial, previous), name="nats-reconnect", daemon=True)
        self._reconnector = thread
        thread.start()

    def _reconnect(self, initial: bool, previous: threading.Thread | None) -> None:
        """The reconnecting thread: try the pool's servers (waiting between attempts as it says)
        until one accepts, then hand the connection to the I/O thread; or give up when none is left."""
        if previous is not None and previous is not threading.current_thread():
            previous.join(self._o.connect_timeout + 1.0)  # it has handed its connection over
        try:
            while not self._closing:
                picked = self._pool.next(time.monotonic())
                if picked is None:
                    break
                server, wait = picked
                if wait > 0 and self._stop.wait(wait):
                    return
                try:
                    self._open(server, self._o.connect_timeout)
                except _Handshake as exc:
                    if not self._closing:
                        self._loop.call_soon(self._events.on_error, exc.error)
                    continue
                self._loop.call_soon(lambda: self._adopt(initial=initial))
                return
            if not self._closing:
                self._loop.call_soon(self._gave_up, initial)
        except RuntimeError:  # the I/O loop is closed: the client is closing
            self.wire.close()
        except Exception:
            log.exception("unexpected error while reconnecting")
            self.wire.close()

    def _gave_up(self, initial: bool) -> None:
        """On the I/O thread: no server accepted the connection before the attempts ran out."""
        if self._closing:
            return
        self.state = ConnState.CLOSED
        _fail(self._pongs, ClosedError("flush: no server accepted the connection before the attempts ran out"))
        if initial:
            self._events.on_connect_failed(
                self._connect_error(None, "no server accepted the connection before the attempts ran out")
            )
        else:
            self._events.on_closed(None)

    # -- closing (a caller's thread) -------------------------------------------------------------------
    def close(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if self.state is ConnState.CONNECTED:
            try:
                self.ping(max(0.05, timeout))
            except NATSSyncError as exc:
                log.debug("close: final flush failed: %r", exc)
        self._closing = True
        self._stop.set()
        with self._ping_lock:
            self.state = ConnState.CLOSING
        self.wire.abort()  # a connection being set up ends now
        reconnector = self._reconnector
        if reconnector is not None and reconnector is not threading.current_thread():
            reconnector.join(max(0.05, deadline - time.monotonic()))
        try:
            run_on(self._loop, self._drop_socket, max(0.05, deadline - time.monotonic()), "close")
        except NATSSyncError as exc:
            log.debug("close: %r", exc)
            if self._loop.closed:
                self.wire.close()
        _fail(self._pongs, ClosedError("flush: the client is closed"))
        self.state = ConnState.CLOSED


def _version() -> str:
    from .._version import __version__

    return __version__


def _fail(pongs: collections.deque[concurrent.futures.Future[None] | None], error: BaseException) -> None:
    """The flushes waiting for a PONG that will not come fail with ``error``."""
    while pongs:
        fut = pongs.popleft()
        if fut is not None:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                fut.set_exception(error)
