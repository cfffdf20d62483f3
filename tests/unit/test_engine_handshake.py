"""The handshake, without a server: CONNECT's fields, the credentials chosen and their order, real
NKey signatures checked with the public key, TLS asked and not offered, and no secret in an error."""

from __future__ import annotations

import base64
import json
import os
import ssl
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import beluga_nats_sync as bns
from beluga_nats_sync import Options
from beluga_nats_sync._core.security import read_credentials_file
from beluga_nats_sync.engine import handshake
from beluga_nats_sync.engine.handshake import LANG, connect_options, tls_wanted
from beluga_nats_sync.engine.pool import Server, ServerPool
from beluga_nats_sync.protocol import frame_connect

nkeys = pytest.importorskip("nkeys", reason="NKey signatures need the nkeys package (the nkeys extra)")
signing = pytest.importorskip("nacl.signing", reason="checking signatures needs PyNaCl, which nkeys brings")

NONCE = "n0nce-Abc_123"
TOKEN = "tok-Secret-77"
PASSWORD = "pa55-Secret-91"


def new_seed() -> str:
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()


def public_of(seed: str) -> str:
    kp = nkeys.from_seed(bytearray(seed.encode()))
    try:
        return str(kp.public_key.decode())
    finally:
        kp.wipe()


def verify(public_key: str, sig: str, nonce: str = NONCE) -> None:
    """Check ``sig`` (unpadded base64url) over ``nonce`` with the public key alone, as the server does."""
    assert "=" not in sig and "+" not in sig and "/" not in sig
    raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))
    assert raw[0] == nkeys.PREFIX_BYTE_USER and len(raw) == 35  # prefix, ed25519 key, crc16
    signing.VerifyKey(raw[1:33]).verify(nonce.encode(), base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))


def write_creds(path: Path, seed: str, jwt: str = "eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln") -> str:
    path.write_text(
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n"
    )
    return str(path)


def server_of(options: Options, index: int = 0) -> Server:
    return ServerPool(options).servers[index]


def connect(options: Options, info: dict[str, Any] | None = None) -> dict[str, Any]:
    return connect_options(options, {"proto": 1} if info is None else info, server_of(options), lang_version="9.8.7")


# -- the fixed fields ----------------------------------------------------------------------------
def test_connect_fields_without_credentials() -> None:
    got = connect(Options(servers="nats://h:4222"))
    assert got == {
        "verbose": False,
        "pedantic": False,
        "tls_required": False,
        "lang": LANG,
        "version": "9.8.7",
        "protocol": 1,
        "headers": True,
        "no_responders": True,
        "echo": True,
    }
    assert frame_connect(got).startswith(b'CONNECT {"verbose":false,')


def test_name_and_no_echo() -> None:
    got = connect(Options(servers="nats://h:4222", name="agent-1", no_echo=True))
    assert got["name"] == "agent-1" and got["echo"] is False


@pytest.mark.parametrize("info", [{}, {"proto": 0}])
def test_no_echo_needs_protocol_1(info: dict[str, Any]) -> None:
    with pytest.raises(bns.ConnectError, match="no_echo=True needs a server that speaks protocol 1"):
        connect(Options(servers="nats://h:4222", no_echo=True), info)
    assert "echo" in connect(Options(servers="nats://h:4222"), info)  # without no_echo any server will do


def test_lang_version_is_required() -> None:
    o = Options(servers="nats://h:4222")
    with pytest.raises(ValueError, match="lang_version"):
        connect_options(o, {}, server_of(o), lang_version="")


# -- TLS -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "tls_options", "info", "wanted"),
    [
        ("nats://h:4222", {}, {}, False),
        ("nats://h:4222", {}, {"tls_available": True}, False),  # offered, not asked: plaintext
        ("nats://h:4222", {}, {"tls_required": True}, True),  # the server requires it
        ("tls://h:4222", {}, {"tls_required": True}, True),
        ("tls://h:4222", {}, {"tls_available": True}, True),
        ("nats://h:4222", {"tls": ssl.create_default_context()}, {"tls_available": True}, True),
        ("nats://h:4222", {"tls_handshake_first": True}, {"tls_required": True}, True),
        ("ws://h:80", {}, {"tls_required": True}, False),  # the WebSocket layer's business
        ("wss://h:443", {}, {}, True),
    ],
)
def test_tls_wanted(url: str, tls_options: dict[str, Any], info: dict[str, Any], wanted: bool) -> None:
    o = Options(servers=url, **tls_options)
    assert tls_wanted(o, server_of(o), info) is wanted
    assert connect(o, dict(info, proto=1))["tls_required"] is wanted


