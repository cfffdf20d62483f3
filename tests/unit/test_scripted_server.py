"""The scripted server the fault tests use, checked with raw sockets (no client library): the
handshake, the echo, each scripted fault reaching the socket as scripted, and a stop that leaves
no thread and no socket behind."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from helpers import wait_for
from scripted_server import (
    MAX_LINE,
    MAX_STEP_BYTES,
    Close,
    Deliver,
    Flood,
    Script,
    ScriptedServer,
    Send,
    Trickle,
    info_line,
)

_opened: list[socket.socket] = []


@pytest.fixture(autouse=True)
def close_raw_sockets() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


class Raw:
    """A blocking socket to the scripted server, reading with deadlines (closed after the test)."""

    def __init__(self, srv: ScriptedServer) -> None:
        self.sock = socket.create_connection((srv.host, srv.port), timeout=5.0)
        _opened.append(self.sock)
        self.buf = b""

    def read_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Everything up to and including ``marker``."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} within {timeout} s; got {self.buf[:200]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed before {marker!r}; got {self.buf[:200]!r}")
            self.buf += chunk
        end = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def read_all(self, timeout: float = 5.0, limit: int = 64 << 20) -> bytes:
        """Everything until the server closes the connection."""
        deadline = time.monotonic() + timeout
        data = self.buf
        while len(data) < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the server did not close within {timeout} s")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return data
            data += chunk
        raise AssertionError("more than the limit")

    def handshake(self) -> bytes:
        """Read INFO, send CONNECT and PING; return what came before the PONG."""
        self.read_until(b"\r\n")
        self.sock.sendall(b'CONNECT {"verbose":false,"echo":true}\r\nPING\r\n')
        return self.read_until(b"PONG\r\n")[: -len(b"PONG\r\n")]

    def close(self) -> None:
        self.sock.close()


def test_handshake_records_connect_and_ping() -> None:
    with ScriptedServer() as srv:
        raw = Raw(srv)
        info = raw.read_until(b"\r\n")
        assert info.startswith(b"INFO ") and json.loads(info[5:])["max_payload"] == 1 << 20
        raw.sock.sendall(b'CONNECT {"verbose":false,"name":"x"}\r\nPING\r\n')
        assert raw.read_until(b"\r\n") == b"PONG\r\n"
        srv.wait_for_handshakes(1)
        (connect,) = srv.commands_of("CONNECT")
        assert connect.connect == {"verbose": False, "name": "x"} and connect.conn == 0
        assert srv.connections == 1 and srv.url == f"nats://127.0.0.1:{srv.port}"
        raw.close()
        srv.wait_until(lambda s: s.closed_connections == 1, what="the close")


def test_pub_is_echoed_to_matching_subscriptions_with_headers_and_queue_groups() -> None:
    with ScriptedServer() as srv:
        a, b = Raw(srv), Raw(srv)
        a.handshake()
        b.handshake()
        a.sock.sendall(b"SUB foo.* 1\r\nSUB foo.> q 2\r\nSUB bar 3\r\nPING\r\n")
        a.read_until(b"PONG\r\n")
        b.sock.sendall(b"SUB foo.> q 7\r\nPING\r\n")
        b.read_until(b"PONG\r\n")
        b.sock.sendall(b"PUB foo.x r 5\r\nhello\r\nHPUB foo.y 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n")
        b.read_until(b"PONG\r\n")
        got = a.read_until(b"HMSG foo.y 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
        # the queue group "q" is served once per message: by its first member, on a
        assert got.startswith(b"MSG foo.x 1 r 5\r\nhello\r\nMSG foo.x 2 r 5\r\nhello\r\n"), got
        assert b"MSG" not in b.buf
        pubs = srv.commands_of("PUB")
        assert [(c.args, c.payload) for c in pubs] == [(("foo.x", "r", "5"), b"hello")]
        assert srv.commands_of("HPUB")[0].payload == b"NATS/1.0\r\n\r\nhi"
        a.close()
        b.close()


def test_a_payload_over_the_limit_is_refused_and_the_connection_closed() -> None:
    with ScriptedServer() as srv:
        raw = Raw(srv)
        raw.handshake()
        raw.sock.sendall(b"PUB foo 99999999\r\n")
        assert raw.read_all().startswith(b"-ERR 'Maximum Payload Violation'")


def test_raw_bytes_at_each_moment_reach_the_socket_in_order() -> None:
    script = Script(
        on_connect=[Send(b"+OK\r\n")],
        on_connect_ping=[Send(info_line({"connect_urls": ["not a url"]}))],
        on_handshake=[Send(b"PING\r\n")],
        on_sub=[Send(b"-ERR 'sub'\r\n")],
        on_pub={"poke": [Send(b"MSG \xff\xfe 1 2\r\nhi\r\n")]},
    )
    with ScriptedServer(script) as srv:
        raw = Raw(srv)
        assert raw.read_until(b"+OK\r\n").startswith(b"INFO {")
        raw.sock.sendall(b"CONNECT {}\r\nPING\r\n")
        assert raw.read_until(b"PONG\r\n") == b'INFO {"connect_urls": ["not a url"]}\r\nPONG\r\n'
        assert raw.read_until(b"PING\r\n") == b"PING\r\n"
        raw.sock.sendall(b"SUB a 1\r\n")
        assert raw.read_until(b"\r\n") == b"-ERR 'sub'\r\n"
        raw.sock.sendall(b"PUB other 0\r\n\r\nPUB poke 0\r\n\r\n")
        assert raw.read_until(b"hi\r\n") == b"MSG \xff\xfe 1 2\r\nhi\r\n"


def test_a_raw_info_replaces_the_default_and_scripts_apply_per_connection() -> None:
    with ScriptedServer([Script(info=b"INFO [1, 2]\r\n"), Script(info={"max_payload": 1e400})]) as srv:
        first, second, third = Raw(srv), Raw(srv), Raw(srv)
        assert first.read_until(b"\r\n") == b"INFO [1, 2]\r\n"
        assert second.read_until(b"\r\n") == b'INFO {"max_payload": Infinity}\r\n'
        assert json.loads(third.read_until(b"\r\n")[5:])["server_id"] == "SCRIPTED"  # past the list: a plain Script


def test_no_handshake_pong_leaves_every_ping_unanswered() -> None:
    with ScriptedServer(Script(handshake_pong=False, on_connect_ping=[Send(b"+OK\r\n")])) as srv:
        raw = Raw(srv)
        raw.read_until(b"\r\n")
        raw.sock.sendall(b"CONNECT {}\r\nPING\r\nPING\r\n")
        srv.wait_until(lambda s: len(s.commands_of("PING")) == 2, what="two PINGs")
        raw.sock.settimeout(0.3)
        data = b""
        with pytest.raises(TimeoutError):
            for _ in range(10):
                data += raw.sock.recv(100)
        assert data == b"+OK\r\n+OK\r\n"  # the scripted step ran on each handshake PING, no PONG came
        assert srv.handshakes == 0


def test_no_pong_after_the_handshake() -> None:
    with ScriptedServer(Script(pong=False)) as srv:
        raw = Raw(srv)
        raw.handshake()
        raw.sock.sendall(b"PING\r\n")
        srv.wait_until(lambda s: len(s.commands_of("PING")) == 2, what="the second PING")
        raw.sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            raw.sock.recv(100)


def test_close_mid_frame_sends_the_half_frame_then_closes() -> None:
    with ScriptedServer(Script(on_pub={"boom": [Send(b"MSG boom 1 100\r\nabc"), Close()]})) as srv:
        raw = Raw(srv)
        raw.handshake()
        raw.sock.sendall(b"PUB boom 0\r\n\r\n")
        assert raw.read_all() == b"MSG boom 1 100\r\nabc"
        srv.wait_until(lambda s: s.closed_connections == 1, what="the close")


@pytest.mark.parametrize("frame", [b"PING\r\n", b"-ERR 'x'\r\n"])
def test_a_flood_sends_exactly_its_count(frame: bytes) -> None:
    with ScriptedServer(Script(on_handshake=[Flood(frame, 50_000), Close()])) as srv:
        raw = Raw(srv)
        raw.handshake()
        assert raw.read_all() == frame * 50_000
        assert srv.handshakes == 1


def test_a_flood_is_capped_at_the_step_limit() -> None:
    frame = b"-ERR '" + b"x" * 1000 + b"'\r\n"
    with ScriptedServer(Script(on_handshake=[Flood(frame, 10**9), Close()])) as srv:
        raw = Raw(srv)
        raw.handshake()
        data = raw.read_all(timeout=20.0)
        assert len(data) == (MAX_STEP_BYTES // len(frame)) * len(frame)


def test_a_trickle_arrives_in_pieces_and_stops_when_the_server_stops() -> None:
    srv = ScriptedServer(Script(on_handshake=[Send(b"MSG a 1 1000000000\r\n"), Trickle(b"x" * 1_000_000, 100, 0.01)]))
    raw = Raw(srv)
    raw.handshake()
    got = raw.read_until(b"xxxxxxxxxx" * 30)  # 300 bytes of payload: at least three chunks
    assert got.startswith(b"MSG a 1 1000000000\r\n")
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 2.0  # the trickle saw the stop; it had 10,000 chunks to go
    assert srv.threads() == []
    assert len(raw.read_all()) < 1_000_000
    raw.close()


def test_deliver_sends_msg_and_hmsg_to_matching_subscriptions() -> None:
    script = Script(on_sub=[Deliver("x.y", b"hi", reply="r"), Deliver("x.y", b"p", headers=b"NATS/1")])
    with ScriptedServer(script) as srv:
        raw = Raw(srv)
        raw.handshake()
        raw.sock.sendall(b"SUB x.* 9\r\n")
        assert raw.read_until(b"p\r\n") == b"MSG x.y 9 r 2\r\nhi\r\nHMSG x.y 9 6 7\r\nNATS/1p\r\n"


def test_send_writes_now_on_the_newest_connection() -> None:
    with ScriptedServer() as srv:
        raw = Raw(srv)
        raw.handshake()
        srv.send(b"PING\r\n")
        assert raw.read_until(b"\r\n") == b"PING\r\n"
        raw.sock.sendall(b"PONG\r\n")
        srv.wait_until(lambda s: bool(s.commands_of("PONG")), what="the PONG")


def test_a_line_without_crlf_from_the_client_is_bounded() -> None:
    with ScriptedServer() as srv:
        raw = Raw(srv)
        raw.handshake()
        # just past the limit, and nothing after it: the server reads it all before it closes, so
        # the close is a FIN (unread data would turn it into a reset that can overtake the -ERR)
        raw.sock.sendall(b"x" * (MAX_LINE + 100))
        assert raw.read_all().startswith(b"-ERR 'Maximum Control Line Exceeded'")


def test_stop_leaves_no_thread_and_closes_every_socket() -> None:
    before = set(threading.enumerate())
    srv = ScriptedServer()
    clients = [Raw(srv) for _ in range(3)]
    for c in clients:
        c.handshake()
    srv.wait_for_handshakes(3)
    assert len(srv.threads()) == 4  # the acceptor and one per connection
    srv.stop()
    srv.stop()  # idempotent
    assert srv.threads() == []
    assert [t for t in threading.enumerate() if t not in before] == []
    for c in clients:
        assert c.read_all(timeout=2.0) == b""  # closed by the server
        c.close()
    with pytest.raises(OSError):
        _opened.append(socket.create_connection((srv.host, srv.port), timeout=1.0))


def test_wait_until_fails_past_its_timeout() -> None:
    with ScriptedServer() as srv, pytest.raises(AssertionError, match="timed out after 0.1 s waiting for 9"):
        srv.wait_until(lambda s: s.connections == 9, 0.1, "9")
    wait_for(lambda: srv.threads() == [], 1.0, "the threads")
