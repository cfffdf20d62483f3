"""What a failed connection attempt tells the user: one of our errors, saying what to do, no secret."""

from __future__ import annotations

import ssl

from .._core.options import Options, redact_url
from .._core.security import describe_credentials, scrub, secrets_of
from ..errors import AuthorizationError, ConnectError, ProtocolError

__all__ = ["connect_error", "explain_failure", "is_auth_error", "refused", "websocket_refusal"]


def connect_error(options: Options, url: str | None, reason: str, auth: bool = False) -> ConnectError:
    """``cannot connect to <url>: <reason>`` (every server when ``url`` is None), secrets scrubbed."""
    shown = redact_url(url) if url is not None else ", ".join(options.redacted_servers)
    text = scrub(f"cannot connect to {shown}: {reason}", secrets_of(options))
    return AuthorizationError(text) if auth else ConnectError(text)


def explain_failure(exc: BaseException, options: Options, url: str, tls_used: bool) -> ConnectError | None:
    """Our error for what ended an attempt to connect to ``url``; None when ``exc`` is not an
    attempt's failure (a cancellation, a programming error) and must travel on as it is."""
    if isinstance(exc, ConnectError):  # the handshake's own checks: TLS not offered, credentials unusable
        return exc
    if isinstance(exc, TimeoutError):
        return connect_error(options, url, "no answer within the connect timeout")
    if isinstance(exc, ProtocolError):
        shown = f": {exc.excerpt!r}" if exc.excerpt else ""
        return connect_error(options, url, f"the server broke the protocol ({exc.reason}{shown})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        # a hand-made SSLCertVerificationError has neither attribute
        why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or "verification failed"
        return connect_error(
            options,
            url,
            f"the server's TLS certificate did not verify ({why}); give the CA that signed it as "
            "tls_ca_file (or in tls=), or tls_hostname if the certificate names another host",
        )
    if isinstance(exc, (ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        if not tls_used:
            return connect_error(options, url, f"the server closed the connection ({exc})")
        detail = getattr(exc, "reason", None) or type(exc).__name__
        return connect_error(
            options,
            url,
            f"the server ended the TLS handshake ({detail}); it may require a client certificate "
            "(give tls_cert_file and tls_key_file) or refuse the one given",
        )
    if isinstance(exc, OSError):
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or str(exc))
        return connect_error(
            options,
            url,
            f"{reason}; is nats-server running? (start one with `nats-server`, or `python -m beluga_nats_sync server`)",
        )
    return None


def refused(text: str, options: Options, url: str) -> ConnectError:
    """The error for the server's ``-ERR`` in answer to CONNECT."""
    if not is_auth_error(text):
        return connect_error(options, url, f"the server said: {text}")
    creds = describe_credentials(options)
    if creds == "no credentials":
        reason = (
            "the server requires credentials and none were given (user/password, token, nkeys_seed or user_credentials)"
        )
    else:
        reason = f"the server refused the credentials ({creds}): {text.lower()}"
    return connect_error(options, url, reason, auth=True)


def is_auth_error(text: str) -> bool:
    """A ``-ERR`` saying the credentials were refused, expired or revoked."""
    low = text.lower()
    return "authorization violation" in low or "authentication" in low


def websocket_refusal(options: Options) -> ConnectError | None:
    """The error for WebSocket server URLs, which this engine does not speak; None when there are none."""
    websockets = [redact_url(u) for u in options.servers if u.startswith(("ws://", "wss://"))]
    if not websockets:
        return None
    return ConnectError(
        f"cannot connect to {', '.join(websockets)}: this client speaks NATS over TCP (nats://, tls://), "
        "not over WebSocket; use the server's NATS port (4222 unless configured otherwise)"
    )
