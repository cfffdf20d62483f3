"""Client: the blocking NATS client, and the one place where the parts are wired together: the
core's :class:`~beluga_nats_sync._core.connection.Connection` and our engine's transport."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from ._context import NatsContext
from ._context import resolve as resolve_context
from ._core.connection import Connection, ConnState, TransportFactory, finalize_connection
from ._core.inbox import new_inbox
from ._core.msg import Msg
from ._core.options import Options, ServersArg, redact_url, refuse_unknown_keywords
from ._core.protocol import check_timeout
from ._core.stats import Stats
from ._core.subscription import MsgCallback, Subscription
from .engine import create_transport
from .errors import ClosedError, ConnectError

if TYPE_CHECKING:
    from ._notebook.tail import TailResult
    from .jetstream import JetStream
    from .protocol.headers import HeadersInput
    from .services import Service

__all__ = ["Client", "Stats", "connect"]

log = logging.getLogger("beluga_nats_sync")


class Client:
    """A blocking NATS client whose I/O runs on a background thread.

    ``Client(servers, **options)`` makes an unconnected client; :meth:`connect` connects it.
    :func:`beluga_nats_sync.connect` does both, and says where settings come from when no
    ``servers`` are given (``context=``, ``$NATS_CONTEXT``, ``$NATS_URL``, the selected context).
    Every method is safe to call from any thread, including from inside a subscription callback.

    ``transport`` replaces the connection to a server: a factory called as
    ``transport(options, events)`` on connect, returning the transport the client runs on. Tests
    give ``server.transport`` of a :class:`beluga_nats_sync.testing.MemoryServer` to run clients
    with no ``nats-server``; with a transport and no ``context``, no NATS context is read.
    """

    def __init__(
        self,
        servers: ServersArg = None,
        *,
        options: Options | None = None,
        context: str | None = None,
        transport: TransportFactory | None = None,
        **kwargs: Any,
    ) -> None:
        extra: dict[str, Any] = dict(kwargs)
        if servers is not None:
            extra["servers"] = servers
        refuse_unknown_keywords(
            extra,
            list(attrs.fields_dict(Options)),
            unknown="unknown client option",
            accepted="the options are the fields of beluga_nats_sync.Options (name, timeout, reconnect_wait, ...)",
        )
        if transport is not None and not callable(transport):
            raise TypeError(
                f"transport must be a factory called as transport(options, events), such as "
                f"beluga_nats_sync.testing.MemoryServer().transport; got {type(transport).__name__}"
            )
        self._context: NatsContext | None = None
        self._transport: TransportFactory = transport if transport is not None else create_transport
        if options is None and transport is not None and context is None:
            options = Options(**extra)  # no server to find: the environment's contexts do not apply
        elif options is None:  # explicit arguments, then $NATS_CONTEXT/$NATS_URL, then the selected context
            extra, self._context = resolve_context(extra, context)
            options = Options(**extra)
        elif context is not None:
            raise TypeError("context= cannot be given with options=: an Options is a complete configuration")
        else:
            options = attrs.evolve(options, **extra)
        self._options = options
        self._e: Connection | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def connect(self, timeout: float | None = None) -> Client:
        """Connect, waiting at most ``timeout`` (default ``Options.connect_timeout``); return self.

        Raises :class:`ConnectError` (or :class:`AuthorizationError`) if no server accepts in time.
        """
        if self._e is not None:
            raise RuntimeError("connect() was already called on this client; make a new Client to reconnect")
        t = check_timeout(timeout, self._options.connect_timeout, "connect timeout", wait=True)
        engine = Connection(self._options, self._transport)
        self._e = engine
        try:
            engine.connect(t)
        except ConnectError as exc:
            log.debug("connect failed: %s", exc)  # the message is already free of secrets
            raise
        self._finalizer = weakref.finalize(self, finalize_connection, engine)
        log.debug("connected to %s", self.connected_url)
        return self

    @property
    def _engine(self) -> Connection:
        e = self._e
        if e is None:
            raise ClosedError("the client is not connected; call connect() first")
        return e

    def close(self, timeout: float | None = None) -> None:
        """Send what was published, close the connection and end every thread this client started.

        Idempotent; bounded by ``timeout`` (default ``Options.timeout``).
        """
        t = check_timeout(timeout, self._options.timeout)
        if self._e is not None:
            self._e.close(t)

    def drain(self, timeout: float | None = None) -> None:
        """Drain every subscription (deliver what was received), send what was published, close."""
        self._engine.drain(timeout)

    def flush(self, timeout: float | None = None) -> None:
        """Block until the server has processed everything published so far (a PING/PONG round trip)."""
        self._engine.flush(timeout)

    def __enter__(self) -> Client:
        if self._e is None:
            self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- messaging -------------------------------------------------------------------------------
    def publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        reply: str | None = None,
        headers: HeadersInput | None = None,
    ) -> None:
        """Queue a message for sending and return at once; safe from any thread.

        Messages published by one thread are sent in the order it published them. Raises
        ``InvalidSubjectError``, ``TypeError`` (payload not bytes-like), ``PayloadTooLargeError``
        or ``ClosedError`` before anything is queued. A large message (16 KiB or more) is written
        into the socket by the calling thread, which may wait up to 5 ms for room in it before
        queueing the message instead. When the outbound buffer is full, publish waits for room
        (connected: at most ``Options.timeout``; disconnected: ``reconnect_buffer_timeout``), then
        raises ``OutboundBufferFullError``.
        """
        e = self._e
        if e is None:
            raise ClosedError("publish: the client is not connected; call connect() first")
        e.publish(subject, payload, reply, headers)

    def request(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        timeout: float | None = None,
        headers: HeadersInput | None = None,
    ) -> Msg:
        """Publish a request and block for its reply, at most ``timeout`` (default ``Options.timeout``).

        Raises ``RequestTimeoutError`` (a ``TimeoutError``) or, at once, ``NoRespondersError``.
        """
        return self._engine.request(subject, payload, timeout, headers)

    def subscribe(
        self,
        subject: str,
        callback: MsgCallback | None = None,
        *,
        queue: str = "",
        max_msgs: int | None = None,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
    ) -> Subscription:
        """Subscribe to ``subject`` (wildcards allowed).

        With ``callback``, it is called as ``callback(msg)`` on the subscription's own thread, one
        message at a time in arrival order. Without, read with ``sub.next_msg()``/``sub.messages()``.
        """
        return self._engine.subscribe(subject, callback, queue, max_msgs, pending_msgs_limit, pending_bytes_limit)

    def jetstream(
        self,
        *,
        timeout: float | None = None,
        domain: str | None = None,
        api_prefix: str | None = None,
        publish_async_max_pending: int = 4000,
    ) -> JetStream:
        """A :class:`~beluga_nats_sync.jetstream.JetStream` context on this connection.

        ``timeout`` (default ``Options.timeout``) bounds each JetStream call that takes no
        ``timeout`` of its own. ``domain`` or ``api_prefix`` select another JetStream domain or
        an imported API; when neither is given, those of the client's NATS context apply
        (``jetstream_domain``, else ``jetstream_api_prefix``). No round trip is made here: a
        server without JetStream is reported by the first call, as :class:`JetStreamNotEnabledError`.
        """
        from .jetstream import JetStream

        ctx = self._context
        if ctx is not None and domain is None and api_prefix is None:
            domain = ctx.jetstream_domain
            api_prefix = None if domain is not None else ctx.jetstream_api_prefix

        return JetStream(
            self._engine,
            timeout=timeout,
            domain=domain,
            api_prefix=api_prefix,
            publish_async_max_pending=publish_async_max_pending,
        )

    def tail(self, subject: str, n: int = 10, timeout: float | None = 5.0) -> TailResult:
        """Collect up to ``n`` messages on ``subject`` (wildcards allowed) for at most ``timeout`` seconds.

        Returns a :class:`TailResult`: a list of dicts (time, subject, reply, size, headers, data,
        json) that shows as a table in a notebook and has ``to_dataframe()`` when pandas is installed.
        Never raises a timeout: it returns what arrived.
        """
        from ._notebook.tail import tail

        return tail(self, subject, n, timeout)

    def new_inbox(self) -> str:
        """A unique subject for replies."""
        return new_inbox(self._options.inbox_prefix)

    # -- observing -------------------------------------------------------------------------------
    @property
    def options(self) -> Options:
        """The client's settings (frozen)."""
        return self._options

    @property
    def context(self) -> NatsContext | None:
        """The NATS context the settings came from (name, file, how it was chosen), or None."""
        return self._context

    @property
    def is_connected(self) -> bool:
        """True while connected to a server (False before connect, while reconnecting, once closed)."""
        e = self._e
        return e is not None and e.life.accepting and e.life.linked

    @property
    def is_closed(self) -> bool:
        """True once ``close()`` began, or the client closed itself (reconnects exhausted)."""
        e = self._e
        return e is not None and e.life.ending

    @property
    def state(self) -> ConnState:
        """Where the connection is: ``ConnState.NEW``, ``CONNECTING``, ``CONNECTED``,
        ``RECONNECTING``, ``DRAINING``, ``CLOSING`` or ``CLOSED`` (see :class:`ConnState`)."""
        e = self._e
        return ConnState.NEW if e is None else e.life.state

    @property
    def connected_url(self) -> str | None:
        """The URL of the server in use (without credentials), or None."""
        e = self._e
        addr = e.transport.connected_address if e is not None and self.is_connected else None
        if addr is None:
            return None
        scheme, host, port = addr
        if ":" in host:
            host = f"[{host}]"
        return redact_url(f"{scheme}://{host}:{port}")

    @property
    def server_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the server in use, or last used (as telemetry reports it); None before
        the first connection."""
        e = self._e
        return e.server_address if e is not None else None

    @property
    def max_payload(self) -> int:
        """The largest payload the server accepts, in bytes."""
        return self._engine.max_payload

    @property
    def stats(self) -> Stats:
        """Counters of messages and bytes in and out, reconnects and errors, as a frozen snapshot."""
        e = self._e
        return e.stats() if e is not None else Stats()

    def __repr__(self) -> str:
        e = self._e
        state = self.state.value
        where = self.connected_url or ", ".join(self._options.redacted_servers)
        subs = len(e.subs) if e is not None else 0
        name = f" {self._options.name!r}" if self._options.name is not None else ""
        ctx = f" context={self._context.name!r}" if self._context is not None else ""
        return f"<beluga_nats_sync.Client{name} {state} {where}{ctx} subscriptions={subs}>"

    def _display_state(self) -> tuple[bool, int | None, list[Subscription]]:
        e = self._e
        if e is None:
            return False, None, []
        return True, (None if self.is_closed else e.max_payload), list(e.subs.values())

    def _repr_html_(self) -> str:
        from ._notebook.display import client_html

        return client_html(self)

    # -- services (on the public surface above; see beluga_nats_sync.services) --------------------
    def request_many(
        self,
        subject: str,
        data: bytes | bytearray | memoryview = b"",
        *,
        timeout: float | None = 1.0,
        max_messages: int | None = None,
        stall: float | None = None,
        headers: HeadersInput | None = None,
    ) -> list[Msg]:
        """Send one request and collect every reply (scatter-gather), in arrival order.

        Stops at the first of: ``timeout`` seconds since the start, ``max_messages`` replies,
        ``stall`` seconds without a reply after the first one. No responders: an empty list, at once.
        """
        from .services import request_many

        return request_many(
            self, subject, data, timeout=timeout, max_messages=max_messages, stall=stall, headers=headers
        )

    def add_service(
        self,
        name: str,
        version: str,
        *,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        queue_group: str | None = None,
    ) -> Service:
        """Start a NATS service (protocol v1) named ``name`` at ``version`` (semver): it answers
        ``$SRV.PING``/``INFO``/``STATS`` at once; add endpoints with ``svc.add_endpoint``.

        ``queue_group`` is the default of its endpoints (else ``"q"``; ``""`` for none).
        """
        from .services import Service

        return Service(self, name, version, description=description, metadata=metadata, queue_group=queue_group)


def connect(
    servers: ServersArg = None,
    *,
    timeout: float | None = None,
    context: str | None = None,
    transport: TransportFactory | None = None,
    **options: Any,
) -> Client:
    """Connect to NATS and return a connected :class:`Client`.

    ``servers`` is one URL, a comma-separated list or a list; ``options`` are :class:`Options`
    fields. ``context`` names a NATS context (as ``nats context`` saves them, or the path of its
    ``.json``) whose URL, credentials, TLS files and inbox prefix are used, the other arguments
    overriding them. Without ``servers`` or ``context``: ``$NATS_CONTEXT`` (its URL replaced by
    ``$NATS_URL`` when set), else ``$NATS_URL``, else the context selected with
    ``nats context select``, else ``nats://localhost:4222``. A context that cannot be used
    raises :class:`ContextError` (:class:`ContextNotFoundError` for a missing context or file).
    ``transport`` is as for :class:`Client` (``beluga_nats_sync.testing`` for tests without a server).
    """
    return Client(servers, context=context, transport=transport, **options).connect(timeout)
