"""pynats2's server URLs: comma-separated lists, the path "vhost" prefix, the INFO check, TLS.

pynats2 reads the first line the server sends (``INFO {...}``) before it sends anything, and
refuses a TLS mismatch there. We keep that check, on a short-lived connection made just before
the real one, so a ``tls://`` URL never falls back to plain TCP (nats-py would) and credentials
never leave the process in clear text because of it.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from typing import Any, NamedTuple
from urllib.parse import urlparse

from .._core.options import redact_url
from ._pynats2_exceptions import (
    NATSInvalidSchemeError,
    NATSInvalidUrlError,
    NATSTCPConnectionRequiredError,
    NATSTLSConnectionRequiredError,
)

__all__ = ["Server", "parse_url", "probe", "tls_context"]

_DEFAULT_PORT = 4222
_MAX_INFO = 64 * 1024  # an INFO line is a few hundred bytes; stop reading well before this


class Server(NamedTuple):
    """One server of the list: the URL handed to the client (no path) and what the probe needs."""

    url: str
    scheme: str
    host: str
    port: int


def parse_url(url: Any) -> tuple[tuple[Server, ...], str]:
    """Split pynats2's ``url`` argument into servers and the vhost prefix (``''`` or ``'a.b.'``).

    ``url`` is one URL or several separated by commas. The path is the vhost: ``/a/b`` prefixes
    every subject with ``a.b.``. URLs that carry a path must agree on it; the others share it.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str such as 'nats://127.0.0.1:4222', got {type(url).__name__}")
    parts = [p.strip() for p in url.split(",")]
    parts = [p for p in parts if p]
    if not parts:
        raise NATSInvalidUrlError(f"no server URL in {url!r}; expected e.g. 'nats://127.0.0.1:4222'")
    servers: list[Server] = []
    vhosts: set[str] = set()
    for part in parts:
        shown = redact_url(part)
        try:
            parsed = urlparse(part)
            host = parsed.hostname
            port = parsed.port
        except ValueError as exc:
            raise NATSInvalidUrlError(f"cannot parse the server URL {shown!r}: {exc}") from None
        if parsed.scheme not in ("nats", "tls"):
            raise NATSInvalidSchemeError(
                f"got unsupported URI scheme {parsed.scheme!r} in {shown!r}; accepted: nats://, tls://"
            )
        if not host:
            raise NATSInvalidUrlError(f"the server URL {shown!r} names no host; expected e.g. 'nats://127.0.0.1:4222'")
        if any(c.isspace() for c in part):
            raise NATSInvalidUrlError(f"the server URL {shown!r} contains whitespace")
        vhost = parsed.path.strip("/").replace("/", ".")
        if vhost:
            _check_vhost(vhost, shown)
            vhosts.add(vhost)
        servers.append(Server(f"{parsed.scheme}://{parsed.netloc}", parsed.scheme, host, port or _DEFAULT_PORT))
    if len(vhosts) > 1:
        raise NATSInvalidUrlError(
            f"the server URLs name different vhost paths {sorted(vhosts)}; give them all the same path"
        )
    prefix = vhosts.pop() + "." if vhosts else ""
    return tuple(servers), prefix


def _check_vhost(vhost: str, shown: str) -> None:
    for token in vhost.split("."):
        if not token or token in ("*", ">") or "*" in token or ">" in token:
            raise NATSInvalidUrlError(
                f"the path of {shown!r} gives the subject prefix {vhost + '.'!r}, which is not valid: "
                "use non-empty path segments without '*' or '>', e.g. nats://host:4222/tenant1"
            )


def read_info(server: Server, timeout: float) -> tuple[dict[str, Any] | None, OSError | None]:
    """Read the server's INFO line on a fresh connection, sending nothing.

    Returns ``(info, None)``, or ``(None, error)`` when the server cannot be reached or says
    nothing usable within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
            while b"\r\n" not in buf and len(buf) < _MAX_INFO:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, TimeoutError(f"no INFO from {server.host}:{server.port} within {timeout:g} s")
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    return None, ConnectionResetError(f"{server.host}:{server.port} closed the connection")
                buf += chunk
    except OSError as exc:
        return None, exc
    line = buf.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        return None, ConnectionError(f"{server.host}:{server.port} did not start with INFO: not a NATS server?")
    try:
        info = json.loads(line[5:])
    except ValueError:
        return None, ConnectionError(f"{server.host}:{server.port} sent an INFO line that is not JSON")
    return (info, None) if isinstance(info, dict) else (None, ConnectionError("INFO is not a JSON object"))


def probe(servers: tuple[Server, ...], timeout: float) -> list[OSError]:
    """Check, in list order, the first server that answers for a TLS mismatch, as pynats2 does.

    Raises ``NATSTCPConnectionRequiredError`` (``tls://`` to a server without TLS) or
    ``NATSTLSConnectionRequiredError`` (``nats://`` to a server that requires TLS). Returns the
    errors of the servers that did not answer before one did (all of them if none did).
    """
    errors: list[OSError] = []
    for server in servers:
        info, error = read_info(server, timeout)
        if info is None:
            assert error is not None
            errors.append(error)
            continue
        where = redact_url(server.url)
        required = bool(info.get("tls_required", False))
        if server.scheme == "tls" and not required:
            raise NATSTCPConnectionRequiredError(
                f"{where}: the URL asks for TLS but the server does not offer it; "
                "use nats:// or enable TLS on the server"
            )
        if server.scheme == "nats" and required:
            raise NATSTLSConnectionRequiredError(f"{where}: the server requires TLS; use a tls:// URL")
        break
    return errors


def tls_context(cacert: str | None, client_cert: str | None, client_key: str | None, verify: bool) -> ssl.SSLContext:
    """The SSL context pynats2 builds: certificate checks only with ``verify`` (pynats2's
    default is off). A client certificate is loaded whenever one is given (pynats2 loaded it
    only with ``verify``)."""
    ctx = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    if verify:
        if cacert is not None:
            ctx.load_verify_locations(cafile=str(cacert))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert is not None and client_key is not None:
        ctx.load_cert_chain(certfile=str(client_cert), keyfile=str(client_key))
    return ctx
