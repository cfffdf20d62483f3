"""The Beluga message bus: agents exchange :class:`Message` envelopes over NATS, traced.

A thin layer over :class:`~beluga_nats_sync.Client`: transport, threads and errors are the client's.
It adds the envelope (byte-compatible with the Go agents' JSON), OpenTelemetry spans whose trace
context crosses the wire in the ``traceparent`` header, and, for handlers, retries with backoff and
a dead-letter subject so that no message is dropped without a trace::

    with NATSMessageBus("nats://localhost:4222") as bus:
        bus.serve("agent.rpc", lambda m: Message(type="answer", payload={"echo": m.payload}))
        reply = bus.request("agent.rpc", Message(type="question", payload={"q": 1}), timeout=5.0)
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Union

import attrs

from .._client import Client
from .._core.handlers import check_handler
from .._core.msg import Msg
from .._core.options import Options, refuse_unknown_keywords
from .._core.protocol import check_timeout
from .._core.subscription import Subscription
from .._retry import HandlerRunner, Letter, Next
from ..deadletter import ERROR_HEADER
from ..errors import MessageDecodeError, NATSSyncError
from ..message import Message, check_message
from ..protocol.headers import header_text
from . import tracing as _tracing

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ..agents import Agents, AgentService
    from ..services import BusService
    from .jetstream import BusJetStream

__all__ = ["BusStats", "HandlerResultError", "MessageHandler", "NATSMessageBus", "RequestHandler"]

log = logging.getLogger("beluga_nats_sync.bus")

MessageHandler = Callable[[Message], Any]
"""A ``subscribe()`` handler: called with each Message; what it returns is ignored, what it raises is retried."""
RequestHandler = Callable[[Message], Message]
"""A ``serve()`` handler: called with each request Message, returns the reply Message."""
DeadLetterSubject = Union[str, Callable[[str], str], None]  # noqa: UP007 - a runtime alias

_DEFAULT_DLQ = "{subject}.dlq"


@attrs.frozen
class BusStats:
    """Counters of a bus's handlers (what was sent is in ``bus.client.stats``)."""

    handled: int = 0
    """Messages a handler returned from (after retries or not)."""
    retried: int = 0
    """Handler calls that raised and were tried again."""
    failed: int = 0
    """Messages whose handler still raised after the last retry."""
    decode_errors: int = 0
    """Messages that were not a valid Message envelope."""
    dead_lettered: int = 0
    """Messages published to their dead-letter subject."""


class HandlerResultError(NATSSyncError, TypeError):
    """A handler returned what the bus cannot use (a ``serve()`` handler something other than a
    :class:`Message`, or any handler a coroutine): a bug in the handler, so it is not retried."""


_BUS_KEYWORDS = ("max_retries", "retry_backoff", "retry_backoff_max", "dead_letter_subject", "context")


def _check_keywords(options: dict[str, Any]) -> None:
    refuse_unknown_keywords(
        options,
        [*_BUS_KEYWORDS, *attrs.fields_dict(Options)],
        unknown="NATSMessageBus() got an unknown keyword argument",
        accepted=f"it takes {', '.join(_BUS_KEYWORDS)} and the fields of beluga_nats_sync.Options (name, timeout, ...)",
    )


