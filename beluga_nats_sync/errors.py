"""The errors raised by beluga_nats_sync (the engine raises only these, whatever the socket or the server did).

Every error the package raises on purpose derives from :class:`NATSSyncError`, the
ones defined in its other modules too (``tests/unit/test_error_tree.py`` checks every
module); where one resembles a built-in it derives from that too, so ``except
TimeoutError``, ``except ValueError`` or ``except RuntimeError`` work as a Python user
expects::

    NATSSyncError
     ├── ConnectError (ConnectionError)
     │    └── AuthorizationError
     ├── DisconnectedError (ConnectionError)
     ├── ClosedError
     ├── NATSTimeoutError (TimeoutError)
     │    └── RequestTimeoutError
     ├── NoRespondersError
     ├── InvalidSubjectError (ValueError)
     ├── PayloadTooLargeError (ValueError)
     ├── NoReplySubjectError (ValueError)
     ├── OutboundBufferFullError (BufferError)
     ├── SlowConsumerError
     ├── PermissionsError
     ├── ProtocolError                       (a server frame that breaks the protocol: the connection is dropped)
     ├── MessageDecodeError (ValueError)
     ├── ContextError (ValueError)          a NATS context (``nats context``) that cannot be used
     │    └── ContextNotFoundError (FileNotFoundError)
     └── JetStreamError                      (code, err_code, description from the server)
          ├── JetStreamNotEnabledError
          ├── StreamNotFoundError
          ├── ConsumerNotFoundError
          ├── BucketNotFoundError
          ├── KeyNotFoundError (LookupError)
          ├── WrongRevisionError
          │    └── KeyExistsError
          └── MsgAlreadyAckedError

Defined beside what raises them, in the same tree::

    NATSSyncError
     ├── bus.HandlerResultError (TypeError)      a handler returned what the bus cannot use
     ├── services.ServiceError                   raised by a service handler: answer with this code
     ├── server.ServerNotFoundError (RuntimeError)   no ``nats-server`` binary found
     ├── server.PortInUseError (RuntimeError)        the port asked for is taken
     ├── cli.CLIError                            bad input to ``beluga-nats``
     ├── agents.AgentError ...                   the agent protocol's errors (see :mod:`beluga_nats_sync.agents`)
     └── compat.pynats2.NATSError ...            pynats2's error classes, for code moved from it
"""

from __future__ import annotations

__all__ = [
    "AuthorizationError",
    "BucketNotFoundError",
    "ClosedError",
    "ConnectError",
    "ConsumerNotFoundError",
    "ContextError",
    "ContextNotFoundError",
    "DisconnectedError",
    "InvalidSubjectError",
    "JetStreamError",
    "JetStreamNotEnabledError",
    "KeyExistsError",
    "KeyNotFoundError",
    "MessageDecodeError",
    "MsgAlreadyAckedError",
    "NATSSyncError",
    "NATSTimeoutError",
    "NoReplySubjectError",
    "NoRespondersError",
    "OutboundBufferFullError",
    "PayloadTooLargeError",
    "PermissionsError",
    "ProtocolError",
    "RequestTimeoutError",
    "SlowConsumerError",
    "StreamNotFoundError",
    "WrongRevisionError",
]


class NATSSyncError(Exception):
    """Root of every error this library raises on purpose."""


class ConnectError(NATSSyncError, ConnectionError):
    """The client could not connect (or reconnect) to any server in time."""


class AuthorizationError(ConnectError):
    """The server refused the credentials. The message never contains the secret."""


class DisconnectedError(NATSSyncError, ConnectionError):
    """The connection was lost while a request waited for its reply (the client reconnects)."""


class ClosedError(NATSSyncError):
    """The client (or subscription) is closed; the call cannot be carried out."""


class NATSTimeoutError(NATSSyncError, TimeoutError):
    """A bounded wait (flush, drain, next_msg, ...) ran out of time."""


class RequestTimeoutError(NATSTimeoutError):
    """No reply arrived within the request's timeout."""


class NoRespondersError(NATSSyncError):
    """Nobody is subscribed to the request's subject; raised at once."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"no responders on {subject!r}: nothing is subscribed to it")
        self.subject = subject


class InvalidSubjectError(NATSSyncError, ValueError):
    """A subject or queue group name is malformed (empty, whitespace, misplaced wildcard)."""


class PayloadTooLargeError(NATSSyncError, ValueError):
    """The payload is larger than the server's ``max_payload``."""

    def __init__(self, size: int, max_payload: int) -> None:
        super().__init__(
            f"payload of {size} bytes exceeds the server's max_payload of {max_payload} bytes; "
            "split it, or raise max_payload in the server configuration"
        )
        self.size = size
        self.max_payload = max_payload


