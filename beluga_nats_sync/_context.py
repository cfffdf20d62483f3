"""NATS contexts: the named connection settings the ``nats`` CLI keeps, and the order in which a
client finds its server.

The ``nats`` CLI stores a context as ``<config>/nats/context/NAME.json`` and the selected one's
name in ``<config>/nats/context.txt``, where ``<config>`` is ``$XDG_CONFIG_HOME``, else
``~/.config`` (the Synadia agent SDKs also honour ``$NATS_CONFIG_HOME``, the ``nats`` directory
itself). :func:`resolve` decides where a new client's settings come from:

1. explicit arguments: ``context=NAME`` loads that context (environment variables are not read)
   and the other arguments override its fields; explicit ``servers`` without ``context=`` use no
   context at all;
2. ``$NATS_CONTEXT`` (the context) with ``$NATS_URL`` replacing its URL, as the ``nats`` CLI
   does; ``$NATS_URL`` alone names the server, without credentials;
3. the selected context (``context.txt``);
4. ``nats://localhost:4222``.

Nothing here connects; reading the files and checking them is all. A field that changes where
or how the client would connect and that it cannot honour is refused (:class:`ContextError`);
a field meant for other tools is ignored. Secrets are never quoted in an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ._core.options import DEFAULT_URL, Options
from .errors import ContextError, ContextNotFoundError

__all__ = ["NatsContext", "config_dir", "load_context", "resolve", "selected_context"]

#: Options fields that carry credentials: one explicit credential replaces all of a context's.
AUTH_FIELDS = frozenset({"user", "password", "token", "nkeys_seed", "nkeys_seed_str", "user_credentials"})
#: A context's TLS files, replaced as a whole by an explicit ``tls`` SSLContext.
TLS_FILE_FIELDS = frozenset({"tls_ca_file", "tls_cert_file", "tls_key_file"})
#: Fields meant for other tools, or that change nothing in how this client connects.
IGNORED_FIELDS = ("name", "description", "color_scheme", "jetstream_event_prefix", "user_seed")
_UNSUPPORTED = {
    "nsc": "nsc lookups run the nsc tool, which this client does not do; give the context a creds file "
    "(`nsc generate creds` writes one) instead",
    "socks_proxy": "connecting through a SOCKS proxy is not supported by this client",
    "windows_cert_store": "the Windows certificate store is not supported; give cert, key and ca files instead",
}


@attrs.frozen
class NatsContext:
    """A NATS context as the ``nats`` CLI stores it, read and checked.

    ``options`` are the :class:`~beluga_nats_sync.Options` fields it sets (secrets included:
    they are never shown in ``repr``). ``source`` says how it was chosen: ``"argument"``,
    ``"$NATS_CONTEXT"`` or ``"selected"``.
    """

    name: str
    """The context's name (its file name without ``.json``)."""
    path: str
    """The JSON file it was read from."""
    source: str
    """How it was chosen: ``"argument"`` (``context=``/``--context``), ``"$NATS_CONTEXT"`` or ``"selected"``."""
    description: str = ""
    """Its ``description`` field."""
    jetstream_domain: str | None = None
    """The JetStream domain ``Client.jetstream()`` uses when given none."""
    jetstream_api_prefix: str | None = None
    """The JetStream API prefix ``Client.jetstream()`` uses when given no domain or prefix."""
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The Options fields the context sets (``servers``, credentials, TLS files, ...)."""


# -- where the files are ----------------------------------------------------------------------
def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The ``nats`` configuration directory: ``$NATS_CONFIG_HOME``, else ``$XDG_CONFIG_HOME/nats``,
    else ``~/.config/nats``."""
    env = os.environ if environ is None else environ
    if env.get("NATS_CONFIG_HOME"):
        return Path(os.path.expanduser(env["NATS_CONFIG_HOME"]))
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "nats"
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".config" / "nats"


def selected_context(environ: Mapping[str, str] | None = None) -> str | None:
    """The name in ``context.txt`` (what ``nats context select`` wrote), or None."""
    try:
        name = (config_dir(environ) / "context.txt").read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        where = config_dir(environ) / "context.txt"
        raise ContextError(f"cannot read the selected NATS context from {str(where)!r}: {exc}", context="") from None
    return name or None


def _context_file(ref: str, environ: Mapping[str, str] | None, chosen: str = "") -> tuple[str, Path]:
    """``(name, path)`` of a context given by name, or by the path of its ``.json`` (as ``nats --context``)."""
    if ref.endswith(".json") and os.path.isfile(ref):
        return Path(ref).stem, Path(ref)
    if not ref.strip() or ".." in ref or "/" in ref or "\\" in ref or ref.startswith(".") or "\x00" in ref:
        raise ContextError(
            f"{ref!r}{chosen} is not a NATS context name (a name has no '/', '\\' or '..' and does not start with '.'; "
            "or give the path of an existing .json file)",
            context=ref,
        )
    return ref, config_dir(environ) / "context" / f"{ref}.json"