class NATSMessageBus:
    """Publish/subscribe and request/reply of Beluga :class:`Message` envelopes, traced.

    ``servers_or_options`` is a URL (or list), an :class:`Options`, or a connected :class:`Client`
    (then the bus does not close it). Without one, the bus finds its server as
    :func:`~beluga_nats_sync.connect` does: ``context=`` (a NATS context's name), then
    ``$NATS_CONTEXT``/``$NATS_URL``, then the selected NATS context, then ``nats://localhost:4222``.
    A handler that raises, or a message that cannot be decoded, is retried up to ``max_retries``
    times with exponential backoff from ``retry_backoff`` seconds (capped at ``retry_backoff_max``),
    then published to the dead-letter subject
    (``dead_letter_subject``, a template with ``{subject}``, a function of the subject, or None to
    disable) as the original bytes with headers naming the error, the subject and the attempts.
    A message that fails to decode is dead-lettered at once: the same bytes cannot decode later.
    """

    def __init__(
        self,
        servers_or_options: str | list[str] | Options | Client | None = None,
        *,
        max_retries: int = 3,
        retry_backoff: float = 0.05,
        retry_backoff_max: float = 2.0,
        dead_letter_subject: DeadLetterSubject = _DEFAULT_DLQ,
        **options: Any,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0 (0 disables retries), got {max_retries!r}")
        check_timeout(retry_backoff, 0.0, "retry_backoff")
        check_timeout(retry_backoff_max, 0.0, "retry_backoff_max")
        if dead_letter_subject is not None and not (
            isinstance(dead_letter_subject, str) or callable(dead_letter_subject)
        ):
            raise TypeError("dead_letter_subject must be a str template with {subject}, a function, or None")
        self._runner = HandlerRunner(
            max_attempts=max_retries + 1,
            delay=lambda attempt: min(self.retry_backoff * (2 ** (attempt - 1)), self.retry_backoff_max),
            dead_letter_subject=self._dlq_for,
            publish=lambda dlq, letter, headers: self._client.publish(dlq, letter.data, headers=headers),
            report=self._report,
            count=self._count,
            log=log,
            permanent=(HandlerResultError,),
        )
        self.retry_backoff = float(retry_backoff)
        """Seconds before the first retry; each next one waits twice as long."""
        self.retry_backoff_max = float(retry_backoff_max)
        """The longest wait between two retries, in seconds."""
        self.dead_letter_subject = dead_letter_subject
        """Where failed messages go: a template with ``{subject}``, a function of the subject, or None."""
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(attrs.fields_dict(BusStats), 0)
        _check_keywords(options)
        if isinstance(servers_or_options, Client):
            if options:
                raise TypeError("options cannot be given with a Client; configure the Client instead")
            self._client = servers_or_options
            self._owns_client = False
        elif isinstance(servers_or_options, Options):
            self._client = Client(options=servers_or_options, **options).connect()
            self._owns_client = True
        else:
            self._client = Client(servers_or_options, **options).connect()
            self._owns_client = True

    # -- plumbing ----------------------------------------------------------------------------------
    @property
    def max_retries(self) -> int:
        """Retries of a failing handler before its message is dead-lettered (0: none)."""
        return self._runner.max_attempts - 1

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._runner.max_attempts = value + 1

    @property
    def client(self) -> Client:
        """The raw client underneath, for anything the bus does not wrap."""
        return self._client

    @property
    def stats(self) -> BusStats:
        """The handlers' counters, as a frozen snapshot."""
        with self._lock:
            return BusStats(**self._counts)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _server(self) -> tuple[str, int] | None:
        return self._client.server_address

    def _dlq_for(self, subject: str) -> str | None:
        d = self.dead_letter_subject
        if d is None:
            return None
        return d(subject) if callable(d) else d.format(subject=subject)

    # -- sending -------------------------------------------------------------------------------------
    def publish(self, subject: str, message: Message) -> None:
        """Publish ``message`` on ``subject`` (returns at once), in a ``nats.publish`` span."""
        data = check_message(message).to_json()
        if _tracing.telemetry_off():
            self._client.publish(subject, data)  # no SDK: skip the API's no-op calls altogether
            return
        attributes = _tracing.attributes("publish", subject, message=message, size=len(data), server=self._server())
        with _tracing.send("publish", subject, attributes) as headers:
            self._client.publish(subject, data, headers=headers or None)

    def request(self, subject: str, message: Message, *, timeout: float | None = None) -> Message:
        """Send ``message`` as a request and return the reply decoded, in a ``nats.request`` span.

        Raises the client's ``RequestTimeoutError``/``NoRespondersError``, or ``MessageDecodeError``
        when the reply is not a Message.
        """
        data = check_message(message).to_json()
        t = check_timeout(timeout, self._client.options.timeout, wait=True)
        if _tracing.telemetry_off():
            return Message.from_json(self._client.request(subject, data, timeout=t).data)
        attributes = _tracing.attributes(
            "request", subject, message=message, size=len(data), timeout_s=t, server=self._server()
        )
        with _tracing.send("request", subject, attributes) as headers:
            rep = self._client.request(subject, data, timeout=t, headers=headers or None)
            return Message.from_json(rep.data)

    # -- receiving -----------------------------------------------------------------------------------
    def subscribe(self, subject: str, handler: MessageHandler, *, queue: str = "") -> Subscription:
        """Call ``handler(message)`` for each Message on ``subject``, on a dispatcher thread, in order."""
        check_handler(handler, "handler", "a Message")
        return self._client.subscribe(
            subject, lambda msg: self._deliver(subject, queue, handler, msg, False), queue=queue
        )

    def serve(self, subject: str, handler: RequestHandler, *, queue: str = "") -> Subscription:
        """Answer each request on ``subject`` with ``handler(message)``, which returns the reply Message.

        When the handler keeps failing, the requester gets a reply of type ``"error"`` whose payload
        names the error, and the request is dead-lettered; a handler that returns something other
        than a Message fails that way at once (:class:`HandlerResultError`, never retried).
        """
        check_handler(handler, "handler", "a Message and returns the reply Message")
        return self._client.subscribe(
            subject, lambda msg: self._deliver(subject, queue, handler, msg, True), queue=queue
        )

    def _deliver(self, sub_subject: str, queue: str, handler: Callable[[Message], Any], msg: Msg, serve: bool) -> None:
        headers = msg.headers
        if headers and ERROR_HEADER in headers and msg.subject != sub_subject:
            return  # a dead letter caught by a wildcard subscription: never feed it back to the handler
        traced = not _tracing.telemetry_off()
        parent = _tracing.extract(headers) if traced else None
        try:
            message = Message.from_json(msg.data)
        except MessageDecodeError as exc:
            self._count("decode_errors")
            if traced:
                attributes = _tracing.attributes("process", msg.subject, size=len(msg.data), queue=queue)
                with contextlib.suppress(MessageDecodeError), _tracing.process(msg.subject, attributes, parent):
                    raise exc
            # the same bytes cannot decode later: dead-lettered at once; the error is the bus's own
            self._runner.give_up(Letter(msg.subject, msg.data, headers), exc, 1, traceback=False)
            self._answer_error(msg, exc, serve)
            return
        attributes = (
            _tracing.attributes(
                "process", msg.subject, message=message, size=len(msg.data), queue=queue, server=self._server()
            )
            if traced
            else {}
        )

        def call(attempt: int) -> None:
            if not traced:
                self._call(handler, message, msg, serve)
                return
            with _tracing.process(msg.subject, attributes, parent) as span:
                if attempt > 1:
                    span.set_attribute("messaging.message.delivery_attempt", attempt)
                self._call(handler, message, msg, serve)

        letter = Letter(msg.subject, msg.data, headers, message_id=message.message_id)
        _, error = self._runner.run(letter, call, self._wait_to_retry)
        if error is not None:
            self._answer_error(msg, error, serve)

    def _wait_to_retry(self, delay: float) -> Next:
        return Next.GIVE_UP if self._closing.wait(delay) else Next.CALL_AGAIN  # closing: dead-letter now

    def _call(self, handler: Callable[[Message], Any], message: Message, msg: Msg, serve: bool) -> None:
        result = handler(message)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never run: no "coroutine was never awaited" warning on top of the error
            raise HandlerResultError(
                f"the handler returned {type(result).__name__}, an awaitable the bus cannot run; "
                "a handler must be a plain function"
            )
        if serve:
            self._reply(msg, result)

    def _reply(self, msg: Msg, result: Any) -> None:
        if not isinstance(result, Message):
            raise HandlerResultError(f"a serve() handler must return a Message, it returned {type(result).__name__}")
        if msg.reply:
            msg.respond(result.to_json(), headers=self._reply_headers())

    def _reply_headers(self) -> dict[str, str] | None:
        """The headers of a reply: the trace context of the handler's span, if any."""
        if _tracing.telemetry_off():
            return None
        headers: dict[str, str] = {}
        _tracing.inject(headers)
        return headers or None

    def _process_span(self, msg: Msg, queue: str) -> AbstractContextManager[Span | None]:
        """A ``nats.process`` span around the handling of ``msg`` (nothing when telemetry is off)."""
        if _tracing.telemetry_off():
            return contextlib.nullcontext()
        attributes = _tracing.attributes("process", msg.subject, size=len(msg.data), queue=queue, server=self._server())
        return _tracing.process(msg.subject, attributes, _tracing.extract(msg.headers))

    def _answer_error(self, msg: Msg, exc: BaseException, serve: bool) -> None:
        """A serve() handler given up on: the requester gets an ``"error"`` Message at once."""
        if not (serve and msg.reply):
            return
        error = Message(type="error", payload={"error": str(exc), "error_type": type(exc).__qualname__})
        try:
            msg.respond(error.to_json(), headers={ERROR_HEADER: header_text(str(exc) or type(exc).__name__)})
        except Exception as reply_exc:
            log.error("could not send the error reply for %r: %s", msg.subject, reply_exc)

    def _report(self, text: str) -> None:
        self._client._engine.report(NATSSyncError(f"bus: {text}"))

    def jetstream(self, **kwargs: Any) -> BusJetStream:
        """JetStream speaking :class:`Message`: persistent publish with acks and durable consumers
        (``kwargs`` are those of :meth:`Client.jetstream`)."""
        from .jetstream import BusJetStream

        return BusJetStream(self._server, self._client.jetstream(**kwargs))

    def add_service(
        self,
        name: str,
        version: str,
        *,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        queue_group: str | None = None,
    ) -> BusService:
        """Make this agent a discoverable NATS service whose endpoints take Message handlers
        (``handler(Message) -> Message``), each request traced in a ``nats.process`` span."""
        from beluga_nats_sync.services._bus import add_bus_service

        return add_bus_service(self, name, version, description=description, metadata=metadata, queue_group=queue_group)

    # -- agents (the Synadia Agent Protocol) ---------------------------------------------------------
    def agents(self) -> Agents:
        """:class:`~beluga_nats_sync.Agents` on this bus's connection, traced: each prompt is a
        ``nats.request`` span from the send to the end of its stream, its trace context in the
        request's headers."""
        from ..agents import Agents
        from ._agents import BusAgentHooks

        return Agents(self._client, hooks=BusAgentHooks(self._server))

    def agent_service(self, *, agent: str, owner: str, session_name: str = "default", **options: Any) -> AgentService:
        """An :class:`~beluga_nats_sync.AgentService` on this bus's connection, traced: each prompt's
        handler runs in a ``nats.process`` span, the child of the caller's span when the request
        carried a trace context (``options`` are the service's)."""
        from ..agents import AgentService
        from ._agents import BusAgentHooks

        return AgentService(
            nc=self._client,
            agent=agent,
            owner=owner,
            session_name=session_name,
            hooks=BusAgentHooks(self._server),
            **options,
        )

    # -- lifecycle -----------------------------------------------------------------------------------
    def close(self, timeout: float | None = None) -> None:
        """Stop retrying, and close the client if the bus made it."""
        self._closing.set()
        if self._owns_client:
            self._client.close(timeout)

    def __enter__(self) -> NATSMessageBus:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.stats
        counts = f"handled={s.handled} dead_lettered={s.dead_lettered}"
        return f"<NATSMessageBus {self._client!r} {counts}>"
