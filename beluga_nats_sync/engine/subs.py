"""The engine's subscriptions: sid to subject, queue group, ``deliver`` and auto-unsubscribe count."""

from __future__ import annotations

from .._core.transport import Deliver
from ..protocol.framing import frame_sub, frame_unsub
from ..protocol.headers import Headers, show_status

__all__ = ["SubTable"]


class _Sub:
    __slots__ = ("deliver", "max", "queue", "received", "subject")

    def __init__(self, subject: str, queue: str, deliver: Deliver) -> None:
        self.subject = subject
        self.queue = queue
        self.deliver = deliver
        self.max = 0  # 0: no auto-unsubscribe
        self.received = 0


class SubTable:
    """Every live subscription of one client (all connections), touched on the I/O thread only."""

    def __init__(self) -> None:
        self._subs: dict[int, _Sub] = {}
        self._next_sid = 0
        self.in_msgs = 0
        self.in_bytes = 0

    def __contains__(self, sid: int) -> bool:
        return sid in self._subs

    def add(self, subject: str, queue: str, deliver: Deliver, max_line: int) -> tuple[int, bytes]:
        """A new subscription: its sid and its SUB frame (checked before anything is kept)."""
        frame = frame_sub(subject, self._next_sid + 1, queue or None, max_line)
        self._next_sid += 1
        self._subs[self._next_sid] = _Sub(subject, queue, deliver)
        return self._next_sid, frame

    def unsubscribe(self, sid: int, limit: int) -> bytes | None:
        """Remove ``sid`` now (``limit`` 0, or reached), or after ``limit`` messages in all; the
        UNSUB frame to send, or None when it is unknown."""
        sub = self._subs.get(sid)
        if sub is None:
            return None
        if limit == 0 or sub.received >= limit:
            del self._subs[sid]
            return frame_unsub(sid)
        sub.max = limit
        return frame_unsub(sid, limit)

    def remove(self, sid: int) -> None:
        self._subs.pop(sid, None)

    def restore(self, max_line: int) -> bytes:
        """SUB (and UNSUB with what is left of a limit) for each subscription, for a new connection."""
        frames = []
        for sid, sub in self._subs.items():
            frames.append(frame_sub(sub.subject, sid, sub.queue or None, max_line))
            if sub.max:
                frames.append(frame_unsub(sid, sub.max - sub.received))
        return b"".join(frames)

    def on_msg(self, sid: int, subject: str, reply: str | None, payload: bytes, headers: Headers | None) -> None:
        """The parser's message callback: to the subscription's ``deliver``, on the I/O thread."""
        sub = self._subs.get(sid)
        if sub is None:
            return  # unsubscribed while the server was sending it
        self.in_msgs += 1
        self.in_bytes += len(payload)
        sub.received += 1
        if sub.max and sub.received >= sub.max:
            del self._subs[sid]
        if headers is not None and headers.status is not None:
            show_status(headers)
        sub.deliver(subject, payload, reply or "", headers)
