"""The core's :class:`~beluga_nats_sync._core.transport.Transport`, implemented on nats-py.

This module and its siblings are the only code that imports nats-py or names its private
members; :mod:`.contract` checks each private named here when the seam loads. What nats-py
does that we must not pass on to users is changed here:

- its connect blocks for minutes on a dead server: we impose the caller's deadline;
- its callbacks are coroutines on the loop: we turn them into :class:`TransportEvents` calls;
- our subscriptions' messages skip nats-py's per-message ``Msg`` and asyncio queue
  (``_process_msg`` is wrapped) and are handed to the core's ``deliver`` callable;
- framed commands are written straight into the socket's transport when nats-py has nothing
  queued, or behind what it has queued (``_pending``) otherwise: one writer order on one socket;
- callers' threads may write into a plain TCP socket themselves (:meth:`try_write`) when nothing
  waits before them; every write into that socket, nats-py's and asyncio's included, then takes
  one lock (see :mod:`.writer`);
- its flush cancels the PONG future on timeout and the late PONG then kills its read loop: our
  ping waits on a shielded future instead;
- the socket of a failed reconnect attempt is closed instead of left to the garbage collector;
- lame-duck mode with another server in the pool moves at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from nats import errors as nerr
from nats.aio.client import Client as _NatsClient

from .._core.options import Options
from .._core.protocol import DEFAULT_MAX_CONTROL_LINE
from .._core.transport import Deliver, TransportEvents
from ..errors import NATSTimeoutError
from .errors import translate, translate_async_error, translate_connect_error
from .security import connect_kwargs, is_auth_error
from .writer import SocketWriter

__all__ = ["NatsPyTransport"]

log = logging.getLogger("beluga_nats_sync")

_CHUNK = 1 << 20
_GONE = (nerr.BadSubscriptionError, nerr.ConnectionClosedError, nerr.ConnectionDrainingError)


class NatsPyTransport:
    """One nats-py connection, driven from the I/O thread (see the module docstring)."""

    def __init__(self, options: Options, events: TransportEvents) -> None:
        self._o = options
        self._events = events
        self.nc = _NatsClient()
        self._deliver: dict[int, Deliver] = {}
        self._ever_connected = False
        self._closing = False
        self._connect_task: asyncio.Future[None] | None = None
        self._lame_duck_task: asyncio.Future[None] | None = None
        self._wired = False
        self._writer = SocketWriter(self.nc)
        self.try_write = self._writer.try_write  # the hot path: no hop through this object
        self.write = self._writer.write

    # -- connecting --------------------------------------------------------------------------------
    def _nats_options(self, timeout: float, on_error: Any) -> dict[str, Any]:
        o = self._o
        kwargs: dict[str, Any] = dict(
            servers=list(o.servers),
            error_cb=on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
            closed_cb=self._on_closed,
            lame_duck_mode_cb=self._on_lame_duck,
            name=o.name,
            allow_reconnect=o.allow_reconnect or o.retry_on_failed_connect,
            connect_timeout=min(o.connect_timeout, timeout) if timeout > 0 else o.connect_timeout,
            reconnect_time_wait=o.reconnect_wait,
            max_reconnect_attempts=o.max_reconnects,
            ping_interval=o.ping_interval,
            max_outstanding_pings=o.max_outstanding_pings,
            dont_randomize=o.dont_randomize,
            no_echo=o.no_echo,
            inbox_prefix=o.inbox_prefix,
            pending_size=max(o.reconnect_buffer_size, 2 * _CHUNK),
        )
        kwargs.update(connect_kwargs(self.nc, o))  # TLS and credentials, and the guard on each connection
        return kwargs

    async def connect(self, timeout: float) -> bool:
        o = self._o
        errors_seen: list[BaseException] = []
        shown = ", ".join(o.redacted_servers)
        n_servers = len(o.servers)
        failed = asyncio.Event()

        async def on_connect_error(exc: Exception) -> None:
            errors_seen.append(exc)
            if o.retry_on_failed_connect and not self._closing:
                log.info("connect attempt failed, retrying in the background: %s", exc)
            if len(errors_seen) >= n_servers or is_auth_error(exc):  # retrying the same credentials is futile
                failed.set()

        conn = asyncio.ensure_future(self.nc.connect(**self._nats_options(timeout, on_connect_error)))
        gave_up = asyncio.ensure_future(failed.wait())
        done, _ = await asyncio.wait({conn, gave_up}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        gave_up.cancel()
        try:
            info = self.server_info()  # what the last server said (TLS or not), for the error
            if conn in done and conn.exception() is None:
                self._after_connect()
                return True
        except BaseException:
            # An INFO nats-py accepted but that cannot be read (not an object, an odd max_payload):
            # whatever the error, the socket it opened is not left behind.
            await self._abandon()
            raise
        last = conn.exception() if conn in done else (errors_seen[-1] if errors_seen else None)
        if o.retry_on_failed_connect and not (last is not None and is_auth_error(last)) and not conn.done():
            conn.add_done_callback(self._on_background_connect)
            self._connect_task = conn
            return False
        if not conn.done():
            conn.cancel()
            await asyncio.gather(conn, return_exceptions=True)
        await self._abandon()
        raise translate_connect_error(errors_seen[-1] if errors_seen else last, shown, o, info)

    def _after_connect(self) -> None:
        self.nc._error_cb = self._on_error
        self._install_fast_delivery()
        self._writer.own()
        self._ever_connected = True
        self._events.on_connected()

    def _on_background_connect(self, task: asyncio.Future[None]) -> None:
        if task.cancelled() or self._closing:
            return
        exc = task.exception()
        if exc is not None:
            shown = ", ".join(self._o.redacted_servers)
            self._events.on_connect_failed(translate_connect_error(exc, shown, self._o, self.server_info()))
            return
        self._after_connect()

    async def _abandon(self) -> None:
        try:
            await asyncio.wait_for(self.nc.close(), 1.0)
        except BaseException as exc:  # nothing to save on a connection that never opened
            log.debug("closing a failed connection: %r", exc)

    def _install_fast_delivery(self) -> None:
        """Deliver messages of the core's subscriptions without nats-py's per-message ``Msg``.

        nats-py's parser calls ``nc._process_msg`` for every MSG; for a subscription of the core,
        building nats-py's message object and walking its JetStream checks is work thrown away
        (the profile put it at a quarter of delivery). nats-py's own subscriptions (JetStream's
        helpers) keep its path.
        """
        if self._wired:
            return
        self._wired = True
        nc = self.nc
        original = nc._process_msg
        ours = self._deliver
        nsubs = nc._subs
        stats = nc.stats
        process_headers = nc._process_headers

        async def process_msg(sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
            deliver = ours.get(sid)
            if deliver is None:
                await original(sid, subject, reply, data, headers)  # type: ignore[arg-type]
                return
            stats["in_msgs"] += 1
            stats["in_bytes"] += len(data)
            nsub = nsubs.get(sid)
            if nsub is None:
                return
            nsub._received += 1
            if 0 < nsub._max_msgs <= nsub._received:
                nsubs.pop(sid, None)  # as nats-py does: the server stops sending after max_msgs
            hdr = await process_headers(headers) if headers else None
            deliver(subject.decode(), data, reply.decode(), hdr)

        nc._process_msg = process_msg  # type: ignore[method-assign]

    # -- nats-py's callbacks (on the I/O thread) -----------------------------------------------------
    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, nerr.SlowConsumerError):
            return  # the core's pending limits apply; nats-py's are disabled
        nc = self.nc
        if self._ever_connected and not nc.is_connected and not nc.is_closed and nc._transport is not None:
            # nats-py drops the transport of a failed reconnect attempt without closing it (a
            # socket left to the garbage collector); close it here, before the next attempt.
            with contextlib.suppress(Exception):
                nc._transport.close()  # type: ignore[no-untyped-call]
        self._events.on_error(translate_async_error(exc))

    async def _on_disconnected(self) -> None:
        self._writer.disown()
        if not self._closing:
            self._events.on_disconnected()

    async def _on_reconnected(self) -> None:
        self._writer.own()  # a new socket: before the core learns it may write again
        if not self._closing:
            self._events.on_reconnected()

    async def _on_closed(self) -> None:
        if self._closing:
            return
        if self._ever_connected or self._connect_task is not None:
            err = getattr(self.nc, "_err", None)
            self._events.on_closed(translate_async_error(err) if err is not None else None)

    async def _on_lame_duck(self) -> None:
        # The server is about to shut down and no longer takes new clients. With somewhere else
        # to go, move now, as a disconnect (callbacks included) rather than wait to be dropped.
        nc = self.nc
        if not self._closing and len(nc._server_pool) > 1 and self._o.allow_reconnect:
            log.info("the server entered lame-duck mode; moving to another server")
            self._lame_duck_task = asyncio.ensure_future(nc.force_reconnect())
        else:
            log.info("the server entered lame-duck mode and there is no other server to move to")

    # -- state ---------------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return bool(self.nc.is_connected)

    @property
    def max_payload(self) -> int:
        return int(self.nc.max_payload)

    @property
    def max_control_line(self) -> int:
        # nats-server does not announce it (as of 2.15); a server configured with another value
        # than its default would say so here if it did
        value = (self.nc._server_info or {}).get("max_control_line")
        return int(value) if isinstance(value, int) and value > 0 else DEFAULT_MAX_CONTROL_LINE

    @property
    def connected_address(self) -> tuple[str, str, int] | None:
        url = self.nc.connected_url
        if url is None or url.hostname is None or url.port is None:
            return None
        return url.scheme, url.hostname, url.port

    def server_info(self) -> dict[str, Any]:
        return dict(self.nc._server_info or {})

    def server_pool(self) -> list[str]:
        """``host:port`` of every server known, the ones learnt from INFO included."""
        return [s.uri.netloc for s in self.nc._server_pool]

    def counters(self) -> tuple[int, int, int]:
        s = self.nc.stats
        return s["in_msgs"], s["in_bytes"], s["reconnects"]

    # -- writing ---------------------------------------------------------------------------------------
    async def drain_writes(self) -> None:
        nc = self.nc
        fq = nc._flush_queue
        if fq is None:
            return
        fut = asyncio.get_running_loop().create_future()
        await fq.put(fut)  # nats-py's flusher writes its part and drains the socket
        await fut

    async def ping(self, timeout: float) -> None:
        nc = self.nc
        try:
            loops = (nc._reading_task, nc._flusher_task)
            if nc.is_closed or any(task is None or task.done() for task in loops):
                await nc.flush(timeout=max(timeout, 0.001))  # type: ignore[arg-type]  # raises or writes inline
                return
            # nats-py's own flush cancels its PONG future when it times out; the late PONG then hits
            # set_result() on a cancelled future, which ends nats-py's read loop for good. Waiting on a
            # shielded future leaves the one nats-py resolves intact.
            pong: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            await nc._send_ping(pong)
            await asyncio.wait_for(asyncio.shield(pong), max(timeout, 0.001))
        except (nerr.TimeoutError, asyncio.TimeoutError):
            raise NATSTimeoutError(f"flush did not complete within {timeout:g} s") from None
        except nerr.Error as exc:
            raise translate(exc, "flush", timeout) from None

    # -- subscriptions -----------------------------------------------------------------------------------
    async def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        try:
            nsub = await self.nc.subscribe(subject, queue=queue, pending_msgs_limit=0, pending_bytes_limit=0)
        except nerr.Error as exc:
            raise translate(exc, "subscribe") from None
        sid: int = nsub._id
        self._deliver[sid] = deliver
        return sid

    async def unsubscribe(self, sid: int, limit: int = 0) -> None:
        nsub = self.nc._subs.get(sid)
        if limit == 0:
            self._deliver.pop(sid, None)
        if nsub is None:
            return
        with contextlib.suppress(*_GONE):  # already gone on the server side: nothing to undo
            await nsub.unsubscribe(limit=limit)

    async def drain_subscription(self, sid: int) -> None:
        nsub = self.nc._subs.get(sid)
        if nsub is not None:
            with contextlib.suppress(*_GONE):
                await nsub.drain()  # type: ignore[no-untyped-call]
        self._deliver.pop(sid, None)

    # -- closing -------------------------------------------------------------------------------------
    async def close(self, timeout: float) -> None:
        self._closing = True
        self._writer.disown()
        nc = self.nc
        if nc.is_connected:
            try:
                await asyncio.wait_for(nc.flush(), max(0.05, timeout))
            except Exception as exc:
                log.debug("close: final flush failed: %r", exc)
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        try:
            await nc.close()
        finally:
            # nats-py's close may not finish (a read loop busy on a huge line, a close cut short by
            # the client's own deadline): the socket is closed all the same, never left to the
            # garbage collector
            transport = getattr(nc, "_transport", None)
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()
