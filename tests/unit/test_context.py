"""NATS contexts, resolved without a server: where the files are, the order of precedence, every
field we honour or refuse, and errors that name the context and the file but never a secret.

The files are written here as ``nats context save`` writes them (every field, two-space indent),
into a temporary HOME or XDG_CONFIG_HOME set in the environment.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import nkeys
import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._context import config_dir, load_context, resolve, selected_context

SECRET = "s3cret-Pa55-7781"
TOKEN = "tok-9f1e-Secret"

#: Every field `nats context save` writes (jsm.go natscontext settings), empty.
CLI_FIELDS: dict[str, Any] = {
    "description": "",
    "url": "",
    "socks_proxy": "",
    "token": "",
    "user": "",
    "password": "",
    "creds": "",
    "nkey": "",
    "cert": "",
    "key": "",
    "ca": "",
    "nsc": "",
    "jetstream_domain": "",
    "jetstream_api_prefix": "",
    "jetstream_event_prefix": "",
    "inbox_prefix": "",
    "user_jwt": "",
    "user_seed": "",
    "color_scheme": "",
    "tls_first": False,
    "windows_cert_store": "",
    "windows_cert_match_by": "",
    "windows_cert_match": "",
    "windows_ca_certs_match": None,
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME with no NATS settings in the environment."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "NATS_CONFIG_HOME", "NATS_CONTEXT", "NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def write_context(config: Path, name: str, **fields: Any) -> Path:
    """``<config>/nats/context/NAME.json`` as the nats CLI writes it."""
    folder = config / "nats" / "context"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**CLI_FIELDS, **fields}, indent=2))
    return path


def select(config: Path, name: str) -> None:
    (config / "nats").mkdir(parents=True, exist_ok=True)
    (config / "nats" / "context.txt").write_text(name)  # the CLI writes the bare name


def seed() -> str:
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()


def creds_file(path: Path) -> str:
    path.write_text(
        "-----BEGIN NATS USER JWT-----\nhead.body.sig\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed()}\n------END USER NKEY SEED------\n"
    )
    return str(path)


# -- where the files are -----------------------------------------------------------------------
def test_config_dir_follows_the_nats_cli(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_dir() == home / ".config" / "nats"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    assert config_dir() == home / "xdg" / "nats"
    monkeypatch.setenv("NATS_CONFIG_HOME", str(home / "agents"))  # the Synadia agent SDKs' variable
    assert config_dir() == home / "agents"


def test_selected_context_under_xdg_config_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = home / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert selected_context() is None
    write_context(xdg, "dev", url="nats://dev.example:4222")
    select(xdg, "dev\n")
    assert selected_context() == "dev"
    client = bns.Client()
    assert client.options.servers == ("nats://dev.example:4222",)
    assert client.context is not None and client.context.name == "dev" and client.context.source == "selected"
    assert "context='dev'" in repr(client)


# -- the order of precedence -------------------------------------------------------------------
@pytest.fixture
def three(home: Path) -> Path:
    """Contexts 'sel' (selected), 'env' and 'arg', each with its own URL and user."""
    config = home / ".config"
    for name in ("sel", "env", "arg"):
        write_context(config, name, url=f"nats://{name}.example:4222", user=f"u-{name}", password=SECRET)
    select(config, "sel")
    return config


def test_nothing_set_means_localhost(home: Path) -> None:
    assert bns.Client().options.servers == ("nats://localhost:4222",)
    assert bns.Client().context is None


def test_the_selected_context_when_nothing_else_is_set(three: Path) -> None:
    o = bns.Client().options
    assert (o.servers, o.user, o.password) == (("nats://sel.example:4222",), "u-sel", SECRET)


def test_nats_context_beats_the_selected_one(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_CONTEXT", "env")
    c = bns.Client()
    assert (c.options.servers, c.options.user) == (("nats://env.example:4222",), "u-env")
    assert c.context is not None and c.context.source == "$NATS_CONTEXT"


def test_nats_url_replaces_the_url_of_nats_context_and_keeps_its_credentials(
    three: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATS_CONTEXT", "env")
    monkeypatch.setenv("NATS_URL", "nats://other.example:4333")
    o = bns.Client().options
    assert (o.servers, o.user, o.password) == (("nats://other.example:4333",), "u-env", SECRET)


def test_nats_url_alone_beats_the_selected_context(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://other.example:4333")
    c = bns.Client()
    assert (c.options.servers, c.options.user, c.context) == (("nats://other.example:4333",), None, None)


def test_the_context_argument_beats_both_variables(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_CONTEXT", "env")
    monkeypatch.setenv("NATS_URL", "nats://other.example:4333")
    c = bns.Client(context="arg")
    assert (c.options.servers, c.options.user) == (("nats://arg.example:4222",), "u-arg")
    assert c.context is not None and c.context.source == "argument"


def test_explicit_servers_use_no_context_from_the_environment(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_CONTEXT", "no-such-context")  # not even read
    c = bns.Client("nats://mine.example:4222")
    assert (c.options.servers, c.options.user, c.context) == (("nats://mine.example:4222",), None, None)


def test_explicit_arguments_override_the_named_context(three: Path) -> None:
    c = bns.Client("nats://mine.example:4222", context="arg", name="me", inbox_prefix="_MINE")
    o = c.options
    assert (o.servers, o.user, o.password, o.name, o.inbox_prefix) == (
        ("nats://mine.example:4222",),
        "u-arg",
        SECRET,
        "me",
        "_MINE",
    )


def test_an_explicit_credential_replaces_all_of_the_context_s(three: Path) -> None:
    o = bns.Client(context="arg", token=TOKEN).options
    assert (o.user, o.password, o.token) == (None, None, TOKEN)


def test_options_and_context_together_are_refused(three: Path) -> None:
    with pytest.raises(TypeError, match="context= cannot be given with options="):
        bns.Client(options=bns.Options(servers="nats://x:1"), context="arg")


def test_the_bus_knows_the_context_keyword() -> None:
    with pytest.raises(TypeError, match="unknown keyword argument 'contxt'; did you mean 'context'"):
        bns.NATSMessageBus(contxt="x")


# -- the fields --------------------------------------------------------------------------------
def test_every_field_we_honour(home: Path) -> None:
    config = home / ".config"
    creds = creds_file(home / "agent.creds")
    write_context(
        config,
        "full",
        description="the hub",
        url="nats://a.example:4222,nats://b.example:4222",
        creds="~/agent.creds",
        token=TOKEN,
        inbox_prefix="_INBOX_AGENTS",
        jetstream_domain="hub",
        jetstream_api_prefix="$JS.other.API",
        color_scheme="dark",
        jetstream_event_prefix="$JS.EVENT",
    )
    ctx = load_context("full")
    assert (ctx.name, ctx.description, ctx.jetstream_domain) == ("full", "the hub", "hub")
    o = bns.Client(context="full").options
    assert o.servers == ("nats://a.example:4222", "nats://b.example:4222")
    assert (o.user_credentials, o.token, o.inbox_prefix) == (creds, TOKEN, "_INBOX_AGENTS")


def test_nkey_seed_file_and_inline_seeds(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = home / ".config"
    s = seed()
    (home / "user.nk").write_text(s + "\n")
    write_context(config, "file", nkey="$HOME/user.nk")
    assert bns.Client(context="file").options.nkeys_seed == str(home / "user.nk")
    write_context(config, "data", nkey="data:;base64," + base64.b64encode(s.encode()).decode())
    assert bns.Client(context="data").options.nkeys_seed_str == s
    monkeypatch.setenv("AGENT_SEED", s)
    write_context(config, "env", nkey="env://AGENT_SEED")
    assert bns.Client(context="env").options.nkeys_seed_str == s


def test_secrets_from_env_data_and_file_references(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = home / ".config"
    monkeypatch.setenv("AGENT_PASSWORD", SECRET)
    (home / "token.txt").write_text(TOKEN + "\n")
    write_context(config, "refs", user="alice", password="env://AGENT_PASSWORD")
    assert bns.Client(context="refs").options.password == SECRET
    write_context(config, "tok", token=f"file://{home}/token.txt")
    assert bns.Client(context="tok").options.token == TOKEN
    write_context(config, "b64", token="data:;base64," + base64.b64encode(TOKEN.encode()).decode())
    assert bns.Client(context="b64").options.token == TOKEN
    write_context(config, "plain", user="bob", password="ab:cd")  # a colon is not a scheme we resolve
    assert bns.Client(context="plain").options.password == "ab:cd"


def test_tls_files_and_handshake_first(home: Path) -> None:
    trustme = pytest.importorskip("trustme", reason="certificates for the test are made with trustme (dev extra)")
    ca = trustme.CA()
    cert = ca.issue_cert("client.example")
    ca.cert_pem.write_to_path(str(home / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(home / "cert.pem"))
    cert.private_key_pem.write_to_path(str(home / "key.pem"))
    write_context(home / ".config", "tls", url="tls://hub.example:4222", ca="~/ca.pem", cert="~/cert.pem",
                  key="~/key.pem", tls_first=True)  # fmt: skip
    o = bns.Client(context="tls").options
    assert (o.tls_ca_file, o.tls_cert_file, o.tls_key_file) == tuple(
        str(home / f) for f in ("ca.pem", "cert.pem", "key.pem")
    )
    assert o.tls_handshake_first is True


def test_a_context_given_as_the_path_of_its_file(home: Path) -> None:
    path = write_context(home / "elsewhere", "portable", url="nats://p.example:4222")
    c = bns.Client(context=str(path))
    assert c.options.servers == ("nats://p.example:4222",)
    assert c.context is not None and c.context.name == "portable" and c.context.path == str(path)


# -- errors --------------------------------------------------------------------------------------
def test_an_unknown_context_names_itself_its_file_and_the_known_ones(three: Path) -> None:
    with pytest.raises(bns.ContextNotFoundError) as info:
        bns.Client(context="prod")
    err = info.value
    assert isinstance(err, FileNotFoundError) and isinstance(err, ValueError) and isinstance(err, bns.NATSSyncError)
    text = str(err)
    assert "'prod' not found" in text and str(three / "nats" / "context" / "prod.json") in text
    assert "known contexts: arg, env, sel" in text
    assert (err.context, err.filename) == ("prod", str(three / "nats" / "context" / "prod.json"))


def test_a_missing_selected_or_env_context_says_where_its_name_came_from(
    three: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    select(three, "gone")
    with pytest.raises(bns.ContextNotFoundError, match=r"'gone' \(selected in '.*context\.txt'\) not found"):
        bns.Client()
    monkeypatch.setenv("NATS_CONTEXT", "vanished")
    with pytest.raises(bns.ContextNotFoundError, match=r"'vanished' \(named by \$NATS_CONTEXT\) not found"):
        bns.connect()


@pytest.mark.parametrize(("field", "option"), [("creds", "creds"), ("nkey", "nkey"), ("ca", "ca"), ("cert", "cert")])
def test_a_missing_file_names_the_context_and_the_file(home: Path, field: str, option: str) -> None:
    path = write_context(home / ".config", "broken", **{field: "~/nowhere/missing.file"})
    missing = str(home / "nowhere" / "missing.file")
    with pytest.raises(bns.ContextNotFoundError) as info:
        bns.connect(context="broken")
    text = str(info.value)
    assert "'broken'" in text and str(path) in text and f"its {option!r} file {missing!r} does not exist" in text
    assert info.value.filename == missing


def test_bad_json_names_the_context_and_never_quotes_its_text(home: Path) -> None:
    folder = home / ".config" / "nats" / "context"
    folder.mkdir(parents=True)
    (folder / "torn.json").write_text('{"url": "nats://x:4222", "token": "' + TOKEN + '", ')
    with pytest.raises(bns.ContextError, match=r"'torn' \(.*torn\.json'\) is not valid JSON: .* at line 1") as info:
        bns.connect(context="torn")
    assert TOKEN not in str(info.value) and isinstance(info.value, ValueError)
    (folder / "list.json").write_text("[]")
    with pytest.raises(bns.ContextError, match="must hold a JSON object, got list"):
        bns.Client(context="list")
    (folder / "typed.json").write_text(json.dumps({"token": 12345, "url": "nats://x:1"}))
    with pytest.raises(bns.ContextError, match="'token' must be a string, got int"):
        bns.Client(context="typed")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"nsc": "nsc://operator/account/user"}, "'nsc' is set: nsc lookups"),
        ({"url": "nsc://operator/account/user"}, "its url is an nsc:// lookup"),
        ({"creds": "nsc://operator/account/user"}, "'creds' must be the path of a credentials file"),
        ({"socks_proxy": "127.0.0.1:1080"}, "'socks_proxy' is set: connecting through a SOCKS proxy"),
        ({"windows_cert_store": "user", "windows_cert_match": "x"}, "'windows_cert_store' is set"),
        ({"user_jwt": "a.b.c", "user_seed": "SU..."}, "'user_jwt' (with 'user_seed') is not supported"),
        ({"token": "op://vault/item/token"}, "'token' is an op:// reference, which needs the 1Password CLI"),
        ({"user": "a", "password": "env://NOT_SET_ANYWHERE"}, "'NOT_SET_ANYWHERE', which is not set or empty"),
        ({"cert": "data:;base64,AAAA"}, "'cert' is a data: reference, which this client cannot read"),
        ({"tls_first": "yes"}, "'tls_first' must be true or false, got str"),
        ({"url": "http://x.example"}, "its settings are refused: servers: unsupported scheme"),
    ],
)
def test_fields_we_cannot_honour_are_refused_by_name(home: Path, fields: dict[str, Any], expected: str) -> None:
    path = write_context(home / ".config", "odd", **fields)
    with pytest.raises(bns.ContextError) as info:
        bns.Client(context="odd")
    assert expected in str(info.value) and "NATS context 'odd'" in str(info.value) and str(path) in str(info.value)


def test_a_bad_seed_is_refused_without_being_quoted(home: Path) -> None:
    bad = "SUNOTAVALIDSEEDNOTAVALIDSEEDNOTAVALIDSEED"
    write_context(home / ".config", "seed", nkey="data:;base64," + base64.b64encode(bad.encode()).decode())
    with pytest.raises(bns.ContextError, match="nkeys_seed_str is not a valid NKey seed") as info:
        bns.Client(context="seed")
    assert bad not in str(info.value)


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ".hidden", "", " "])
def test_names_that_would_leave_the_context_folder_are_refused(home: Path, name: str) -> None:
    with pytest.raises(bns.ContextError, match="is not a NATS context name"):
        bns.Client(context=name)


def test_a_bad_name_says_where_it_came_from(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    select(three, "../../etc/x")
    with pytest.raises(bns.ContextError, match=r"'../../etc/x' \(selected in '.*context\.txt'\) is not a NATS"):
        bns.Client()
    monkeypatch.setenv("NATS_CONTEXT", "a/b")
    with pytest.raises(bns.ContextError, match=r"'a/b' \(named by \$NATS_CONTEXT\) is not a NATS context name"):
        bns.Client()


def test_secrets_are_not_in_the_reprs(home: Path) -> None:
    write_context(home / ".config", "s", user="alice", password=SECRET, token=TOKEN)
    client = bns.Client(context="s")
    shown = repr(client) + repr(client.context) + repr(client.options)
    assert SECRET not in shown and TOKEN not in shown


def test_resolve_is_pure_given_an_environment(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "NATS_CONTEXT": "e", "NATS_URL": "nats://u.example:1"}
    write_context(tmp_path, "e", url="nats://e.example:2", token=TOKEN)
    kwargs, ctx = resolve({"name": "x"}, None, env)
    assert kwargs == {"servers": "nats://u.example:1", "token": TOKEN, "name": "x"}
    assert ctx is not None and ctx.source == "$NATS_CONTEXT"
