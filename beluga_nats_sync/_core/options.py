"""Options: the validated settings of a Client, with the Go guide's defaults."""

from __future__ import annotations

import difflib
import math
import os
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union
from urllib.parse import urlparse

import attrs

from .handlers import check_handler
from .protocol import MAX_TIMEOUT
from .security import check_security

__all__ = ["DEFAULT_URL", "Options", "parse_servers", "refuse_unknown_keywords"]

DEFAULT_URL = "nats://localhost:4222"

ErrorCallback = Callable[[BaseException], Any]
EventCallback = Callable[[], Any]
ServersArg = Union[str, Sequence[str], None]  # noqa: UP007 - a runtime alias, 3.10 has no `|` on typing forms here


def parse_servers(servers: ServersArg) -> tuple[str, ...]:
    """Turn one URL, a comma-separated list or a list into a tuple of URLs.

    ``None`` means ``$NATS_URL``, else ``nats://localhost:4222``.
    """
    if servers is None:
        servers = os.environ.get("NATS_URL") or DEFAULT_URL
    if isinstance(servers, str):
        items = [s.strip() for s in servers.split(",")]
    elif isinstance(servers, Sequence):
        items = []
        for s in servers:
            if not isinstance(s, str):
                raise TypeError(f"servers: each URL must be a str, got {type(s).__name__}")
            items.extend(p.strip() for p in s.split(","))
    else:
        raise TypeError(
            f"servers: expected a URL, a comma-separated string or a list of URLs, got {type(servers).__name__}"
        )
    urls = tuple(u for u in items if u)
    if not urls:
        raise ValueError("servers: no server URL given; expected e.g. 'nats://localhost:4222'")
    for u in urls:
        _check_url(u)
    websocket = {urlparse(_with_scheme(u)).scheme in ("ws", "wss") for u in urls}
    if len(websocket) > 1:
        shown = ", ".join(repr(redact_url(u)) for u in urls)
        raise ValueError(
            f"servers: {shown} mix websocket (ws://, wss://) and NATS (nats://, tls://) URLs; use one kind"
        )
    return urls


#: The schemes a server URL may have (WebSocket ones are refused at connect, saying why); a URL
#: without a scheme (``host:port``) means ``nats://``.
SCHEMES = ("nats", "tls", "ws", "wss")
_ACCEPTED = "accepted: nats://host:port, tls://host:port, ws://host:port, wss://host:port, or host:port"


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"nats://{url}"


def _check_url(url: str) -> None:
    """Refuse, before any connection, a server URL that would be misread or tried in vain."""
    shown = redact_url(url)
    if any(c.isspace() for c in url):
        raise ValueError(f"servers: {shown!r} contains whitespace")
    scheme, sep, _rest = url.partition("://")
    if sep and scheme not in SCHEMES:
        raise ValueError(f"servers: unsupported scheme in {shown!r}; {_ACCEPTED}")
    if not sep and "/" in url:
        # "htp:/x" or "nats:/x": a mistyped scheme, which would be taken for a host name
        raise ValueError(f"servers: {shown!r} is not a server URL (a scheme ends with '://'); {_ACCEPTED}")
    try:
        parsed = urlparse(_with_scheme(url))
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number in 0-65535
    except ValueError as exc:
        raise ValueError(f"servers: {shown!r} is not a valid URL ({exc}); {_ACCEPTED}") from None
    if not parsed.hostname:
        raise ValueError(f"servers: {shown!r} names no host; {_ACCEPTED}")
    if parsed.scheme in ("nats", "tls") and (parsed.path not in ("", "/") or parsed.query or parsed.fragment):
        raise ValueError(
            f"servers: {shown!r} has a path or query, which NATS does not use; {_ACCEPTED} "
            "(pynats2's path prefix is in beluga_nats_sync.compat.pynats2)"
        )


def redact_url(url: str) -> str:
    """Hide the password or token in a URL's userinfo, keeping the user name."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user, colon, _secret = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{scheme}{sep}{shown}@{host}"


def _positive(name: str, *, allow_zero: bool = False) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        bad = math.isnan(value) or value < 0 or value > MAX_TIMEOUT or (value == 0 and not allow_zero)
        if bad:
            accepted = "a finite number of seconds " + (">= 0" if allow_zero else "> 0")
            raise ValueError(f"{name} must be {accepted} and at most {MAX_TIMEOUT:.0e}, got {value!r}")

    return check


def _int_at_least(name: str, low: int) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")

    return check


def _optional_callable(name: str, receives: str) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        check_handler(value, name, receives, optional=True)

    return check


def _optional_str(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")

    return check


def _fspath(value: str | os.PathLike[str] | None) -> str | None:
    """File options accept ``os.PathLike``; they are kept as ``str``."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _optional_path(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value):
            raise TypeError(f"{name} must be a file path (a non-empty str or os.PathLike) or None, got {value!r}")

    return check


