"""The engine behind a Client: its I/O thread, outbox, reply routing, subscriptions and state.

It holds no reference to the :class:`~beluga_nats_sync.Client` facade, so an unused client can be
garbage collected and its finaliser can close the engine."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
from nats import errors as nerr
from nats.aio.client import Client as _NatsClient

from ._loop import IOLoop, wait_future
from ._msg import Msg
from ._options import Options
from ._protocol import check_queue, check_subject, check_timeout, encode_headers, payload_bytes
from ._security import (
    connect_kwargs,
    explain_connect_error,
    explain_reconnect_error,
    is_auth_error,
    parse_permissions_error,
    scrub,
    secrets_of,
)
from ._subscription import MsgCallback, QueueStandIn, Subscription
from .errors import (
    AuthorizationError,
    ClosedError,
    ConnectError,
    DisconnectedError,
    NATSSyncError,
    NATSTimeoutError,
    NoRespondersError,
    OutboundBufferFullError,
    PayloadTooLargeError,
    PermissionsError,
    RequestTimeoutError,
)

if TYPE_CHECKING:
    pass

__all__ = ["Stats", "Worker", "finalize_engine"]

log = logging.getLogger("beluga_nats_sync")
T = TypeVar("T")

_NEW, _OPEN, _CLOSING, _CLOSED = "new", "open", "closing", "closed"
_SUBJECT_CACHE_MAX = 4096
_CHUNK = 1 << 20  # the writer hands data to nats-py in pieces of about this size
_HIGH_WATER = 4 * _CHUNK  # bytes in nats-py's pending buffer past which we wait for the socket
_DIRECT_HIGH_WATER = 64 * 1024  # bytes in the transport's buffer past which we stop writing into it
_NO_RESPONDERS = "503"


@attrs.frozen
class Stats:
    """A snapshot of a client's counters."""

    in_msgs: int = 0
    in_bytes: int = 0
    out_msgs: int = 0
    out_bytes: int = 0
    reconnects: int = 0
    #: Asynchronous errors reported (server errors, slow-consumer episodes, ...).
    errors: int = 0
    #: Exceptions raised by subscription callbacks.
    callback_errors: int = 0
    #: Messages dropped by slow consumers.
    dropped: int = 0

    def _repr_html_(self) -> str:
        from ._display import stats_html

        return stats_html(self)


class Worker(Protocol):
    """Something that owns a thread and must end when its client closes."""

    def _shutdown(self) -> None:
        """Stop taking new work at once; the current callback may finish."""

    def _join(self, timeout: float) -> bool:
        """Wait at most ``timeout`` for the thread to end; False if it is still running."""


class _Waiter:
    """One outstanding request; the I/O thread releases the lock when the reply is in."""

    __slots__ = ("error", "lock", "msg")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.msg: Any = None
        self.error: BaseException | None = None


class _ReplySink(QueueStandIn):
    """nats-py's queue for the shared reply subscription: routes each reply to its waiter."""

    __slots__ = ("_engine", "_plen")

    def __init__(self, engine: _Engine) -> None:
        self._engine = engine
        self._plen = len(engine.resp_prefix)

    def put_nowait(self, nmsg: Any) -> None:
        waiter = self._engine.waiters.pop(nmsg.subject[self._plen :], None)
        if waiter is not None:
            waiter.msg = nmsg
            waiter.lock.release()


class _Events:
    """Runs user callbacks (error/disconnected/reconnected/closed) off the I/O thread, in order."""

    def __init__(self, name: str) -> None:
        import queue

        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._q.put((fn, args))

    def stop(self, timeout: float) -> None:
        self._q.put(None)
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                log.exception("client event callback %r raised", getattr(fn, "__name__", fn))


def _translate_connect_error(
    exc: BaseException | None, url: str, options: Options | None = None, server_info: dict[str, Any] | None = None
) -> ConnectError:
    error = explain_connect_error(exc, url, options, server_info) if options is not None else None
    if error is None:
        error = _plain_connect_error(exc, url)
    if options is not None:  # a last guard: no password, token or seed leaves in a message
        error.args = (scrub(str(error), secrets_of(options)),)
    return error


