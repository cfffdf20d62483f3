"""A NATS server that misbehaves on purpose: a real TCP listener on loopback, scripted per connection.

It speaks enough of the server side of the protocol for a client to connect and work (INFO,
CONNECT, PING/PONG, SUB/UNSUB, PUB/HPUB echoed as MSG/HMSG to matching subscriptions, queue groups
served by their first member) and, at chosen moments of each connection, does what a faulty or
hostile server might: raw bytes, no PONG, a close in the middle of a frame, a flood of PINGs or
``-ERR``s, a huge MSG streamed slowly. Everything it does is bounded: floods by a count, every
step's bytes by ``MAX_STEP_BYTES``, every wait by a timeout; :meth:`ScriptedServer.stop` (or
leaving the ``with`` block) ends every thread it started and closes every socket.

A :class:`Script` says what to do on each event of one connection; each event holds a sequence of
steps (:class:`Send`, :class:`Flood`, :class:`Trickle`, :class:`Close`, :class:`Deliver`), run
in order on that connection's thread:

- ``on_connect``: right after the INFO (which is ``info``, raw bytes or a JSON-able value);
- ``on_connect_ping``: after the handshake's CONNECT and PING arrived, before the PONG is sent;
- ``on_handshake``: after the handshake's PONG;
- ``on_sub``: after each SUB;
- ``on_pub``: keyed by subject, after each PUB/HPUB on it (and its echo).

``handshake_pong=False`` leaves the handshake's PING unanswered (and every PING after it: the
handshake never ends); ``pong=False`` the PINGs after the handshake. ``scripts`` given to the
server is one :class:`Script` for every connection, a sequence (connection *i* gets the *i*-th; the
ones past its end a plain ``Script()``), or a function of the connection's index.

Examples::

    # a frame nats-py cannot parse, once the client is connected; the reconnection behaves
    with ScriptedServer([Script(on_handshake=[Send(b"MSG \\xff\\xfe 1 2\\r\\nhi\\r\\n")])]) as srv:
        nc = bns.connect(srv.url)
        ...
        srv.wait_for_handshakes(2, timeout=5.0)

    # a topology INFO between CONNECT's PING and its PONG
    Script(on_connect_ping=[Send(info_line({"connect_urls": ["127.0.0.1:1"]}))])

    # a close in the middle of a MSG, in reply to a PUB on "boom"
    Script(on_pub={"boom": [Send(b"MSG boom 1 100\\r\\nabc"), Close()]})

    # 10,000 -ERRs; a 1 GB MSG announced and streamed at 64 KiB per 10 ms (stopped at MAX_STEP_BYTES)
    Script(on_handshake=[Flood(b"-ERR 'x'\\r\\n", 10_000)])
    Script(on_handshake=[Send(b"MSG a 1 1000000000\\r\\n"), Trickle(b"x" * (4 << 20), 65536, 0.01)])

What the client sent is recorded as parsed :class:`Command`\\ s (``srv.commands``, each with the
index of its connection; ``srv.commands_of("PUB")``); ``srv.connections`` counts accepted
connections, ``srv.handshakes`` completed handshakes (a PONG sent for CONNECT's PING) and
``srv.closed_connections`` ended ones; ``srv.bytes_sent(i)`` is what connection *i* wrote.
``srv.wait_until(cond, timeout)`` waits for any of these; ``srv.send(data)`` writes at a moment the
test chooses. Steps run on their connection's thread: while a Trickle runs, that connection reads
nothing from its client (its PINGs wait), which is what a stalled server looks like.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from helpers import subject_matches

__all__ = [
    "MAX_FLOOD",
    "MAX_LINE",
    "MAX_STEP_BYTES",
    "Close",
    "Command",
    "Deliver",
    "Flood",
    "Script",
    "ScriptedServer",
    "Send",
    "Step",
    "Trickle",
    "default_info",
    "info_line",
]

#: the most frames one :class:`Flood` sends
MAX_FLOOD = 1_000_000
#: the most bytes one step sends (a Flood or a Trickle stops there)
MAX_STEP_BYTES = 8 << 20
#: how long one write may block on a client that does not read before the connection is dropped
SEND_TIMEOUT = 5.0
#: the longest control line the server reads from a client, and the largest payload it accepts
MAX_LINE = 64 * 1024
MAX_PAYLOAD = 1 << 20


def default_info(**overrides: Any) -> dict[str, Any]:
    """The INFO a well-behaved server sends (``overrides`` replace or add fields)."""
    info: dict[str, Any] = {
        "server_id": "SCRIPTED",
        "server_name": "scripted",
        "version": "2.10.0",
        "proto": 1,
        "go": "go1.22",
        "host": "127.0.0.1",
        "port": 0,
        "headers": True,
        "max_payload": MAX_PAYLOAD,
    }
    info.update(overrides)
    return info


def info_line(value: Any) -> bytes:
    """``INFO <json>\\r\\n`` for any JSON-able ``value`` (a dict, a list, a string...)."""
    return b"INFO " + json.dumps(value).encode() + b"\r\n"


@dataclass(frozen=True)
class Send:
    """Write ``data`` as it is."""

    data: bytes


@dataclass(frozen=True)
class Flood:
    """Write ``frame`` ``count`` times (at most :data:`MAX_FLOOD` times and :data:`MAX_STEP_BYTES`)."""

    frame: bytes
    count: int


@dataclass(frozen=True)
class Trickle:
    """Write ``data`` ``chunk`` bytes at a time, ``interval`` seconds apart (stops when the server
    stops, after :data:`MAX_STEP_BYTES`, or when the client stops reading)."""

    data: bytes
    chunk: int = 1024
    interval: float = 0.01


@dataclass(frozen=True)
class Close:
    """Close the connection (whatever was written before, a half frame included, is sent first)."""


@dataclass(frozen=True)
class Deliver:
    """A MSG (an HMSG with ``headers``, a raw header block) on ``subject`` to each of this
    connection's subscriptions matching it."""

    subject: str
    payload: bytes = b""
    reply: str = ""
    headers: bytes | None = None


