"""Authentication, permissions and keeping secrets, against real nats-server configs.

Keys, seeds and JWTs are made in the tests (nkeys, and JWTs signed here following the
nats-server JWT claims), so no secret is kept in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import nkeys
import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for

PASSWORD = "pa55word-Alice-7Q2"
LIMITED_PASSWORD = "lim1ted-Pa55-9"
TOKEN = "tok-3f9c1e77-Secret"
WRONG = "wrong-Secret-8812"


# -- keys and JWTs ------------------------------------------------------------------------------
def new_keypair(prefix: int) -> tuple[Any, str]:
    """A fresh NKey pair and its seed (``S`` + role letter ...)."""
    seed = nkeys.encode_seed(os.urandom(32), prefix)
    return nkeys.from_seed(bytearray(seed)), seed.decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_jwt(claims: dict[str, Any], signer: Any) -> str:
    """A v2 NATS JWT: ed25519-nkey signature over ``header.payload``, as nats-server verifies it."""
    body = dict(claims, iss=signer.public_key.decode(), iat=int(time.time()))
    plain = {k: v for k, v in body.items() if k != "nats"}
    digest = hashlib.new("sha512_256", json.dumps(plain, separators=(",", ":")).encode()).digest()
    body["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = _b64(json.dumps(body).encode())
    signature = signer.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{_b64(signature)}"


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


@attrs.frozen
class Operator:
    """An operator with one account, trusted by a server with a memory resolver."""

    operator: Any
    account: Any
    config: str

    @classmethod
    def create(cls) -> Operator:
        op, _ = new_keypair(nkeys.PREFIX_BYTE_OPERATOR)
        acc, _ = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        op_jwt = encode_jwt(
            {"sub": op.public_key.decode(), "name": "test-operator", "nats": {"type": "operator", "version": 2}}, op
        )
        limits = dict(UNLIMITED, imports=-1, exports=-1, wildcards=True, conn=-1, leaf=-1)
        acc_jwt = encode_jwt(
            {
                "sub": acc.public_key.decode(),
                "name": "agents",
                "nats": {"limits": limits, "type": "account", "version": 2},
            },
            op,
        )
        config = (
            f"operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {acc.public_key.decode()}: {acc_jwt}\n}}\n"
        )
        return cls(op, acc, config)

    def user_creds(self, path: Path, *, signer: Any = None) -> tuple[str, str]:
        """Write a credentials file for a new user; return its path and the user's seed."""
        user, seed = new_keypair(nkeys.PREFIX_BYTE_USER)
        claims = {
            "sub": user.public_key.decode(),
            "name": "agent",
            "nats": dict(UNLIMITED, pub={"deny": ["forbidden.>"]}, sub={}, type="user", version=2),
        }
        jwt = encode_jwt(claims, signer or self.account)
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
        return str(path), seed


# -- servers ------------------------------------------------------------------------------------
@attrs.frozen
class UsersServer:
    server: EmbeddedServer
    nkey_seed: str  # the seed of the nkey user the server knows


@pytest.fixture(scope="module")
def users_server() -> Iterator[UsersServer]:
    nkey_user, nkey_seed = new_keypair(nkeys.PREFIX_BYTE_USER)
    allowed = '["ok.>", "_INBOX.>"]'
    deny = 'permissions: {publish: {deny: ["forbidden.>"]}}'  # lets a test provoke an error to be logged
    conf = (
        "authorization {\n  users = [\n"
        f'    {{user: alice, password: "{PASSWORD}", {deny}}}\n'
        f"    {{nkey: {nkey_user.public_key.decode()}, {deny}}}\n"
        f'    {{user: limited, password: "{LIMITED_PASSWORD}", '
        f"permissions: {{publish: {{allow: {allowed}}}, subscribe: {{allow: {allowed}}}}}}}\n"
        "  ]\n}\n"
    )
    with EmbeddedServer(config=conf, jetstream=False) as srv:
        yield UsersServer(srv, nkey_seed)


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


