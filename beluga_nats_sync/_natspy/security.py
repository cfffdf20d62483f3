"""TLS and credentials handed to nats-py, the guard on each connection, and the words for
connection errors.

- A connection that should be encrypted (a ``tls://`` URL, or any TLS option) is encrypted or
  not made at all: a server that does not offer TLS is refused before any credential is sent.
  The guard is installed by replacing a private method of nats-py (checked by the contract);
  if it cannot be installed, the client refuses to connect.
- Errors about a failed connection say what went wrong (certificate, client certificate,
  credentials) in words.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from nats import errors as nerr

from .._core.security import build_ssl_context, describe_credentials
from ..errors import AuthorizationError, ConnectError

if TYPE_CHECKING:
    from .._core.options import Options

__all__ = [
    "TLSNotOfferedError",
    "connect_kwargs",
    "explain_connect_error",
    "explain_reconnect_error",
    "is_auth_error",
]


class TLSNotOfferedError(nerr.Error):  # a nats-py error, so its connect loop handles it like any other
    """The connection must be encrypted but the server does not offer TLS."""


def wants_tls(nc: Any, o: Options) -> bool:
    server = nc._current_server
    scheme = server.uri.scheme if server is not None else ""
    if scheme in ("ws", "wss"):
        return False  # TLS, if any, is the WebSocket's (wss://), below the NATS protocol
    return scheme == "tls" or o.tls is not None or bool(o.tls_ca_file or o.tls_cert_file or o.tls_handshake_first)


def _guard_connection(nc: Any, o: Options) -> None:
    """Hook each connection nats-py makes (reconnects too) between the server's INFO and our CONNECT.

    - TLS: nats-py upgrades only when INFO says ``tls_required``, so a ``tls://`` URL alone would
      go plaintext to a server that does not offer TLS (or to anyone who can rewrite its INFO),
      credentials included. Here such a server is refused before CONNECT is written.
    - Refused credentials: nats-py writes CONNECT and PING separately. A server that refuses the
      credentials closes the socket with the PING still unread, the kernel answers with a reset,
      and the reset destroys the server's ``-ERR 'Authorization Violation'`` before we read it:
      about one refused connect in five looked like a network error. Sending CONNECT and PING in
      one write lets the server read both before it closes, so the refusal is always seen.
    """
    original = nc._process_info

    async def process_info(info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection:
            if wants_tls(nc, o) and not info.get("tls_required"):
                if info.get("tls_available"):
                    info["tls_required"] = True  # TLS is optional on this server: take it
                else:
                    raise TLSNotOfferedError("the server does not offer TLS")
            _join_connect_and_ping(nc._transport)
        await original(info, initial_connection)

    nc._process_info = process_info


def _join_connect_and_ping(transport: Any) -> None:
    """Hold the CONNECT written to ``transport`` until the next write (the PING), then send both."""
    if type(transport).__name__ != "TcpTransport" or "write" in vars(transport):
        return
    held: list[bytes] = []

    def write(payload: bytes) -> Any:
        if not held and payload.startswith(b"CONNECT "):
            held.append(payload)  # nats-py drains next; with nothing written, that returns at once
            return None
        del transport.write  # once: back to the transport's own method
        return transport.write(b"".join(held) + payload if held else payload)

    transport.write = write


def connect_kwargs(nc: Any, o: Options) -> dict[str, Any]:
    """The keyword arguments of ``nats.aio.client.Client.connect`` for TLS and credentials.

    Installs the per-connection guard on ``nc``. Runs on the I/O thread.
    """
    _guard_connection(nc, o)
    kwargs: dict[str, Any] = {}
    ctx = build_ssl_context(o)
    if ctx is not None:
        kwargs["tls"] = ctx
    if o.tls_hostname is not None:
        kwargs["tls_hostname"] = o.tls_hostname
    if o.tls_handshake_first:
        kwargs["tls_handshake_first"] = True
    for name in ("user", "password", "token", "nkeys_seed", "nkeys_seed_str", "user_credentials"):
        value = getattr(o, name)
        if value is not None:
            kwargs[name] = value
    return kwargs


def is_auth_error(exc: BaseException | None) -> bool:
    """The server refused the credentials (or they expired or were revoked)."""
    if exc is None or isinstance(exc, TLSNotOfferedError):
        return False
    if isinstance(exc, nerr.AuthorizationError):
        return True
    text = str(exc).lower()
    return isinstance(exc, nerr.Error) and ("authorization" in text or "authentication" in text)


def explain_connect_error(
    exc: BaseException | None, url: str, o: Options, server_info: dict[str, Any] | None
) -> ConnectError | None:
    """A ConnectError for a TLS or credentials failure, or None when it is neither."""
    if is_auth_error(exc):
        creds = describe_credentials(o)
        if creds == "no credentials":
            return AuthorizationError(
                f"cannot connect to {url}: the server requires credentials and none were given "
                "(user/password, token, nkeys_seed or user_credentials)"
            )
        return AuthorizationError(
            f"cannot connect to {url}: the server refused the credentials ({creds}): authorization violation"
        )
    if isinstance(exc, TLSNotOfferedError):
        return ConnectError(
            f"cannot connect to {url}: TLS was asked for (a tls:// URL or a TLS option) but the server does "
            "not offer TLS; nothing was sent. Enable TLS on the server, or use a nats:// URL without TLS options"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "verification failed"
        return ConnectError(
            f"cannot connect to {url}: the server's TLS certificate did not verify ({why}); give the CA that "
            "signed it as tls_ca_file (or in tls=), or tls_hostname if the certificate names another host"
        )
    tls_used = bool(server_info and server_info.get("tls_required"))
    if tls_used and isinstance(exc, (ssl.SSLError, ConnectionResetError, BrokenPipeError, nerr.UnexpectedEOF)):
        detail = getattr(exc, "reason", None) or type(exc).__name__
        return ConnectError(
            f"cannot connect to {url}: the server ended the TLS handshake ({detail}); it may "
            "require a client certificate (give tls_cert_file and tls_key_file) or refuse the one given"
        )
    return None


def explain_reconnect_error(exc: BaseException) -> ConnectError | None:
    """A ConnectError for a TLS failure met while reconnecting, or None."""
    if isinstance(exc, TLSNotOfferedError):
        return ConnectError(
            "reconnect refused: the server does not offer TLS, which this client requires; nothing was sent"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "verification failed"
        return ConnectError(f"reconnect refused: the server's TLS certificate did not verify ({why})")
    return None