def _tls_check(_inst: Any, _attr: Any, value: Any) -> None:
    if value is not None and not isinstance(value, ssl.SSLContext):
        raise TypeError(f"tls must be an ssl.SSLContext or None, got {type(value).__name__}")


def _secret_repr(value: Any) -> str:
    return "None" if value is None else "'***'"


@attrs.frozen(kw_only=True)
class Options:
    """Settings of a :class:`~beluga_nats_sync.Client`.

    Defaults follow the Go integration guide (``reconnect_wait=2.0``, ``max_reconnects=10``,
    ``timeout=30.0``). A bad value raises ``ValueError``/``TypeError`` naming the option and
    what it accepts. Secrets (``password``, ``token``, ``nkeys_seed_str``, ``tls_key_password``
    and passwords or tokens in server URLs) never appear in ``repr``.

    TLS: a ``tls://`` URL, or any of ``tls`` (an ``ssl.SSLContext``), ``tls_ca_file``,
    ``tls_cert_file``/``tls_key_file`` (mutual TLS), makes every connection encrypted, with the
    server's certificate verified; a server that does not offer TLS is refused. Credentials:
    ``user``/``password``, ``token``, ``nkeys_seed`` (a seed file) or ``nkeys_seed_str``, or
    ``user_credentials`` (a ``.creds`` file: JWT and seed). Files are checked when the options
    are made. See the security guide. Every field, with its type and default, is listed in the
    API reference.
    """

    servers: tuple[str, ...] = attrs.field(
        factory=lambda: parse_servers(None),
        converter=parse_servers,
        repr=lambda urls: repr(tuple(redact_url(u) for u in urls)),
    )
    """Server URLs: one, a comma-separated string or a list (default ``$NATS_URL``, else ``nats://localhost:4222``)."""
    name: str | None = attrs.field(default=None, validator=_optional_str("name"))
    """The client's name, shown by the server (``/connz``), in ``repr`` and in notebooks."""
    timeout: float = attrs.field(default=30.0, validator=_positive("timeout"))
    """Default bound, in seconds, for request/flush/drain/close/next_msg when they get ``timeout=None``."""
    connect_timeout: float = attrs.field(default=5.0, validator=_positive("connect_timeout"))
    """Overall deadline for ``connect()``, all servers and attempts included."""
    allow_reconnect: bool = True
    """Reconnect after a lost connection; False closes the client instead."""
    reconnect_wait: float = attrs.field(default=2.0, validator=_positive("reconnect_wait", allow_zero=True))
    """Seconds between reconnect attempts to the same server."""
    max_reconnects: int = attrs.field(default=10, validator=_int_at_least("max_reconnects", -1))
    """Reconnect attempts per server before the client gives up and closes; -1 means forever."""
    ping_interval: float = attrs.field(default=120.0, validator=_positive("ping_interval"))
    """Seconds between the client's pings to the server."""
    max_outstanding_pings: int = attrs.field(default=2, validator=_int_at_least("max_outstanding_pings", 1))
    """Unanswered pings after which the connection is declared stale and replaced."""
    pending_msgs_limit: int = attrs.field(default=65536, validator=_int_at_least("pending_msgs_limit", 1))
    """Per subscription: messages received but not yet handed to the callback or next_msg (slow consumer past it)."""
    pending_bytes_limit: int = attrs.field(default=64 * 1024 * 1024, validator=_int_at_least("pending_bytes_limit", 1))
    """Per subscription: bytes received but not yet handed over (slow consumer past it)."""
    reconnect_buffer_size: int = attrs.field(
        default=8 * 1024 * 1024, validator=_int_at_least("reconnect_buffer_size", 0)
    )
    """Bytes of publishes kept while disconnected, sent in order after the reconnect."""
    reconnect_buffer_timeout: float = attrs.field(
        default=0.0, validator=_positive("reconnect_buffer_timeout", allow_zero=True)
    )
    """Disconnected with a full reconnect buffer, publish waits this long for a reconnect, then raises
    ``OutboundBufferFullError``; 0 raises at once."""
    max_outbound_bytes: int = attrs.field(default=1024 * 1024, validator=_int_at_least("max_outbound_bytes", 1024))
    """Published bytes waiting for the I/O thread; past it publish waits (up to ``timeout``), then raises."""
    no_echo: bool = False
    """Do not deliver this client's own publishes to its own subscriptions."""
    dont_randomize: bool = False
    """Try the servers in the order given instead of shuffling them."""
    retry_on_failed_connect: bool = False
    """``connect()`` returns even when no server answers, and goes on trying in the background."""
    inbox_prefix: str = attrs.field(default="_INBOX", validator=_optional_str("inbox_prefix"))
    """Subject prefix of reply inboxes (for accounts whose permissions name it)."""
    user: str | None = attrs.field(default=None, validator=_optional_str("user"))
    """User name, with ``password``."""
    password: str | None = attrs.field(default=None, repr=_secret_repr, validator=_optional_str("password"))
    """Password, with ``user``; never shown."""
    token: str | None = attrs.field(default=None, repr=_secret_repr, validator=_optional_str("token"))
    """Authentication token; never shown."""
    nkeys_seed: str | None = attrs.field(default=None, converter=_fspath, validator=_optional_path("nkeys_seed"))
    """A file holding an NKey seed (``SU...``); the seed signs the server's nonce and is never sent."""
    nkeys_seed_str: str | None = attrs.field(default=None, repr=_secret_repr, validator=_optional_str("nkeys_seed_str"))
    """The NKey seed itself, for seeds kept in a secret store rather than a file; never shown."""
    user_credentials: str | None = attrs.field(
        default=None, converter=_fspath, validator=_optional_path("user_credentials")
    )
    """A NATS credentials file (user JWT and NKey seed, as written by ``nsc generate creds``)."""
    tls: ssl.SSLContext | None = attrs.field(default=None, validator=_tls_check)
    """An ``ssl.SSLContext`` of your own; exclusive with the ``tls_*_file`` options."""
    tls_ca_file: str | None = attrs.field(default=None, converter=_fspath, validator=_optional_path("tls_ca_file"))
    """PEM file of the CA(s) that sign the server's certificate (default: the system's CAs)."""
    tls_cert_file: str | None = attrs.field(default=None, converter=_fspath, validator=_optional_path("tls_cert_file"))
    """PEM client certificate, for mutual TLS (may hold the key too)."""
    tls_key_file: str | None = attrs.field(default=None, converter=_fspath, validator=_optional_path("tls_key_file"))
    """PEM private key of the client certificate."""
    tls_key_password: str | None = attrs.field(
        default=None, repr=_secret_repr, validator=_optional_str("tls_key_password")
    )
    """Password of an encrypted ``tls_key_file``; never shown."""
    tls_hostname: str | None = attrs.field(default=None, validator=_optional_str("tls_hostname"))
    """The name the server's certificate must carry, when it differs from the URL's host."""
    tls_handshake_first: bool = False
    """Start TLS before the server's INFO (the server needs ``handshake_first`` in its tls block)."""
    error_cb: ErrorCallback | None = attrs.field(
        default=None, eq=False, repr=False, validator=_optional_callable("error_cb", "the error")
    )
    """Called with each asynchronous error (slow consumer, permissions, lost connection), on the event thread."""
    disconnected_cb: EventCallback | None = attrs.field(
        default=None, eq=False, repr=False, validator=_optional_callable("disconnected_cb", "no arguments")
    )
    """Called when the connection is lost, on the client's event thread."""
    reconnected_cb: EventCallback | None = attrs.field(
        default=None, eq=False, repr=False, validator=_optional_callable("reconnected_cb", "no arguments")
    )
    """Called when a connection is back (subscriptions restored), on the client's event thread."""
    closed_cb: EventCallback | None = attrs.field(
        default=None, eq=False, repr=False, validator=_optional_callable("closed_cb", "no arguments")
    )
    """Called once when the client is closed, by ``close()`` or because reconnects ran out."""

    @property
    def redacted_servers(self) -> tuple[str, ...]:
        """The server URLs with any password or token hidden."""
        return tuple(redact_url(u) for u in self.servers)

    def __attrs_post_init__(self) -> None:
        for field in ("allow_reconnect", "no_echo", "dont_randomize", "retry_on_failed_connect", "tls_handshake_first"):
            if not isinstance(getattr(self, field), bool):
                raise TypeError(f"{field} must be a bool, got {type(getattr(self, field)).__name__}")
        if not self.inbox_prefix or any(c.isspace() or c in "*>" for c in self.inbox_prefix):
            raise ValueError(
                f"inbox_prefix must be a non-empty subject without wildcards or whitespace, got {self.inbox_prefix!r}"
            )
        check_security(self)


def refuse_unknown_keywords(given: Iterable[str], known: Sequence[str], *, unknown: str, accepted: str) -> None:
    """Raise ``TypeError`` for the first (in sorted order) of ``given`` that is not in ``known``:
    ``{unknown} 'x'; did you mean 'y'? {accepted}``, the hint naming the closest known keyword
    when one is close. A mistyped keyword is named where it was given, not as an
    ``Options.__init__`` argument."""
    for name in sorted(set(given) - set(known)):
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TypeError(f"{unknown} {name!r}; {hint}{accepted}")
