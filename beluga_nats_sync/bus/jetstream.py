"""JetStream for the Beluga bus: persistent, acknowledged delivery of :class:`Message` envelopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core.handlers import check_handler
from ..jetstream import ConsumeHandle, JetStream, JetStreamMsg, PubAck
from ..message import Message, check_message
from . import tracing as _tracing

__all__ = ["BusJetStream"]


class BusJetStream:
    """``bus.jetstream()``: JetStream speaking :class:`Message`, traced like the bus.

    :meth:`publish` stores a Message and returns its :class:`PubAck`; the envelope's
    ``message_id`` is the deduplication id unless ``msg_id`` says otherwise, so publishing the same
    Message twice stores it once. :meth:`consume` runs ``handler(message)`` with JetStream's
    acknowledgement, redelivery and dead-letter rules (see :meth:`JetStream.consume`); a message
    that cannot be decoded counts as a failed delivery. Stream management (``add_stream``,
    ``stream_info``, ...) and key-value are those of the raw context, reachable here too.
    """

    def __init__(self, server: Callable[[], tuple[str, int] | None], js: JetStream) -> None:
        self._server = server  # the bus's: the server in use, for telemetry
        self._js = js

    @property
    def raw(self) -> JetStream:
        """The byte-level JetStream context underneath."""
        return self._js

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)  # add_stream, stream_info, key_value, ...

    def publish(
        self, subject: str, message: Message, *, msg_id: str | None = None, timeout: float | None = None
    ) -> PubAck:
        """Store ``message`` in the stream that captures ``subject``; block for the ack."""
        data = check_message(message).to_json()
        dedup = msg_id if msg_id is not None else message.message_id or None
        if _tracing.telemetry_off():
            return self._js.publish(subject, data, msg_id=dedup, timeout=timeout)
        attributes = _tracing.attributes("publish", subject, message=message, size=len(data), server=self._server())
        with _tracing.send("publish", subject, attributes) as headers:
            return self._js.publish(subject, data, headers=headers or None, msg_id=dedup, timeout=timeout)

    def consume(self, subject: str, handler: Callable[[Message], Any], *, durable: str, **kwargs: Any) -> ConsumeHandle:
        """Run ``handler(message)`` for each stored Message of the durable consumer ``durable``.

        Returning acks the message; raising (or an undecodable message) naks it for redelivery
        with backoff, and after ``max_deliver`` attempts it is dead-lettered (``kwargs`` are those
        of :meth:`JetStream.consume`).
        """
        check_handler(handler, "handler", "a Message")

        def callback(msg: JetStreamMsg) -> None:
            message = Message.from_json(msg.data)
            if _tracing.telemetry_off():
                handler(message)
                return
            attributes = _tracing.attributes(
                "process", msg.subject, message=message, size=len(msg.data), server=self._server()
            )
            with _tracing.process(msg.subject, attributes, _tracing.extract(msg.headers)):
                handler(message)

        return self._js.consume(subject, durable=durable, callback=callback, **kwargs)
