"""What the client says in its handshake: whether the connection must be TLS, and the CONNECT options.

Pure: the engine reads the server's INFO (checked by :func:`~beluga_nats_sync.protocol.parse_info`),
calls :func:`tls_wanted` before anything is written (and upgrades the socket when it says so), then
writes ``frame_connect(connect_options(...))`` followed by a PING. Reading a seed or credentials
file is the only I/O here, at the moment of signing, so a rotated file is picked up on reconnect.

Credentials, in nats.go's order of precedence (one kind is sent, never all of them):

1. ``user_credentials`` (a ``.creds`` file): ``jwt`` and ``sig``, the server's nonce signed with
   the file's seed;
2. ``nkeys_seed`` / ``nkeys_seed_str``: ``nkey`` (the public key) and ``sig``;
3. a token: ``options.token``, else the URL's (``nats://token@host``);
4. user and password: the options', else the URL's (``nats://user:pass@host``).

The signatures are ed25519 (the ``nkeys`` package), in unpadded base64url as nats.go writes them
(nats-py writes padded standard base64; the server accepts both). 1 and 2 need the server's
``nonce``: without one, the next kind that is configured is sent, and a server that asks for
credentials (``auth_required``) while offering no nonce to sign is refused here. With 1 or 2 a
configured ``token`` travels too, as ``auth_token`` (both nats.go and nats-py do this, for auth
callouts). Seeds are read into ``bytearray`` objects and overwritten once used.

Errors are :class:`~beluga_nats_sync.errors.ConnectError` (or its
:class:`~beluga_nats_sync.errors.AuthorizationError`), naming the option at fault and never
quoting a secret.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .._core.options import Options, redact_url
from .._core.security import describe_credentials, read_credentials_file, read_seed_file, wipe
from ..errors import AuthorizationError, ConnectError
from .pool import Server

__all__ = ["LANG", "PROTOCOL", "connect_options", "tls_wanted"]

#: CONNECT's ``lang``: the server only shows it (``/connz``, ``nats server report connections``),
#: next to ``version``. nats-py sends ``python3``; with our version beside it an operator would
#: read an ancient nats-py, so we name the library, as nats.js and nats.ws name theirs.
LANG = "beluga-nats-sync"
#: CONNECT's ``protocol``: 1 lets the server send INFO updates (cluster topology, lame duck)
PROTOCOL = 1

_NKEYS_HINT = "pip install 'beluga-nats-sync[nkeys]'"


def _tls_asked(options: Options, server: Server) -> bool:
    """The URL or the options ask for TLS (``tls://``, TLS options, or handshake-first)."""
    return (
        server.scheme == "tls"
        or options.tls is not None
        or bool(options.tls_ca_file or options.tls_cert_file)
        or options.tls_handshake_first
    )


def tls_wanted(options: Options, server: Server, info: Mapping[str, Any]) -> bool:
    """Whether this connection is to be TLS, from the URL, the options and the server's INFO.

    True when the URL (``tls://``) or the options (``tls``, ``tls_ca_file``, ``tls_cert_file``,
    ``tls_handshake_first``) ask for it, or the server requires it (``tls_required``). Asked for
    and not offered (neither ``tls_required`` nor ``tls_available``): :class:`ConnectError`,
    before anything is sent; never a fall back to plaintext. WebSocket URLs: the WebSocket layer
    does TLS (``wss://``) below NATS, before INFO, so INFO's TLS fields do not apply.
    """
    if server.scheme in ("ws", "wss"):
        return server.scheme == "wss"
    required = info.get("tls_required") is True
    if _tls_asked(options, server) and not (required or info.get("tls_available") is True):
        raise ConnectError(
            f"cannot connect to {redact_url(server.url)}: TLS was asked for (a tls:// URL or a TLS option) "
            "but the server does not offer TLS; nothing was sent. Enable TLS on the server, or use a "
            "nats:// URL without TLS options"
        )
    return required or _tls_asked(options, server)


def connect_options(options: Options, info: Mapping[str, Any], server: Server, *, lang_version: str) -> dict[str, Any]:
    """The CONNECT options for ``server``, whose checked INFO is ``info``.

    ``lang_version`` is the client's version (``beluga_nats_sync.__version__``), passed in so
    that this module does not import the package it is part of. Raises :class:`ConnectError`
    when TLS is asked and not offered (see :func:`tls_wanted`), when ``no_echo`` is set and the
    server is too old to honour it, or when a seed or credentials file cannot be used; and
    :class:`AuthorizationError` when the server asks for credentials it gives no way to send.
    """
    if not isinstance(lang_version, str) or not lang_version:
        raise ValueError(f"lang_version must be a non-empty str, got {lang_version!r}")
    out: dict[str, Any] = {
        "verbose": False,
        "pedantic": False,
        "tls_required": tls_wanted(options, server, info),
        "lang": LANG,
        "version": lang_version,
        "protocol": PROTOCOL,
        "headers": True,
        "no_responders": True,
        "echo": not options.no_echo,
    }
    if options.name is not None:
        out["name"] = options.name
    proto = info.get("proto", 0)
    if options.no_echo and (not isinstance(proto, int) or proto < 1):
        raise ConnectError(
            f"cannot connect to {redact_url(server.url)}: no_echo=True needs a server that speaks protocol 1 "
            f"(nats-server 1.2 or later), this one says protocol {proto!r}"
        )
    out.update(_credentials(options, info, server))
    return out


def _credentials(options: Options, info: Mapping[str, Any], server: Server) -> dict[str, str]:
    nonce = info.get("nonce")
    signs = options.user_credentials is not None or options.nkeys_seed is not None or options.nkeys_seed_str
    if signs and isinstance(nonce, str) and nonce:
        if options.user_credentials is not None:
            jwt, sig = _sign_with_credentials(options.user_credentials, nonce)
            found = {"jwt": jwt, "sig": sig}
        else:
            nkey, sig = _sign_with_seed(options, nonce)
            found = {"nkey": nkey, "sig": sig}
        if options.token is not None:
            found["auth_token"] = options.token
        return found
    token = options.token if options.token is not None else server.token
    if token:
        return {"auth_token": token}
    if options.user is not None and options.password is not None:
        return {"user": options.user, "pass": options.password}
    if server.user is not None and server.password is not None:
        return {"user": server.user, "pass": server.password}
    if signs and info.get("auth_required") is True:
        raise AuthorizationError(
            f"cannot connect to {redact_url(server.url)}: the server asks for credentials but sends no nonce "
            f"to sign, so {describe_credentials(options)} cannot be used with it (it does not accept NKey or "
            "JWT authentication); give the credentials this server expects"
        )
    return {}


def _sign_with_seed(options: Options, nonce: str) -> tuple[str, str]:
    if options.nkeys_seed is not None:
        what = "nkeys_seed"
        try:
            seed = read_seed_file(options.nkeys_seed)
        except OSError as exc:
            raise ConnectError(f"nkeys_seed: cannot read {options.nkeys_seed!r}: {exc.strerror or exc}") from None
    else:
        what = "nkeys_seed_str"
        seed = bytearray((options.nkeys_seed_str or "").strip().encode())
    return _sign(seed, nonce, what)


def _sign_with_credentials(path: str, nonce: str) -> tuple[str, str]:
    try:
        jwt, seed = read_credentials_file(path)
    except OSError as exc:
        raise ConnectError(f"user_credentials: cannot read {path!r}: {exc.strerror or exc}") from None
    if jwt is None or seed is None:
        if seed is not None:
            wipe(seed)
        raise ConnectError(
            f"user_credentials: {path!r} no longer holds a user JWT and an NKey seed "
            "(expected the file written by `nsc generate creds`)"
        )
    _public, sig = _sign(seed, nonce, "user_credentials")
    return jwt, sig


def _sign(seed: bytearray, nonce: str, what: str) -> tuple[str, str]:
    """``(public key, signature of the nonce)``; ``seed`` is wiped whatever happens."""
    try:
        try:
            import nkeys
        except ImportError:
            raise ConnectError(f"{what} needs the nkeys package: {_NKEYS_HINT}") from None
        try:
            kp = nkeys.from_seed(seed)
        except Exception:  # nkeys raises several kinds, and their text is no business of the user's
            raise ConnectError(f"{what}: not a valid NKey seed (expected one line starting with 'SU')") from None
        try:
            raw = kp.sign(nonce.encode())
            public = kp.public_key.decode()
        except Exception:
            raise ConnectError(f"{what}: the NKey seed cannot sign (is it a user seed, 'SU...'?)") from None
        finally:
            kp.wipe()
    finally:
        wipe(seed)
    return public, base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
