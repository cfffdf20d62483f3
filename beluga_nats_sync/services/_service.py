"""Service, ServiceGroup and ServiceRequest: a discoverable NATS service built on subscriptions.

Each endpoint is a queue subscription (group ``q`` unless told otherwise) with its own dispatcher
thread, so requests to one endpoint are handled one at a time, and instances of a service share
the load. Three more subscriptions answer discovery: ``$SRV.*``, ``$SRV.*.<name>`` and
``$SRV.*.<name>.<id>``, one per depth, each answering PING, INFO and STATS (nats.go subscribes
the nine literal subjects; the wire is the same, with three threads instead of nine).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._core.handlers import check_handler
from ..errors import ClosedError, NATSSyncError, NATSTimeoutError
from ..protocol.headers import header_text, headers_with
from ._protocol import (
    DEFAULT_QUEUE_GROUP,
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    INFO_RESPONSE_TYPE,
    PING_RESPONSE_TYPE,
    STATS_RESPONSE_TYPE,
    VERBS,
    check_endpoint_name,
    check_endpoint_subject,
    check_metadata,
    check_prefix,
    check_queue_group,
    check_service_name,
    check_version,
    new_id,
    rfc3339,
)

if TYPE_CHECKING:
    from .._core.msg import Msg
    from .._core.subscription import Subscription
    from ..protocol.headers import HeadersInput
    from ._surface import ServiceClient

__all__ = ["RequestHandler", "Service", "ServiceError", "ServiceGroup", "ServiceRequest", "resolve_queue_group"]

log = logging.getLogger("beluga_nats_sync.services")


class ServiceError(NATSSyncError):
    """Raise it from a handler to answer with this error code and description (and ``data``).

    Any other exception is answered with code ``"500"`` and the exception's text.
    """

    def __init__(self, code: str | int, description: str, data: bytes = b"") -> None:
        if isinstance(code, bool) or not isinstance(code, (str, int)) or not str(code).strip():
            raise ValueError(f"ServiceError: code must be a non-empty str such as '400', got {code!r}")
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"ServiceError: description must be a non-empty str, got {description!r}")
        super().__init__(f"{code}:{description}")
        self.code = str(code)
        self.description = description
        self.data = data


class ServiceRequest:
    """One request to an endpoint, handed to its handler; answer it with :meth:`respond` or
    :meth:`respond_error` (nats.go counts an error answer as an error of the endpoint, and so do we)."""

    __slots__ = ("_counted", "_error", "_error_counted", "_on_answer", "_responded", "_start", "msg")

    def __init__(self, msg: Msg, on_answer: Callable[[ServiceRequest], None] | None = None) -> None:
        #: The raw message.
        self.msg = msg
        self._error: str | None = None
        self._responded = False
        self._on_answer = on_answer  # the endpoint's count, made as the answer leaves
        self._start = time.perf_counter_ns()
        self._counted = False
        self._error_counted = False

    @property
    def subject(self) -> str:
        """The subject the request came on (the endpoint's, or what its wildcards matched)."""
        return self.msg.subject

    @property
    def data(self) -> bytes:
        return self.msg.data

    @property
    def headers(self) -> Mapping[str, str] | None:
        return self.msg.headers

    @property
    def reply(self) -> str:
        """The requester's reply subject ('' for a plain publish, which cannot be answered)."""
        return self.msg.reply

    def respond(self, data: bytes | bytearray | memoryview = b"", headers: HeadersInput | None = None) -> None:
        """Answer the request with ``data`` (and ``headers``: a str or a list of str per name)."""
        if self._on_answer is not None and self.msg.reply:
            # counted before the answer leaves: a caller that has it and then asks for STATS
            # (served on another thread) finds this request counted, its error too
            self._on_answer(self)
        try:
            self.msg.respond(bytes(data), headers=headers)
        except NATSSyncError as exc:
            self._error = f"respond: {exc}"
            raise
        self._responded = True

    def respond_json(self, value: Any, headers: HeadersInput | None = None) -> None:
        """Answer with ``value`` encoded as JSON."""
        self.respond(json.dumps(value, separators=(",", ":"), allow_nan=False).encode(), headers)

    def respond_error(
        self,
        code: str | int,
        description: str,
        data: bytes | bytearray | memoryview = b"",
        headers: HeadersInput | None = None,
    ) -> None:
        """Answer with an error: ``Nats-Service-Error: description`` and ``Nats-Service-Error-Code: code``
        added to ``headers`` (every value of which is kept).

        The endpoint counts it in ``num_errors`` and its ``last_error`` becomes ``"code:description"``.
        """
        code_text = str(code) if isinstance(code, int) and not isinstance(code, bool) else code
        if not isinstance(code_text, str) or not code_text.strip():
            raise ValueError(f"respond_error: code must be a non-empty str such as '400', got {code!r}")
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"respond_error: description must be a non-empty str, got {description!r}")
        error = {ERROR_HEADER: header_text(description), ERROR_CODE_HEADER: header_text(code_text, 64)}
        self._error = f"{code_text}:{description}"
        self.respond(data, headers_with(headers, error))

    def __repr__(self) -> str:
        return f"<ServiceRequest subject={self.subject!r} size={len(self.data)} reply={self.reply!r}>"


