"""Input checks and PUB/HPUB framing, done in the caller's thread before anything is queued.

The subject checks and the framing live in :mod:`beluga_nats_sync.protocol`; this module keeps
the client's own rules on top (timeouts, payload types).

Every check raises an error that says what was wrong and what is accepted; nothing reaches the
I/O thread unless it is well-formed, so a bad call never harms the connection.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from ..protocol.checks import DEFAULT_MAX_CONTROL_LINE, check_control_line, check_queue, check_subject
from ..protocol.framing import frame_pub as _frame_pub
from ..protocol.headers import HeadersInput
from ..protocol.headers import encode_headers as _encode_headers

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
    """Encode ``headers`` (a :class:`~beluga_nats_sync.Headers`, or a mapping of str to a str or a
    list of str, each value its own line) as a NATS/1.0 header block.

    Names: printable ASCII without ':' or whitespace. Values: str without CR or LF.
    """
    return _encode_headers(headers)


def pub_prefix(subject: str, max_line: int = DEFAULT_MAX_CONTROL_LINE) -> bytes:
    """``PUB <subject> `` for a checked subject: the part of a plain PUB that a cache can keep."""
    check_subject(subject)
    check_control_line(max_line, "subject", subject)
    return b"PUB " + subject.encode() + b" "


def frame_pub(
    subject: str,
    payload: bytes,
    reply: str | None,
    headers: HeadersInput | None,
    max_payload: int,
    max_line: int = DEFAULT_MAX_CONTROL_LINE,
) -> bytes:
    """A PUB (or, with headers, HPUB) command for a checked subject and a bytes payload.

    Checks the reply subject and the headers; with headers, the limit applies to headers and
    payload together, as the server counts them.
    """
    hdr = None if headers is None else encode_headers(headers)
    return _frame_pub(subject, payload, reply, hdr, max_payload, max_line, subject_checked=True)