Step = Send | Flood | Trickle | Close | Deliver


@dataclass(frozen=True)
class Script:
    """What one connection does, event by event (see the module's docstring)."""

    info: bytes | Any = None  #: raw bytes sent as the INFO line, or a value for ``info_line``; None: default_info()
    on_connect: Sequence[Step] = ()
    on_connect_ping: Sequence[Step] = ()
    on_handshake: Sequence[Step] = ()
    on_sub: Sequence[Step] = ()
    on_pub: dict[str, Sequence[Step]] = field(default_factory=dict)
    pong: bool = True  #: answer the client's PINGs after the handshake
    handshake_pong: bool = True  #: answer the handshake's PING (CONNECT's)


@dataclass(frozen=True)
class Command:
    """One command a client sent: ``kind`` (CONNECT, PING, PONG, SUB, UNSUB, PUB, HPUB), its
    arguments, the payload (PUB/HPUB, headers included) and the connection's index."""

    conn: int
    kind: str
    args: tuple[str, ...] = ()
    payload: bytes = b""
    connect: dict[str, Any] | None = None


class _Closed(Exception):
    """The connection ended (the client closed it, a step closed it, or the server stops)."""


class _Conn:
    def __init__(self, server: ScriptedServer, index: int, sock: socket.socket, script: Script) -> None:
        self.server = server
        self.index = index
        self.sock = sock
        self.script = script
        self.wlock = threading.Lock()
        self.subs: dict[str, tuple[str, str]] = {}  # sid -> (subject, queue)
        self.echo = True
        self.handshaken = False
        self.closed = False
        self.sent = 0  #: bytes written to the client so far
        self.buf = bytearray()
        self.thread = threading.Thread(target=self.run, name=f"scripted-conn-{index}", daemon=True)

    # -- writing
    def write(self, data: bytes) -> None:
        if self.closed:
            raise _Closed
        with self.wlock:
            try:
                self.sock.sendall(data)
                self.sent += len(data)
            except OSError as exc:  # a timeout too: the client stopped reading
                self.close()
                raise _Closed from exc

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def msg_frame(self, subject: str, sid: str, reply: str, payload: bytes, headers: bytes | None) -> bytes:
        r = f" {reply}" if reply else ""
        if headers is None:
            return f"MSG {subject} {sid}{r} {len(payload)}\r\n".encode() + payload + b"\r\n"
        total = len(headers) + len(payload)
        return f"HMSG {subject} {sid}{r} {len(headers)} {total}\r\n".encode() + headers + payload + b"\r\n"

    def run_steps(self, steps: Sequence[Step]) -> None:
        stop = self.server.stopping
        for step in steps:
            if stop.is_set():
                raise _Closed
            if isinstance(step, Send):
                self.write(step.data[:MAX_STEP_BYTES])
            elif isinstance(step, Flood):
                per = max(1, len(step.frame))
                count = min(step.count, MAX_FLOOD, MAX_STEP_BYTES // per)
                batch = max(1, 65536 // per)
                sent = 0
                while sent < count and not stop.is_set():
                    n = min(batch, count - sent)
                    self.write(step.frame * n)
                    sent += n
            elif isinstance(step, Trickle):
                data = step.data[:MAX_STEP_BYTES]
                chunk = max(1, step.chunk)
                for start in range(0, len(data), chunk):
                    self.write(data[start : start + chunk])
                    if stop.wait(step.interval):
                        raise _Closed
            elif isinstance(step, Close):
                self.close()
                raise _Closed
            elif isinstance(step, Deliver):
                for sid, (pattern, _queue) in list(self.subs.items()):
                    if subject_matches(pattern, step.subject):
                        self.write(self.msg_frame(step.subject, sid, step.reply, step.payload, step.headers))

    # -- reading
    def read_line(self) -> bytes:
        stop = self.server.stopping
        while not stop.is_set():
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            if len(self.buf) > MAX_LINE:
                self.write(b"-ERR 'Maximum Control Line Exceeded'\r\n")
                raise _Closed
            self.fill()
        raise _Closed

    def read_exact(self, n: int) -> bytes:
        stop = self.server.stopping
        while not stop.is_set():
            if len(self.buf) >= n:
                data = bytes(self.buf[:n])
                del self.buf[:n]
                return data
            self.fill()
        raise _Closed

    def fill(self) -> None:
        try:
            # a short poll, so the caller sees the server stopping; the socket's own timeout is
            # SEND_TIMEOUT, which bounds every write
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                return
            chunk = self.sock.recv(65536)
        except (OSError, ValueError) as exc:  # ValueError: the socket was closed by another thread
            raise _Closed from exc
        if not chunk:
            raise _Closed
        self.buf += chunk

    # -- the connection's life
    def run(self) -> None:
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            info = self.script.info
            self.write(info if isinstance(info, bytes) else info_line(default_info() if info is None else info))
            self.run_steps(self.script.on_connect)
            for _ in range(10_000_000):  # bounded: each turn consumes a command or the server stops
                self.handle(self.read_line())
        except _Closed:
            pass
        finally:
            self.close()
            self.server._ended(self)

    def handle(self, line: bytes) -> None:
        srv = self.server
        words = line.decode("utf-8", "replace").split()
        if not words:
            return
        kind, args = words[0].upper(), tuple(words[1:])
        if kind == "CONNECT":
            rest = line[len("CONNECT") :].strip()
            try:
                opts = json.loads(rest)
            except ValueError:
                opts = {}
            self.echo = bool(opts.get("echo", True)) if isinstance(opts, dict) else True
            srv._record(Command(self.index, kind, (), b"", opts if isinstance(opts, dict) else None))
        elif kind == "PING":
            srv._record(Command(self.index, kind))
            if not self.handshaken:
                self.run_steps(self.script.on_connect_ping)
            if not self.handshaken:
                if self.script.handshake_pong:
                    self.write(b"PONG\r\n")
                    self.handshaken = True
                    srv._handshake()
                    self.run_steps(self.script.on_handshake)
            elif self.script.pong:
                self.write(b"PONG\r\n")
        elif kind == "PONG":
            srv._record(Command(self.index, kind))
        elif kind == "SUB" and len(args) in (2, 3):
            self.subs[args[-1]] = (args[0], args[1] if len(args) == 3 else "")
            srv._record(Command(self.index, kind, args))
            self.run_steps(self.script.on_sub)
        elif kind == "UNSUB" and args:
            self.subs.pop(args[0], None)
            srv._record(Command(self.index, kind, args))
        elif kind in ("PUB", "HPUB") and len(args) >= 2:
            size = int(args[-1]) if args[-1].isdigit() else -1
            if not 0 <= size <= MAX_PAYLOAD:
                self.write(b"-ERR 'Maximum Payload Violation'\r\n")
                raise _Closed
            body = self.read_exact(size + 2)[:-2]
            srv._record(Command(self.index, kind, args, body))
            subject = args[0]
            if kind == "PUB":
                reply = args[1] if len(args) == 3 else ""
                headers = None
                payload = body
            else:
                reply = args[1] if len(args) == 4 else ""
                hsize = int(args[-2]) if args[-2].isdigit() else 0
                headers, payload = body[:hsize], body[hsize:]
            srv._route(self, subject, reply, payload, headers)
            steps = self.script.on_pub.get(subject)
            if steps:
                self.run_steps(steps)
        else:
            self.write(b"-ERR 'Unknown Protocol Operation'\r\n")
            raise _Closed


class ScriptedServer:
    """A scripted NATS server on a free loopback port (see the module's docstring)."""

    def __init__(
        self,
        scripts: Script | Sequence[Script] | Callable[[int], Script] | None = None,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self._scripts = scripts
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self._conns: list[_Conn] = []
        self.commands: list[Command] = []
        self.connections = 0
        self.handshakes = 0
        self.closed_connections = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.host, self.port = self._listener.getsockname()[:2]
        self._acceptor = threading.Thread(target=self._accept, name="scripted-accept", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def script_for(self, index: int) -> Script:
        s = self._scripts
        if s is None:
            return Script()
        if isinstance(s, Script):
            return s
        if callable(s):
            return s(index)
        return s[index] if index < len(s) else Script()

    # -- threads
    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self.stopping.is_set():
                    sock.close()
                    return
                conn = _Conn(self, self.connections, sock, self.script_for(self.connections))
                self._conns.append(conn)
                self.connections += 1
                self._lock.notify_all()
            conn.thread.start()

    def _record(self, cmd: Command) -> None:
        with self._lock:
            self.commands.append(cmd)
            self._lock.notify_all()

    def _handshake(self) -> None:
        with self._lock:
            self.handshakes += 1
            self._lock.notify_all()

    def _ended(self, conn: _Conn) -> None:
        with self._lock:
            self.closed_connections += 1
            self._lock.notify_all()

    def _route(self, origin: _Conn, subject: str, reply: str, payload: bytes, headers: bytes | None) -> None:
        with self._lock:
            conns = [c for c in self._conns if not c.closed and (c is not origin or origin.echo)]
        groups: set[str] = set()
        for c in conns:
            for sid, (pattern, queue) in list(c.subs.items()):
                if not subject_matches(pattern, subject):
                    continue
                if queue:
                    if queue in groups:
                        continue
                    groups.add(queue)
                with contextlib.suppress(_Closed):
                    c.write(c.msg_frame(subject, sid, reply, payload, headers))

    # -- what a test uses
    def wait_until(self, cond: Callable[[ScriptedServer], bool], timeout: float = 5.0, what: str = "condition") -> None:
        """Wait until ``cond(self)`` holds (checked whenever the server records something)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not cond(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"scripted server: timed out after {timeout} s waiting for {what}")
                self._lock.wait(min(left, 0.05))

    def wait_for_handshakes(self, n: int, timeout: float = 5.0) -> None:
        self.wait_until(lambda s: s.handshakes >= n, timeout, f"{n} handshake(s)")

    def commands_of(self, kind: str, conn: int | None = None) -> list[Command]:
        with self._lock:
            return [c for c in self.commands if c.kind == kind and (conn is None or c.conn == conn)]

    def bytes_sent(self, conn: int) -> int:
        """How many bytes connection ``conn`` has written to its client (whole writes only)."""
        with self._lock:
            return self._conns[conn].sent

    def send(self, data: bytes, conn: int = -1) -> None:
        """Write ``data`` now on connection ``conn`` (the newest by default)."""
        with self._lock:
            target = self._conns[conn]
        target.write(data[:MAX_STEP_BYTES])

    def threads(self) -> list[threading.Thread]:
        """The server's threads still alive."""
        with self._lock:
            conns = list(self._conns)
        return [t for t in [self._acceptor, *(c.thread for c in conns)] if t.is_alive()]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection and join every thread (idempotent)."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close()
        deadline = time.monotonic() + timeout
        for t in [self._acceptor, *(c.thread for c in conns)]:
            if t.ident is not None:
                t.join(max(0.0, deadline - time.monotonic()))
        alive = self.threads()
        if alive:
            raise RuntimeError(f"scripted server: threads still running after {timeout} s: {alive}")

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
