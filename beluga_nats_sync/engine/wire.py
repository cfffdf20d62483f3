"""One socket at a time, and its TLS: every byte the engine reads from or writes to a server.

Opening: on a caller's thread or the reconnecting thread, blocking, each step bounded by the
attempt's deadline (``connect``, the TLS handshake, reading INFO and the PONG); :meth:`Wire.abort`
ends it early from another thread. Once the connection is up the socket is non-blocking and the
I/O thread reads it (:meth:`Wire.recv`, when the loop says it is readable).

Writing: every byte into the socket goes through :meth:`Wire.send_locked` under one lock, from any
thread: straight into the kernel while nothing is owed to the socket, else behind what is owed,
which the I/O thread writes when the socket drains (``add_writer``). What is owed belongs to that
socket: it is dropped with it, so a command begun on one connection is never resumed on another.

TLS: an ``ssl.SSLObject`` over two ``ssl.MemoryBIO``; every use of it (the handshake, reading,
writing) holds the same lock, so OpenSSL never sees one connection from two threads at once.

Everything here uses the public API of ``socket`` and ``ssl``, and the client's own I/O loop.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._core.portal import IOLoop

__all__ = ["Wire"]

#: one read: at most 64 KiB (a larger buffer is allocated above glibc's mmap threshold, each read)
READ_SIZE = 64 * 1024
#: ``socket.sendmsg`` (not on Windows, where pieces are joined first)
_HAS_SENDMSG = hasattr(socket.socket, "sendmsg")
#: bytes owed to the socket past which the outbox waits for it to drain
HIGH_WATER = 4 * 1024 * 1024


class Wire:
    """The socket of the current connection (reused, one socket after another)."""

    def __init__(self, loop: IOLoop | None = None) -> None:
        self.loop = loop
        self.sock: socket.socket | None = None
        self._opening: socket.socket | None = None  # being connected: abort() shuts it down
        self.live = False  # the connection is up: callers may write into it
        self._tls: ssl.SSLObject | None = None
        self._in_bio: ssl.MemoryBIO | None = None
        self._out_bio: ssl.MemoryBIO | None = None
        self._lock = threading.Lock()
        self._owed = bytearray()
        self._writing = False  # the loop watches the socket for writability
        self._drained: list[Callable[[], object]] = []
        #: callers' writes straight into the socket, and those the kernel took only in part (for
        #: tests and profiles)
        self.direct_writes = 0
        self.partial_writes = 0

    @property
    def tls(self) -> bool:
        """The connection is encrypted (or its TLS handshake has begun)."""
        return self._in_bio is not None

    @property
    def owed(self) -> int:
        return len(self._owed)

    # -- opening (blocking, on the thread that connects) -------------------------------------------
    def open(self, host: str, port: int, deadline: float) -> None:
        """Connect a new socket to ``host:port`` (each address in turn) by ``deadline`` (monotonic);
        the old one must be closed. ``TimeoutError`` past the deadline."""
        error: OSError | None = None
        for family, kind, proto, _name, addr in _addresses(host, port, deadline):
            sock = socket.socket(family, kind, proto)
            self._opening = sock
            try:
                sock.settimeout(_left(deadline))
                sock.connect(addr)
            except BaseException as exc:
                sock.close()
                if not isinstance(exc, OSError) or isinstance(exc, TimeoutError):
                    raise
                error = exc
                continue
            finally:
                self._opening = None
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.sock = sock
            return
        raise error or OSError(f"no address to connect to for {host}")

    def abort(self) -> None:
        """Any thread: end a connection being opened now (its blocking calls fail at once)."""
        for sock in (self._opening, None if self.live else self.sock):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def start_tls(self, context: ssl.SSLContext, hostname: str, deadline: float) -> None:
        """The TLS handshake over the open socket; from then on every read and write is encrypted."""
        sock = self.sock
        assert sock is not None
        in_bio, out_bio = self._in_bio, self._out_bio = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(in_bio, out_bio, server_hostname=hostname)
        while True:
            with self._lock:
                try:
                    tls.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                out = out_bio.read()
            if out:
                self.send_blocking(out, deadline, raw=True)
            if done:
                break
            data = self._recv_raw(deadline)
            if not data:
                raise ConnectionResetError("the server closed the connection during the TLS handshake")
            in_bio.write(data)
        # records the server sent behind its last handshake record wait in the BIO: the next
        # recv_blocking hands them over first
        self._tls = tls

    def _recv_raw(self, deadline: float) -> bytes:
        sock = self.sock
        if sock is None:
            raise ConnectionResetError("the connection was closed")
        sock.settimeout(_left(deadline))
        return sock.recv(READ_SIZE)

    def recv_blocking(self, deadline: float) -> bytes:
        """While the connection is set up: what the server sent next (decrypted), never empty."""
        if self._tls is not None:
            held = self._decrypt(b"")
            if held:
                return held
        while True:
            data = self._recv_raw(deadline)
            if not data:
                raise ConnectionResetError("the server closed the connection")
            if self._tls is not None:
                data = self._decrypt(data)
            if data:
                return data

    def send_blocking(self, data: bytes, deadline: float, raw: bool = False) -> None:
        """While the connection is set up: all of ``data``, in order. ``raw``: already encrypted."""
        sock = self.sock
        if sock is None:
            raise ConnectionResetError("the connection was closed")
        if self._tls is not None and not raw:
            with self._lock:
                data = self._encrypt(data)
        sock.settimeout(_left(deadline))
        sock.sendall(data)

    def go_live(self) -> None:
        """On the I/O thread: the connection is up; from now on the socket never blocks and
        callers may write into it."""
        sock = self.sock
        assert sock is not None
        sock.setblocking(False)
        self.live = True

    # -- reading (on the I/O thread, once the connection is up) ---------------------------------------
    def recv(self) -> bytes | None:
        """What one read gives (decrypted; may be empty); None when nothing is there yet.
        Raises ``ConnectionError`` or ``ssl.SSLError`` when the connection is gone."""
        sock = self.sock
        if sock is None:
            return None
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        if not data:
            raise ConnectionResetError("the server closed the connection")
        if self._tls is not None:
            return self._decrypt(data)
        return data

    def _decrypt(self, raw: bytes) -> bytes:
        tls, in_bio, out_bio = self._tls, self._in_bio, self._out_bio
        assert tls is not None and in_bio is not None and out_bio is not None
        parts = []
        with self._lock:
            if raw:
                in_bio.write(raw)
            while True:
                try:
                    chunk = tls.read(READ_SIZE)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:
                    raise ConnectionResetError("the server closed the TLS connection") from None
                if not chunk:
                    break
                parts.append(chunk)
            reply = out_bio.read()  # what reading produced for the server (a key update, an alert)
            if reply:
                self.send_locked(reply, raw=True)
        return b"".join(parts)

    def _encrypt(self, data: bytes | bytearray | memoryview | list[bytes]) -> bytes:
        """With the lock held: the TLS records for ``data`` (or its pieces, in order)."""
        tls, out_bio = self._tls, self._out_bio
        assert tls is not None and out_bio is not None
        if isinstance(data, list):
            for piece in data:
                tls.write(piece)
        else:
            tls.write(data)
        return out_bio.read()

    # -- writing (any thread) --------------------------------------------------------------------------
    def send_locked(self, data: bytes | bytearray | memoryview | list[bytes], raw: bool = False) -> bool:
        """With the lock held: into the kernel now if nothing is owed, the rest owed. True when
        the kernel took all of it at once. ``raw``: already encrypted. A list of pieces goes as
        if joined, in one ``sendmsg`` (not joined: a large payload is not copied)."""
        sock = self.sock
        if sock is None:
            return True
        if self._tls is not None and not raw:
            data = self._encrypt(data)
        parts: Sequence[bytes | bytearray | memoryview]
        if not isinstance(data, list):
            parts = (data,)
        elif self._owed or not _HAS_SENDMSG:
            parts = (b"".join(data),)  # behind what is owed (or no sendmsg: Windows)
        else:
            parts = data
        if self._owed:
            self._owed += parts[0]
            return False
        try:
            n = sock.send(parts[0]) if len(parts) == 1 else sock.sendmsg(parts)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            return True  # broken: the reader finds out and reconnects
        whole = True
        for part in parts:  # what the kernel did not take is owed, in order
            if n >= len(part):
                n -= len(part)
                continue
            self._owed += memoryview(part)[n:]
            n = 0
            whole = False
        if not whole:
            self._watch_writable()
        return whole

    def send(self, data: bytes) -> None:
        """Any thread: ``data`` behind everything written before it."""
        with self._lock:
            self.send_locked(data)

    def try_write(self, data: bytes | list[bytes]) -> bool:
        """Any thread: ``data`` into the socket now, if the connection is up and nothing is owed
        to it; False (nothing written) otherwise. Never waits for the lock."""
        if not self.live or self._owed:
            return False
        lock = self._lock
        if not lock.acquire(False):
            return False
        try:
            if self._owed or not self.live:
                return False
            self.direct_writes += 1
            if not self.send_locked(data):
                self.partial_writes += 1
            return True
        finally:
            lock.release()

    def write_waiting(self, data: bytes | list[bytes], timeout: float) -> bool:
        """Any thread: ``data`` into the socket as soon as nothing is owed to it, waiting at most
        ``timeout`` for the kernel to take what is owed and writing it meanwhile, so the caller is
        woken by the kernel rather than by the I/O thread. False (nothing written): the connection
        is not up, or the wait ran out; the caller queues ``data`` instead."""
        deadline = time.monotonic() + timeout
        lock = self._lock
        while True:
            sock = self.sock
            if not self.live or sock is None:
                return False
            with lock:
                if not self.live or self.sock is not sock:
                    return False
                if self._owed:
                    try:
                        del self._owed[: sock.send(self._owed)]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        return False  # broken: the reader finds out and reconnects; the caller queues
                if not self._owed:  # the I/O thread's watch ends at its next call, releasing drain waiters
                    self.direct_writes += 1
                    if not self.send_locked(data):
                        self.partial_writes += 1
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _wait_writable(sock, left)

    def write(self, chunks: collections.deque[bytes], force: bool) -> bool:
        """On the I/O thread: chunks from the left of ``chunks`` while the socket is not behind by
        :data:`HIGH_WATER` (all of them with ``force``); True when the caller should wait for
        :meth:`drain`. Nothing is taken while the connection is not up: the caller keeps it."""
        if not self.live:
            return False
        with self._lock:
            while chunks and (force or len(self._owed) < HIGH_WATER):
                self.send_locked(chunks.popleft())
            return bool(chunks) or len(self._owed) >= HIGH_WATER

    def _watch_writable(self) -> None:
        """With the lock held: the I/O thread writes what is owed when the socket drains."""
        if self._writing or self.loop is None:
            return
        self._writing = True
        with contextlib.suppress(RuntimeError):  # the loop is closing, and the connection with it
            self.loop.call_soon(self._start_writing, self.sock)

    def _start_writing(self, sock: socket.socket | None) -> None:
        if sock is not None and sock is self.sock and self.loop is not None:
            with contextlib.suppress(ValueError, OSError):  # closed meanwhile
                self.loop.add_writer(sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        sock = self.sock
        with self._lock:
            if sock is None:
                self._stop_writing()
                return
            if self._owed:
                try:
                    n = sock.send(self._owed)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    self._stop_writing()
                    return
                del self._owed[:n]
                if self._owed:
                    return
            self._stop_writing()  # nothing owed: written here, or by a caller's write_waiting
        self._release_drain_waiters()

    def _stop_writing(self) -> None:
        self._writing = False
        sock = self.sock
        if sock is not None and self.loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self.loop.remove_writer(sock.fileno())

    def _release_drain_waiters(self) -> None:
        waiters, self._drained = self._drained, []
        loop = self.loop
        for callback in waiters:
            if loop is None or loop.in_loop_thread():
                callback()
            else:
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                    loop.call_soon(callback)

    def when_drained(self, callback: Callable[[], object]) -> None:
        """On the I/O thread: ``callback()`` once nothing is owed to the socket (or it is closed)."""
        if not self._owed or self.sock is None:
            callback()
            return
        self._drained.append(callback)

    # -- closing -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the socket; what was owed to it is dropped with it. On the I/O thread once the
        connection is live (the loop watches the socket); on any thread while it is set up."""
        sock, self.sock = self.sock, None
        with self._lock:
            self.live = False
            self._owed.clear()
            self._writing = False
            self._tls = self._in_bio = self._out_bio = None
        if sock is not None:
            loop = self.loop
            if loop is not None and loop.in_loop_thread():
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_reader(sock.fileno())
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_writer(sock.fileno())
            with contextlib.suppress(OSError):
                sock.close()
        self._release_drain_waiters()


def _wait_writable(sock: socket.socket, timeout: float) -> None:
    """Until the kernel can take more of ``sock``'s output, at most ``timeout`` (or it is closed)."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            poller.poll(max(1, int(timeout * 1000)))
        else:  # Windows
            select.select([], [sock], [], timeout)
    except (OSError, ValueError):
        return  # closed meanwhile: the caller sees it


def _left(deadline: float) -> float:
    """What is left until ``deadline``; ``TimeoutError`` when nothing is."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no answer within the connect timeout")
    return left


def _addresses(host: str, port: int, deadline: float) -> list[Any]:
    """Where to connect: an IP address as it is; a name through the resolver, on a thread of its
    own so that a resolver that does not answer cannot hold the caller past ``deadline``."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 0, "", (host, port))]
    outcome: list[Any] = []
    done = threading.Event()

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    threading.Thread(target=resolve, name="nats-resolve", daemon=True).start()
    if not done.wait(_left(deadline)):
        raise TimeoutError(f"the name {host} was not resolved within the connect timeout")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return list(result)
