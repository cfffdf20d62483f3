"""Framing of everything a client sends: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG.

Every function checks its arguments first (subjects, queue groups, headers, sizes, line length)
and raises an error naming what was wrong, so a bad call never reaches the connection. Large
payloads: :func:`pub_parts` returns ``[head, payload, b"\\r\\n"]`` for ``socket.sendmsg`` with
the caller's payload object untouched (no copy); :func:`frame_pub` returns one ``bytes``, the
better choice below a few KiB.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import PayloadTooLargeError
from .checks import DEFAULT_MAX_CONTROL_LINE, check_control_line, check_queue, check_subject
from .headers import encode_headers

__all__ = [
    "PING_FRAME",
    "PONG_FRAME",
    "frame_connect",
    "frame_hpub",
    "frame_pub",
    "frame_sub",
    "frame_unsub",
    "pub_parts",
]

PING_FRAME = b"PING\r\n"
PONG_FRAME = b"PONG\r\n"
_CRLF = b"\r\n"
_Payload = bytes | bytearray | memoryview


def frame_connect(options: Mapping[str, Any]) -> bytes:
    """``CONNECT {json}`` for the connect options (a JSON object; no NaN or infinity)."""
    if not isinstance(options, Mapping):
        raise TypeError(f"CONNECT options must be a mapping, got {type(options).__name__}")
    try:
        text = json.dumps(dict(options), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"CONNECT options must be plain JSON values: {exc}") from None
    return b"CONNECT " + text.encode() + _CRLF  # ensure_ascii: no CR or LF can appear in it


def _reply(subject: str, reply: str | None, max_line: int) -> bytes:
    if reply:
        check_subject(reply, what="reply")
        check_control_line(max_line, "reply subject", subject, reply)
        return reply.encode() + b" "
    if reply is not None and reply != "":
        raise TypeError(f"reply must be a str subject or None, got {type(reply).__name__}")
    return b""


def frame_pub(
    subject: str,
    payload: bytes,
    reply: str | None = None,
    headers: Any = None,
    max_payload: int = 1024 * 1024,
    max_line: int = DEFAULT_MAX_CONTROL_LINE,
    *,
    subject_checked: bool = False,
) -> bytes:
    """One PUB (or, with ``headers``, HPUB) command as ``bytes``.

    ``headers``: a :class:`~.headers.Headers`, a mapping of str to a str or a list of str, or a
    block :func:`~.headers.encode_headers` returned (bytes, used as they are). The size limit
    applies to headers and payload together, as the server counts them.
    ``subject_checked`` skips the subject's check for a caller that keeps checked subjects.
    """
    if not subject_checked:
        check_subject(subject)
        check_control_line(max_line, "subject", subject)
    r = _reply(subject, reply, max_line) if reply is not None else b""
    n = len(payload)
    if headers is None:
        if n > max_payload:
            raise PayloadTooLargeError(n, max_payload)
        return b"PUB %b %b%d\r\n%b\r\n" % (subject.encode(), r, n, payload)
    hdr = headers if type(headers) is bytes else encode_headers(headers)
    h = len(hdr)
    if h + n > max_payload:
        raise PayloadTooLargeError(h + n, max_payload)
    return b"HPUB %b %b%d %d\r\n%b%b\r\n" % (subject.encode(), r, h, h + n, hdr, payload)


def frame_hpub(
    subject: str,
    payload: bytes,
    headers: Any,
    reply: str | None = None,
    max_payload: int = 1024 * 1024,
    max_line: int = DEFAULT_MAX_CONTROL_LINE,
) -> bytes:
    """One HPUB command (``headers`` required; see :func:`frame_pub`)."""
    if headers is None:
        raise TypeError("HPUB needs headers (a Headers, or a mapping of str to str or list of str)")
    return frame_pub(subject, payload, reply, headers, max_payload, max_line)


def pub_parts(
    subject: str,
    payload: _Payload,
    reply: str | None = None,
    headers: Any = None,
    max_payload: int = 1024 * 1024,
    max_line: int = DEFAULT_MAX_CONTROL_LINE,
) -> list[_Payload]:
    """``[head, payload, b"\\r\\n"]``: the same command as :func:`frame_pub`, in pieces for
    ``sendmsg`` so the payload is never copied (the head holds the header block for HPUB)."""
    check_subject(subject)
    check_control_line(max_line, "subject", subject)
    r = _reply(subject, reply, max_line)
    n = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    if headers is None:
        if n > max_payload:
            raise PayloadTooLargeError(n, max_payload)
        return [b"PUB %b %b%d\r\n" % (subject.encode(), r, n), payload, _CRLF]
    hdr = encode_headers(headers)
    h = len(hdr)
    if h + n > max_payload:
        raise PayloadTooLargeError(h + n, max_payload)
    return [b"HPUB %b %b%d %d\r\n%b" % (subject.encode(), r, h, h + n, hdr), payload, _CRLF]


def _check_sid(sid: Any, what: str = "sid") -> int:
    if isinstance(sid, bool) or not isinstance(sid, int) or sid < 1:
        raise ValueError(f"{what} must be a positive int, got {sid!r}")
    return sid


def frame_sub(subject: str, sid: int, queue: str | None = None, max_line: int = DEFAULT_MAX_CONTROL_LINE) -> bytes:
    """``SUB <subject> [queue] <sid>``: wildcards allowed in the subject."""
    check_subject(subject, wildcards=True)
    _check_sid(sid)
    if queue:
        check_queue(queue)
        check_control_line(max_line, "subject and queue group", subject, queue)
        return b"SUB %b %b %d\r\n" % (subject.encode(), queue.encode(), sid)
    if queue is not None and queue != "":
        raise TypeError(f"queue must be a str or None, got {type(queue).__name__}")
    check_control_line(max_line, "subject", subject)
    return b"SUB %b %d\r\n" % (subject.encode(), sid)


def frame_unsub(sid: int, max_msgs: int | None = None) -> bytes:
    """``UNSUB <sid> [max_msgs]``: with ``max_msgs``, the server ends the subscription after that
    many messages in all (those already delivered count)."""
    _check_sid(sid)
    if max_msgs is None:
        return b"UNSUB %d\r\n" % sid
    _check_sid(max_msgs, "max_msgs")
    return b"UNSUB %d %d\r\n" % (sid, max_msgs)
