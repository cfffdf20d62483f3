"""Input checks and PUB/HPUB framing, done in the caller's thread before anything is queued.

Every check raises an error that says what was wrong and what is accepted; nothing reaches the
I/O thread unless it is well-formed, so a bad call never harms the connection.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidSubjectError, PayloadTooLargeError

__all__ = [
    "check_queue",
    "check_subject",
    "DEFAULT_MAX_CONTROL_LINE",
    "MAX_TIMEOUT",
    "check_control_line",
    "check_timeout",
    "encode_headers",
    "frame_pub",
    "payload_bytes",
    "pub_prefix",
]

_WHITESPACE = frozenset(" \t\r\n\f\v\x00")
_HDR_LINE = b"NATS/1.0\r\n"


def check_subject(subject: Any, *, what: str = "subject", wildcards: bool = False) -> str:
    """Return ``subject`` if it is a valid NATS subject, else raise ``InvalidSubjectError``.

    Accepted: dot-separated non-empty tokens without whitespace; with ``wildcards`` (subscribe),
    ``*`` as a whole token anywhere and ``>`` as the last token.
    """
    if not isinstance(subject, str):
        raise TypeError(f"{what} must be a str such as 'agent.requests', got {type(subject).__name__}")
    if not subject:
        raise InvalidSubjectError(f"{what} is empty; expected dot-separated tokens such as 'agent.requests'")
    if not _WHITESPACE.isdisjoint(subject):
        raise InvalidSubjectError(f"{what} {subject!r} contains whitespace or a control character")
    tokens = subject.split(".")
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if not tok:
            raise InvalidSubjectError(f"{what} {subject!r} has an empty token (leading, trailing or double '.')")
        if tok == "*" or tok == ">":
            if not wildcards:
                raise InvalidSubjectError(
                    f"{what} {subject!r} contains the wildcard {tok!r}; "
                    "wildcards are accepted in subscriptions, not when publishing"
                )
            if tok == ">" and i != last:
                raise InvalidSubjectError(f"{what} {subject!r}: '>' is accepted only as the last token")
    return subject


def check_queue(queue: Any) -> str:
    """Return ``queue`` if it is a valid queue group name ('' for none)."""
    if not isinstance(queue, str):
        raise TypeError(f"queue must be a str (a queue group name, or '' for none), got {type(queue).__name__}")
    if queue and (not _WHITESPACE.isdisjoint(queue) or "*" in queue or ">" in queue):
        raise InvalidSubjectError(f"queue group {queue!r} must not contain whitespace or wildcards; e.g. 'workers'")
    return queue


def payload_bytes(payload: Any) -> bytes:
    """Return the payload as ``bytes``; accept any bytes-like object, refuse ``str`` with a hint."""
    if type(payload) is bytes:
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        raise TypeError("payload must be bytes-like, not str; encode it first, e.g. payload.encode()")
    if payload is None:
        return b""
    try:
        return bytes(memoryview(payload))
    except TypeError:
        raise TypeError(
            f"payload must be bytes-like (bytes, bytearray, memoryview), got {type(payload).__name__}"
        ) from None


#: the longest wait accepted, in seconds: far below what the platform's lock and clock can take
#: (threading.TIMEOUT_MAX), so that adding a margin to it never overflows
MAX_TIMEOUT = min(threading.TIMEOUT_MAX / 4, 1e9)


def check_timeout(timeout: Any, default: float, what: str = "timeout", *, wait: bool = False) -> float:
    """Resolve ``timeout``: ``None`` means ``default``; otherwise a finite number of seconds from 0
    to :data:`MAX_TIMEOUT`, and above 0 when ``wait`` (a call that must wait for an answer)."""
    if timeout is None:
        return default
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, got {type(timeout).__name__}")
    low = "> 0" if wait else ">= 0"
    if math.isnan(timeout) or timeout < 0 or timeout > MAX_TIMEOUT or (wait and timeout == 0):
        raise ValueError(
            f"{what} must be a finite number of seconds {low} and at most {MAX_TIMEOUT:.0e}, or None for the "
            f"default, got {timeout!r}"
        )
    return float(timeout)


def encode_headers(headers: Any) -> bytes:
    """Encode a mapping of str to str as a NATS/1.0 header block.

    Names: printable ASCII without ':' or whitespace. Values: str without CR or LF.
    """
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of str to str, got {type(headers).__name__}")
    parts = [_HDR_LINE]
    for name, value in headers.items():
        if not isinstance(name, str):
            raise TypeError(f"header names must be str, got {type(name).__name__} ({name!r})")
        if not isinstance(value, str):
            raise TypeError(f"header {name!r}: values must be str, got {type(value).__name__}")
        if not name or not name.isascii() or not name.isprintable() or ":" in name or " " in name:
            raise ValueError(f"header name {name!r} is not accepted: use printable ASCII without ':' or spaces")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r}: the value must not contain CR or LF")
        parts.append(f"{name}: {value}\r\n".encode())
    parts.append(b"\r\n")
    return b"".join(parts)


#: the server's limit on a protocol line (PUB/SUB and their arguments) unless configured otherwise
DEFAULT_MAX_CONTROL_LINE = 4096
_LINE_OVERHEAD = 40  # the command, spaces, sizes or sid, CRLF


def check_control_line(max_line: int, what: str, *parts: str) -> None:
    """Refuse a command whose subject, reply or queue would make its line longer than the server
    accepts: the server answers such a line with a fatal -ERR that closes the connection."""
    n = sum(len(p.encode()) for p in parts) + _LINE_OVERHEAD
    if n > max_line:
        raise InvalidSubjectError(
            f"{what} is too long: with its arguments the command line would be about {n} bytes, over the "
            f"server's limit of {max_line} bytes (max_control_line); use shorter subjects and queue names"
        )


def pub_prefix(subject: str, max_line: int = DEFAULT_MAX_CONTROL_LINE) -> bytes:
    """``PUB <subject> `` for a checked subject: the part of a plain PUB that a cache can keep."""
    check_subject(subject)
    check_control_line(max_line, "subject", subject)
    return b"PUB " + subject.encode() + b" "


def frame_pub(
    subject: str,
    payload: bytes,
    reply: str | None,
    headers: Mapping[str, str] | None,
    max_payload: int,
    max_line: int = DEFAULT_MAX_CONTROL_LINE,
) -> bytes:
    """A PUB (or, with headers, HPUB) command for a checked subject and a bytes payload.

    Checks the reply subject and the headers; with headers, the limit applies to headers and
    payload together, as the server counts them.
    """
    r = b""
    if reply:
        check_subject(reply, what="reply")
        check_control_line(max_line, "reply subject", subject, reply)
        r = reply.encode() + b" "
    elif reply is not None and reply != "":
        raise TypeError(f"reply must be a str subject or None, got {type(reply).__name__}")
    n = len(payload)
    if headers is None:
        return b"PUB %b %b%d\r\n%b\r\n" % (subject.encode(), r, n, payload)
    hdr = encode_headers(headers)
    h = len(hdr)
    if h + n > max_payload:
        raise PayloadTooLargeError(h + n, max_payload)
    return b"HPUB %b %b%d %d\r\n%b%b\r\n" % (subject.encode(), r, h, h + n, hdr, payload)
