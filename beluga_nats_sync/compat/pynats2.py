"""A drop-in replacement for pynats2's client, built on :class:`beluga_nats_sync.Client`.

Change one import and keep the rest of the code::

    # from pynats2 import NATSClient
    from beluga_nats_sync.compat.pynats2 import NATSClient

    with NATSClient("nats://127.0.0.1:4222", socket_timeout=2) as client:
        client.subscribe("greet", callback=lambda msg: print(msg.payload))
        client.publish("greet", payload=b"hello")

The names, signatures, message fields, exceptions and URL handling (comma-separated server
lists, the path "vhost" prefix) are pynats2 0.9's. Where pynats2 misbehaves this one does not:
callbacks of a subscription run one at a time, in order, on its own thread; a server ``-ERR``
is logged instead of killing the reader; a lost connection is re-established (subscriptions
included) without a call to ``reconnect()``. ``docs/migrating-from-pynats2.md`` lists every
difference.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from .._client import Client
from .._core.handlers import check_handler
from .._core.msg import Msg
from .._core.options import Options
from .._core.subscription import Subscription
from ..errors import ClosedError, ConnectError, NATSTimeoutError, NoRespondersError, RequestTimeoutError
from ._pynats2_exceptions import (
    NATSConnectionError,
    NATSError,
    NATSInvalidResponse,
    NATSInvalidSchemeError,
    NATSInvalidUrlError,
    NATSRequestTimeoutError,
    NATSTCPConnectionRequiredError,
    NATSTLSConnectionRequiredError,
    NATSUnexpectedResponse,
    _NATSConnectionRefused,
)
from ._pynats2_url import parse_url, probe, tls_context

__all__ = [
    "NATSClient",
    "NATSConnectionError",
    "NATSError",
    "NATSInvalidResponse",
    "NATSInvalidSchemeError",
    "NATSInvalidUrlError",
    "NATSMessage",
    "NATSNoSubscribeClient",
    "NATSRequestTimeoutError",
    "NATSSubscription",
    "NATSTCPConnectionRequiredError",
    "NATSTLSConnectionRequiredError",
    "NATSUnexpectedResponse",
]

DEFAULT_PING_INTERVAL = 30.0
DEFAULT_REQUEST_TIMEOUT = 120.0
DEFAULT_SOCKET_TIMEOUT = 1.0
DEFAULT_WORKERS = 3
#: pynats2 never reconnected by itself; ours does, waiting this long between attempts.
DEFAULT_RECONNECT_DELAY = 2.0
#: Bound of a ``ping()`` round trip, and of ``close()`` sending what is still queued.
OPERATION_TIMEOUT = 30.0

_Self = TypeVar("_Self", bound="NATSNoSubscribeClient")


@dataclass
class NATSMessage:
    """A received message, as pynats2 gives it: the subscription's ``sid``, the ``subject`` and
    ``reply`` with the vhost prefix removed, and the ``payload`` bytes."""

    sid: int
    subject: str
    reply: str
    payload: bytes


@dataclass
class NATSSubscription:
    """What :meth:`NATSClient.subscribe` returns; pass it to ``unsubscribe``/``auto_unsubscribe``."""

    sid: int
    subject: str
    queue: str
    callback: Callable[[NATSMessage], Any]
    max_messages: int | None = None
    received_messages: int = 0
    _sub: Subscription | None = field(default=None, init=False, repr=False, compare=False)
    # received_messages when the current server-side subscription was made, and the limit it enforces
    _base: int = field(default=0, init=False, repr=False, compare=False)
    _told: int | None = field(default=None, init=False, repr=False, compare=False)

    def is_wasted(self) -> bool:
        """True once ``max_messages`` messages were delivered."""
        return self.max_messages is not None and self.received_messages == self.max_messages


def _seconds(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or math.isinf(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        accepted = f"a finite number of seconds {'>=' if allow_zero else '>'} 0"
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return float(value)


def _strip_vhost(prefix: str, subject: str) -> str:
    subject = subject.strip()
    if prefix and subject.startswith(prefix):
        return subject[len(prefix) :]
    return subject


def _to_message(prefix: str, sid: int, msg: Msg) -> NATSMessage:
    reply = _strip_vhost(prefix, msg.reply) if msg.reply else ""
    return NATSMessage(sid=sid, subject=_strip_vhost(prefix, msg.subject), reply=reply, payload=msg.data)


def _payload(payload: Any) -> Any:
    # pynats2 sent a str as its encoded bytes (and broke on non-ASCII text); UTF-8 keeps it working.
    return payload.encode() if isinstance(payload, str) else payload


class NATSNoSubscribeClient:
    """pynats2's publish-and-request client: ``connect``, ``close``, ``reconnect``, ``ping``,
    ``publish`` and ``request``, and a context manager that connects and closes.

    ``url`` is a ``nats://`` or ``tls://`` URL, or several separated by commas (tried in order).
    Its path is a "vhost": with ``nats://host:4222/tenant`` every subject is sent as
    ``tenant.<subject>`` and received subjects lose the prefix again.

    Of the other arguments, ``name``, ``socket_timeout`` (bound of each connection step),
    ``ping_interval``, ``reconnect_delay``, ``reconnect_forever`` and the ``tls_*`` ones take
    effect; ``verbose``, ``pedantic`` and ``socket_keepalive`` are accepted and ignored (see the
    migration guide).
    """

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        name: str = "pynats2",
        verbose: bool = False,
        pedantic: bool = False,
        tls_cacert: str | None = None,
        tls_client_cert: str | None = None,
        tls_client_key: str | None = None,
        tls_verify: bool = False,
        socket_timeout: float | None = DEFAULT_SOCKET_TIMEOUT,
        socket_keepalive: bool = False,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        reconnect_delay: float = DEFAULT_RECONNECT_DELAY,
        reconnect_forever: bool = False,
    ) -> None:
        self._servers, self._vhost_name = parse_url(url)
        # pynats2 let None mean a blocking socket; nothing here waits without a bound.
        self._socket_timeout = (
            Options().connect_timeout if socket_timeout is None else _seconds("socket_timeout", socket_timeout)
        )
        if (tls_client_cert is None) != (tls_client_key is None):
            raise ValueError("tls_client_cert and tls_client_key go together: give both or neither")
        self._tls = (tls_cacert, tls_client_cert, tls_client_key, bool(tls_verify))
        self._options = Options(
            servers=[s.url for s in self._servers],
            name=name,
            connect_timeout=self._socket_timeout,
            ping_interval=_seconds("ping_interval", ping_interval),
            reconnect_wait=_seconds("reconnect_delay", reconnect_delay, allow_zero=True),
            max_reconnects=-1 if reconnect_forever else Options().max_reconnects,
            dont_randomize=True,  # pynats2 tries the servers in the order given
            inbox_prefix=self._vhost_name + "_INBOX",  # replies stay inside the vhost
            timeout=OPERATION_TIMEOUT,
        )
        self._conn_lock = threading.RLock()  # connect / close / reconnect
        self._client: Client | None = None
        self._sid_lock = threading.Lock()
        self._ssid = 0

    # -- vhost -----------------------------------------------------------------------------------
    def _vhost(self, subject: str) -> str:
        if not isinstance(subject, str):
            raise TypeError(f"subject must be a str such as 'agent.requests', got {type(subject).__name__}")
        return self._vhost_name + subject if self._vhost_name else subject

    def _del_vhost(self, subject: str) -> str:
        return _strip_vhost(self._vhost_name, subject)

    def _next_sid(self) -> int:
        with self._sid_lock:
            sid = self._ssid
            self._ssid += 1
            return sid

    def _message(self, sid: int, msg: Msg) -> NATSMessage:
        return _to_message(self._vhost_name, sid, msg)

    # -- life ------------------------------------------------------------------------------------
    def __enter__(self: _Self) -> _Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Connect to the first server of the list that accepts.

        Raises ``NATSConnectionError`` (also a ``ConnectionRefusedError`` when every server
        refused), ``NATSTCPConnectionRequiredError`` or ``NATSTLSConnectionRequiredError``.
        Does nothing if the client is already connected.
        """
        with self._conn_lock:
            if self._client is not None and not self._client.is_closed:
                return
            self._client = None
            self._client = self._open()

    def _open(self) -> Client:
        unreachable = probe(self._servers, self._socket_timeout)
        shown = ", ".join(self._options.redacted_servers)
        if len(unreachable) == len(self._servers) and all(isinstance(e, ConnectionRefusedError) for e in unreachable):
            raise _NATSConnectionRefused(
                f"cannot connect to {shown}: connection refused; is nats-server running?"
            ) from unreachable[-1]
        extra: dict[str, Any] = {}
        if any(s.scheme == "tls" for s in self._servers):
            extra["tls"] = tls_context(*self._tls)
        client = Client(options=self._options, **extra)
        try:
            client.connect(timeout=self._socket_timeout * (len(self._servers) + 1))
        except ConnectError as exc:
            raise NATSConnectionError(str(exc)) from exc
        return client

    def close(self) -> None:
        """Send what was published, then close the connection. Idempotent."""
        with self._conn_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def reconnect(self) -> None:
        """Close the connection and open a new one."""
        with self._conn_lock:
            self.close()
            self.connect()

    def _connected(self, what: str) -> Client:
        client = self._client
        if client is None or client.is_closed:
            raise self._not_connected(what)
        return client

    @staticmethod
    def _not_connected(what: str) -> NATSConnectionError:
        return NATSConnectionError(f"{what}: the client is not connected; call connect() or reconnect() first")

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except ClosedError as exc:
            raise NATSConnectionError(f"{what}: the connection is closed ({exc}); call reconnect()") from exc
        except NATSTimeoutError as exc:  # the server did not answer a round trip in time
            raise NATSConnectionError(f"{what}: {exc}") from exc

    # -- messaging -------------------------------------------------------------------------------
    def ping(self) -> None:
        """Make a PING/PONG round trip with the server (pynats2 only sent the PING).

        Raises ``NATSConnectionError`` when no PONG comes back in time or the client is
        reconnecting.
        """
        client = self._connected("ping")
        if not client.is_connected:
            raise NATSConnectionError("ping: the connection to the server is lost; the client is reconnecting")
        with self._translated("ping"):
            client.flush(timeout=OPERATION_TIMEOUT)

    def publish(self, subject: str, *, payload: bytes = b"", reply: str = "") -> None:
        """Publish ``payload`` on ``subject`` (inside the vhost); returns once it is queued.

        Messages published by one thread reach the server in order; ``close()`` sends what is
        still queued. A bad subject raises ``InvalidSubjectError`` (a ``ValueError``) before
        anything is sent.
        """
        # The hot path: no context manager, no extra checks; the core validates and raises.
        client = self._client
        if client is None:
            raise self._not_connected("publish")
        if self._vhost_name:
            subject = self._vhost(subject)
        if type(payload) is not bytes:
            payload = _payload(payload)
        try:
            client.publish(subject, payload, reply=self._vhost(reply) if reply else None)
        except ClosedError as exc:
            raise self._not_connected("publish") from exc

    def request(
        self, subject: str, *, payload: bytes = b"", timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    ) -> NATSMessage:
        """Publish a request and wait at most ``timeout`` seconds for the first reply.

        Raises ``NATSRequestTimeoutError`` past the timeout, and at once when nothing is
        subscribed to ``subject``. ``timeout=None`` means pynats2's default of 120 s.
        """
        t = DEFAULT_REQUEST_TIMEOUT if timeout is None else timeout
        client = self._connected("request")
        sid = self._next_sid()  # pynats2 spent a subscription id on each request's inbox
        with self._translated("request"):
            try:
                msg = client.request(self._vhost(subject), _payload(payload), timeout=t)
            except RequestTimeoutError as exc:
                raise NATSRequestTimeoutError(f"no reply to the request on {subject!r} within {t:g} s") from exc
            except NoRespondersError as exc:
                raise NATSRequestTimeoutError(
                    f"no responders on {subject!r}: nothing is subscribed to it (reported at once)"
                ) from exc
        return self._message(sid, msg)

    # -- observing -------------------------------------------------------------------------------
    @property
    def client(self) -> Client | None:
        """The :class:`beluga_nats_sync.Client` underneath (``None`` when not connected), for code
        that moves to the native API one call at a time."""
        return self._client

    def __repr__(self) -> str:
        client = self._client
        state = "connected" if client is not None and client.is_connected else "not connected"
        vhost = f" vhost={self._vhost_name!r}" if self._vhost_name else ""
        servers = ", ".join(self._options.redacted_servers)
        return f"<{type(self).__name__} {state} {servers}{vhost}>"


