"""Checks of what we send, done before anything is framed: subjects, queue groups, line lengths.

Every check raises an error that says what was wrong and what is accepted. This is the one home
of these checks: the client's core imports them from here.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidSubjectError

__all__ = [
    "DEFAULT_MAX_CONTROL_LINE",
    "WHITESPACE",
    "check_control_line",
    "check_queue",
    "check_subject",
]

#: What no subject or queue group may contain: a space, a tab, a line break or NUL.
WHITESPACE = frozenset(" \t\r\n\f\v\x00")

#: the server's limit on a protocol line (PUB/SUB and their arguments) unless configured otherwise
DEFAULT_MAX_CONTROL_LINE = 4096
_LINE_OVERHEAD = 40  # the command, spaces, sizes or sid, CRLF


def check_subject(
    subject: Any,
    *,
    what: str = "subject",
    wildcards: bool = False,
    whole_wildcards: bool = False,
    example: str = "agent.requests",
) -> str:
    """Return ``subject`` if it is a valid NATS subject, else raise ``InvalidSubjectError``.

    Accepted: dot-separated non-empty tokens without whitespace; with ``wildcards`` (subscribe),
    ``*`` as a whole token anywhere and ``>`` as the last token. A token such as ``a*`` is a
    plain name to the server; ``whole_wildcards`` refuses it too (a service endpoint, where it
    would read as a wildcard). ``what`` names the value and ``example`` shows a good one.
    """
    if not isinstance(subject, str):
        raise TypeError(f"{what} must be a str such as {example!r}, got {type(subject).__name__}")
    if not subject:
        raise InvalidSubjectError(f"{what} is empty; expected dot-separated tokens such as {example!r}")
    if not WHITESPACE.isdisjoint(subject):
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
        elif whole_wildcards and ("*" in tok or ">" in tok):
            raise InvalidSubjectError(f"{what} {subject!r}: '*' and '>' are accepted only as whole tokens")
    return subject


def check_queue(queue: Any, *, what: str = "queue", hint: str = "") -> str:
    """Return ``queue`` if it is a valid queue group name ('' for none); ``what`` names the
    argument and ``hint`` ends the error's text (say what else the caller accepts)."""
    if not isinstance(queue, str):
        raise TypeError(f"{what} must be a str (a queue group name, or '' for none), got {type(queue).__name__}")
    if queue and (not WHITESPACE.isdisjoint(queue) or "*" in queue or ">" in queue):
        raise InvalidSubjectError(
            f"queue group {queue!r} must not contain whitespace or wildcards; e.g. 'workers'{hint}"
        )
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