RequestHandler = Callable[[ServiceRequest], Any]


def resolve_queue_group(own: Any, parent: str | None) -> str:
    """The endpoint's queue group: its own, else its group's or service's, else ``"q"``."""
    qg = check_queue_group(own)
    if qg is None:
        qg = parent if parent is not None else DEFAULT_QUEUE_GROUP
    return qg


class _Endpoint:
    """One endpoint: its subscription and its counters (guarded by the service's lock)."""

    def __init__(
        self,
        service: Service,
        name: str,
        subject: str,
        queue_group: str,
        handler: RequestHandler,
        metadata: dict[str, str],
    ) -> None:
        self.service = service
        self.name = name
        self.subject = subject
        self.queue_group = queue_group
        self.handler = handler
        self.metadata = metadata
        self.sub: Subscription | None = None
        self.reset()

    def reset(self) -> None:
        self.num_requests = 0
        self.num_errors = 0
        self.last_error = ""
        self.processing_time = 0

    def on_msg(self, msg: Msg) -> None:
        req = ServiceRequest(msg, self._count)
        failure: str | None = None
        try:
            self.handler(req)
        except Exception as exc:
            if isinstance(exc, ServiceError):
                code, text, data = exc.code, exc.description, exc.data
            else:
                code, text, data = "500", header_text(str(exc) or type(exc).__name__), b""
                log.exception("handler of endpoint %r of service %r raised", self.name, self.service.name)
            failure = f"{code}:{text}"
            if msg.reply and not req._responded:  # an answer already sent stays the answer
                try:
                    req.respond_error(code, text, data)
                except (NATSSyncError, ValueError) as reply_exc:
                    log.error("could not answer a request to %r with its error: %s", self.subject, reply_exc)
        if failure is not None:
            req._error = failure
        self._count(req)  # if no answer left, or an error came after it

    def _count(self, req: ServiceRequest) -> None:
        """Count ``req`` once, with the time it took so far: when its answer leaves, else when
        its handler returns. An error known only after the answer left is counted then (one
        error at most per request)."""
        error = req._error
        with self.service._lock:
            if not req._counted:
                req._counted = True
                self.num_requests += 1
                self.processing_time += time.perf_counter_ns() - req._start
            if error is not None and not req._error_counted:
                req._error_counted = True
                self.num_errors += 1
                self.last_error = error

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "metadata": dict(self.metadata),
        }

    def stats(self) -> dict[str, Any]:
        n = self.num_requests
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "num_requests": n,
            "num_errors": self.num_errors,
            "last_error": self.last_error,
            "processing_time": self.processing_time,
            "average_processing_time": self.processing_time // n if n else 0,
            "data": None,
        }


