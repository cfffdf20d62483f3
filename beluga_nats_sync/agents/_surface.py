"""What the agents need of a client: the services' surface, plus requests and ``max_payload``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ..services._surface import ServiceClient

if TYPE_CHECKING:
    from .._core.msg import Msg
    from ..protocol.headers import HeadersInput
    from ..services import Service

__all__ = ["AgentClient"]


class AgentClient(ServiceClient, Protocol):
    @property
    def max_payload(self) -> int: ...

    def request(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        timeout: float | None = None,
        headers: HeadersInput | None = None,
    ) -> Msg: ...

    def request_many(
        self,
        subject: str,
        data: bytes | bytearray | memoryview = b"",
        *,
        timeout: float | None = 1.0,
        max_messages: int | None = None,
        stall: float | None = None,
        headers: HeadersInput | None = None,
    ) -> list[Msg]: ...

    def add_service(
        self,
        name: str,
        version: str,
        *,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        queue_group: str | None = None,
    ) -> Service: ...