def _plain_connect_error(exc: BaseException | None, url: str) -> ConnectError:
    text = str(exc) if exc is not None else "no answer"
    low = text.lower()
    if exc is not None and is_auth_error(exc):
        return AuthorizationError(
            f"cannot connect to {url}: the server refused the credentials (authorization violation)"
        )
    if isinstance(exc, ConnectionRefusedError) or "refused" in low:
        reason = "connection refused"
    elif isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or exc is None:
        reason = "no answer within the connect timeout"
    else:
        reason = text or type(exc).__name__
    return ConnectError(
        f"cannot connect to {url}: {reason}; is nats-server running? "
        "(start one with `nats-server`, or `python -m beluga_nats_sync server`)"
    )


def _translate_async_error(exc: BaseException) -> BaseException:
    text = str(exc)
    if "permissions violation" in text.lower():
        operation, subject = parse_permissions_error(text)
        return PermissionsError(text, operation=operation, subject=subject)
    if is_auth_error(exc):
        return AuthorizationError(text)
    return explain_reconnect_error(exc) or exc


class _Engine:
    """Everything a client owns. It holds no reference to the :class:`Client`, so an unused
    client can be garbage collected and its finaliser can close the engine."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.state = _NEW
        self._state_lock = threading.Lock()
        self.loop = IOLoop(name=f"nats-io-{options.name or 'client'}")
        self.events = _Events(name=f"nats-events-{options.name or 'client'}")
        self.nc = _NatsClient()
        self.max_payload = 1024 * 1024
        self.server_address: tuple[str, int] | None = None  # for telemetry
        self.connected = False
        # outbound: framed commands waiting for the I/O thread
        self._out_lock = threading.Lock()
        self._out_space = threading.Condition(self._out_lock)
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._space_waiters = 0
        self._wake_scheduled = False
        self._wake: asyncio.Event | None = None
        self._writer_busy = False
        # the outbox's bound, kept current by the connection callbacks: the reconnect buffer's
        # size while disconnected, max_outbound_bytes while connected
        self._limit = options.reconnect_buffer_size
        self._carry: collections.deque[bytes] = collections.deque()  # taken from the outbox, not yet written
        self._writer_task: asyncio.Task[None] | None = None
        self._pub_prefix: dict[str, bytes] = {}
        self._ever_connected = False
        self._connect_task: asyncio.Future[None] | None = None
        self._lame_duck_task: asyncio.Future[None] | None = None
        self._auth_refusals = 0  # in a row, while reconnecting
        self._deferred: list[Subscription] = []  # made before the first connection
        self.forked = False
        _ENGINES.add(self)
        # requests
        self.resp_prefix = f"{options.inbox_prefix}.{self.nc._nuid.next().decode()}."
        self.waiters: dict[str, _Waiter] = {}
        self._tokens = itertools.count(1)
        # subscriptions
        self.subs: dict[int, Subscription] = {}
        # threads owned by add-ons (JetStream consumers, key-value watchers): stopped and
        # joined on close, like subscription dispatchers
        self.workers: set[Worker] = set()
        # counters not kept by nats-py
        self._out_msgs = 0
        self._out_bytes = 0
        self._errors = 0
        self._callback_errors = 0
        self._dropped = 0

    # -- state -------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.state is _OPEN

    def closed_error(self, what: str = "client") -> ClosedError:
        if self.forked:
            return ClosedError(
                f"{what}: this client was created before os.fork() and cannot be used in the child "
                "process; connect a new client after forking"
            )
        if self.state is _NEW:
            return ClosedError(f"{what}: the client is not connected; call connect() first")
        return ClosedError(f"{what}: the client is closed; create a new one with beluga_nats_sync.connect()")

    def _run(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float, what: str) -> T:
        try:
            return self.loop.run(fn, timeout, what)
        except nerr.ConnectionClosedError:
            raise self.closed_error(what) from None
        except (asyncio.TimeoutError, TimeoutError, nerr.TimeoutError) as exc:
            if isinstance(exc, NATSTimeoutError):
                raise
            raise NATSTimeoutError(f"{what} did not complete within {timeout:g} s") from None

    # -- connect -----------------------------------------------------------------------------
    def _nats_options(self, timeout: float, on_error: Callable[[Exception], Any]) -> dict[str, Any]:
        o = self.options
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
        kwargs.update(connect_kwargs(self.nc, o))  # TLS and credentials
        return kwargs

    def connect(self, timeout: float) -> None:
        """Connect within ``timeout``; with ``retry_on_failed_connect``, go on in the background
        after the first round of attempts fails instead of raising."""
        o = self.options
        errors_seen: list[BaseException] = []
        shown = ", ".join(o.redacted_servers)
        n_servers = len(o.servers)

        async def do_connect() -> None:
            failed = asyncio.Event()

            async def on_connect_error(exc: Exception) -> None:
                errors_seen.append(exc)
                if o.retry_on_failed_connect and self.state is _OPEN:
                    log.info("connect attempt failed, retrying in the background: %s", exc)
                if len(errors_seen) >= n_servers or is_auth_error(exc):  # retrying the same credentials is futile
                    failed.set()

            conn = asyncio.ensure_future(self.nc.connect(**self._nats_options(timeout, on_connect_error)))
            gave_up = asyncio.ensure_future(failed.wait())
            done, _ = await asyncio.wait({conn, gave_up}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            gave_up.cancel()
            info = dict(self.nc._server_info or {})  # what the last server said (TLS or not), for the error
            if conn in done and conn.exception() is None:
                await self._after_connect()
                return
            last = conn.exception() if conn in done else (errors_seen[-1] if errors_seen else None)
            if o.retry_on_failed_connect and not (last is not None and is_auth_error(last)) and not conn.done():
                conn.add_done_callback(self._on_background_connect)
                self._connect_task = conn
                return
            if not conn.done():
                conn.cancel()
                await asyncio.gather(conn, return_exceptions=True)
            await self._abandon_nats()
            raise _translate_connect_error(errors_seen[-1] if errors_seen else last, shown, o, info)

        self.state = _OPEN  # publish/subscribe may buffer while a background connect goes on
        try:
            self.loop.run(do_connect, timeout + 1.0, "connect")
        except BaseException:
            self._teardown(1.0)
            raise

    async def _after_connect(self) -> None:
        """On the I/O thread, once connected for the first time: our own wiring, then what waited."""
        nc = self.nc
        nc._error_cb = self._on_error
        self.max_payload = nc.max_payload
        self._note_server()
        self.connected = True
        self._limit = self.options.max_outbound_bytes
        self._ever_connected = True
        rsub = await nc.subscribe(self.resp_prefix + "*", pending_msgs_limit=0, pending_bytes_limit=0)
        rsub._pending_queue = _ReplySink(self)  # type: ignore[assignment]
        self._wake = asyncio.Event()
        self._writer_task = asyncio.get_running_loop().create_task(self._writer())
        self._install_fast_delivery()
        deferred, self._deferred = self._deferred, []
        for sub in deferred:
            if sub.is_active:
                sub._attach(await self._nats_subscribe(sub))
        self.pump(force=True)

    def _install_fast_delivery(self) -> None:
        """Deliver messages of our own subscriptions without nats-py's per-message ``Msg``.

        nats-py's parser calls ``nc._process_msg`` for every MSG; for a subscription made through
        this client, building nats-py's message object and walking its JetStream checks is work
        thrown away (the profile put it at a quarter of delivery). Other subscriptions (the
        reply inbox, JetStream) keep nats-py's own path.
        """
        nc = self.nc
        original = nc._process_msg
        subs = self.subs
        nsubs = nc._subs
        stats = nc.stats
        process_headers = nc._process_headers

        async def process_msg(sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
            sub = subs.get(sid)
            if sub is None:
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
            sub._on_parts(subject.decode(), data, reply.decode(), hdr)

        nc._process_msg = process_msg  # type: ignore[method-assign]

    def _on_background_connect(self, task: asyncio.Future[None]) -> None:
        if task.cancelled() or self.state is not _OPEN:
            return
        exc = task.exception()
        if exc is not None:
            shown = ", ".join(self.options.redacted_servers)
            self._report(_translate_connect_error(exc, shown, self.options, dict(self.nc._server_info or {})))
            self.events.submit(self.close, 2.0)
            return

        async def finish() -> None:
            await self._after_connect()
            cb = self.options.reconnected_cb
            if cb is not None:
                self.events.submit(cb)

        self._connect_task = asyncio.ensure_future(finish())

    async def _abandon_nats(self) -> None:
        try:
            await asyncio.wait_for(self.nc.close(), 1.0)
        except BaseException as exc:  # nothing to save on a connection that never opened
            log.debug("closing a failed connection: %r", exc)

    # -- callbacks from nats-py (on the I/O thread) -------------------------------------------
    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, nerr.SlowConsumerError):
            return  # our own pending limits apply; nats-py's are disabled
        nc = self.nc
        if self._ever_connected and not nc.is_connected and not nc.is_closed and nc._transport is not None:
            # nats-py drops the transport of a failed reconnect attempt without closing it (a
            # socket left to the garbage collector); close it here, before the next attempt.
            with contextlib.suppress(Exception):
                nc._transport.close()  # type: ignore[no-untyped-call]
        if is_auth_error(exc) and not nc.is_connected:
            # Refused while reconnecting. Like nats.go, give up after the second refusal in a
            # row rather than retry the same credentials max_reconnects times.
            self._auth_refusals += 1
            if self._auth_refusals >= 2 and self.state is _OPEN:
                self._report(_translate_async_error(exc))
                log.warning("the servers refused the credentials twice while reconnecting; closing")
                self.events.submit(self.close, 2.0)
                return
        self._report(_translate_async_error(exc))

    async def _on_disconnected(self) -> None:
        self.connected = False
        self._limit = self.options.reconnect_buffer_size
        if self.state is not _OPEN:
            return
        # Requests in flight fail now rather than at their timeout: their reply, if any, was
        # on the lost connection. Requests made from now on are buffered with the publishes.
        self._fail_waiters(
            DisconnectedError(
                "the connection was lost while waiting for the reply; the request may or may not have been handled"
            )
        )
        cb = self.options.disconnected_cb
        if cb is not None:
            self.events.submit(cb)

    def _note_server(self) -> None:
        url = self.nc.connected_url
        if url is not None and url.hostname is not None and url.port is not None:
            self.server_address = (url.hostname, url.port)

    async def _on_lame_duck(self) -> None:
        # The server is about to shut down and no longer takes new clients. With somewhere else
        # to go, move now, as a disconnect (callbacks included) rather than wait to be dropped.
        nc = self.nc
        if self.state is _OPEN and len(nc._server_pool) > 1 and self.options.allow_reconnect:
            log.info("the server entered lame-duck mode; moving to another server")
            self._lame_duck_task = asyncio.ensure_future(nc.force_reconnect())
        else:
            log.info("the server entered lame-duck mode and there is no other server to move to")

    def _fail_waiters(self, err: BaseException) -> None:
        for token in list(self.waiters):
            w = self.waiters.pop(token, None)
            if w is not None:
                w.error = err
                w.lock.release()

    async def _on_reconnected(self) -> None:
        self._auth_refusals = 0
        self.connected = True
        self._limit = self.options.max_outbound_bytes
        self.max_payload = self.nc.max_payload
        self._note_server()
        self.pump()
        cb = self.options.reconnected_cb
        if cb is not None:
            self.events.submit(cb)

    async def _on_closed(self) -> None:
        self.connected = False
        if self.state is _OPEN and (self._ever_connected or self._connect_task is not None):
            # Closed by nats-py itself: reconnects exhausted, or a fatal -ERR from the server
            # (nats-py, like nats.go, closes on those). Say why, then finish the job.
            err = getattr(self.nc, "_err", None)
            if err is not None:
                self._report(_translate_async_error(err))
            self.events.submit(self.close, 2.0)

    def _report(self, exc: BaseException) -> None:
        self._errors += 1
        cb = self.options.error_cb
        if cb is not None:
            self.events.submit(cb, exc)
        else:
            log.warning("NATS error: %s", exc)

    def _count_dropped(self) -> None:
        self._dropped += 1

    def _count_callback_error(self) -> None:
        self._callback_errors += 1

    def _forget(self, sub: Subscription) -> None:
        self.subs.pop(sub.sid, None)

    # -- publish -------------------------------------------------------------------------------
    def prefix_for(self, subject: str) -> bytes:
        check_subject(subject)
        prefix = b"PUB " + subject.encode() + b" "
        if len(self._pub_prefix) >= _SUBJECT_CACHE_MAX:
            self._pub_prefix.clear()
        self._pub_prefix[subject] = prefix
        return prefix

    def publish(self, subject: str, payload: Any, reply: str | None, headers: Mapping[str, str] | None) -> None:
        """Frame and queue one message; see Client.publish."""
        if self.state is not _OPEN:
            raise self.closed_error("publish")
        prefix = self._pub_prefix.get(subject)
        if prefix is None:
            prefix = self.prefix_for(subject)
        if type(payload) is not bytes:
            payload = payload_bytes(payload)
        n = len(payload)
        if n > self.max_payload:
            raise PayloadTooLargeError(n, self.max_payload)
        if reply is None and headers is None:
            cmd = b"%b%d\r\n%b\r\n" % (prefix, n, payload)
        else:
            cmd = self._frame(subject, payload, reply, headers)
        self.enqueue(cmd, n)

    def _frame(self, subject: str, payload: bytes, reply: str | None, headers: Mapping[str, str] | None) -> bytes:
        r = b""
        if reply:
            check_subject(reply, what="reply")
            r = reply.encode() + b" "
        elif reply is not None and reply != "":
            raise TypeError(f"reply must be a str subject or None, got {type(reply).__name__}")
        n = len(payload)
        if headers is None:
            return b"PUB %b %b%d\r\n%b\r\n" % (subject.encode(), r, n, payload)
        hdr = encode_headers(headers)
        h = len(hdr)
        if h + n > self.max_payload:
            raise PayloadTooLargeError(h + n, self.max_payload)
        return b"HPUB %b %b%d %d\r\n%b%b\r\n" % (subject.encode(), r, h, h + n, hdr, payload)

    def enqueue(self, cmd: bytes, payload_size: int) -> None:
        size = len(cmd)
        # No call inside the lock: a thread preempted while holding it (the GIL is handed over at
        # calls) makes every other publisher queue behind it; that cost 4x with 4 threads.
        with self._out_lock:
            if self._outbox_bytes + size > self._limit and self._outbox_bytes > 0:
                self._wait_for_space(size)
            self._outbox.append(cmd)
            self._outbox_bytes += size
            self._out_msgs += 1
            self._out_bytes += payload_size
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        # RuntimeError: the loop is gone; close() is running and will report unsent data
        with contextlib.suppress(RuntimeError):
            self.loop.loop.call_soon_threadsafe(self.pump)

    def _outbox_limit(self) -> int:
        o = self.options
        limit = o.max_outbound_bytes if self.nc.is_connected else o.reconnect_buffer_size
        self._limit = limit
        return limit

    def _wait_for_space(self, size: int) -> None:
        """Called with _out_lock held: wait for room in the outbox, or raise.

        Connected, the socket is draining: wait up to ``Options.timeout``. Disconnected, the
        outbox is the reconnect buffer: wait up to ``reconnect_buffer_timeout`` (0: raise at once).
        """
        if self.loop.in_loop_thread():
            raise OutboundBufferFullError("the outbound buffer is full; publish from the I/O thread cannot wait")
        start = time.monotonic()
        self._space_waiters += 1
        try:
            while self._outbox_bytes > 0 and self._outbox_bytes + size > (limit := self._outbox_limit()):
                connected = self.nc.is_connected
                allowed = self.options.timeout if connected else self.options.reconnect_buffer_timeout
                remaining = start + allowed - time.monotonic()
                if remaining <= 0 or self.state is not _OPEN:
                    if connected:
                        why = f"the socket did not take them within {allowed:g} s"
                    else:
                        why = "the client is disconnected and the reconnect buffer (reconnect_buffer_size) is full"
                    raise OutboundBufferFullError(
                        f"{self._outbox_bytes} bytes of published messages are waiting to be sent "
                        f"(limit {limit} bytes) and {why}; this message ({size} bytes) was not queued"
                    )
                self._out_space.wait(min(remaining, 0.25))
        finally:
            self._space_waiters -= 1

    def _take_outbox(self) -> list[bytes]:
        with self._out_lock:
            self._wake_scheduled = False
            batch = self._outbox
            if not batch:
                return batch
            self._outbox = []
            self._outbox_bytes = 0
            if self._space_waiters:
                self._out_space.notify_all()
            return batch

    def pump(self, force: bool = False) -> None:
        """On the I/O thread: hand what was published to the connection, in order.

        While nats-py holds no pending commands of its own, chunks go straight into the socket's
        transport (one loop iteration from publish to the wire), but only up to the transport's
        high-water mark: asyncio's buffer copies itself on each partial send, so a deep buffer
        costs more than it saves. What does not fit waits in ``_carry`` (served first, before the
        outbox) while the writer task waits for the socket to drain; meanwhile publishers feel the
        back-pressure of the outbox. When nats-py has commands queued, chunks go behind them into
        its pending buffer. ``force`` (flush, subscribe, close) hands over everything at once.
        """
        nc = self.nc
        if not force and self._writer_busy:
            return
        if not (self.connected and nc.is_connected):
            # Our outbox is the reconnect buffer: publishers feel its bound; it is sent once we are
            # connected again and, on a background first connect, once the reply subscription exists.
            return
        batch = self._take_outbox()
        carry = self._carry
        if batch:
            if len(batch) == 1:
                carry.append(batch[0])
            else:
                cur: list[bytes] = []
                cur_size = 0
                for cmd in batch:
                    cur.append(cmd)
                    cur_size += len(cmd)
                    if cur_size >= _CHUNK:
                        carry.append(b"".join(cur))
                        cur, cur_size = [], 0
                if cur:
                    carry.append(b"".join(cur))
        if not carry:
            return
        transport = nc._transport
        if not nc._pending and type(transport).__name__ == "TcpTransport":
            writer = transport._io_writer  # type: ignore[union-attr]
            buffered = writer.transport.get_write_buffer_size
            while carry and (force or buffered() < _DIRECT_HIGH_WATER):
                writer.write(carry.popleft())
            congested = bool(carry)
        else:
            pending = nc._pending
            while carry:
                c = carry.popleft()
                pending.append(c)
                nc._pending_data_size += len(c)
            fq = nc._flush_queue
            if fq is not None and fq.empty():
                fq.put_nowait(self.loop.loop.create_future())
            congested = nc._pending_data_size > _HIGH_WATER
        if congested and self._wake is not None:
            self._writer_busy = True
            self._wake.set()

    async def _writer(self) -> None:
        """Waits for a congested socket to drain, then takes the next batch."""
        wake = self._wake
        assert wake is not None
        nc = self.nc
        while True:
            await wake.wait()
            wake.clear()
            try:
                if nc.is_connected:
                    fut = self.loop.loop.create_future()
                    assert nc._flush_queue is not None
                    await nc._flush_queue.put(fut)  # nats-py's flusher writes its part and drains
                    await fut
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection broke; nats-py reconnects
                log.debug("writer: drain interrupted: %r", exc)
            finally:
                self._writer_busy = False
            self.pump()

    # -- request -------------------------------------------------------------------------------
    def start_request(
        self, subject: str, payload: Any, headers: Mapping[str, str] | None, waiter: _Waiter, what: str = "request"
    ) -> str:
        """Publish a request whose reply releases ``waiter`` (on the I/O thread); return its token.

        For callers that wait later or elsewhere (pipelined JetStream publishes). The waiter
        stays registered until the reply comes, the client closes or :meth:`cancel_request`.
        """
        if self.state is not _OPEN:
            raise self.closed_error(what)
        token = str(next(self._tokens))
        self.waiters[token] = waiter
        try:
            self.publish(subject, payload, self.resp_prefix + token, headers)
        except BaseException:
            self.waiters.pop(token, None)
            raise
        return token

    def cancel_request(self, token: str) -> bool:
        """Forget a request started with :meth:`start_request`; False if its reply already came."""
        return self.waiters.pop(token, None) is not None

    def request(self, subject: str, payload: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Msg:
        t = check_timeout(timeout, self.options.timeout)
        if self.state is not _OPEN:
            raise self.closed_error("request")
        self.loop.guard("request")
        waiter = _Waiter()
        token = self.start_request(subject, payload, headers, waiter)
        try:
            got = waiter.lock.acquire(True, t) if t > 0 else waiter.lock.acquire(False)
        except BaseException:  # Ctrl-C: forget the request, the client stays usable
            self.cancel_request(token)
            raise
        if not got:
            self.cancel_request(token)
            if not waiter.lock.acquire(False):  # else the reply raced the timeout: take it
                raise RequestTimeoutError(f"no reply to the request on {subject!r} within {t:g} s")
        if waiter.error is not None:
            raise waiter.error
        nmsg = waiter.msg
        hdrs = nmsg.headers
        if hdrs and not nmsg.data and hdrs.get("Status") == _NO_RESPONDERS:
            raise NoRespondersError(subject)
        return Msg(nmsg.subject, nmsg.data, nmsg.reply, hdrs, self)

    # -- subscribe -----------------------------------------------------------------------------
    def subscribe(
        self,
        subject: str,
        callback: MsgCallback | None,
        queue: str,
        max_msgs: int | None,
        pending_msgs_limit: int | None,
        pending_bytes_limit: int | None,
    ) -> Subscription:
        check_subject(subject, wildcards=True)
        check_queue(queue)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable (it receives a Msg) or None, got {type(callback).__name__}")
        if callback is not None and asyncio.iscoroutinefunction(callback):
            raise TypeError("callback must be a plain function, not a coroutine function; it runs on its own thread")
        if max_msgs is not None and (isinstance(max_msgs, bool) or not isinstance(max_msgs, int) or max_msgs < 1):
            raise ValueError(f"max_msgs must be an int >= 1 or None, got {max_msgs!r}")
        pm = self.options.pending_msgs_limit if pending_msgs_limit is None else pending_msgs_limit
        pb = self.options.pending_bytes_limit if pending_bytes_limit is None else pending_bytes_limit
        for name, v in (("pending_msgs_limit", pm), ("pending_bytes_limit", pb)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if self.state is not _OPEN:
            raise self.closed_error("subscribe")
        sub = Subscription(self, subject, queue, callback, max_msgs, pm, pb)

        async def do_subscribe() -> Any:
            if not self._ever_connected:
                self._deferred.append(sub)  # subscribed for real once connected
                return None
            self.pump(force=True)
            return await self._nats_subscribe(sub)

        nsub = self._run(do_subscribe, self.options.timeout, "subscribe")
        if nsub is not None:
            sub._attach(nsub)
        return sub

    async def _nats_subscribe(self, sub: Subscription) -> Any:
        nsub = await self.nc.subscribe(sub.subject, queue=sub.queue, pending_msgs_limit=0, pending_bytes_limit=0)
        nsub._pending_queue = sub._sink  # type: ignore[assignment]
        self.subs[nsub._id] = sub
        if sub.max_msgs is not None:
            await nsub.unsubscribe(limit=sub.max_msgs)
        return nsub

    # -- flush / drain / close -------------------------------------------------------------------
    def flush(self, timeout: float | None) -> None:
        t = check_timeout(timeout, self.options.timeout)
        if self.state is not _OPEN:
            raise self.closed_error("flush")

        async def do_flush() -> None:
            self.pump(force=True)
            nc = self.nc
            loops = (nc._reading_task, nc._flusher_task)
            if nc.is_closed or any(task is None or task.done() for task in loops):
                await nc.flush(timeout=max(t, 0.001))  # type: ignore[arg-type]  # nats-py raises or writes inline
                return
            # nats-py's own flush cancels its PONG future when it times out; the late PONG then hits
            # set_result() on a cancelled future, which ends nats-py's read loop for good. Waiting on a
            # shielded future leaves the one nats-py resolves intact.
            pong: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            await nc._send_ping(pong)
            await asyncio.wait_for(asyncio.shield(pong), max(t, 0.001))

        try:
            self._run(do_flush, t + 0.5, "flush")
        except (nerr.TimeoutError, asyncio.TimeoutError):
            raise NATSTimeoutError(f"flush did not complete within {t:g} s") from None
        except nerr.ConnectionReconnectingError:
            raise NATSTimeoutError("flush: the client is reconnecting; try again later") from None

    def drain(self, timeout: float | None) -> None:
        t = check_timeout(timeout, self.options.timeout)
        if self.state is not _OPEN:
            raise self.closed_error("drain")
        deadline = time.monotonic() + t
        error: BaseException | None = None
        for sub in list(self.subs.values()):
            try:
                sub.drain(max(0.0, deadline - time.monotonic()))
            except NATSSyncError as exc:
                error = error or exc
        self.close(max(0.1, deadline - time.monotonic()))
        if error is not None:
            raise error

    def close(self, timeout: float) -> None:
        if self.forked:
            return  # the parent owns the connection and the threads
        deadline = time.monotonic() + timeout
        if self.state is _OPEN and self.workers and not self.loop.in_loop_thread():
            # while still open, let workers finish the callback in progress (bounded) so that
            # its acknowledgement is published and then sent by the final flush below
            self._stop_workers(max(0.05, timeout / 2))
        with self._state_lock:
            if self.state in (_CLOSING, _CLOSED):
                return
            was_open = self.state is _OPEN
            self.state = _CLOSING
        unsent = 0
        if was_open and self.loop.thread.is_alive() and not self.loop.in_loop_thread():

            async def do_close() -> None:
                self.pump(force=True)
                if self.nc.is_connected:
                    try:
                        await asyncio.wait_for(self.nc.flush(), max(0.05, deadline - time.monotonic() - 0.2))
                    except Exception as exc:
                        log.debug("close: final flush failed: %r", exc)
                if self._writer_task is not None:
                    self._writer_task.cancel()
                await self.nc.close()

            try:
                wait_future(self.loop.submit(do_close), max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                log.debug("close: %r", exc)
        with self._out_lock:
            unsent = len(self._outbox)
            unsent_bytes = sum(len(c) for c in self._carry)
            self._carry.clear()
            self._outbox = []
            self._outbox_bytes = 0
            self._out_space.notify_all()
        if unsent or unsent_bytes:
            self._report(
                ClosedError(
                    f"close: {unsent} published message(s) and {unsent_bytes} bytes of framed ones "
                    "could not be sent before the close"
                )
            )
        self._teardown(max(0.1, deadline - time.monotonic()), closing=True)

    def _teardown(self, timeout: float, closing: bool = False) -> None:
        deadline = time.monotonic() + timeout
        self.state = _CLOSED
        self.connected = False
        self._fail_waiters(ClosedError("request: the client was closed before a reply arrived"))
        subs = list(self.subs.values())
        self.subs.clear()
        for sub in subs:
            sub._shutdown()
        self._stop_workers(max(0.05, (deadline - time.monotonic()) / 2))
        self.loop.stop(max(0.05, deadline - time.monotonic()))
        for sub in subs:
            sub._join_dispatcher(max(0.05, deadline - time.monotonic()))
        if closing and self.options.closed_cb is not None:
            self.events.submit(self.options.closed_cb)
        self.events.stop(max(0.05, deadline - time.monotonic()))

    def _stop_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        workers = []
        while self.workers:  # pop one by one: a worker registering meanwhile is not lost
            try:
                workers.append(self.workers.pop())
            except KeyError:
                break
        for w in workers:
            w._shutdown()
        for w in workers:
            w._join(max(0.0, deadline - time.monotonic()))

    # -- observing -----------------------------------------------------------------------------
    def stats(self) -> Stats:
        s = self.nc.stats
        return Stats(
            in_msgs=s["in_msgs"],
            in_bytes=s["in_bytes"],
            out_msgs=self._out_msgs,
            out_bytes=self._out_bytes,
            reconnects=s["reconnects"],
            errors=self._errors,
            callback_errors=self._callback_errors,
            dropped=self._dropped,
        )


_ENGINES: weakref.WeakSet[_Engine] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a forked child, the parent's I/O and dispatcher threads do not exist and the socket is
    shared with the parent: mark every client unusable without touching either."""
    for engine in list(_ENGINES):
        engine.forked = True
        engine.state = _CLOSED
        engine.connected = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def finalize_engine(engine: _Engine) -> None:
    if engine.state in (_CLOSING, _CLOSED):
        return
    me = threading.current_thread()
    if engine.loop.in_loop_thread() or me is engine.events.thread:
        threading.Thread(target=engine.close, args=(2.0,), name="nats-finalize", daemon=True).start()
    else:
        engine.close(2.0)