def _known(environ: Mapping[str, str] | None) -> str:
    folder = config_dir(environ) / "context"
    try:
        names = sorted(p.stem for p in folder.glob("*.json") if p.is_file())
    except OSError:
        names = []
    return ", ".join(names[:20]) if names else f"none in {str(folder)!r}"


# -- reading one context ----------------------------------------------------------------------
class _Reader:
    """Turns a context's JSON fields into Options fields, naming the context in every error."""

    def __init__(self, name: str, path: Path, doc: dict[str, Any], environ: Mapping[str, str]) -> None:
        self.name, self.path, self.doc, self.environ = name, path, doc, environ
        self.where = f"NATS context {name!r} ({str(path)!r})"

    def error(self, text: str) -> ContextError:
        return ContextError(f"{self.where}: {text}", context=self.name, path=str(self.path))

    def text(self, field: str) -> str:
        value = self.doc.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"{field!r} must be a string, got {type(value).__name__}")
        return value.strip()

    def file(self, field: str) -> str | None:
        """A file field (creds, nkey, cert, key, ca): ``~`` and ``$VAR`` expanded; it must exist."""
        ref = self.text(field)
        if not ref:
            return None
        scheme = _scheme(ref)
        if scheme not in ("", "file"):
            raise self.error(
                f"{field!r} is a {scheme}: reference, which this client cannot read for this field; "
                "give the path of a file"
            )
        path = os.path.expanduser(os.path.expandvars(ref[len("file://") :] if scheme else ref))
        if not os.path.isfile(path):
            raise ContextNotFoundError(
                f"{self.where}: its {field!r} file {path!r} does not exist",
                context=self.name,
                path=str(self.path),
                filename=path,
            )
        return path

    def secret(self, field: str) -> str | None:
        """A secret field: literal, or ``env://VAR``, ``data:;base64,...`` or ``file://PATH`` as the CLI allows."""
        ref = self.text(field)
        if not ref:
            return None
        scheme = _scheme(ref)
        if scheme == "env":
            var = ref[len("env://") :]
            value = self.environ.get(var, "")
            if not var or not value:
                raise self.error(f"{field!r} comes from the environment variable {var!r}, which is not set or empty")
            return value.rstrip("\r\n")
        if scheme == "data":
            header, comma, payload = ref[len("data:") :].partition(",")
            if not comma or ";base64" not in header.lower():
                raise self.error(f"{field!r} is a data: reference without ';base64,' (expected data:;base64,...)")
            try:
                return base64.b64decode(payload, validate=True).decode("utf-8").rstrip("\r\n")
            except (binascii.Error, UnicodeDecodeError):
                raise self.error(f"{field!r} is a data: reference whose base64 text does not decode") from None
        if scheme == "file":
            return Path(self.file(field) or "").read_text(encoding="utf-8").rstrip("\r\n")
        if scheme in ("op", "nsc"):
            tool = "the 1Password CLI" if scheme == "op" else "the nsc tool"
            raise self.error(f"{field!r} is an {scheme}:// reference, which needs {tool}; this client does not run it")
        return ref

    def options(self) -> dict[str, Any]:
        for field, why in _UNSUPPORTED.items():
            if self.text(field):
                raise self.error(f"{field!r} is set: {why}")
        url = self.text("url")
        if url.lower().startswith("nsc://"):
            raise self.error(f"its url is an nsc:// lookup: {_UNSUPPORTED['nsc']}")
        out: dict[str, Any] = {"servers": url or DEFAULT_URL}
        # one kind of credentials, chosen in the order the nats CLI chooses it; a token goes along
        if self.text("user"):
            out["user"] = self.text("user")
            out["password"] = self.secret("password") or ""
        elif self.text("creds"):
            if _scheme(self.text("creds")) not in ("", "file"):
                raise self.error(
                    "'creds' must be the path of a credentials file (inline data:/env:// creds are not supported here)"
                )
            out["user_credentials"] = self.file("creds")
        elif self.text("nkey"):
            if _scheme(self.text("nkey")) in ("", "file"):
                out["nkeys_seed"] = self.file("nkey")
            else:
                out["nkeys_seed_str"] = self.secret("nkey")
        elif self.text("user_jwt"):
            raise self.error(
                "'user_jwt' (with 'user_seed') is not supported by this client; give the context a creds file "
                "holding both instead"
            )
        token = self.secret("token")
        if token:
            out["token"] = token
        for field, option in (("ca", "tls_ca_file"), ("cert", "tls_cert_file"), ("key", "tls_key_file")):
            path = self.file(field)
            if path is not None:
                out[option] = path
        if self.text("inbox_prefix"):
            out["inbox_prefix"] = self.text("inbox_prefix")
        tls_first = self.doc.get("tls_first", False)
        if not isinstance(tls_first, bool):
            raise self.error(f"'tls_first' must be true or false, got {type(tls_first).__name__}")
        if tls_first:
            out["tls_handshake_first"] = True
        return out


