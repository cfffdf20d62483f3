"""Msg: a received NATS message as a frozen value that is safe to hand to any thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from ..errors import NoReplySubjectError
from ..protocol.headers import HeadersInput, headers_dict
from .html import html_of

__all__ = ["Msg", "Publisher"]


class Publisher(Protocol):
    """The one thing a received message needs of its client: publishing (for ``respond``)."""

    def publish(self, subject: str, payload: Any, reply: str | None, headers: HeadersInput | None) -> None: ...


@attrs.frozen(repr=False)
class Msg:
    """A raw NATS message: ``subject``, ``data``, ``reply`` ('' when none) and ``headers``.

    It is built on the I/O thread and holds no asyncio object, so it can be kept, passed between
    threads and compared. ``respond()`` goes through the client's
    thread-safe publish path. ``headers`` keeps every value of a repeated header
    (``msg.headers.get_all(name)``).
    """

    subject: str
    """The subject the message was published to."""
    data: bytes = b""
    """The payload."""
    reply: str = ""
    """The subject to answer on (``''`` when the message was published, not requested)."""
    headers: Mapping[str, str] | None = None
    """The headers (a multi-valued :class:`~beluga_nats_sync.Headers`: ``headers["X"]`` is the first
    value of ``X``, ``headers.get_all("X")`` every value, in order), or None when it carried none."""
    _publisher: Publisher | None = attrs.field(default=None, eq=False, alias="publisher")

    def respond(self, data: bytes = b"", headers: HeadersInput | None = None) -> None:
        """Publish ``data`` to this message's reply subject (answer a request), with ``headers``
        if given: a str or a list of str per name, or a :class:`~beluga_nats_sync.Headers`."""
        if not self.reply:
            raise NoReplySubjectError(
                f"message on {self.subject!r} has no reply subject; only requests can be answered"
            )
        if self._publisher is None:
            raise NoReplySubjectError("this message was not received by a client; publish the reply instead")
        self._publisher.publish(self.reply, data, None, headers)

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 64 else self.data[:64] + b"..."
        parts = [f"subject={self.subject!r}", f"data={data!r}"]
        if self.reply:
            parts.append(f"reply={self.reply!r}")
        if self.headers:
            parts.append(f"headers={headers_dict(self.headers)!r}")
        return f"Msg({', '.join(parts)})"

    def _repr_html_(self) -> str:
        return html_of(self)
