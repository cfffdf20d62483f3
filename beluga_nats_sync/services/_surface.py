"""What the services need of a client and of a bus: their public surface, as protocols, so this
package depends on no module above it (``Client`` and ``NATSMessageBus`` satisfy them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from opentelemetry.trace import Span

    from .._core.msg import Msg
    from .._core.options import Options
    from .._core.subscription import Subscription
    from ..message import Message
    from ..protocol.headers import HeadersInput

__all__ = ["ServiceBus", "ServiceClient"]


class ServiceClient(Protocol):
    """The client surface a service is built on (as nats.go's micro uses only ``Subscribe``)."""

    @property
    def options(self) -> Options: ...

    @property
    def is_closed(self) -> bool: ...

    def subscribe(
        self,
        subject: str,
        callback: Callable[[Msg], Any] | None = None,
        *,
        queue: str = "",
        max_msgs: int | None = None,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
    ) -> Subscription: ...

    def publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        reply: str | None = None,
        headers: HeadersInput | None = None,
    ) -> None: ...

    def new_inbox(self) -> str: ...

    def flush(self, timeout: float | None = None) -> None: ...


class ServiceBus(Protocol):
    """What a bus service needs of its :class:`~beluga_nats_sync.NATSMessageBus`."""

    @property
    def client(self) -> ServiceClient: ...

    def request(self, subject: str, message: Message, *, timeout: float | None = None) -> Message: ...

    def _count(self, name: str, n: int = 1) -> None: ...

    def _server(self) -> tuple[str, int] | None: ...

    def _process_span(self, msg: Msg, queue: str) -> AbstractContextManager[Span | None]:
        """A ``nats.process`` span around the handling of ``msg``, or nothing (None) when
        telemetry is off."""

    def _reply_headers(self) -> dict[str, str] | None:
        """The headers a reply carries: the current trace context, if any."""