def round_trip(nc: bns.Client, subject: str = "ok.echo") -> None:
    nc.subscribe(subject, lambda m: m.respond(b"re: " + m.data))
    assert nc.request(subject, b"hi", timeout=5.0).data == b"re: hi"


# -- each way of authenticating works -----------------------------------------------------------
def test_user_and_password_in_options(users_server: UsersServer) -> None:
    with bns.connect(users_server.server.url, user="alice", password=PASSWORD, timeout=5.0) as nc:
        round_trip(nc)


def test_user_and_password_in_the_url(users_server: UsersServer) -> None:
    url = with_userinfo(users_server.server.url, f"alice:{PASSWORD}")
    with bns.connect(url, timeout=5.0) as nc:
        round_trip(nc)
        assert nc.connected_url == users_server.server.url  # shown without the credentials


def test_token_in_options_and_in_the_url(token_server: EmbeddedServer) -> None:
    with bns.connect(token_server.url, token=TOKEN, timeout=5.0) as nc:
        round_trip(nc)
    with bns.connect(with_userinfo(token_server.url, TOKEN), timeout=5.0) as nc:
        round_trip(nc)


def test_nkey_seed_as_a_string_and_as_a_file(users_server: UsersServer, tmp_path: Path) -> None:
    with bns.connect(users_server.server.url, nkeys_seed_str=users_server.nkey_seed, timeout=5.0) as nc:
        round_trip(nc)
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(users_server.nkey_seed + "\n")
    with bns.connect(users_server.server.url, nkeys_seed=seed_file, timeout=5.0) as nc:
        round_trip(nc)


def test_credentials_file(operator: Operator, operator_server: EmbeddedServer, tmp_path: Path) -> None:
    creds, _ = operator.user_creds(tmp_path / "agent.creds")
    with bns.connect(operator_server.url, user_credentials=creds, timeout=5.0) as nc:
        round_trip(nc)
        assert nc.options.user_credentials == creds


# -- wrong credentials: AuthorizationError at once, one attempt -----------------------------------
def auth_failures(srv: EmbeddedServer) -> int:
    return srv.log_text().count("authentication error") + srv.log_text().count("Authorization Violation")


def test_wrong_password_fails_fast_without_a_retry_storm() -> None:
    conf = f'authorization {{ user: alice, password: "{PASSWORD}" }}\n'
    with EmbeddedServer(config=conf, jetstream=False) as srv:
        # the same server twice, under two names: a client that went on to the next URL (or
        # retried at this short reconnect_wait) would be refused more than once
        servers = [srv.url, f"nats://localhost:{srv.port}"]
        before = {t.name for t in threading.enumerate()}
        started = time.monotonic()
        with pytest.raises(bns.AuthorizationError) as info:
            bns.connect(
                servers,
                user="alice",
                password=WRONG,
                reconnect_wait=0.01,
                max_reconnects=-1,
                dont_randomize=True,
                connect_timeout=5.0,
            )
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, f"connect took {elapsed:.2f} s to give up"
        assert isinstance(info.value, bns.ConnectError)
        assert f"127.0.0.1:{srv.port}" in str(info.value)
        assert "user 'alice'" in str(info.value)
        # once the client's threads are gone it cannot try again: count what the server saw
        wait_for(lambda: {t.name for t in threading.enumerate()} <= before, 5.0, "the client's threads to end")
        wait_for(lambda: auth_failures(srv) >= 1, 5.0, "the server to log the refusal")
        assert auth_failures(srv) == 1, srv.log_text()[-2000:]