@pytest.mark.parametrize(
    ("url", "tls_options"),
    [
        ("tls://alice:" + PASSWORD + "@h:4222", {}),
        ("nats://h:4222", {"tls": ssl.create_default_context()}),
        ("nats://h:4222", {"tls_handshake_first": True}),
    ],
)
@pytest.mark.parametrize("info", [{}, {"tls_required": False, "tls_available": False}])
def test_tls_asked_and_not_offered_is_refused(url: str, tls_options: dict[str, Any], info: dict[str, Any]) -> None:
    o = Options(servers=url, **tls_options)
    with pytest.raises(bns.ConnectError, match="TLS was asked for .* but the server does not offer TLS") as caught:
        tls_wanted(o, server_of(o), info)
    assert PASSWORD not in str(caught.value) and "h:4222" in str(caught.value)
    with pytest.raises(bns.ConnectError, match="does not offer TLS"):
        connect_options(o, info, server_of(o), lang_version="1")


# -- credentials: what is sent, in which order -----------------------------------------------------
def test_user_credentials_sign_the_nonce_and_send_the_jwt(tmp_path: Path) -> None:
    seed = new_seed()
    creds = write_creds(tmp_path / "u.creds", seed)
    got = connect(Options(servers="nats://h:4222", user_credentials=creds), {"proto": 1, "nonce": NONCE})
    assert got["jwt"] == "eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln"
    verify(public_of(seed), got["sig"])
    assert not {"nkey", "auth_token", "user", "pass"} & got.keys()
    assert seed not in json.dumps(got)


@pytest.mark.parametrize("as_file", [False, True])
def test_an_nkey_seed_sends_the_public_key_and_a_signature(tmp_path: Path, as_file: bool) -> None:
    seed = new_seed()
    if as_file:
        (tmp_path / "user.nk").write_text(seed + "\n")
        o = Options(servers="nats://h:4222", nkeys_seed=tmp_path / "user.nk")
    else:
        o = Options(servers="nats://h:4222", nkeys_seed_str=seed)
    got = connect(o, {"proto": 1, "nonce": NONCE})
    assert got["nkey"] == public_of(seed)
    verify(got["nkey"], got["sig"])
    with pytest.raises(Exception, match="Signature was forged or corrupt"):
        verify(got["nkey"], got["sig"], nonce=NONCE + "x")  # the check itself can fail
    assert seed not in json.dumps(got) and "jwt" not in got


def test_a_token_travels_with_a_signature_for_auth_callouts(tmp_path: Path) -> None:
    o = Options(servers="nats://h:4222", nkeys_seed_str=new_seed(), token=TOKEN)
    got = connect(o, {"proto": 1, "nonce": NONCE})
    assert {"nkey", "sig"} <= got.keys() and got["auth_token"] == TOKEN


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("nats://h:4222", {"token": TOKEN}, {"auth_token": TOKEN}),
        ("nats://url-Tok3n@h:4222", {}, {"auth_token": "url-Tok3n"}),
        ("nats://url-Tok3n@h:4222", {"token": TOKEN}, {"auth_token": TOKEN}),  # the options' token first
        ("nats://h:4222", {"user": "alice", "password": PASSWORD}, {"user": "alice", "pass": PASSWORD}),
        ("nats://bob:url-Pw@h:4222", {}, {"user": "bob", "pass": "url-Pw"}),
        ("nats://bob:url%3APw@h:4222", {}, {"user": "bob", "pass": "url:Pw"}),  # percent-decoded, as Go
        ("nats://bob:url-Pw@h:4222", {"user": "alice", "password": PASSWORD}, {"user": "alice", "pass": PASSWORD}),
        ("nats://bob:url-Pw@h:4222", {"token": TOKEN}, {"auth_token": TOKEN}),  # a token before a password
        ("nats://h:4222", {"token": TOKEN, "user": "alice", "password": PASSWORD}, {"auth_token": TOKEN}),
    ],
)
def test_token_and_password_precedence(url: str, options: dict[str, Any], expected: dict[str, str]) -> None:
    got = connect(Options(servers=url, **options), {"proto": 1, "nonce": NONCE})  # a nonce asks nothing of these
    creds = {k: v for k, v in got.items() if k in ("auth_token", "user", "pass", "nkey", "sig", "jwt")}
    assert creds == expected


def test_signing_comes_before_a_token_or_a_password() -> None:
    o = Options(servers="nats://bob:url-Pw@h:4222", nkeys_seed_str=new_seed(), user="alice", password=PASSWORD)
    got = connect(o, {"proto": 1, "nonce": NONCE})
    assert {"nkey", "sig"} <= got.keys() and not {"user", "pass", "auth_token"} & got.keys()


def test_a_nonce_without_a_seed_gets_no_signature() -> None:
    got = connect(Options(servers="nats://h:4222", user="alice", password=PASSWORD), {"proto": 1, "nonce": NONCE})
    assert "sig" not in got and got["user"] == "alice"


