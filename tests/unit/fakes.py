"""A fake transport behind the engine's interface (``_core/transport.py``): an in-memory NATS "server" for one client.

It parses the PUB/HPUB commands the core writes and delivers them to the fake's subscriptions
(literal subjects, ``*`` and ``>`` wildcards), so the core's machinery (outbox, router,
subscriptions, dispatchers, connection states) runs for real with no server and no socket.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from typing import Any

from beluga_nats_sync._core.options import Options
from beluga_nats_sync._core.transport import Deliver, TransportEvents
from beluga_nats_sync.protocol.headers import Headers, Status

from helpers import subject_matches


def parse_headers(block: bytes) -> dict[str, str]:
    lines = block.decode().split("\r\n")[1:]
    out = {}
    for line in lines:
        if line:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


class FakeTransport:
    """Implements :class:`beluga_nats_sync._core.transport.Transport` in memory."""

    def __init__(self, options: Options, events: TransportEvents, *, fail_connect: BaseException | None = None) -> None:
        self.options = options
        self.events = events
        self.fail_connect = fail_connect
        self.connected = False
        self.subs: dict[int, tuple[str, Deliver, int]] = {}
        self.next_sid = 1
        self.written: list[bytes] = []
        self.congested_after: int | None = None  # chunks accepted before reporting congestion
        #: whether direct writes (try_write) are taken; refused (False) by default
        self.direct = False
        #: set: write() stops (bounded) after taking its first chunk, until the gate opens
        self.write_gate: threading.Event | None = None
        self.in_write = threading.Event()
        #: True: when_drained waits until release() (a congested socket that stays congested)
        self.hold_drain = False
        self._drain_waiters: list[Any] = []
        self.payload_limit = 1024
        self.direct_calls = 0
        self.direct_written: list[bytes] = []  # what direct writes took, in order
        self._lock = threading.Lock()  # as the real transport's write lock: one writer at a time
        self._loop = events.loop
        self.pings = 0
        self.closed = False
        self.in_msgs = 0
        self.in_bytes = 0
        self._buf = b""

    # -- the Transport protocol ----------------------------------------------------------------
    def connect(self, timeout: float) -> bool:
        if self.fail_connect is not None:
            raise self.fail_connect

        def up() -> None:
            self.connected = True
            self.events.on_connected()

        self._loop.run(up, timeout, "connect")
        return True

    @property
    def is_connected(self) -> bool:
        return self.connected

    @property
    def max_payload(self) -> int:
        return self.payload_limit

    @property
    def max_control_line(self) -> int:
        return 256

    @property
    def connected_address(self) -> tuple[str, str, int] | None:
        return ("nats", "127.0.0.1", 4222) if self.connected else None

    def counters(self) -> tuple[int, int, int]:
        return self.in_msgs, self.in_bytes, 0

    def try_write(self, data: bytes | list[bytes]) -> bool:
        self.direct_calls += 1
        if isinstance(data, list):  # pieces written as if joined
            data = b"".join(data)
        if not self.direct or not self.connected:
            return False
        with self._lock:
            self.written.append(data)
            self.direct_written.append(data)
            self._buf += data
        self._loop.call_soon(self._route)  # deliveries happen on the I/O thread
        return True

    def write_waiting(self, data: bytes | list[bytes], timeout: float) -> bool:
        return self.try_write(data)

    def write(self, chunks: collections.deque[bytes], force: bool) -> bool:
        taken = 0
        while chunks:
            if not force and self.congested_after is not None and taken >= self.congested_after:
                return True
            data = chunks.popleft()
            taken += 1
            if self.write_gate is not None:  # the chunk is in nobody's hands but this call's
                self.in_write.set()
                assert self.write_gate.wait(5.0), "the test never opened the write gate"
            with self._lock:
                self.written.append(data)
                self._buf += data
            self._route()
        return False

    @property
    def wire(self) -> bytes:
        """Everything written so far, in the order it reached the "socket"."""
        return b"".join(self.written)

    def when_drained(self, callback: Any) -> None:
        if self.hold_drain:
            self._drain_waiters.append(callback)
            return
        self.congested_after = None
        callback()

    def release(self) -> None:
        """Any thread: let a held when_drained finish."""

        def go() -> None:
            self.congested_after = None
            waiters, self._drain_waiters = self._drain_waiters, []
            for callback in waiters:
                callback()

        self._loop.call_soon(go)

    def ping(self, timeout: float) -> None:
        self.pings += 1

    def subscribe(self, subject: str, queue: str, deliver: Deliver) -> int:
        sid = self.next_sid
        self.next_sid += 1
        self.subs[sid] = (subject, deliver, 0)
        return sid

    def unsubscribe(self, sid: int, limit: int = 0) -> None:
        if limit == 0:
            self.subs.pop(sid, None)

    def drain_subscription(self, sid: int, timeout: float) -> None:
        self._loop.run(lambda: self.subs.pop(sid, None), timeout, "drain")

    def close(self, timeout: float) -> None:
        self.closed = True
        self.connected = False

    def jetstream(self) -> Any:
        raise NotImplementedError("no JetStream in the fake")

    # -- the fake "server" ---------------------------------------------------------------------------
    def _route(self) -> None:
        while True:
            with self._lock:
                cmd = self._next_command()
            if cmd is None:
                return
            self.deliver(*cmd)

    def _next_command(self) -> tuple[str, bytes, str, Mapping[str, str] | None] | None:
        if b"\r\n" not in self._buf:
            return None
        line, rest = self._buf.split(b"\r\n", 1)
        parts = line.decode().split(" ")
        if parts[0] == "PUB":
            subject, reply, size = parts[1], (parts[2] if len(parts) == 4 else ""), int(parts[-1])
            if len(rest) < size + 2:
                return None
            self._buf = rest[size + 2 :]
            return subject, rest[:size], reply, None
        if parts[0] == "HPUB":
            subject, reply = parts[1], (parts[2] if len(parts) == 5 else "")
            hsize, total = int(parts[-2]), int(parts[-1])
            if len(rest) < total + 2:
                return None
            self._buf = rest[total + 2 :]
            return subject, rest[hsize:total], reply, parse_headers(rest[:hsize])
        raise AssertionError(f"the core wrote an unexpected command: {line!r}")

    def deliver(self, subject: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        """Hand a message to every matching subscription (as the transport would, on the I/O thread)."""
        matched = False
        for pattern, deliver, _ in list(self.subs.values()):
            if subject_matches(pattern, subject):
                matched = True
                self.in_msgs += 1
                self.in_bytes += len(data)
                deliver(subject, data, reply, headers)
        if not matched and reply:  # as the server does for a request nobody listens to
            self.deliver(reply, b"", "", Headers({"Status": "503"}, status=Status(503)))

    def deliver_threadsafe(self, loop: Any, *args: Any) -> None:
        loop.call_soon(self.deliver, *args)
