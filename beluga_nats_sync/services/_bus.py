"""``NATSMessageBus.add_service``: a Beluga agent as a discoverable service whose endpoints speak
:class:`Message` (``handler(Message) -> Message``), each request in a ``nats.process`` span.

A failing handler is not retried (a service answers, the requester decides): the requester gets
the protocol's error headers and, as the body, an ``"error"`` Message like ``serve()`` sends, so
``bus.request`` and Go micro clients both understand it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._core.handlers import check_handler
from ..errors import MessageDecodeError
from ..message import Message
from ..protocol.headers import header_text
from ._protocol import check_prefix, check_queue_group
from ._service import Service, ServiceError, ServiceRequest, resolve_queue_group

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ._surface import ServiceBus

__all__ = ["BusService", "BusServiceGroup", "MessageServiceHandler"]

MessageServiceHandler = Callable[[Message], Message]


class _MessageEndpoint:
    """Turns a ServiceRequest into a Message for the handler and its returned Message into the answer."""

    __slots__ = ("bus", "handler", "queue")

    def __init__(self, bus: ServiceBus, handler: MessageServiceHandler, queue: str) -> None:
        self.bus = bus
        self.handler = handler
        self.queue = queue

    def __call__(self, req: ServiceRequest) -> None:
        with self.bus._process_span(req.msg, self.queue) as span:  # the bus's, as serve() makes them
            self._answer(req, span)

    def _answer(self, req: ServiceRequest, span: Span | None) -> None:
        try:
            try:
                message = Message.from_json(req.data)
            except MessageDecodeError as exc:
                self.bus._count("decode_errors")
                raise ServiceError("400", f"the request is not a Beluga Message: {exc}") from exc
            if span is not None:
                span.set_attribute("message_type", message.type)
                if message.message_id:
                    span.set_attribute("messaging.message.id", message.message_id)
            result = self.handler(message)
            if not isinstance(result, Message):
                raise TypeError(f"a service handler must return a Message, it returned {type(result).__name__}")
        except Exception as exc:
            self.bus._count("failed")
            if req.reply:
                code, text = (exc.code, exc.description) if isinstance(exc, ServiceError) else ("500", str(exc))
                text = header_text(text or type(exc).__name__)
                body = Message(type="error", payload={"error": text, "error_type": type(exc).__qualname__})
                req.respond_error(code, text, body.to_json())
            raise
        if req.reply:
            req.respond(result.to_json(), self.bus._reply_headers() if span is not None else None)
        self.bus._count("handled")


class _BusAdder:
    _bus: ServiceBus
    _service: Service
    _prefix: str
    _queue_group: str | None

    def add_endpoint(
        self,
        name: str,
        handler: MessageServiceHandler,
        *,
        subject: str | None = None,
        queue_group: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Answer each request on ``subject`` (default ``name``) with ``handler(message)``, which
        returns the reply :class:`Message`; as :meth:`Service.add_endpoint` otherwise."""
        check_handler(handler, "handler", "a Message and returns the reply Message")
        queue = resolve_queue_group(queue_group, self._queue_group)
        wrapped = _MessageEndpoint(self._bus, handler, queue)
        self._service._add(self._prefix, name, wrapped, subject, queue, None, metadata)

    def add_group(self, name: str, *, queue_group: str | None = None) -> BusServiceGroup:
        """A group of Message endpoints under the subject prefix ``name``."""
        check_prefix(name)
        qg = check_queue_group(queue_group)
        prefix = f"{self._prefix}.{name}" if self._prefix else name
        qg = qg if qg is not None else self._queue_group
        return BusServiceGroup(self._bus, self._service, prefix, qg)


class BusServiceGroup(_BusAdder):
    """Message endpoints under a common subject prefix. Made by :meth:`BusService.add_group`."""

    def __init__(self, bus: ServiceBus, service: Service, prefix: str, queue_group: str | None) -> None:
        self._bus = bus
        self._service = service
        self._prefix = prefix
        self._queue_group = queue_group

    def __repr__(self) -> str:
        return f"<BusServiceGroup {self._prefix!r} of service {self._service.name!r}>"


class BusService(_BusAdder):
    """A service of the bus: a :class:`Service` whose endpoints take and return Messages.

    Made by :meth:`NATSMessageBus.add_service`; a context manager that stops it on exit.
    """

    def __init__(self, bus: ServiceBus, service: Service) -> None:
        self._bus = bus
        self._service = service
        self._prefix = ""
        self._queue_group = service._queue_group

    @property
    def service(self) -> Service:
        """The underlying :class:`Service` (its endpoints take raw ServiceRequests)."""
        return self._service

    @property
    def id(self) -> str:
        return self._service.id

    @property
    def name(self) -> str:
        return self._service.name

    @property
    def stopped(self) -> bool:
        return self._service.stopped

    def info(self) -> dict[str, Any]:
        """The INFO document (see :meth:`Service.info`)."""
        return self._service.info()

    def stats(self) -> dict[str, Any]:
        """The STATS document (see :meth:`Service.stats`)."""
        return self._service.stats()

    def reset(self) -> None:
        self._service.reset()

    def stop(self, timeout: float | None = None) -> None:
        """Drain the endpoints and stop answering discovery (see :meth:`Service.stop`)."""
        self._service.stop(timeout)

    def __enter__(self) -> BusService:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return repr(self._service).replace("<Service", "<BusService", 1)

    def _repr_html_(self) -> str:
        return self._service._repr_html_()


def add_bus_service(
    bus: ServiceBus,
    name: str,
    version: str,
    *,
    description: str = "",
    metadata: Mapping[str, str] | None = None,
    queue_group: str | None = None,
) -> BusService:
    """Start a service on the bus's client whose endpoints speak Message, traced by the bus (its
    spans and metrics are the ones ``serve()`` makes)."""
    svc = Service(bus.client, name, version, description=description, metadata=metadata, queue_group=queue_group)
    return BusService(bus, svc)