def _scheme(ref: str) -> str:
    """The credential-reference scheme the nats CLI resolves, or ``""`` for a plain value or path."""
    low = ref.lower()
    for scheme in ("file", "env", "op", "nsc"):
        if low.startswith(scheme + "://"):
            return scheme
    return "data" if low.startswith("data:") else ""


def load_context(ref: str, environ: Mapping[str, str] | None = None, *, source: str = "argument") -> NatsContext:
    """Read and check the context named ``ref`` (or the ``.json`` file at that path).

    Raises :class:`ContextNotFoundError` when it, or a file it names, does not exist, and
    :class:`ContextError` for bad JSON, a field this client cannot honour or settings that
    :class:`~beluga_nats_sync.Options` refuses.
    """
    env = os.environ if environ is None else environ
    if not isinstance(ref, str):
        raise TypeError(f"context must be a context name (a str), got {type(ref).__name__}")
    chosen = {
        "$NATS_CONTEXT": " (named by $NATS_CONTEXT)",
        "selected": f" (selected in {str(config_dir(env) / 'context.txt')!r})",
    }.get(source, "")
    name, path = _context_file(ref, env, chosen)
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise ContextNotFoundError(
            f"NATS context {name!r}{chosen} not found: no file {str(path)!r} (known contexts: {_known(env)}); "
            "`nats context ls` lists them",
            context=name,
            path=str(path),
            filename=str(path),
        ) from None
    except OSError as exc:
        raise ContextError(f"NATS context {name!r}: cannot read {str(path)!r}: {exc.strerror}", context=name) from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ContextError(f"NATS context {name!r} ({str(path)!r}) is not UTF-8 text", context=name) from None
    except json.JSONDecodeError as exc:  # its message has the position only, never the text
        raise ContextError(
            f"NATS context {name!r} ({str(path)!r}) is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}",
            context=name,
            path=str(path),
        ) from None
    if not isinstance(doc, dict):
        raise ContextError(
            f"NATS context {name!r} ({str(path)!r}) must hold a JSON object, got {type(doc).__name__}",
            context=name,
            path=str(path),
        )
    reader = _Reader(name, path, doc, env)
    options = reader.options()
    try:
        Options(**options)  # files that do not load, a seed that is not one: named now, with the context
    except (ValueError, TypeError) as exc:
        raise reader.error(f"its settings are refused: {exc}") from None
    return NatsContext(
        name=name,
        path=str(path),
        source=source,
        description=reader.text("description"),
        jetstream_domain=reader.text("jetstream_domain") or None,
        jetstream_api_prefix=reader.text("jetstream_api_prefix") or None,
        options=options,
    )


# -- the order of precedence ------------------------------------------------------------------
def _merge(base: Mapping[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    if AUTH_FIELDS & explicit.keys():
        out = {k: v for k, v in out.items() if k not in AUTH_FIELDS}
    if "tls" in explicit:
        out = {k: v for k, v in out.items() if k not in TLS_FILE_FIELDS}
    out.update(explicit)
    return out


def resolve(
    explicit: Mapping[str, Any], context: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], NatsContext | None]:
    """The Options fields for a new client, and the context they came from (if any).

    ``explicit`` are the caller's own option arguments (``servers`` only when given); ``context``
    the ``context=`` argument. See the module's docstring for the order.
    """
    env = os.environ if environ is None else environ
    if context is not None:
        ctx = load_context(context, env, source="argument")
        return _merge(ctx.options, explicit), ctx
    if "servers" in explicit:
        return dict(explicit), None
    name = env.get("NATS_CONTEXT", "").strip()
    if name:
        ctx = load_context(name, env, source="$NATS_CONTEXT")
        base = dict(ctx.options)
        if env.get("NATS_URL", "").strip():
            base["servers"] = env["NATS_URL"]
        return _merge(base, explicit), ctx
    if env.get("NATS_URL", "").strip():
        return dict(explicit), None  # Options reads $NATS_URL itself
    selected = selected_context(env)
    if selected:
        ctx = load_context(selected, env, source="selected")
        return _merge(ctx.options, explicit), ctx
    return dict(explicit), None