class _EndpointAdder:
    """What a service and its groups share: adding endpoints under a subject prefix."""

    _service: Service
    _prefix: str
    _queue_group: str | None

    def add_endpoint(
        self,
        name: str,
        handler: RequestHandler,
        *,
        subject: str | None = None,
        queue_group: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Answer requests on ``subject`` (default: ``name``, after the group's prefix) with
        ``handler(request)``, called on the endpoint's own thread, one request at a time.

        ``queue_group`` defaults to the group's or service's, else ``"q"``, so that instances share
        the load; ``""`` means none: every instance gets every request (for scatter-gather).
        Returns once the server has the subscription.
        """
        self._service._add(self._prefix, name, handler, subject, queue_group, self._queue_group, metadata)

    def add_group(self, name: str, *, queue_group: str | None = None) -> ServiceGroup:
        """A group: endpoints added to it get subjects ``<name>.<subject>`` (``name`` may be dotted)."""
        check_prefix(name)
        qg = check_queue_group(queue_group)
        prefix = f"{self._prefix}.{name}" if self._prefix else name
        return ServiceGroup(self._service, prefix, qg if qg is not None else self._queue_group)


class ServiceGroup(_EndpointAdder):
    """Endpoints under a common subject prefix (and queue group). Made by :meth:`Service.add_group`."""

    def __init__(self, service: Service, prefix: str, queue_group: str | None) -> None:
        self._service = service
        self._prefix = prefix
        self._queue_group = queue_group

    @property
    def prefix(self) -> str:
        return self._prefix

    def __repr__(self) -> str:
        return f"<ServiceGroup {self._prefix!r} of service {self._service.name!r}>"


class Service(_EndpointAdder):
    """A NATS service (protocol v1): discoverable with ``$SRV.PING|INFO|STATS``, its endpoints
    load-balanced through queue groups, its counters readable by any client (``nats micro ls``).

    Made by :meth:`Client.add_service`; a context manager that stops the service on exit.
    """

    def __init__(
        self,
        client: ServiceClient,
        name: str,
        version: str,
        *,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        queue_group: str | None = None,
    ) -> None:
        check_service_name(name)
        check_version(version)
        if not isinstance(description, str):
            raise TypeError(f"description must be a str, got {type(description).__name__}")
        self._client = client
        self._service = self
        self._prefix = ""
        self._queue_group = check_queue_group(queue_group)
        self._name = name
        self._version = version
        self._description = description
        self._metadata = check_metadata(metadata)
        self._id = new_id()
        self._lock = threading.Lock()
        self._endpoints: list[_Endpoint] = []
        self._verb_subs: list[Subscription] = []
        self._stopped = False
        self._started = datetime.now(timezone.utc)
        base = ["$SRV.*", f"$SRV.*.{name}", f"$SRV.*.{name}.{self._id}"]
        try:
            for subject in base:
                self._verb_subs.append(client.subscribe(subject, self._on_control))
        except BaseException:
            self._unsubscribe_all()
            raise
        self._sync()

    # -- endpoints ---------------------------------------------------------------------------------
    def _add(
        self,
        prefix: str,
        name: str,
        handler: RequestHandler,
        subject: str | None,
        queue_group: str | None,
        parent_queue_group: str | None,
        metadata: Mapping[str, str] | None,
    ) -> _Endpoint:
        check_endpoint_name(name)
        check_handler(handler, "handler", "a ServiceRequest")
        own = check_endpoint_subject(subject) if subject is not None else name
        full = f"{prefix}.{own}" if prefix else own
        qg = resolve_queue_group(queue_group, parent_queue_group)
        meta = check_metadata(metadata, "endpoint metadata")
        with self._lock:
            if self._stopped:
                raise ClosedError(f"service {self._name!r} is stopped; add endpoints to a new service")
        endpoint = _Endpoint(self, name, full, qg, handler, meta)
        endpoint.sub = self._client.subscribe(full, endpoint.on_msg, queue=qg)
        with self._lock:
            stopped = self._stopped
            if not stopped:
                self._endpoints.append(endpoint)
        if stopped:  # stop() ran meanwhile: this endpoint must not outlive it
            endpoint.sub.unsubscribe()
            raise ClosedError(f"service {self._name!r} was stopped while the endpoint {name!r} was added")
        self._sync()
        return endpoint

    def _sync(self) -> None:
        """Wait (bounded) until the server has the subscriptions, so that a request or discovery
        made right after, from any client, finds them; while reconnecting they are restored later."""
        with contextlib.suppress(NATSTimeoutError):
            self._client.flush(self._client.options.timeout)

    # -- control subjects ----------------------------------------------------------------------------
    def _on_control(self, msg: Msg) -> None:
        parts = msg.subject.split(".")
        verb = parts[1] if len(parts) > 1 else ""
        if verb not in VERBS or not msg.reply or self._stopped:
            return
        if verb == "PING":
            doc = self.ping()
        elif verb == "INFO":
            doc = self.info()
        else:
            doc = self.stats()
        try:
            msg.respond(json.dumps(doc, separators=(",", ":")).encode())
        except NATSSyncError as exc:
            log.warning("service %r could not answer %s: %s", self._name, verb, exc)

    def _identity(self) -> dict[str, Any]:
        return {"name": self._name, "id": self._id, "version": self._version, "metadata": dict(self._metadata)}

    def ping(self) -> dict[str, Any]:
        """The document a ``$SRV.PING`` request gets."""
        return {**self._identity(), "type": PING_RESPONSE_TYPE}

    def info(self) -> dict[str, Any]:
        """The document a ``$SRV.INFO`` request gets: identity, description and the endpoints."""
        with self._lock:
            endpoints = [e.info() for e in self._endpoints]
        return {
            **self._identity(),
            "type": INFO_RESPONSE_TYPE,
            "description": self._description,
            "endpoints": endpoints,
        }

    def stats(self) -> dict[str, Any]:
        """The document a ``$SRV.STATS`` request gets: per endpoint, requests, errors, the last
        error and processing time (total and average, in nanoseconds); ``started`` in RFC 3339."""
        with self._lock:
            endpoints = [e.stats() for e in self._endpoints]
            started = self._started
        return {**self._identity(), "type": STATS_RESPONSE_TYPE, "started": rfc3339(started), "endpoints": endpoints}

    def reset(self) -> None:
        """Zero every endpoint's counters; ``started`` becomes now."""
        with self._lock:
            for e in self._endpoints:
                e.reset()
            self._started = datetime.now(timezone.utc)

    # -- lifecycle -----------------------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """Drain the endpoints (requests already received are handled), then stop answering
        discovery. Idempotent; bounded by ``timeout`` (default the client's ``Options.timeout``)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            endpoints = list(self._endpoints)
            self._endpoints = []
        t = self._client.options.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        error: BaseException | None = None
        for sub in [e.sub for e in endpoints if e.sub is not None] + self._verb_subs:
            try:
                sub.drain(max(0.05, deadline - time.monotonic()))
            except NATSSyncError as exc:  # a closed client has nothing left to drain
                if not isinstance(exc, ClosedError):
                    error = error or exc
        self._verb_subs = []
        if error is not None:
            raise error

    def _unsubscribe_all(self) -> None:
        for sub in self._verb_subs:
            with contextlib.suppress(NATSSyncError):
                sub.unsubscribe()
        self._verb_subs = []

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` ran or the client closed."""
        return self._stopped or self._client.is_closed

    @property
    def id(self) -> str:
        """This instance's unique id (the last token of its ``$SRV.<VERB>.<name>.<id>`` subjects)."""
        return self._id

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return self._version

    @property
    def description(self) -> str:
        return self._description

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    @property
    def client(self) -> ServiceClient:
        return self._client

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "running"
        with self._lock:
            n = len(self._endpoints)
        return f"<Service {self._name} {self._version} id={self._id} {state} endpoints={n}>"

    def _repr_html_(self) -> str:
        from ._display import service_html

        return service_html(self)