class NATSClient(NATSNoSubscribeClient):
    """pynats2's full client: :class:`NATSNoSubscribeClient` plus ``subscribe``,
    ``unsubscribe`` and ``auto_unsubscribe``.

    Each subscription's callback gets a :class:`NATSMessage` on a thread of its own, one
    message at a time in arrival order (pynats2 ran them on a pool of ``workers`` threads in any
    order). ``workers`` is accepted and checked, and otherwise unused. An exception raised by a
    callback is logged; the next message is still delivered.
    """

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        name: str = "pynats2",
        verbose: bool = False,
        pedantic: bool = False,
        tls_cacert: str | None = None,
        tls_client_cert: str | None = None,
        tls_client_key: str | None = None,
        tls_verify: bool = False,
        socket_timeout: float | None = DEFAULT_SOCKET_TIMEOUT,
        socket_keepalive: bool = False,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        workers: int = DEFAULT_WORKERS,
        reconnect_delay: float = DEFAULT_RECONNECT_DELAY,
        reconnect_forever: bool = False,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}")
        super().__init__(
            url,
            name=name,
            verbose=verbose,
            pedantic=pedantic,
            tls_cacert=tls_cacert,
            tls_client_cert=tls_client_cert,
            tls_client_key=tls_client_key,
            tls_verify=tls_verify,
            socket_timeout=socket_timeout,
            socket_keepalive=socket_keepalive,
            ping_interval=ping_interval,
            reconnect_delay=reconnect_delay,
            reconnect_forever=reconnect_forever,
        )
        self._workers = workers
        self._subs: dict[int, NATSSubscription] = {}

    def reconnect(self) -> None:
        """Close the connection, open a new one and subscribe again to every live subscription."""
        with self._conn_lock:
            super().reconnect()
            client = self._connected("reconnect")
            for sub in list(self._subs.values()):
                if not sub.is_wasted():
                    self._attach(client, sub)

    def subscribe(
        self,
        subject: str,
        *,
        callback: Callable[[NATSMessage], Any],
        queue: str = "",
        max_messages: int | None = None,
    ) -> NATSSubscription:
        """Subscribe to ``subject`` (inside the vhost; wildcards allowed) and call
        ``callback(message)`` for each message, in order, on the subscription's own thread.

        With ``max_messages`` the subscription ends after that many messages; the server is told
        at once, so with a ``queue`` group no message past the limit is taken from the others.
        """
        check_handler(callback, "callback", "a NATSMessage")
        if max_messages is not None and (
            isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
        ):
            raise ValueError(f"max_messages must be an int >= 1 or None, got {max_messages!r}")
        client = self._connected("subscribe")
        sub = NATSSubscription(
            sid=self._next_sid(), subject=subject, queue=queue, callback=callback, max_messages=max_messages
        )
        self._attach(client, sub)
        self._subs[sub.sid] = sub
        return sub

    def _attach(self, client: Client, sub: NATSSubscription) -> None:
        left = None if sub.max_messages is None else sub.max_messages - sub.received_messages
        with self._translated("subscribe"):
            sub._sub = client.subscribe(self._vhost(sub.subject), self._handler(sub), queue=sub.queue, max_msgs=left)
        sub._base, sub._told = sub.received_messages, sub.max_messages

    def _handler(self, sub: NATSSubscription) -> Callable[[Msg], None]:
        # No reference to self: the client's threads must not keep this object (and through it
        # the connection) alive, so a client dropped without close() is collected and closed.
        registry, prefix = self._subs, self._vhost_name

        def handle(msg: Msg) -> None:
            limit = sub.max_messages
            if limit is not None and sub.received_messages >= limit:
                return  # the limit was lowered after subscribing: past it, nothing is delivered
            sub.received_messages += 1
            if sub.is_wasted():
                registry.pop(sub.sid, None)
                ours = sub._sub
                if ours is not None and ours.is_active:  # the server was not told this limit
                    ours.unsubscribe()
            sub.callback(_to_message(prefix, sub.sid, msg))

        return handle

    def unsubscribe(self, sub: NATSSubscription) -> None:
        """Remove the subscription; messages not yet delivered to its callback are dropped."""
        self._subs.pop(sub.sid, None)
        ours = sub._sub
        if ours is not None:
            with self._translated("unsubscribe"):
                ours.unsubscribe()

    def auto_unsubscribe(self, sub: NATSSubscription) -> None:
        """Tell the server to end ``sub`` after ``sub.max_messages`` messages (no-op without one).

        ``subscribe(..., max_messages=n)`` already does this, so the call is only needed when
        ``max_messages`` was changed afterwards.
        """
        limit = sub.max_messages
        ours = sub._sub
        if limit is None or ours is None or not ours.is_active or sub._told == limit:
            return
        if sub.received_messages >= limit:
            self.unsubscribe(sub)
            return
        self._connected("auto_unsubscribe")
        # The server counts the messages of its own subscription, made when received was _base.
        with self._translated("auto_unsubscribe"):
            ours.auto_unsubscribe(limit - sub._base, timeout=OPERATION_TIMEOUT)
        sub._told = limit

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f" subscriptions={len(self._subs)}>"
