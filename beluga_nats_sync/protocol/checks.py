"""Checks of what we send, done before anything is framed: subjects, queue groups, line lengths.

Every check raises an error that says what was wrong and what is accepted. This is the one home
of these checks: the client's core imports them from here.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidSubjectError

__all__ = [
    "DEFAULT_MAX_CONTROL_LINE",
    "check_control_line",
    "check_queue",
    "check_subject",
]

_WHITESPACE = frozenset(" \t\r\n\f\v\x00")

#: the server's limit on a protocol line (PUB/SUB and their arguments) unless configured otherwise
DEFAULT_MAX_CONTROL_LINE = 4096
_LINE_OVERHEAD = 40  # the command, spaces, sizes or sid, CRLF


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


def check_control_line(max_line: int, what: str, *parts: str) -> None:
    """Refuse a command whose subject, reply or queue would make its line longer than the server
    accepts: the server answers such a line with a fatal -ERR that closes the connection."""
    n = sum(len(p.encode()) for p in parts) + _LINE_OVERHEAD
    if n > max_line:
        raise InvalidSubjectError(
            f"{what} is too long: with its arguments the command line would be about {n} bytes, over the "
            f"server's limit of {max_line} bytes (max_control_line); use shorter subjects and queue names"
        )
