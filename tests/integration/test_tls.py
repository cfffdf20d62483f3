"""TLS against real nats-server configs: verification on by default, mutual TLS, clear failures.

Certificates are made for each test session with trustme; no key is kept in the repository.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trustme

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for


@attrs.frozen
class Certs:
    ca: trustme.CA
    ca_file: str
    other_ca_file: str  # a CA that signed nothing the server uses
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    client_combined: str  # certificate and key in one file
    stranger_cert: str  # a client certificate from the other CA
    stranger_key: str


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("certs")
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("agent-1@example.org")
    stranger = other.issue_cert("mallory@example.org")

    def write(name: str, blob: trustme.Blob) -> str:
        path = d / name
        blob.write_to_path(str(path))
        return str(path)

    return Certs(
        ca=ca,
        ca_file=write("ca.pem", ca.cert_pem),
        other_ca_file=write("other-ca.pem", other.cert_pem),
        server_cert=write("server.pem", server.cert_chain_pems[0]),
        server_key=write("server.key", server.private_key_pem),
        client_cert=write("client.pem", client.cert_chain_pems[0]),
        client_key=write("client.key", client.private_key_pem),
        client_combined=write("client-combined.pem", client.private_key_and_cert_chain_pem),
        stranger_cert=write("stranger.pem", stranger.cert_chain_pems[0]),
        stranger_key=write("stranger.key", stranger.private_key_pem),
    )


def _tls_block(c: Certs, extra: str = "") -> str:
    return f'tls {{\n  cert_file: "{c.server_cert}"\n  key_file: "{c.server_key}"\n  {extra}\n}}\n'


@pytest.fixture(scope="module")
def tls_server(certs: Certs) -> Iterator[EmbeddedServer]:
    with EmbeddedServer(config=_tls_block(certs), jetstream=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def mtls_server(certs: Certs) -> Iterator[EmbeddedServer]:
    block = _tls_block(certs, f'ca_file: "{certs.ca_file}"\n  verify: true')
    with EmbeddedServer(config=block, jetstream=False) as srv:
        yield srv


def tls_url(srv: EmbeddedServer) -> str:
    return srv.url.replace("nats://", "tls://")


def round_trip(nc: bns.Client, subject: str = "tls.echo") -> None:
    sub = nc.subscribe(subject)
    nc.publish(subject, b"over tls")
    assert sub.next_msg(timeout=5.0).data == b"over tls"


# -- verification of the server -----------------------------------------------------------------
def test_tls_url_with_ca_file(tls_server: EmbeddedServer, certs: Certs) -> None:
    # the server requires TLS of every client: a round trip proves the connection is encrypted
    with bns.connect(tls_url(tls_server), tls_ca_file=certs.ca_file, timeout=5.0) as nc:
        round_trip(nc)
        assert nc.connected_url == tls_url(tls_server)


def test_tls_with_an_ssl_context(tls_server: EmbeddedServer, certs: Certs) -> None:
    ctx = ssl.create_default_context()
    certs.ca.configure_trust(ctx)
    with bns.connect(tls_url(tls_server), tls=ctx, timeout=5.0) as nc:
        round_trip(nc)


def test_nats_url_with_tls_options_is_encrypted_too(tls_server: EmbeddedServer, certs: Certs) -> None:
    with bns.connect(tls_server.url, tls_ca_file=Path(certs.ca_file), timeout=5.0) as nc:
        round_trip(nc)


def test_certificate_signed_by_an_unknown_ca_is_refused_clearly(tls_server: EmbeddedServer, certs: Certs) -> None:
    # the default: the system's CAs, which never signed this test CA
    started = time.monotonic()
    with pytest.raises(bns.ConnectError) as info:
        bns.connect(tls_url(tls_server), timeout=5.0, connect_timeout=5.0)
    assert time.monotonic() - started < 4.0
    text = str(info.value)
    assert "certificate did not verify" in text
    assert tls_url(tls_server) in text
    assert "tls_ca_file" in text  # says what to do
    assert not isinstance(info.value, bns.AuthorizationError)

    with pytest.raises(bns.ConnectError, match="certificate did not verify"):
        bns.connect(tls_url(tls_server), tls_ca_file=certs.other_ca_file, timeout=5.0)


def test_plain_url_to_a_tls_server_still_verifies(tls_server: EmbeddedServer) -> None:
    # the server asks for TLS; the upgrade uses the system's CAs, which refuse this certificate
    with pytest.raises(bns.ConnectError, match="certificate did not verify"):
        bns.connect(tls_server.url, timeout=5.0)


def test_host_name_is_checked(tls_server: EmbeddedServer, certs: Certs) -> None:
    with pytest.raises(bns.ConnectError, match="certificate did not verify") as info:
        bns.connect(tls_url(tls_server), tls_ca_file=certs.ca_file, tls_hostname="nats.example.org", timeout=5.0)
    assert "tls_hostname" in str(info.value)
    # a name the certificate carries, while connecting by address
    with bns.connect(tls_url(tls_server), tls_ca_file=certs.ca_file, tls_hostname="localhost", timeout=5.0) as nc:
        round_trip(nc)


# -- mutual TLS ---------------------------------------------------------------------------------
def test_mutual_tls(mtls_server: EmbeddedServer, certs: Certs) -> None:
    opts = {"tls_ca_file": certs.ca_file, "timeout": 5.0}
    with bns.connect(
        tls_url(mtls_server), tls_cert_file=certs.client_cert, tls_key_file=certs.client_key, **opts
    ) as nc:
        round_trip(nc, "mtls.echo")
    with bns.connect(tls_url(mtls_server), tls_cert_file=certs.client_combined, **opts) as nc:
        round_trip(nc, "mtls.echo")


def test_mutual_tls_without_a_client_certificate_fails_clearly(mtls_server: EmbeddedServer, certs: Certs) -> None:
    with pytest.raises(bns.ConnectError) as info:
        bns.connect(tls_url(mtls_server), tls_ca_file=certs.ca_file, timeout=5.0)
    assert "client certificate" in str(info.value)
    assert tls_url(mtls_server) in str(info.value)


def test_mutual_tls_with_a_stranger_certificate_fails(mtls_server: EmbeddedServer, certs: Certs) -> None:
    with pytest.raises(bns.ConnectError) as info:
        bns.connect(
            tls_url(mtls_server),
            tls_ca_file=certs.ca_file,
            tls_cert_file=certs.stranger_cert,
            tls_key_file=certs.stranger_key,
            timeout=5.0,
        )
    assert "client certificate" in str(info.value)


# -- TLS asked for: never plaintext -------------------------------------------------------------
def test_tls_url_to_a_plain_server_is_refused_before_sending_credentials(certs: Certs) -> None:
    conf = 'authorization { user: alice, password: "pa55-alice-tls" }\n'
    with EmbeddedServer(config=conf, jetstream=False, args=["-V"]) as srv:  # -V: the server traces CONNECT
        with pytest.raises(bns.ConnectError) as info:
            bns.connect(tls_url(srv), user="alice", password="pa55-alice-tls", timeout=5.0)
        assert "does not offer TLS" in str(info.value)
        assert "nothing was sent" in str(info.value)
        assert "CONNECT" not in srv.log_text()
        with pytest.raises(bns.ConnectError, match="does not offer TLS"):
            bns.connect(srv.url, tls_ca_file=certs.ca_file, user="alice", password="pa55-alice-tls", timeout=5.0)
        assert "CONNECT" not in srv.log_text()
        # the control: a plain connection is traced, so the checks above can fail
        with bns.connect(srv.url, user="alice", password="pa55-alice-tls", timeout=5.0) as nc:
            nc.flush(timeout=5.0)
        assert "CONNECT" in srv.log_text()


def _monitor_port(srv: EmbeddedServer) -> int:
    m = re.search(r"Starting http monitor on [^:]+:(\d+)", srv.log_text())
    assert m, "the server did not start its monitor"
    return int(m.group(1))


def test_server_where_tls_is_optional_is_used_with_tls(certs: Certs) -> None:
    conf = _tls_block(certs) + "allow_non_tls: true\n"
    with EmbeddedServer(config=conf, jetstream=False, args=["-m", "-1"]) as srv:
        port = _monitor_port(srv)
        with (
            bns.connect(tls_url(srv), tls_ca_file=certs.ca_file, name="secure", timeout=5.0) as secure,
            bns.connect(srv.url, name="plain", timeout=5.0) as plain,
        ):
            round_trip(secure, "optional.tls")
            round_trip(plain, "optional.plain")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/connz", timeout=5.0) as resp:
                conns = {c["name"]: c for c in json.load(resp)["connections"]}
        assert conns["secure"].get("tls_version")
        assert not conns["plain"].get("tls_version")


def test_tls_handshake_first(certs: Certs) -> None:
    with EmbeddedServer(config=_tls_block(certs, "handshake_first: true"), jetstream=False) as srv:
        nc = bns.connect(tls_url(srv), tls_ca_file=certs.ca_file, tls_handshake_first=True, timeout=5.0)
        try:
            round_trip(nc)
        finally:
            nc.close()


# -- options ------------------------------------------------------------------------------------
def test_tls_files_are_checked_when_the_options_are_made(certs: Certs, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    for name in ("tls_ca_file", "tls_cert_file"):
        with pytest.raises(ValueError, match=f"{name}: no such file"):
            bns.Options(**{name: missing})
    with pytest.raises(ValueError, match="tls_key_file: no such file"):
        bns.Options(tls_cert_file=certs.client_cert, tls_key_file=missing)
    with pytest.raises(ValueError, match="tls_key_file: a client key needs its certificate"):
        bns.Options(tls_key_file=certs.client_key)
    with pytest.raises(ValueError, match="tls: give either an ssl.SSLContext"):
        bns.Options(tls=ssl.create_default_context(), tls_ca_file=certs.ca_file)
    with pytest.raises(TypeError, match="tls_ca_file must be a file path"):
        bns.Options(tls_ca_file=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tls must be an ssl.SSLContext"):
        bns.Options(tls=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tls_handshake_first must be a bool"):
        bns.Options(tls_handshake_first="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tls_hostname"):
        bns.Options(tls_hostname="")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(ValueError, match="tls_ca_file: .* holds no PEM CA certificate"):
        bns.Options(tls_ca_file=str(not_pem))
    with pytest.raises(ValueError, match="tls_cert_file/tls_key_file: cannot load"):
        bns.Options(tls_cert_file=certs.client_cert, tls_key_file=certs.stranger_key)  # key of another cert


def test_encrypted_client_key(certs: Certs, tmp_path: Path, mtls_server: EmbeddedServer) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(certs.client_key).read_bytes(), None)
    encrypted = tmp_path / "client-encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-pa55phrase"),
        )
    )
    # without a password OpenSSL would prompt on the terminal; we refuse at once instead
    with pytest.raises(ValueError, match="tls_key_password"):
        bns.Options(tls_cert_file=certs.client_cert, tls_key_file=str(encrypted))
    with pytest.raises(ValueError, match="tls_key_password is wrong"):
        bns.Options(tls_cert_file=certs.client_cert, tls_key_file=str(encrypted), tls_key_password="nope")
    with pytest.raises(ValueError, match="tls_key_password: there is no client key"):
        bns.Options(tls_key_password="key-pa55phrase")
    opts = bns.Options(
        servers=tls_url(mtls_server),
        tls_ca_file=certs.ca_file,
        tls_cert_file=certs.client_cert,
        tls_key_file=str(encrypted),
        tls_key_password="key-pa55phrase",
    )
    assert "key-pa55phrase" not in repr(opts)
    with bns.Client(options=opts).connect(timeout=5.0) as nc:
        round_trip(nc, "mtls.encrypted")


def test_reconnect_to_a_server_without_tls_is_refused(certs: Certs) -> None:
    errors: list[BaseException] = []
    tls_srv = EmbeddedServer(config=_tls_block(certs), jetstream=False).start()
    port = tls_srv.port
    nc = bns.connect(
        tls_url(tls_srv), tls_ca_file=certs.ca_file, error_cb=errors.append, reconnect_wait=0.05, timeout=5.0
    )
    try:
        round_trip(nc)
        tls_srv.cleanup()
        # a plaintext server takes the address over (a restart with TLS switched off, or an impostor)
        with EmbeddedServer(port=port, jetstream=False, args=["-V"]) as plain:
            wait_for(lambda: any(isinstance(e, bns.ConnectError) for e in errors), 10.0, "the refusal")
            assert not nc.is_connected
            assert "CONNECT" not in plain.log_text()
        refusal = next(e for e in errors if isinstance(e, bns.ConnectError))
        assert "does not offer TLS" in str(refusal)
    finally:
        nc.close(timeout=5.0)
        tls_srv.cleanup()


def test_large_and_small_messages_from_many_threads_arrive_whole_and_in_order_over_tls(
    tls_server: EmbeddedServer, certs: Certs
) -> None:
    """Large messages are encrypted and written by the publishing threads themselves (waiting for
    the socket when it is busy), small ones by the I/O thread: one TLS stream, in order."""
    n_threads, per_thread = 4, 60
    sizes = (16, 40 * 1024, 300 * 1024, 100)
    got: dict[int, list[int]] = {}
    count = [0]
    bad: list[str] = []

    def body(k: int, i: int) -> bytes:
        return b"%d.%d." % (k, i) + bytes([(k * 31 + i) % 251]) * sizes[i % len(sizes)]

    def on_msg(m: bns.Msg) -> None:
        k, i, _ = m.data.split(b".", 2)
        if m.data != body(int(k), int(i)):
            bad.append(f"{int(k)}.{int(i)} damaged")
        got.setdefault(int(k), []).append(int(i))
        count[0] += 1

    opts = dict(tls_ca_file=certs.ca_file, timeout=10.0)
    with bns.connect(tls_url(tls_server), **opts) as rx, bns.connect(tls_url(tls_server), **opts) as tx:  # type: ignore[arg-type]
        rx.subscribe("tls.bulk", on_msg, pending_msgs_limit=10**5, pending_bytes_limit=1 << 30)
        rx.subscribe("tls.ask", lambda m: m.respond(m.data))
        rx.flush(5.0)
        failures: list[BaseException] = []

        def publisher(k: int) -> None:
            try:
                for i in range(per_thread):
                    tx.publish("tls.bulk", body(k, i))
                    if i % 15 == 4:
                        assert tx.request("tls.ask", b"%d" % i, timeout=10.0).data == b"%d" % i
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=publisher, args=(k,)) for k in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60.0)
        assert not failures, failures
        tx.flush(10.0)
        wait_for(lambda: count[0] >= n_threads * per_thread, 30.0, "every message")
    assert bad == []
    assert {k: got[k] for k in range(n_threads)} == {k: list(range(per_thread)) for k in range(n_threads)}
