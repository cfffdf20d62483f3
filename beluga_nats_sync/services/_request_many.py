"""``request_many``: one request, every reply that comes in time (scatter-gather)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from ..errors import ClosedError, NATSTimeoutError
from ..protocol.checks import check_subject
from ..protocol.headers import is_no_responders

if TYPE_CHECKING:
    from .._core.msg import Msg
    from ..protocol.headers import HeadersInput
    from ._surface import ServiceClient

__all__ = ["request_many"]


def _seconds(value: Any, what: str, default: float | None) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a finite number of seconds > 0 or None, got {value!r}")
    return float(value)


def request_many(
    client: ServiceClient,
    subject: str,
    data: bytes | bytearray | memoryview = b"",
    *,
    timeout: float | None = 1.0,
    max_messages: int | None = None,
    stall: float | None = None,
    headers: HeadersInput | None = None,
) -> list[Msg]:
    """Publish one request on ``subject`` and collect the replies, in arrival order.

    Stops at the first of: ``timeout`` seconds since the start (``None``: the client's
    ``Options.timeout``), ``max_messages`` replies, or ``stall`` seconds without a reply once the
    first one came. With no responders the server says so at once and the list is empty; no
    stopping rule is an error, so it never raises a timeout.
    """
    check_subject(subject)
    t = _seconds(timeout, "timeout", client.options.timeout)
    assert t is not None
    gap = _seconds(stall, "stall", None)
    if max_messages is not None and (
        isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
    ):
        raise ValueError(f"max_messages must be an int >= 1 or None (no limit), got {max_messages!r}")
    start = time.monotonic()
    deadline = start + t
    inbox = client.new_inbox()
    # max_msgs makes the server stop sending after the last reply we want
    sub = client.subscribe(inbox, max_msgs=max_messages)
    replies: list[Msg] = []
    try:
        client.publish(subject, data, reply=inbox, headers=headers)
        while max_messages is None or len(replies) < max_messages:
            now = time.monotonic()
            wait = deadline - now
            if replies and gap is not None:
                wait = min(wait, gap)
            if wait <= 0:
                break
            try:
                msg = sub.next_msg(wait)
            except (NATSTimeoutError, ClosedError):
                break
            if is_no_responders(msg.data, msg.headers):
                break  # the server's status reply: nobody listens on the subject
            replies.append(msg)
    finally:
        sub.unsubscribe()
    return replies