def test_without_a_nonce_a_seed_falls_back_to_other_credentials_or_none() -> None:
    seed = new_seed()
    got = connect(Options(servers="nats://h:4222", nkeys_seed_str=seed, token=TOKEN), {"proto": 1})
    assert got.get("auth_token") == TOKEN and "sig" not in got
    open_server = connect(Options(servers="nats://h:4222", nkeys_seed_str=seed), {"proto": 1})
    assert not {"sig", "nkey", "auth_token", "user"} & open_server.keys()  # a server without auth: nothing to send


def test_a_server_asking_for_credentials_without_a_nonce_is_refused_for_a_seed(tmp_path: Path) -> None:
    seed = new_seed()
    for o in (
        Options(servers="nats://h:4222", nkeys_seed_str=seed),
        Options(servers="nats://h:4222", user_credentials=write_creds(tmp_path / "u.creds", seed)),
    ):
        with pytest.raises(bns.AuthorizationError, match="sends no nonce to sign") as caught:
            connect(o, {"proto": 1, "auth_required": True})
        assert seed not in str(caught.value)


# -- files that changed since the options were made -------------------------------------------------
def test_a_missing_seed_or_credentials_file_is_a_connect_error(tmp_path: Path) -> None:
    seed = new_seed()
    (tmp_path / "user.nk").write_text(seed)
    creds = write_creds(tmp_path / "u.creds", seed)
    for o, path in (
        (Options(servers="nats://h:4222", nkeys_seed=tmp_path / "user.nk"), tmp_path / "user.nk"),
        (Options(servers="nats://h:4222", user_credentials=creds), Path(creds)),
    ):
        path.unlink()
        with pytest.raises(bns.ConnectError, match="cannot read .*No such file") as caught:
            connect(o, {"proto": 1, "nonce": NONCE})
        assert str(path) in str(caught.value)


def test_a_seed_or_credentials_file_spoilt_since_is_a_connect_error_without_the_secret(tmp_path: Path) -> None:
    seed = new_seed()
    nk = tmp_path / "user.nk"
    nk.write_text(seed)
    o = Options(servers="nats://h:4222", nkeys_seed=nk)
    nk.write_text("SUnot-a-seed-at-all-Secret")
    with pytest.raises(bns.ConnectError, match="nkeys_seed: not a valid NKey seed") as caught:
        connect(o, {"proto": 1, "nonce": NONCE})
    assert "Secret" not in str(caught.value) and caught.value.__cause__ is None

    creds = tmp_path / "u.creds"
    o = Options(servers="nats://h:4222", user_credentials=write_creds(creds, seed))
    creds.write_text("-----BEGIN USER NKEY SEED-----\n" + seed + "\n")  # the JWT is gone
    with pytest.raises(bns.ConnectError, match="no longer holds a user JWT") as caught:
        connect(o, {"proto": 1, "nonce": NONCE})
    assert seed not in str(caught.value)


# -- seeds are wiped ----------------------------------------------------------------------------------
def test_seeds_are_wiped_once_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytearray] = []
    sign = handshake._sign

    def spy(seed: bytearray, nonce: str, what: str) -> tuple[str, str]:
        seen.append(seed)
        return sign(seed, nonce, what)

    monkeypatch.setattr(handshake, "_sign", spy)
    seed = new_seed()
    connect(Options(servers="nats://h:4222", nkeys_seed_str=seed), {"proto": 1, "nonce": NONCE})
    connect(
        Options(servers="nats://h:4222", user_credentials=write_creds(tmp_path / "u.creds", seed)),
        {"proto": 1, "nonce": NONCE},
    )
    assert len(seen) == 2
    assert all(isinstance(s, bytearray) and len(s) == len(seed) and not any(s) for s in seen)


def test_a_seed_is_wiped_even_when_it_cannot_sign() -> None:
    seed = bytearray(b"SUnot-a-seed")
    with pytest.raises(bns.ConnectError):
        handshake._sign(seed, NONCE, "nkeys_seed_str")
    assert not any(seed)


def test_the_credentials_reader_hands_the_seed_in_a_bytearray(tmp_path: Path) -> None:
    seed = new_seed()
    jwt, read = read_credentials_file(write_creds(tmp_path / "u.creds", seed))
    assert jwt is not None and jwt.count(".") == 2
    assert isinstance(read, bytearray) and read == seed.encode()


# -- properties ---------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_any_nonce_is_signed_verifiably_and_connect_frames(nonce: str) -> None:
    o = Options(servers="nats://h:4222", nkeys_seed_str=SEED_FOR_PROPERTIES)
    got = connect(o, {"proto": 1, "nonce": nonce})
    verify(got["nkey"], got["sig"], nonce)
    frame = frame_connect(got)
    assert frame.endswith(b"\r\n") and b"\r\n" not in frame[:-2]


SEED_FOR_PROPERTIES = new_seed()