@pytest.mark.parametrize(
    ("kind", "options", "words"),
    [
        ("password", {"user": "alice", "password": WRONG}, "user 'alice' with a password"),
        ("url", {"servers": "URL-WITH-USERINFO"}, "the credentials in the server URL"),
        ("nkey", {"nkeys_seed_str": "NEW-SEED"}, "the NKey seed given as nkeys_seed_str"),
        ("none", {}, "requires credentials and none were given"),
    ],
)
def test_wrong_credentials_raise_authorization_error(
    users_server: UsersServer, kind: str, options: dict[str, Any], words: str
) -> None:
    srv = users_server.server
    opts = dict(options)
    if opts.get("servers") == "URL-WITH-USERINFO":
        opts["servers"] = with_userinfo(srv.url, f"alice:{WRONG}")
    if opts.get("nkeys_seed_str") == "NEW-SEED":
        opts["nkeys_seed_str"] = new_keypair(nkeys.PREFIX_BYTE_USER)[1]
    opts.setdefault("servers", srv.url)
    started = time.monotonic()
    with pytest.raises(bns.AuthorizationError) as info:
        bns.connect(connect_timeout=5.0, **opts)
    assert time.monotonic() - started < 2.0
    assert words in str(info.value)
    assert f"127.0.0.1:{srv.port}" in str(info.value)


def test_wrong_token(token_server: EmbeddedServer) -> None:
    with pytest.raises(bns.AuthorizationError, match="a token"):
        bns.connect(token_server.url, token=WRONG, connect_timeout=5.0)


def test_credentials_of_an_unknown_account(operator: Operator, operator_server: EmbeddedServer, tmp_path: Path) -> None:
    stranger, _ = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)  # an account the operator never signed
    creds, _ = operator.user_creds(tmp_path / "stranger.creds", signer=stranger)
    with pytest.raises(bns.AuthorizationError, match="the credentials file"):
        bns.connect(operator_server.url, user_credentials=creds, connect_timeout=5.0)


# -- permissions --------------------------------------------------------------------------------
def test_permission_violations_are_reported_and_the_client_keeps_working(users_server: UsersServer) -> None:
    errors: list[BaseException] = []
    with bns.connect(
        users_server.server.url, user="limited", password=LIMITED_PASSWORD, error_cb=errors.append, timeout=5.0
    ) as nc:
        nc.publish("secret.plans", b"nope")
        wait_for(lambda: len(errors) >= 1, 5.0, "the publish violation")
        forbidden = nc.subscribe("secret.>")
        wait_for(lambda: len(errors) >= 2, 5.0, "the subscribe violation")

        assert all(isinstance(e, bns.PermissionsError) for e in errors), errors
        assert [(e.operation, e.subject) for e in errors] == [  # type: ignore[attr-defined]
            ("publish", "secret.plans"),
            ("subscribe", "secret.>"),
        ]
        assert "permissions violation" in str(errors[0]).lower()
        assert nc.stats.errors == 2

        # still connected, and everything allowed still works
        assert nc.is_connected
        round_trip(nc, "ok.rpc")
        allowed = nc.subscribe("ok.events")
        nc.publish("ok.events", b"fine")
        assert allowed.next_msg(timeout=5.0).data == b"fine"
        with pytest.raises(bns.NATSTimeoutError):
            forbidden.next_msg(timeout=0.2)
        assert len(errors) == 2


