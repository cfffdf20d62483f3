"""An in-memory NATS "server" for tests: clients that talk to each other with no ``nats-server``.

A :class:`MemoryServer` lives in the test's process; every client connected to it (through the
``transport=`` argument of :class:`~beluga_nats_sync.Client` and
:func:`~beluga_nats_sync.connect`) runs the client's real machinery (its I/O thread, outbox,
subscriptions and their threads, requests) and exchanges messages through the server instead of
a socket::

    import beluga_nats_sync as bns
    from beluga_nats_sync.testing import MemoryServer

    server = MemoryServer()
    with server.connect() as nc:
        sub = nc.subscribe("greet.*")
        nc.publish("greet.joe", b"hello")
        assert sub.next_msg(timeout=1.0).data == b"hello"

What it does as a server does: subjects with ``*`` and ``>`` wildcards, queue groups (each message
to one member of each group, in turn), replies, the "no responders" answer to a request nobody
listens to (so ``request`` raises :class:`~beluga_nats_sync.NoRespondersError` at once), headers
(multi-valued, in order) and ``max_payload``. What it does not: JetStream and key-value (each
JetStream call raises :class:`~beluga_nats_sync.JetStreamNotEnabledError` saying it needs a real
server), authentication, TLS, clusters, reconnects and slow-consumer policing by the server.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from ._client import Client
from ._core.portal import run_on
from .errors import ProtocolError
from .protocol.headers import Headers, decode_headers, show_status

if TYPE_CHECKING:
    from ._core.options import Options
    from ._core.transport import Deliver, TransportEvents

__all__ = ["MemoryServer", "MemoryTransport", "Subscriber"]

DEFAULT_MAX_PAYLOAD = 1024 * 1024  # as nats-server's default
MAX_CONTROL_LINE = 4096  # as nats-server's default

#: What the JetStream API answers here: the error nats-server gives an account without JetStream,
#: in words that say where JetStream is to be found.
_NO_JETSTREAM = json.dumps(
    {
        "type": "io.nats.jetstream.api.v1.error_response",
        "error": {
            "code": 503,
            "err_code": 10039,
            "description": "JetStream and key-value need a real nats-server; "
            "the in-memory server of beluga_nats_sync.testing has none",
        },
    }
).encode()


class Subscriber(NamedTuple):
    """One subscription the server knows: its subject (wildcards as given), its queue group ('' for
    none) and the name of its client (``Options.name``, or None)."""

    subject: str
    queue: str
    client: str | None


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` matches one token, ``>`` one or more at the end."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


_Pub = tuple[str, str, bytes, bytes]  # subject, reply, header block, payload
_Delivery = tuple[int, str, str, bytes, bytes]  # sid, subject, reply, header block, payload


class _Interest(NamedTuple):
    transport: MemoryTransport
    sid: int
    subject: str
    queue: str


class MemoryServer:
    """An in-process NATS server for tests, shared by every client connected to it.

    ``max_payload`` is what it tells its clients (``Client.max_payload``; a larger publish raises
    :class:`~beluga_nats_sync.PayloadTooLargeError`). ``name`` shows in ``Client.connected_url``
    (``memory://<name>:0``). Thread-safe; it starts no thread and holds nothing to close.
    """

    def __init__(self, *, max_payload: int = DEFAULT_MAX_PAYLOAD, name: str = "memory") -> None:
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload < 1:
            raise ValueError(f"max_payload must be a positive int (bytes), got {max_payload!r}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        self.max_payload = max_payload
        self.name = name
        self._lock = threading.Lock()
        self._interest: list[_Interest] = []
        self._turns: dict[str, itertools.count[int]] = {}  # whose turn it is, in each queue group

    def transport(self, options: Options, events: TransportEvents) -> MemoryTransport:
        """The transport factory to give a client: ``bns.connect(transport=server.transport)``."""
        return MemoryTransport(self, options, events)

    def connect(self, **options: Any) -> Client:
        """A client connected to this server; ``options`` are :class:`~beluga_nats_sync.Options`
        fields (``name``, ``timeout``, ...) or ``context``."""
        return Client(transport=self.transport, **options).connect()

    def subscriptions(self) -> list[Subscriber]:
        """Every live subscription of every client, each client's replies subscription included."""
        with self._lock:
            return [Subscriber(i.subject, i.queue, i.transport.client_name) for i in self._interest]

    def has_interest(self, subject: str) -> bool:
        """Whether a message published on ``subject`` now would reach a subscription."""
        with self._lock:
            return any(subject_matches(i.subject, subject) for i in self._interest)

    def __repr__(self) -> str:
        with self._lock:
            n = len(self._interest)
        return f"<beluga_nats_sync.testing.MemoryServer {self.name!r} subscriptions={n}>"

    # -- for the transports ------------------------------------------------------------------
    def _add(self, interest: _Interest) -> None:
        with self._lock:
            self._interest.append(interest)

    def _remove(self, transport: MemoryTransport, sid: int | None = None) -> None:
        with self._lock:
            self._interest = [
                i for i in self._interest if not (i.transport is transport and (sid is None or i.sid == sid))
            ]

    def _route(self, sender: MemoryTransport, commands: list[_Pub]) -> None:
        """Hand published messages to every matching subscription (one per queue group), on each
        receiver's I/O thread (one hop per receiver for the whole batch); under the lock, so that
        every receiver sees the messages of one sender in the order they were published."""
        out: dict[MemoryTransport, list[_Delivery]] = {}
        with self._lock:
            for subject, reply, hblock, payload in commands:
                plain: list[_Interest] = []
                groups: dict[str, list[_Interest]] = {}
                for i in self._interest:
                    if subject_matches(i.subject, subject):
                        if i.queue:
                            groups.setdefault(i.queue, []).append(i)
                        else:
                            plain.append(i)
                for queue, members in groups.items():
                    turn = next(self._turns.setdefault(queue, itertools.count()))
                    plain.append(members[turn % len(members)])
                if not plain and reply:
                    if subject.startswith("$JS.API."):
                        answer: _Pub = (reply, "", b"", _NO_JETSTREAM)
                    else:  # the server's "no responders" answer, to the requester only
                        answer = (reply, "", b"NATS/1.0 503\r\n\r\n", b"")
                    plain = [i for i in self._interest if i.transport is sender and subject_matches(i.subject, reply)]
                    subject, reply, hblock, payload = answer
                for i in plain:
                    out.setdefault(i.transport, []).append((i.sid, subject, reply, hblock, payload))
            for transport, deliveries in out.items():
                transport.receive(deliveries)


class _Sub:
    __slots__ = ("deliver", "max", "received")

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self.max = 0  # 0: no auto-unsubscribe
        self.received = 0


class MemoryTransport:
    """One client's connection to a :class:`MemoryServer` (made by :meth:`MemoryServer.transport`).

    It implements the transport contract of the client's core: the client's I/O thread calls it,
    it parses the ``PUB``/``HPUB`` commands the client writes and hands each message to the server,
    and it delivers what the server sends on the receiving client's own I/O thread.
    """

    def __init__(self, server: MemoryServer, options: Options, events: TransportEvents) -> None:
        self.server = server
        self.client_name = options.name
        self._events = events
        self._loop = events.loop
        self._connected = False
        self._subs: dict[int, _Sub] = {}  # on the I/O thread only
        self._next_sid = 0
        self._buf = b""
        self._in_msgs = 0
        self._in_bytes = 0

    # -- the transport contract ----------------------------------------------------------------
    def connect(self, timeout: float) -> bool:
        def up() -> None:
            self._connected = True
            self._events.on_connected()

        self._loop.run(up, timeout, "connect")
        return True

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def max_payload(self) -> int:
        return self.server.max_payload

    @property
    def max_control_line(self) -> int:
        return MAX_CONTROL_LINE

    @property
    def connected_address(self) -> tuple[str, str, int] | None:
        return ("memory", self.server.name, 0) if self._connected else None

    def counters(self) -> tuple[int, int, int]:
        return self._in_msgs, self._in_bytes, 0

    def try_write(self, data: bytes | list[bytes]) -> bool:
        return False  # everything is written by the I/O thread, through write()

    def write_waiting(self, data: bytes | list[bytes], timeout: float) -> bool:
        return False  # as try_write: queued, and written by the I/O thread

    def write(self, chunks: collections.deque[bytes], force: bool) -> bool:
        data = self._buf + b"".join(chunks)
        chunks.clear()
        commands, pos = self._parse(data)
        self._buf = data[pos:]
        if commands and self._connected:
            self.server._route(self, commands)
        return False

    def when_drained(self, callback: Callable[[], object]) -> None:
        callback()  # never congested

    def ping(self, timeout: float) -> None:
        # the server has routed everything written (write() is synchronous); as with a real
        # server's PONG, what it sent this client before the answer is delivered first
        self._round_trip(timeout, "flush")

    def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        self._next_sid += 1
        sid = self._next_sid
        self._subs[sid] = _Sub(deliver)
        self.server._add(_Interest(self, sid, subject, queue))
        return sid

    def unsubscribe(self, sid: int, limit: int = 0) -> None:
        sub = self._subs.get(sid)
        if sub is None:
            return
        if limit == 0 or sub.received >= limit:
            self._drop(sid)
        else:
            sub.max = limit

    def drain_subscription(self, sid: int, timeout: float) -> None:
        # on the I/O thread: behind what this client published before (its outbox is pumped there)
        self._loop.run(lambda: self.server._remove(self, sid), timeout, "drain")
        self._round_trip(timeout, "drain")  # what the server routed to it before is delivered
        self._loop.run(lambda: self._subs.pop(sid, None), timeout, "drain")

    def close(self, timeout: float) -> None:
        self._connected = False
        self.server._remove(self)

        def forget() -> None:
            self._subs.clear()

        with contextlib.suppress(Exception):  # the I/O thread is gone: nothing is delivered any more
            self._loop.run(forget, timeout, "close")

    # -- from the server -----------------------------------------------------------------------
    def receive(self, deliveries: list[_Delivery]) -> None:
        """Any thread: schedule deliveries on this client's I/O thread."""
        if not self._connected:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the client is closing
            self._loop.call_soon(self._deliver, deliveries)

    def _deliver(self, deliveries: list[_Delivery]) -> None:
        for sid, subject, reply, hblock, payload in deliveries:
            sub = self._subs.get(sid)
            if sub is None:
                continue  # unsubscribed while the server was sending it
            self._in_msgs += 1
            self._in_bytes += len(payload)
            sub.received += 1
            if sub.max and sub.received >= sub.max:
                self._drop(sid)
            headers: Headers | None = None
            if hblock:
                headers = decode_headers(hblock)  # a fresh object for each receiver, as from the wire
                show_status(headers)  # as the engine shows a status line
            sub.deliver(subject, payload, reply, headers)

    def _drop(self, sid: int) -> None:
        self._subs.pop(sid, None)
        self.server._remove(self, sid)

    def _round_trip(self, timeout: float, what: str) -> None:
        """Return once what was scheduled on this client's I/O thread before has run."""
        run_on(self._loop, lambda: None, timeout, what)

    def _parse(self, data: bytes) -> tuple[list[_Pub], int]:
        """The whole ``PUB``/``HPUB`` commands in ``data``, and where the first incomplete one starts."""
        commands: list[_Pub] = []
        pos = 0
        while True:
            end = data.find(b"\r\n", pos)
            if end < 0:
                return commands, pos
            line = data[pos:end]
            parts = line.split()
            verb = parts[0].upper() if parts else b""
            if verb == b"PUB" and len(parts) in (3, 4):
                hsize, total, with_reply = 0, int(parts[-1]), len(parts) == 4
            elif verb == b"HPUB" and len(parts) in (4, 5):
                hsize, total, with_reply = int(parts[-2]), int(parts[-1]), len(parts) == 5
            else:
                self._events.on_error(ProtocolError("the in-memory server takes only PUB and HPUB commands", line[:64]))
                return commands, len(data)
            start = end + 2
            if len(data) < start + total + 2:
                return commands, pos
            reply = parts[2].decode() if with_reply else ""
            commands.append(
                (parts[1].decode(), reply, data[start : start + hsize], data[start + hsize : start + total])
            )
            pos = start + total + 2
