"""What the engine says when a connection attempt fails: each failure of the socket, the TLS layer
or the server becomes one of our errors, naming the server (its secrets hidden) and what to do."""

from __future__ import annotations

import asyncio
import ssl

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.engine.explain import explain_failure, is_auth_error, refused, websocket_refusal

URL = "nats://alice:s3cret-Pw@127.0.0.1:4222"
OPTS = bns.Options(servers=URL)


def explained(exc: BaseException, tls_used: bool = False) -> bns.ConnectError:
    error = explain_failure(exc, OPTS, URL, tls_used)
    assert isinstance(error, bns.ConnectError), error
    assert "s3cret-Pw" not in str(error)
    assert str(error).startswith("cannot connect to nats://alice:***@127.0.0.1:4222: "), str(error)
    return error


def test_a_connect_error_of_the_handshake_travels_as_it_is() -> None:
    own = bns.ConnectError("cannot connect to x: the server does not offer TLS")
    assert explain_failure(own, OPTS, URL, True) is own


def test_a_timeout_says_no_answer_came() -> None:
    # a socket's own timeout (socket.timeout is the builtin TimeoutError from 3.10): how a setup step runs out
    assert "no answer within the connect timeout" in str(explained(TimeoutError()))
    assert "no answer within the connect timeout" in str(explained(TimeoutError("timed out")))


def test_a_protocol_error_says_the_server_broke_the_protocol() -> None:
    error = explained(bns.ProtocolError("INFO is not a JSON object", b"INFO [1]"))
    assert str(error).endswith("the server broke the protocol (INFO is not a JSON object: b'INFO [1]')")


def test_a_refused_connection_says_how_to_start_a_server() -> None:
    error = explained(ConnectionRefusedError(111, "Connection refused"))
    assert "connection refused; is nats-server running?" in str(error)
    assert "python -m beluga_nats_sync server" in str(error)


def test_a_certificate_that_does_not_verify_says_which_options_help() -> None:
    # made by hand, as a test or a wrapping library may: it has neither verify_message nor reason
    error = explained(ssl.SSLCertVerificationError("certificate verify failed"), tls_used=True)
    assert "the server's TLS certificate did not verify (verification failed)" in str(error)
    assert "tls_ca_file" in str(error) and "tls_hostname" in str(error)


def test_a_tls_handshake_the_server_ended_suggests_a_client_certificate() -> None:
    error = explained(ConnectionResetError(104, "Connection reset by peer"), tls_used=True)
    assert "the server ended the TLS handshake" in str(error)
    assert "tls_cert_file and tls_key_file" in str(error)


def test_a_reset_without_tls_says_the_server_closed_the_connection() -> None:
    assert "the server closed the connection" in str(explained(ConnectionResetError(104, "reset")))


@pytest.mark.parametrize("exc", [asyncio.CancelledError(), KeyError("x"), ZeroDivisionError()])
def test_what_is_not_an_attempts_failure_is_left_to_travel(exc: BaseException) -> None:
    assert explain_failure(exc, OPTS, URL, False) is None


def test_an_authorization_refusal_names_the_credentials_not_their_secrets() -> None:
    error = refused("'Authorization Violation'", OPTS, URL)
    assert isinstance(error, bns.AuthorizationError)
    assert "the server refused the credentials (the credentials in the server URL)" in str(error)
    assert "s3cret-Pw" not in str(error)
    bare = bns.Options(servers="nats://127.0.0.1:4222")
    error = refused("'Authorization Violation'", bare, "nats://127.0.0.1:4222")
    assert "requires credentials and none were given" in str(error)


def test_another_refusal_quotes_the_server() -> None:
    error = refused("'Maximum Connections Exceeded'", OPTS, URL)
    assert type(error) is bns.ConnectError
    assert "the server said: 'Maximum Connections Exceeded'" in str(error)
    assert is_auth_error("Authentication Timeout") and not is_auth_error("Stale Connection")


def test_websocket_urls_are_refused_saying_what_to_use() -> None:
    assert websocket_refusal(OPTS) is None
    error = websocket_refusal(bns.Options(servers=["ws://u:pw-9@127.0.0.1:80", "wss://127.0.0.1:443"]))
    assert isinstance(error, bns.ConnectError)
    assert "cannot connect to ws://u:***@127.0.0.1:80" in str(error)
    assert "not over WebSocket; use the server's NATS port" in str(error)