# -- secrets never leak ---------------------------------------------------------------------------
def _texts(exc: BaseException | None) -> list[str]:
    """str and repr of an exception and of every exception chained to it."""
    out: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        out += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return out


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("beluga_nats_sync", "nats", "nats.aio.client", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


Setup = Callable[
    [UsersServer, EmbeddedServer, EmbeddedServer, Operator, Path], tuple[dict[str, Any], dict[str, Any], list[str]]
]


def _password(us: UsersServer, ts: EmbeddedServer, os_: EmbeddedServer, op: Operator, d: Path) -> Any:
    good = {"servers": us.server.url, "user": "alice", "password": PASSWORD}
    return good, dict(good, password=WRONG), [PASSWORD, WRONG]


def _url_password(us: UsersServer, ts: EmbeddedServer, os_: EmbeddedServer, op: Operator, d: Path) -> Any:
    good = {"servers": with_userinfo(us.server.url, f"alice:{PASSWORD}")}
    return good, {"servers": with_userinfo(us.server.url, f"alice:{WRONG}")}, [PASSWORD, WRONG]


def _token(us: UsersServer, ts: EmbeddedServer, os_: EmbeddedServer, op: Operator, d: Path) -> Any:
    return {"servers": ts.url, "token": TOKEN}, {"servers": ts.url, "token": WRONG}, [TOKEN, WRONG]


def _url_token(us: UsersServer, ts: EmbeddedServer, os_: EmbeddedServer, op: Operator, d: Path) -> Any:
    return {"servers": with_userinfo(ts.url, TOKEN)}, {"servers": with_userinfo(ts.url, WRONG)}, [TOKEN, WRONG]


def _nkey(us: UsersServer, ts: EmbeddedServer, os_: EmbeddedServer, op: Operator, d: Path) -> Any:
    wrong = new_keypair(nkeys.PREFIX_BYTE_USER)[1]
    good = {"servers": us.server.url, "nkeys_seed_str": us.nkey_seed}
    return good, dict(good, nkeys_seed_str=wrong), [us.nkey_seed, wrong]


def _creds(us: UsersServer, ts: EmbeddedServer, os_: EmbeddedServer, op: Operator, d: Path) -> Any:
    creds, seed = op.user_creds(d / "good.creds")
    bad, bad_seed = op.user_creds(d / "bad.creds", signer=new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)[0])
    return (
        {"servers": os_.url, "user_credentials": creds},
        {"servers": os_.url, "user_credentials": bad},
        [seed, bad_seed],
    )


