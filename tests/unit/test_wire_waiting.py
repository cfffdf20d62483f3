"""The wire's waiting direct write, over a socket pair (no server): a large command from a caller's
thread waits for the kernel to take what is owed to the socket, writes that first, then itself."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from beluga_nats_sync.engine.wire import Wire


@pytest.fixture
def pair() -> Iterator[tuple[Wire, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    wire = Wire()
    wire.sock, wire.live = ours, True  # no I/O loop: what is owed waits for write_waiting alone
    yield wire, theirs
    wire.close()
    theirs.close()


def fill(wire: Wire) -> bytes:
    """Write until the kernel takes a command only in part: the rest is owed. Returns all written."""
    sent = bytearray()
    for i in range(10_000):  # bounded: the socket's buffers are far smaller
        chunk = bytes([i % 251]) * 256 * 1024
        sent += chunk
        wire.send(chunk)
        if wire.owed:
            return bytes(sent)
    raise AssertionError("the socket never filled up")


def read_all(sock: socket.socket, n: int, out: bytearray) -> None:
    sock.settimeout(10.0)
    while len(out) < n:
        data = sock.recv(1 << 20)
        if not data:
            return
        out += data


def test_a_large_write_waits_for_what_is_owed_and_goes_after_it(pair: tuple[Wire, socket.socket]) -> None:
    wire, theirs = pair
    before = fill(wire)
    mine = b"M" * (1 << 20)
    got = bytearray()
    reader = threading.Thread(target=read_all, args=(theirs, len(before) + len(mine), got))
    reader.start()
    assert wire.write_waiting(mine, 10.0)  # the reader drains the socket; this thread writes the rest
    for _ in range(1000):  # what the kernel did not take of it is owed, written by later calls
        if not wire.owed:
            break
        assert wire.write_waiting(b"", 10.0)
    reader.join(10.0)
    assert bytes(got) == before + mine


def test_a_large_write_gives_up_after_its_wait_with_nothing_written(pair: tuple[Wire, socket.socket]) -> None:
    wire, _theirs = pair
    fill(wire)
    owed = wire.owed
    t0 = time.monotonic()
    assert not wire.write_waiting(b"M" * 1024, 0.05)  # nobody reads: the kernel takes nothing more
    assert 0.04 <= time.monotonic() - t0 < 5.0
    assert wire.owed == owed  # nothing of it was written or owed: the caller queues it


def test_a_large_write_on_a_connection_that_is_not_up_is_refused(pair: tuple[Wire, socket.socket]) -> None:
    wire, _theirs = pair
    wire.live = False
    assert not wire.write_waiting(b"M", 1.0)


def test_pieces_go_out_as_if_joined_and_what_the_kernel_leaves_is_owed_in_order(
    pair: tuple[Wire, socket.socket],
) -> None:
    """A large PUB is handed over as its line, payload and CRLF (one ``sendmsg``, no copy of the
    payload): the kernel takes part of it, the rest is owed, and what is written next goes after."""
    wire, theirs = pair
    head, payload = b"PUB big 2097152\r\n", bytes(range(256)) * 8192
    assert wire.try_write([head, payload, b"\r\n"])
    assert wire.owed > 0  # 2 MiB do not fit in a 64 KiB send buffer
    after = b"PUB next 1\r\nx\r\n"
    expected = head + payload + b"\r\n" + after
    got = bytearray()
    reader = threading.Thread(target=read_all, args=(theirs, len(expected), got))
    reader.start()
    assert wire.write_waiting([after], 10.0)  # waits for what is owed, writes it, then itself
    for _ in range(1000):
        if not wire.owed:
            break
        assert wire.write_waiting(b"", 10.0)
    reader.join(10.0)
    assert bytes(got) == expected
