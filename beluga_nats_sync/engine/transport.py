"""Our own protocol engine: a socket we own, our parser, the core's transport contract.

The core drives it on its I/O thread (an asyncio loop) through the public loop API only:
``sock_connect``/``sock_recv``/``sock_sendall`` while a connection is being set up, then
``add_reader``/``add_writer`` on the socket once it is up. Nothing here names a private of asyncio,
ssl or socket, and nothing imports nats-py.

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

import asyncio
import collections
import contextlib
import logging
import ssl
import time
from typing import Any

from .._core.lifetime import ConnState
from .._core.options import Options
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
from ..protocol.framing import PING_FRAME, PONG_FRAME, frame_connect, frame_unsub
from ..protocol.parser import DEFAULT_MAX_PAYLOAD, Parser
from .explain import connect_error, explain_failure, is_auth_error, refused, websocket_refusal
from .handshake import connect_options, tls_wanted
from .pool import Server, ServerPool
from .subs import SubTable
from .wire import Wire

__all__ = ["EngineTransport"]

log = logging.getLogger("beluga_nats_sync")

_MAX_INFO_LINE = 1024 * 1024  # a cluster's INFO with many connect_urls stays well below


class _Handshake(Exception):
    """Internal: a connection attempt failed; ``error`` is the one of ours to report."""

    def __init__(self, error: ConnectError) -> None:
        super().__init__(str(error))
        self.error = error


class EngineTransport:
    """One NATS connection (reconnected as needed), driven from the I/O thread."""

    def __init__(self, options: Options, events: TransportEvents) -> None:
        self._o = options
        self._events = events
        self.state = ConnState.NEW
        self._pool = ServerPool(options)
        self._ssl_context = build_ssl_context(options)
        self._loop: asyncio.AbstractEventLoop | None = None
        #: the socket and its TLS (``direct_writes``, ``partial_writes``: for tests and profiles)
        self.wire = Wire()
        # the hot paths, without a hop through this object
        self.try_write = self.wire.try_write
        self.write_waiting = self.wire.write_waiting
        self.write = self.wire.write
        self._server: Server | None = None
        self._info: dict[str, Any] = {}
        self._parser: Parser | None = None
        self._subs = SubTable()
        self._pongs: collections.deque[asyncio.Future[None]] = collections.deque()
        self._pings_out = 0
        self._ping_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None  # reconnecting, or a background connect
        self._handshake: list[Any] | None = None  # control events while a connection is set up
        self._reconnects = 0
        self._closing = False

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

    # -- connecting ----------------------------------------------------------------------------------
    async def connect(self, timeout: float) -> bool:
        refused = websocket_refusal(self._o)
        if refused is not None:
            self.state = ConnState.CLOSED
            raise refused
        loop = self._loop = asyncio.get_running_loop()
        self.state = ConnState.CONNECTING
        deadline = loop.time() + timeout
        errors: list[ConnectError] = []
        for _ in range(len(self._pool.servers)):
            left = deadline - loop.time()
            if left <= 0:
                break
            picked = self._pool.next(time.monotonic())
            if picked is None:
                break
            server, _wait = picked  # the first round tries each server once, without waiting
            try:
                await self._open(server, min(left, self._o.connect_timeout))
            except _Handshake as exc:
                errors.append(exc.error)
                if isinstance(exc.error, AuthorizationError):
                    break  # the same credentials again is futile
                continue
            self._ever_connected = True
            self._events.on_connected()
            return True
        last = errors[-1] if errors else self._connect_error(None, "no answer within the connect timeout")
        if self._o.retry_on_failed_connect and not isinstance(last, AuthorizationError) and not self._closing:
            log.info("connect attempt failed, retrying in the background: %s", last)
            self.state = ConnState.RECONNECTING
            self._task = loop.create_task(self._reconnect(initial=True))
            return False
        self.state = ConnState.CLOSED
        raise last

    def _connect_error(self, server: Server | None, reason: str) -> ConnectError:
        return connect_error(self._o, server.url if server is not None else None, reason)

    async def _open(self, server: Server, timeout: float) -> None:
        """Connect to ``server`` within ``timeout``: TCP, TLS, INFO, CONNECT, PING/PONG. On
        success the connection is the current one, read by the loop; raises :class:`_Handshake`."""
        self._server = server
        try:
            await asyncio.wait_for(self._setup(server), timeout)
        except BaseException as exc:
            tls_used = self.wire.tls
            self._drop_socket()
            if isinstance(exc, _Handshake):
                raise
            error = explain_failure(exc, self._o, server.url, tls_used)
            if error is None:
                raise
            raise _Handshake(error) from None
        # committed here, once the attempt can no longer time out: never a half-made connection
        wire = self.wire
        self._pool.connected(server)
        self._handshake = None
        self.state = ConnState.CONNECTED
        wire.live = True
        assert wire.sock is not None and self._loop is not None
        self._loop.add_reader(wire.sock.fileno(), self._on_readable)
        self._arm_ping()

    async def _setup(self, server: Server) -> None:
        wire = self.wire
        await wire.open(server.host, server.port)
        self._pings_out = 0
        self._parser = Parser(self._subs.on_msg, self._on_control, max_info_line=_MAX_INFO_LINE)
        self._handshake = []
        tls_first = self._o.tls_handshake_first and (self._ssl_context is not None or server.tls)
        if tls_first:
            await self._start_tls(server)
        info = await self._expect_info()
        self._info = info
        self._pool.update_from_info(info, server)
        if not tls_first and tls_wanted(self._o, server, info):
            await self._start_tls(server)
        opts = connect_options(self._o, info, server, lang_version=_version())
        await wire.send_async(frame_connect(opts) + PING_FRAME)
        await self._expect_pong(server)

    async def _start_tls(self, server: Server) -> None:
        context = self._ssl_context or ssl.create_default_context()
        await self.wire.start_tls(context, self._o.tls_hostname or server.tls_name or server.host)

    async def _next_event(self) -> Any:
        assert self._handshake is not None and self._parser is not None
        while not self._handshake:
            self._parser.feed(await self.wire.recv_async())
        return self._handshake.pop(0)

    async def _expect_info(self) -> dict[str, Any]:
        event = await self._next_event()
        if not isinstance(event, Info):
            raise ProtocolError(f"the server's first frame must be INFO, got {type(event).__name__.upper()}")
        return event.info

    async def _expect_pong(self, server: Server) -> None:
        # what a server may send between our CONNECT's PING and its PONG: +OK (verbose), PING,
        # INFO (a topology change), -ERR (refused)
        while True:
            event = await self._next_event()
            if isinstance(event, Pong):
                return
            if isinstance(event, Ping):
                await self.wire.send_async(PONG_FRAME)
            elif isinstance(event, Info):
                self._info = event.info
                self._pool.update_from_info(event.info, server)
            elif isinstance(event, ServerError):
                raise _Handshake(refused(event.text, self._o, server.url))

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
        if self._handshake is not None:
            self._handshake.append(event)
            return
        if isinstance(event, Pong):
            self._pings_out = 0
            while self._pongs:
                fut = self._pongs.popleft()
                if not fut.done():
                    fut.set_result(None)
                    break
        elif isinstance(event, Ping):
            self.wire.send(PONG_FRAME)
        elif isinstance(event, Info):
            self._on_info(event.info)
        elif isinstance(event, ServerError):
            self._on_server_error(event.text)

    def _on_info(self, info: dict[str, Any]) -> None:
        self._info = info
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

    # -- the write side -----------------------------------------------------------------------------
    async def drain_writes(self) -> None:
        if self.state is ConnState.CONNECTED:
            await self.wire.drain()

    # -- pings ---------------------------------------------------------------------------------------
    async def ping(self, timeout: float) -> None:
        if self.state in (ConnState.CLOSING, ConnState.CLOSED):
            raise ClosedError("flush: the client is closed")
        fut = asyncio.get_running_loop().create_future()
        self._pongs.append(fut)
        if self.state is ConnState.CONNECTED:
            self.wire.send(PING_FRAME)
        # else: reconnecting; the ping goes out with the others once a server takes the connection
        try:
            await asyncio.wait_for(asyncio.shield(fut), max(timeout, 0.001))
        except asyncio.TimeoutError:
            why = "" if self.state is ConnState.CONNECTED else " (the client is reconnecting)"
            raise NATSTimeoutError(f"flush did not complete within {timeout:g} s{why}") from None

    def _arm_ping(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        self._ping_timer = loop.call_later(self._o.ping_interval, self._on_ping_timer)

    def _on_ping_timer(self) -> None:
        self._ping_timer = None
        if self.state is not ConnState.CONNECTED:
            return
        if self._pings_out >= self._o.max_outstanding_pings:
            self._lost(DisconnectedError("stale connection: the server did not answer our pings"), report=True)
            return
        self._pings_out += 1
        self.wire.send(PING_FRAME)
        self._arm_ping()

    # -- subscriptions -------------------------------------------------------------------------------
    async def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        if self.state in (ConnState.CLOSING, ConnState.CLOSED):
            raise ClosedError("subscribe: the client is closed")
        sid, frame = self._subs.add(subject, queue, deliver, self.max_control_line)
        if self.state is ConnState.CONNECTED:
            self.wire.send(frame)
        return sid

    async def unsubscribe(self, sid: int, limit: int = 0) -> None:
        frame = self._subs.unsubscribe(sid, limit)
        if frame is not None and self.state is ConnState.CONNECTED:
            self.wire.send(frame)

    async def drain_subscription(self, sid: int) -> None:
        if sid not in self._subs:
            return
        if self.state is ConnState.CONNECTED:
            self.wire.send(frame_unsub(sid))
            with contextlib.suppress(NATSSyncError):
                await self.ping(self._o.timeout)  # what the server sent before the UNSUB has arrived
        self._subs.remove(sid)

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
        self._handshake = None
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
        loop = self._loop
        if loop is not None:
            self._task = loop.create_task(self._reconnect(initial=False))

    async def _reconnect(self, *, initial: bool) -> None:
        """Try the pool's servers (waiting between attempts as it says) until one accepts or none is left."""
        while not self._closing:
            picked = self._pool.next(time.monotonic())
            if picked is None:
                break
            server, wait = picked
            if wait > 0:
                await asyncio.sleep(wait)
                if self._closing:
                    return
            try:
                await self._open(server, self._o.connect_timeout)
            except _Handshake as exc:
                self._events.on_error(exc.error)
                continue
            if self._closing:
                self._drop_socket()
                return
            restore = self._subs.restore(self.max_control_line)
            if restore:
                self.wire.send(restore)
            if initial:
                self._ever_connected = True
                self._events.on_connected()
            else:
                self._reconnects += 1
                self._events.on_reconnected()
            if self._pongs and self.state is ConnState.CONNECTED:
                self.wire.send(PING_FRAME * len(self._pongs))  # the flushes that spanned the reconnect
            return
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

    # -- closing -------------------------------------------------------------------------------------
    async def close(self, timeout: float) -> None:
        if self.state is ConnState.CONNECTED:
            try:
                await self.ping(max(0.05, timeout))
            except NATSSyncError as exc:
                log.debug("close: final flush failed: %r", exc)
        self._closing = True
        self.state = ConnState.CLOSING
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._drop_socket()
        _fail(self._pongs, ClosedError("flush: the client is closed"))
        self.state = ConnState.CLOSED


def _version() -> str:
    from .._version import __version__

    return __version__


def _fail(pongs: collections.deque[asyncio.Future[None]], error: BaseException) -> None:
    """The flushes waiting for a PONG that will not come fail with ``error``."""
    while pongs:
        fut = pongs.popleft()
        if not fut.done():
            fut.set_exception(error)
