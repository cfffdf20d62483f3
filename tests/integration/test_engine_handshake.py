"""The engine's CONNECT options against a real nats-server, on a plain socket: read INFO, send
``CONNECT`` and ``PING``, and see ``PONG`` (accepted) or ``-ERR 'Authorization Violation'``
(refused), for user/password, token, NKey seed and a credentials file (operator mode)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from test_security import Operator, new_keypair

import beluga_nats_sync as bns
from beluga_nats_sync import Options
from beluga_nats_sync.engine.handshake import connect_options
from beluga_nats_sync.engine.pool import ServerPool
from beluga_nats_sync.protocol import PING_FRAME, frame_connect, parse_info
from beluga_nats_sync.server import EmbeddedServer

nkeys = pytest.importorskip("nkeys", reason="NKey and credentials tests need the nkeys package")

PASSWORD = "hs-Pa55word-4kq"
TOKEN = "hs-Tok3n-77z"
WRONG = "hs-Wrong-0x1"
DEADLINE = 5.0
MAX_LINE = 64 * 1024


class Wire:
    """One plain socket to a server, every read bounded by a deadline and a size."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        assert parsed.hostname is not None and parsed.port is not None
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=DEADLINE)
        self.buf = b""

    def line(self) -> bytes:
        deadline = time.monotonic() + DEADLINE
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no complete line from the server in {DEADLINE} s: {self.buf[:80]!r}"
            assert len(self.buf) < MAX_LINE, "the server sent a line longer than any it should"
            self.sock.settimeout(left)
            chunk = self.sock.recv(4096)
            if not chunk:
                return b""  # closed
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def close(self) -> None:
        self.sock.close()


def handshake(url: str, **options: Any) -> bytes:
    """What the server answers our CONNECT and PING with: ``PONG`` or its ``-ERR`` line."""
    o = Options(servers=url, **options)
    server = ServerPool(o).servers[0]
    wire = Wire(url)
    try:
        first = wire.line()
        assert first.startswith(b"INFO "), first[:80]
        info = parse_info(first[5:]).info
        wire.sock.sendall(frame_connect(connect_options(o, info, server, lang_version=bns.__version__)) + PING_FRAME)
        for _ in range(10):  # the server may send INFO updates before its answer
            line = wire.line()
            if not line.startswith(b"INFO "):
                return line
        raise AssertionError("ten lines and no answer to PING")
    finally:
        wire.close()


ACCEPTED = b"PONG"
REFUSED = b"-ERR 'Authorization Violation'"


@pytest.fixture(scope="module")
def nkey_seed() -> str:
    return new_keypair(nkeys.PREFIX_BYTE_USER)[1]


@pytest.fixture(scope="module")
def users_server(nkey_seed: str) -> Iterator[EmbeddedServer]:
    public = nkeys.from_seed(bytearray(nkey_seed.encode())).public_key.decode()
    conf = (
        f'authorization {{\n  users = [\n    {{user: alice, password: "{PASSWORD}"}}\n    {{nkey: {public}}}\n  ]\n}}\n'
    )
    with EmbeddedServer(config=conf, jetstream=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def token_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(config=f'authorization {{ token: "{TOKEN}" }}\n', jetstream=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def operator() -> Operator:
    return Operator.create()


@pytest.fixture(scope="module")
def operator_server(operator: Operator) -> Iterator[EmbeddedServer]:
    with EmbeddedServer(config=operator.config, jetstream=False) as srv:
        yield srv


def with_userinfo(url: str, userinfo: str) -> str:
    return url.replace("nats://", f"nats://{userinfo}@")


def test_no_auth_server_accepts_the_plain_connect(nats_server: EmbeddedServer) -> None:
    assert handshake(nats_server.url, name="engine-handshake", no_echo=True) == ACCEPTED


def test_user_and_password(users_server: EmbeddedServer) -> None:
    url = users_server.url
    assert handshake(url, user="alice", password=PASSWORD) == ACCEPTED
    assert handshake(with_userinfo(url, f"alice:{PASSWORD}")) == ACCEPTED
    assert handshake(url, user="alice", password=WRONG) == REFUSED
    assert handshake(with_userinfo(url, f"alice:{WRONG}")) == REFUSED
    assert handshake(url) == REFUSED


def test_token(token_server: EmbeddedServer) -> None:
    url = token_server.url
    assert handshake(url, token=TOKEN) == ACCEPTED
    assert handshake(with_userinfo(url, TOKEN)) == ACCEPTED
    assert handshake(with_userinfo(url, WRONG), token=TOKEN) == ACCEPTED  # the options' token comes first
    assert handshake(url, token=WRONG) == REFUSED


def test_nkey_seed(users_server: EmbeddedServer, nkey_seed: str, tmp_path: Path) -> None:
    url = users_server.url
    assert handshake(url, nkeys_seed_str=nkey_seed) == ACCEPTED
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(nkey_seed + "\n")
    assert handshake(url, nkeys_seed=seed_file) == ACCEPTED
    stranger = new_keypair(nkeys.PREFIX_BYTE_USER)[1]
    assert handshake(url, nkeys_seed_str=stranger) == REFUSED


def test_credentials_file(operator: Operator, operator_server: EmbeddedServer, tmp_path: Path) -> None:
    creds, _ = operator.user_creds(tmp_path / "agent.creds")
    assert handshake(operator_server.url, user_credentials=creds) == ACCEPTED
    stranger, _ = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)  # an account the operator never signed
    bad, _ = operator.user_creds(tmp_path / "bad.creds", signer=stranger)
    assert handshake(operator_server.url, user_credentials=bad) == REFUSED


def test_tls_asked_of_a_server_without_tls_is_refused_before_connect(nats_server: EmbeddedServer) -> None:
    with pytest.raises(bns.ConnectError, match="does not offer TLS"):
        handshake(nats_server.url.replace("nats://", "tls://"), user="alice", password=PASSWORD)