class NoReplySubjectError(NATSSyncError, ValueError):
    """``respond()`` was called on a message that carries no reply subject."""


class OutboundBufferFullError(NATSSyncError, BufferError):
    """Published data waiting to be written exceeds the configured bound."""


class SlowConsumerError(NATSSyncError):
    """A subscription's pending limit was hit and messages were dropped."""

    def __init__(self, subject: str, sid: int, dropped: int) -> None:
        super().__init__(
            f"slow consumer on {subject!r} (sid {sid}): pending limit reached, "
            f"{dropped} message(s) dropped so far; consume faster or raise pending_msgs_limit"
        )
        self.subject = subject
        self.sid = sid
        self.dropped = dropped


class PermissionsError(NATSSyncError):
    """The server refused a publish or subscribe on a subject the user may not use.

    Reported through ``error_cb``; the connection stays up for the subjects the user may use.
    ``operation`` is ``"publish"`` or ``"subscribe"`` and ``subject`` the subject refused, when
    the server said them (as the server wrote them: the subject keeps its case).
    """

    def __init__(self, message: str, *, operation: str | None = None, subject: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.subject = subject


class ProtocolError(NATSSyncError):
    """The server sent something the NATS protocol does not allow (a line too long, a size that is
    not a number or is over ``max_payload``, a subject that is not UTF-8, an INFO that is not a JSON
    object, a header block that does not start with ``NATS/1.0``, ...).

    The connection it came from is dropped and the client reconnects (or closes when reconnects are
    exhausted); the error reaches ``error_cb``. ``reason`` says what was wrong and ``excerpt`` holds
    the start of the offending bytes (at most 64 of them), for the log.
    """

    def __init__(self, reason: str, excerpt: bytes = b"") -> None:
        shown = f": {excerpt!r}" if excerpt else ""
        super().__init__(f"protocol error from the server: {reason}{shown}")
        self.reason = reason
        self.excerpt = excerpt


class MessageDecodeError(NATSSyncError, ValueError):
    """Bytes on the wire are not a valid Beluga ``Message`` envelope."""


class ContextError(NATSSyncError, ValueError):
    """A NATS context (the named settings of the ``nats`` CLI) cannot be used: bad JSON, a field
    this client cannot honour, a value of the wrong type. ``context`` is its name and ``path`` its
    file; the message names both and never quotes a secret."""

    def __init__(self, message: str, *, context: str, path: str | None = None) -> None:
        super().__init__(message)
        self.context = context
        self.path = path


class ContextNotFoundError(ContextError, FileNotFoundError):
    """The NATS context, or a file it names (``creds``, ``nkey``, ``cert``, ``key``, ``ca``), does
    not exist; ``filename`` is the missing file."""

    def __init__(self, message: str, *, context: str, path: str | None = None, filename: str | None = None) -> None:
        super().__init__(message, context=context, path=path)
        self.filename = filename

    def __str__(self) -> str:
        return str(self.args[0])  # not OSError's "[Errno None] ..." form


class JetStreamError(NATSSyncError):
    """A JetStream or key-value call failed; ``code``, ``err_code`` and ``description`` carry the
    server's answer when there was one (``err_code`` is the server's stable error number)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        err_code: int | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.err_code = err_code
        self.description = description


class JetStreamNotEnabledError(JetStreamError):
    """The server (or this account) has no JetStream: start ``nats-server -js``."""


class StreamNotFoundError(JetStreamError):
    """The named stream does not exist, or no stream captures the subject published to."""


class ConsumerNotFoundError(JetStreamError):
    """The named consumer does not exist on the stream."""


class BucketNotFoundError(JetStreamError):
    """The key-value bucket does not exist."""


class KeyNotFoundError(JetStreamError, LookupError):
    """The key has no value in the bucket (never written, deleted or purged)."""


class WrongRevisionError(JetStreamError):
    """A conditional write expected another revision than the key has (someone wrote first)."""


class KeyExistsError(WrongRevisionError):
    """``create()`` found the key already holding a value."""


class MsgAlreadyAckedError(JetStreamError):
    """The JetStream message was already acknowledged (ack, nak or term); it takes one answer."""
