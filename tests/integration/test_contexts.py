"""NATS contexts against real servers: a context file written as the ``nats`` CLI writes it is
honoured by ``connect()``, the bus and the command line, in the documented order, with user and
password, token, creds and nkey authentication; a broken one gets its clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import nkeys
import pytest
from test_security import PASSWORD, TOKEN, Operator, new_keypair

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import ROOT

RUN_TIMEOUT = 60.0


@attrs.frozen
class Servers:
    users: EmbeddedServer  # alice/PASSWORD, and the nkey user of `seed`
    token: EmbeddedServer  # TOKEN
    seed: str


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    nkey_user, seed = new_keypair(nkeys.PREFIX_BYTE_USER)
    users = (
        "authorization {\n  users = [\n"
        f'    {{user: alice, password: "{PASSWORD}"}}\n'
        f"    {{nkey: {nkey_user.public_key.decode()}}}\n"
        "  ]\n}\n"
    )
    with (
        EmbeddedServer(config=users, jetstream=False) as us,
        EmbeddedServer(config=f'authorization {{ token: "{TOKEN}" }}\n', jetstream=False) as ts,
    ):
        yield Servers(us, ts, seed)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of the test's own; contexts go in its ~/.config/nats, as the nats CLI puts them."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "NATS_CONFIG_HOME", "NATS_CONTEXT", "NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def save(home: Path, name: str, **fields: Any) -> Path:
    """What `nats context save NAME --server ... --user ...` writes (unset fields empty)."""
    blank = dict.fromkeys(
        [
            "description",
            "url",
            "socks_proxy",
            "token",
            "user",
            "password",
            "creds",
            "nkey",
            "cert",
            "key",
            "ca",
            "nsc",
            "jetstream_domain",
            "jetstream_api_prefix",
            "jetstream_event_prefix",
            "inbox_prefix",
            "user_jwt",
            "user_seed",
            "color_scheme",
            "windows_cert_store",
            "windows_cert_match_by",
            "windows_cert_match",
        ],
        "",
    )
    folder = home / ".config" / "nats" / "context"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**blank, "tls_first": False, "windows_ca_certs_match": None, **fields}, indent=2))
    return path


def select(home: Path, name: str) -> None:
    (home / ".config" / "nats" / "context.txt").write_text(name)


def port_of(nc: bns.Client) -> int:
    address = nc.server_address
    assert address is not None
    return address[1]


def echo(nc: bns.Client, subject: str = "ctx.echo") -> None:
    nc.subscribe(subject, lambda m: m.respond(b"re: " + m.data))
    nc.flush(5.0)


@pytest.fixture
def contexts(home: Path, servers: Servers) -> Servers:
    """'usr' (user/password) and 'tok' (token), with 'tok' selected."""
    save(home, "usr", url=servers.users.url, user="alice", password=PASSWORD, description="users")
    save(home, "tok", url=servers.token.url, token=TOKEN)
    select(home, "tok")
    return servers


# -- connect() -----------------------------------------------------------------------------------
def test_connect_follows_the_documented_order(
    contexts: Servers, nats_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = contexts
    with bns.connect(timeout=5.0) as nc:  # the selected context
        assert port_of(nc) == s.token.port and nc.context is not None and nc.context.source == "selected"
    monkeypatch.setenv("NATS_CONTEXT", "usr")
    with bns.connect(timeout=5.0) as nc:  # $NATS_CONTEXT beats it
        assert port_of(nc) == s.users.port
        echo(nc)
        assert nc.request("ctx.echo", b"hi", timeout=5.0).data == b"re: hi"
    monkeypatch.setenv("NATS_URL", nats_server.url)
    with bns.connect(timeout=5.0) as nc:  # $NATS_URL replaces its URL; its credentials stay
        assert port_of(nc) == nats_server.port and nc.options.user == "alice"
    with bns.connect(context="tok", timeout=5.0) as nc:  # the argument beats both variables
        assert port_of(nc) == s.token.port
    with bns.connect(nats_server.url, timeout=5.0) as nc:  # explicit servers: no context at all
        assert nc.context is None and nc.options.user is None
    monkeypatch.delenv("NATS_CONTEXT")
    with bns.connect(timeout=5.0) as nc:  # $NATS_URL alone beats the selected context
        assert port_of(nc) == nats_server.port and nc.context is None


def test_without_the_context_s_credentials_the_server_refuses(contexts: Servers, home: Path) -> None:
    """The credentials really come from the file: the same server without them says no."""
    save(home, "bare", url=contexts.users.url)
    with pytest.raises(bns.AuthorizationError):
        bns.connect(context="bare", connect_timeout=5.0)


def test_creds_file_context(home: Path, tmp_path: Path) -> None:
    operator = Operator.create()
    creds, seed = operator.user_creds(tmp_path / "agent.creds")
    with EmbeddedServer(config=operator.config, jetstream=False) as srv:
        save(home, "ngs", url=srv.url, creds="~/agent.creds")
        with bns.connect(context="ngs", timeout=5.0) as nc:
            assert nc.options.user_credentials == creds
            echo(nc)
            assert nc.request("ctx.echo", b"creds", timeout=5.0).data == b"re: creds"
            assert seed not in repr(nc) + repr(nc.context)


def test_nkey_file_context(contexts: Servers, home: Path) -> None:
    (home / "user.nk").write_text(contexts.seed + "\n")
    save(home, "nk", url=contexts.users.url, nkey="~/user.nk")
    with bns.connect(context="nk", timeout=5.0) as nc:
        echo(nc)
        assert nc.request("ctx.echo", b"nkey", timeout=5.0).data == b"re: nkey"


def test_jetstream_domain_and_inbox_prefix_of_the_context(home: Path, nats_server: EmbeddedServer) -> None:
    save(home, "hub", url=nats_server.url, jetstream_domain="hub", inbox_prefix="_INBOX_HUB")
    with bns.connect(context="hub", timeout=5.0) as nc:
        assert nc.jetstream().api_prefix == "$JS.hub.API"
        assert nc.jetstream(api_prefix="$JS.API").api_prefix == "$JS.API"  # an argument beats it
        assert nc.new_inbox().startswith("_INBOX_HUB.")
        echo(nc)
        assert nc.request("ctx.echo", b"x", timeout=5.0).data == b"re: x"  # replies come to that prefix


def test_a_broken_context_fails_before_connecting(home: Path, nats_server: EmbeddedServer) -> None:
    path = save(home, "broken", url=nats_server.url, creds="~/missing.creds")
    with pytest.raises(bns.ContextNotFoundError) as info:
        bns.connect(context="broken", timeout=5.0)
    assert str(path) in str(info.value) and str(home / "missing.creds") in str(info.value)
    with pytest.raises(bns.ContextNotFoundError, match="'nope' not found"):
        bns.connect(context="nope")
    path.write_text('{"url": ')
    with pytest.raises(bns.ContextError, match="'broken'.* is not valid JSON"):
        bns.connect(context="broken")


# -- the bus -----------------------------------------------------------------------------------
def test_the_bus_connects_through_a_context(contexts: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    def round_trip(bus: bns.NATSMessageBus) -> None:
        bus.client.subscribe("ctx.rpc", lambda m: m.respond(bns.Message(type="pong", payload={}).to_json()))
        assert bus.request("ctx.rpc", bns.Message(type="ping", payload={}), timeout=5.0).type == "pong"

    bus = bns.NATSMessageBus(context="usr")
    try:
        assert port_of(bus.client) == contexts.users.port
        round_trip(bus)
    finally:
        bus.close()
    monkeypatch.setenv("NATS_CONTEXT", "tok")
    bus = bns.NATSMessageBus()
    try:
        assert port_of(bus.client) == contexts.token.port
        round_trip(bus)
    finally:
        bus.close()
    with pytest.raises(bns.ContextNotFoundError, match="'nope' not found"):
        bns.NATSMessageBus(context="nope")


# -- the command line --------------------------------------------------------------------------
def run_cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NATS_URL", "NATS_CONTEXT", "XDG_CONFIG_HOME", "NATS_CONFIG_HOME")
    }
    return subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", *args],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def test_the_cli_follows_the_context_order(contexts: Servers, home: Path) -> None:
    s = contexts
    with (
        bns.connect(s.users.url, user="alice", password=PASSWORD, timeout=5.0) as users,
        bns.connect(s.token.url, token=TOKEN, timeout=5.0) as tokens,
    ):
        users.subscribe("ctx.who", lambda m: m.respond(b"users"))
        tokens.subscribe("ctx.who", lambda m: m.respond(b"token"))
        users.flush(5.0)
        tokens.flush(5.0)
        r = run_cli(home, "request", "ctx.who", "")  # the selected context
        assert (r.returncode, r.stdout.strip()) == (0, "token"), r.stderr
        r = run_cli(home, "request", "ctx.who", "", NATS_CONTEXT="usr")
        assert (r.returncode, r.stdout.strip()) == (0, "users"), r.stderr
        r = run_cli(home, "--context", "tok", "request", "ctx.who", "", NATS_CONTEXT="usr")
        assert (r.returncode, r.stdout.strip()) == (0, "token"), r.stderr
        r = run_cli(home, "request", "ctx.who", "", "--context", "usr")  # after the command too
        assert (r.returncode, r.stdout.strip()) == (0, "users"), r.stderr
        xdg = home / "xdg"  # $XDG_CONFIG_HOME moves the whole folder
        (xdg / "nats" / "context").mkdir(parents=True)
        (xdg / "nats" / "context" / "x.json").write_text(json.dumps({"url": s.users.url, "user": "alice",
                                                                     "password": PASSWORD}))  # fmt: skip
        (xdg / "nats" / "context.txt").write_text("x")
        r = run_cli(home, "request", "ctx.who", "", XDG_CONFIG_HOME=str(xdg))
        assert (r.returncode, r.stdout.strip()) == (0, "users"), r.stderr


def test_the_cli_reports_a_broken_context_in_one_line(contexts: Servers, home: Path) -> None:
    path = save(home, "broken", url=contexts.users.url, nkey="~/gone.nk")
    for args in (("--context", "broken", "pub", "x", "y"), ("--context", "nope", "sub", "x")):
        r = run_cli(home, *args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        line = r.stderr.strip().splitlines()
        assert len(line) == 1 and line[0].startswith("beluga-nats: error: NATS context "), r.stderr
    r = run_cli(home, "--context", "broken", "pub", "x", "y")
    assert str(path) in r.stderr and str(home / "gone.nk") in r.stderr
    select(home, "nope")
    r = run_cli(home, "pub", "x", "y")
    assert r.returncode == 1 and "'nope' (selected in" in r.stderr and PASSWORD not in r.stderr
