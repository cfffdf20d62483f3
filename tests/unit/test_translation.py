"""Every translation of nats-py's errors into ours (the seam's errors module), without a server."""

from __future__ import annotations

import asyncio
import ssl

import nats.errors as nerr

import beluga_nats_sync as bns
from beluga_nats_sync._core.options import Options
from beluga_nats_sync._natspy.errors import translate, translate_async_error, translate_connect_error
from beluga_nats_sync._natspy.security import TLSNotOfferedError
from beluga_nats_sync.jetstream._errors import api_error


def test_connect_errors_say_what_happened() -> None:
    refused = translate_connect_error(ConnectionRefusedError(111, "Connect call failed"), "nats://h:1")
    assert isinstance(refused, bns.ConnectError) and "connection refused" in str(refused)
    assert "nats-server" in str(refused)
    silent = translate_connect_error(asyncio.TimeoutError(), "nats://h:1")
    assert "no answer within the connect timeout" in str(silent)
    tls = translate_connect_error(TLSNotOfferedError("no"), "tls://h:1", Options(servers="tls://h:1"))
    assert "does not offer TLS" in str(tls) and "nothing was sent" in str(tls)
    cert = ssl.SSLCertVerificationError("x")
    assert "did not verify" in str(translate_connect_error(cert, "tls://h:1", Options(servers="tls://h:1")))


def test_refused_credentials_never_quote_the_secret() -> None:
    o = Options(servers="nats://h:1", user="alice", password="s3cr3t-pass")
    err = translate_connect_error(nerr.AuthorizationError(), "nats://h:1", o)
    assert isinstance(err, bns.AuthorizationError) and "alice" in str(err) and "s3cr3t-pass" not in str(err)


def test_async_errors() -> None:
    perm = translate_async_error(nerr.Error('nats: permissions violation for publish to "secret.x"'))
    assert isinstance(perm, bns.PermissionsError) and perm.operation == "publish" and perm.subject == "secret.x"
    assert isinstance(translate_async_error(nerr.AuthorizationError()), bns.AuthorizationError)
    ours = bns.ClosedError("x")
    assert translate_async_error(ours) is ours


def test_operation_errors() -> None:
    assert isinstance(translate(nerr.ConnectionClosedError(), "flush"), bns.ClosedError)
    t = translate(nerr.TimeoutError(), "flush", 1.5)
    assert isinstance(t, bns.NATSTimeoutError) and "1.5 s" in str(t)
    assert isinstance(translate(nerr.ConnectionReconnectingError(), "flush"), bns.NATSTimeoutError)
    bug = ValueError("a bug of ours")
    assert translate(bug, "x") is bug  # not nats-py's: surfaces as it is


def test_jetstream_api_errors_by_number() -> None:
    assert isinstance(api_error(404, 10059, "stream not found", "info", stream="S"), bns.StreamNotFoundError)
    assert isinstance(api_error(404, 10014, "consumer not found", "info"), bns.ConsumerNotFoundError)
    assert isinstance(api_error(503, 10039, "not enabled", "info"), bns.JetStreamNotEnabledError)
    assert isinstance(api_error(400, 10071, "wrong last sequence", "put"), bns.WrongRevisionError)
    other = api_error(500, 10999, "odd", "info")
    assert type(other) is bns.JetStreamError and other.err_code == 10999 and "odd" in str(other)