@pytest.mark.parametrize(
    "setup", [_password, _url_password, _token, _url_token, _nkey, _creds], ids=lambda f: f.__name__[1:]
)
def test_secrets_never_appear(
    setup: Setup,
    users_server: UsersServer,
    token_server: EmbeddedServer,
    operator: Operator,
    operator_server: EmbeddedServer,
    tmp_path: Path,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    good, wrong, secrets = setup(users_server, token_server, operator_server, operator, tmp_path)
    seen: list[str] = []

    # a good connection, used, then closed; without error_cb, errors are logged
    client = bns.Client(**good, name="secretive", timeout=5.0)
    seen += [repr(client), repr(client.options), str(client.options)]
    client.connect(timeout=5.0)
    seen += [repr(client), repr(client.options), repr(client.stats), str(client.connected_url)]
    round_trip(client, "ok.secret-check")
    if "token" not in good and not good["servers"].startswith("nats://" + TOKEN):  # a token has no permissions
        client.publish("forbidden.plans", b"x")
        wait_for(lambda: client.stats.errors == 1, 5.0, "the permissions violation")
    seen += [repr(client), repr(client.stats)]
    client.close(timeout=5.0)
    seen.append(repr(client))

    # a refused connection
    with pytest.raises(bns.AuthorizationError) as info:
        bns.connect(connect_timeout=5.0, name="refused", **wrong)
    seen += _texts(info.value)
    assert info.value.__cause__ is None or not any(s in str(info.value.__cause__) for s in secrets)

    ours = [r.getMessage() for r in all_logs.records if r.name.startswith("beluga_nats_sync")]
    assert any(m.startswith("connected to") for m in ours) and any(m.startswith("connect failed") for m in ours)
    seen.append(all_logs.text)
    seen += [r.getMessage() for r in all_logs.records]
    text = "\n".join(seen)
    for secret in secrets:
        assert secret not in text, f"a secret leaked into: {text[max(0, text.find(secret) - 200) :][:400]}"


def test_secrets_are_scrubbed_from_pass_through_error_text() -> None:
    # text from below us (an OS error, a server's -ERR) goes into ConnectError messages; a last
    # guard removes any secret it might carry
    from beluga_nats_sync.engine.explain import explain_failure, refused

    seed = new_keypair(nkeys.PREFIX_BYTE_USER)[1]
    opts = bns.Options(servers=f"nats://{TOKEN}@127.0.0.1:1", nkeys_seed_str=seed)
    below = OSError(f"odd failure near {TOKEN} and {seed}")
    error = explain_failure(below, opts, opts.servers[0], tls_used=False)
    assert error is not None
    assert "odd failure near *** and ***" in str(error)
    assert "nats://***@127.0.0.1:1" in str(error)
    said = refused(f"'Authorization Violation' for {TOKEN}", opts, opts.servers[0])
    assert isinstance(said, bns.AuthorizationError)
    assert TOKEN not in str(said) and seed not in str(said)


# -- options ------------------------------------------------------------------------------------
def test_credential_options_are_checked_and_never_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = new_keypair(nkeys.PREFIX_BYTE_USER)[1]
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"user": "alice"}, ValueError, "user was given without password"),
        ({"password": PASSWORD}, ValueError, "password was given without user"),
        ({"token": ""}, ValueError, "token must be a non-empty"),
        ({"token": 12345}, TypeError, "token must be a str"),
        ({"nkeys_seed_str": seed, "nkeys_seed": str(tmp_path / "x")}, ValueError, "give one NKey seed"),
        ({"nkeys_seed_str": seed[:-3] + "AAA"}, ValueError, "nkeys_seed_str is not a valid NKey seed"),
        ({"nkeys_seed_str": PASSWORD}, ValueError, "nkeys_seed_str is not a valid NKey seed"),
        ({"nkeys_seed": str(tmp_path / "missing.nk")}, ValueError, "nkeys_seed: no such file"),
        ({"user_credentials": str(tmp_path / "missing.creds")}, ValueError, "user_credentials: no such file"),
        ({"user_credentials": 3}, TypeError, "user_credentials must be a file path"),
    ]
    for kwargs, error, words in cases:
        with pytest.raises(error) as info:
            bns.Options(**kwargs)
        assert words in str(info.value), (kwargs, info.value)
        for secret in (seed, PASSWORD, seed[:-3] + "AAA"):
            assert secret not in str(info.value)

    bad_seed = tmp_path / "bad.nk"
    bad_seed.write_text(PASSWORD + "\n")
    with pytest.raises(ValueError, match="does not hold a valid NKey seed") as info:
        bns.Options(nkeys_seed=bad_seed)
    assert PASSWORD not in str(info.value)

    no_jwt = tmp_path / "no-jwt.creds"
    no_jwt.write_text(f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n")
    # nats-py would loop forever looking for the JWT in this file; we refuse it up front
    with pytest.raises(ValueError, match="no user JWT") as info:
        bns.Options(user_credentials=no_jwt)
    assert seed not in str(info.value)
    no_seed = tmp_path / "no-seed.creds"
    no_seed.write_text("-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n")
    with pytest.raises(ValueError, match="no valid user NKey seed"):
        bns.Options(user_credentials=no_seed)
    good = tmp_path / "good.creds"
    good.write_text(no_seed.read_text() + no_jwt.read_text())
    with pytest.raises(ValueError, match="user_credentials already holds the user's seed"):
        bns.Options(user_credentials=good, nkeys_seed_str=seed)
    assert bns.Options(user_credentials=good).user_credentials == str(good)

    monkeypatch.setitem(sys.modules, "nkeys", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"nkeys_seed_str needs the nkeys package: pip install"):
        bns.Options(nkeys_seed_str=seed)


def test_repr_hides_every_secret(tmp_path: Path) -> None:
    seed = new_keypair(nkeys.PREFIX_BYTE_USER)[1]
    opts = bns.Options(
        servers=[f"nats://alice:{PASSWORD}@127.0.0.1:1", f"nats://{TOKEN}@127.0.0.1:2"],
        user="bob",
        password=WRONG,
        token=TOKEN + "-2",
        nkeys_seed_str=seed,
    )
    text = repr(opts) + str(opts) + repr(bns.Client(options=opts)) + repr(opts.redacted_servers)
    for secret in (PASSWORD, TOKEN, WRONG, seed):
        assert secret not in text
    assert "alice:***@127.0.0.1:1" in text and "***@127.0.0.1:2" in text and "bob" in text
