"""The physical floor of a request/reply hop: two plain TCP connections, no library at all.

One connection subscribes and answers each request from a thread of its own; the other writes
each request and reads until its reply has arrived, both with blocking sockets and TCP_NODELAY,
the NATS protocol written by hand. Nothing a client library could skip is left in: what remains
is the server's hop and the cost of a Python ``send``/``recv`` on each side, which is what any
client's request p50 is judged against.

Every wait is bounded by a socket timeout and every loop by a count or a deadline.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlparse

from .measure import Incomplete, clock

__all__ = ["RawConnection", "raw_request_reply", "raw_round_trips"]

_CRLF = b"\r\n"
#: the most a hand-written reader will hold before it calls the server broken
_MAX_BUFFER = 1 << 20


class RawConnection:
    """A blocking NATS connection written by hand: INFO, CONNECT, PING/PONG, SUB, PUB, MSG."""

    def __init__(self, url: str, name: str, timeout: float = 10.0) -> None:
        u = urlparse(url if "://" in url else f"nats://{url}")
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 4222), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        try:
            line = self.read_line()
            if not line.startswith(b"INFO "):
                raise Incomplete(f"raw socket: expected INFO, the server sent {line[:60]!r}")
            connect = {"verbose": False, "pedantic": False, "echo": False, "name": name, "lang": "raw", "version": "0"}
            self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
            self.wait_pong()
        except BaseException:
            self.sock.close()
            raise

    def read_line(self) -> bytes:
        """The next control line, without its CRLF."""
        for _ in range(_MAX_BUFFER):  # each turn reads at least one byte or raises
            end = self.buf.find(_CRLF)
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            self._fill()
        raise Incomplete("raw socket: no CRLF in 1 MiB")

    def _fill(self) -> None:
        if len(self.buf) > _MAX_BUFFER:
            raise Incomplete("raw socket: more than 1 MiB without a whole frame")
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Incomplete("raw socket: the server closed the connection")
        self.buf += chunk

    def wait_pong(self) -> None:
        for _ in range(1000):
            line = self.read_line()
            if line == b"PONG":
                return
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise Incomplete(f"raw socket: the server said {line.decode(errors='replace')}")
        raise Incomplete("raw socket: no PONG within 1000 lines")

    def next_msg(self) -> tuple[bytes, bytes, bytes]:
        """The next MSG as (subject, reply, payload); a server PING is answered on the way.

        Nothing is taken from the buffer before the whole frame is in it, so a socket timeout
        in the middle of a frame loses nothing: the next call picks the frame up again."""
        for _ in range(_MAX_BUFFER):  # each turn consumes a line or reads at least one byte
            end = self.buf.find(_CRLF)
            if end < 0:
                self._fill()
                continue
            line = bytes(self.buf[:end])
            if line.startswith(b"MSG "):
                parts = line.split(b" ")
                size = int(parts[-1])
                if len(self.buf) < end + 2 + size + 2:
                    self._fill()
                    continue
                payload = bytes(self.buf[end + 2 : end + 2 + size])
                del self.buf[: end + 2 + size + 2]
                return parts[1], (parts[3] if len(parts) == 5 else b""), payload
            del self.buf[: end + 2]
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise Incomplete(f"raw socket: the server said {line.decode(errors='replace')}")
        raise Incomplete("raw socket: no MSG within its bound")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@contextlib.contextmanager
def raw_request_reply(url: str, subject: str, timeout: float = 10.0) -> Iterator[RawConnection]:
    """A responder on a thread of its own echoing every request on ``subject``; yields the
    requester's connection, subscribed to its reply subject ``_INBOX.raw`` (sid 1)."""
    responder = RawConnection(url, "bench-raw-responder", timeout)
    stop = threading.Event()
    failed: list[BaseException] = []

    def serve() -> None:
        # the socket timeout bounds each wait; stop is checked between requests
        responder.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                _subject, reply, payload = responder.next_msg()
            except TimeoutError:
                continue
            except (OSError, Incomplete) as exc:
                if not stop.is_set():
                    failed.append(exc)
                return
            responder.sock.sendall(b"PUB %s %d\r\n%s\r\n" % (reply, len(payload), payload))

    try:
        responder.sock.sendall(b"SUB %s 1\r\nPING\r\n" % subject.encode())
        responder.wait_pong()
        requester = RawConnection(url, "bench-raw-requester", timeout)
    except BaseException:
        responder.close()
        raise
    th = threading.Thread(target=serve, name="bench-raw-responder", daemon=True)
    th.start()
    try:
        requester.sock.sendall(b"SUB _INBOX.raw 1\r\nPING\r\n")
        requester.wait_pong()
        yield requester
        if failed:
            raise Incomplete(f"raw socket responder failed: {failed[0]!r}")
    finally:
        stop.set()
        th.join(5.0)
        requester.close()
        responder.close()


def raw_round_trips(conn: RawConnection, subject: str, payload: bytes, n: int, deadline: float) -> list[float]:
    """The seconds each of ``n`` sequential requests took: write the PUB, read until its MSG."""
    frame = b"PUB %s _INBOX.raw %d\r\n%s\r\n" % (subject.encode(), len(payload), payload)
    conn.sock.settimeout(deadline)
    send, next_msg = conn.sock.sendall, conn.next_msg
    lat = []
    try:
        for _ in range(n):
            t0 = clock()
            send(frame)
            next_msg()
            lat.append(clock() - t0)
    except TimeoutError:
        raise Incomplete(f"raw socket: no reply within {deadline:g} s") from None
    return lat
