"""The host's side: serve an agent from a plain function, on the services machinery.

:class:`AgentService` registers the ``agents`` service with the protocol's metadata, answers
``prompt`` and ``status``, runs each prompt's handler on a thread of its own (at most
``max_concurrent`` at once), and publishes heartbeats. One more thread beats and keeps quiet
streams alive; the endpoint threads only check a request, send the leading ack and hand it over.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from .._core.handlers import check_handler
from ..errors import NATSSyncError
from ._errors import AgentProtocolError, AgentStoppedError
from ._hooks import NO_HOOKS, AgentHooks
from ._prompt_stream import PromptHandler, PromptStream, one_line
from ._protocol import (
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    PROTOCOL_VERSION,
    QUEUE_GROUP,
    SERVICE_NAME,
    Envelope,
    agent_subject,
    check_token,
    decode_envelope,
    encode_chunk,
    format_size,
    utc_now,
)

if TYPE_CHECKING:
    from ..services import Service, ServiceRequest
    from ._surface import AgentClient

__all__ = ["AgentService", "AgentSubject", "PromptHandler", "PromptStream"]

log = logging.getLogger("beluga_nats_sync.agents")

_ACK = encode_chunk("status", "ack")


@attrs.frozen
class AgentSubject:
    """The subjects of one agent: ``prompt``, ``status`` and ``heartbeat``."""

    agent: str
    owner: str
    session_name: str

    @property
    def prompt(self) -> str:
        return agent_subject("prompt", self.agent, self.owner, self.session_name)

    @property
    def status(self) -> str:
        return agent_subject("status", self.agent, self.owner, self.session_name)

    @property
    def heartbeat(self) -> str:
        return agent_subject("hb", self.agent, self.owner, self.session_name)


class AgentService:
    """An agent of the Synadia Agent Protocol, served from blocking code::

        service = AgentService(nc=nc, agent="echo", owner="me", session_name="main")

        @service.on_prompt
        def handle(envelope, stream):
            stream.send(f"echo: {envelope.prompt}")

        with service:            # start() ... stop()
            ...

    ``max_concurrent`` prompts run at once, each on its own thread; more wait for a free one.
    ``max_payload`` (bytes, default the server's) and ``attachments_ok`` are what the prompt
    endpoint declares and enforces. A stream quiet for ``keepalive_interval_s`` gets an ``ack``
    (None: never), so callers' inactivity limits do not fire while a handler works."""

    def __init__(
        self,
        *,
        nc: AgentClient,
        agent: str,
        owner: str,
        session_name: str = "default",
        description: str = "",
        heartbeat_interval_s: float = 30,
        max_concurrent: int = 8,
        max_payload: int | None = None,
        attachments_ok: bool = True,
        keepalive_interval_s: float | None = 30.0,
        hooks: AgentHooks = NO_HOOKS,
    ) -> None:
        self.subject = AgentSubject(
            check_token(agent, "agent"), check_token(owner, "owner"), check_token(session_name, "session_name")
        )
        if not isinstance(description, str):
            raise TypeError(f"description must be a str, got {type(description).__name__}")
        for name, value in (
            ("heartbeat_interval_s", heartbeat_interval_s),
            ("keepalive_interval_s", keepalive_interval_s),
        ):
            if value is None and name == "keepalive_interval_s":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        if max_payload is not None and (
            isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload < 1
        ):
            raise ValueError(f"max_payload must be a number of bytes >= 1 or None (the server's), got {max_payload!r}")
        self._client = nc
        self.description = description
        self.heartbeat_interval_s = float(heartbeat_interval_s)
        self.keepalive_interval_s = keepalive_interval_s
        self.max_concurrent = max_concurrent
        self.attachments_ok = bool(attachments_ok)
        self._max_payload_arg = max_payload
        self.max_payload = max_payload or 0
        self._hooks = hooks
        self._handler: PromptHandler | None = None
        self._service: Service | None = None
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_concurrent)
        self._active: dict[PromptStream, threading.Thread | None] = {}  # a stream, its worker once taken
        self._queue: queue.SimpleQueue[tuple[Envelope, PromptStream, Mapping[str, str] | None, int] | None] = (
            queue.SimpleQueue()
        )
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._stop_event = threading.Event()
        #: wakes the ticker: a stream began (its keep-alives are due sooner than the ticker's next
        #: wake), or the agent is stopping
        self._tick_now = threading.Event()
        self._ticker: threading.Thread | None = None
        self._state = "new"
        self._accepting = True
        self.prompts_served = 0

    # -- setting up -----------------------------------------------------------------------------------
    def on_prompt(self, handler: PromptHandler) -> PromptHandler:
        """Set the prompt handler, ``handler(envelope, stream)``; usable as a decorator."""
        check_handler(handler, "handler", "the prompt's envelope and its stream")
        self._handler = handler
        return handler

    @property
    def instance_id(self) -> str:
        """The service id (``$SRV.INFO`` ``id``, the heartbeats' ``instance_id``); set by :meth:`start`."""
        return self._service.id if self._service is not None else ""

    @property
    def running(self) -> bool:
        return self._state == "running"

    def start(self) -> AgentService:
        """Register the ``agents`` service, serve ``prompt`` and ``status``, and beat (the first at once)."""
        if self._handler is None:
            raise RuntimeError("no prompt handler: call on_prompt(handler) (or use it as a decorator) before start()")
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"this AgentService is {self._state}; an AgentService starts once")
            self._state = "starting"
        from .._version import __version__

        server_max = self._client.max_payload
        self.max_payload = min(self._max_payload_arg or server_max, server_max)
        s = self.subject
        service = self._client.add_service(
            SERVICE_NAME,
            __version__,
            description=self.description,
            metadata={
                "agent": s.agent,
                "owner": s.owner,
                "session": s.session_name,
                "protocol_version": PROTOCOL_VERSION,
            },
        )
        try:
            service.add_endpoint(
                "prompt", self._on_prompt, subject=s.prompt, queue_group=QUEUE_GROUP, metadata=self._prompt_metadata()
            )
            service.add_endpoint("status", self._on_status, subject=s.status, queue_group=QUEUE_GROUP)
        except BaseException:
            service.stop(1.0)
            self._state = "stopped"
            raise
        self._service = service
        self._publish_heartbeat()
        self._ticker = threading.Thread(target=self._tick, name=f"agent-{s.agent}-heartbeat", daemon=True)
        self._ticker.start()
        self._state = "running"
        log.info("agent %s serving %s (instance %s)", s.agent, s.prompt, service.id)
        return self

    def _prompt_metadata(self) -> dict[str, str]:
        return {
            "max_payload": format_size(self.max_payload),
            "attachments_ok": "true" if self.attachments_ok else "false",
        }

    # -- heartbeats and keep-alives -------------------------------------------------------------------
    def heartbeat_payload(self) -> dict[str, Any]:
        """What a heartbeat and the ``status`` endpoint say (§8.3)."""
        s = self.subject
        return {
            "agent": s.agent,
            "owner": s.owner,
            "session": s.session_name,
            "instance_id": self.instance_id,
            "ts": utc_now(),
            # an int on the wire: the official SDKs read it as one
            "interval_s": max(1, math.ceil(self.heartbeat_interval_s)),
            "protocol_version": PROTOCOL_VERSION,
            "endpoints": {"prompt": {"subject": s.prompt, "metadata": self._prompt_metadata()}},
        }

    def _publish_heartbeat(self) -> None:
        try:
            self._client.publish(self.subject.heartbeat, json.dumps(self.heartbeat_payload()).encode())
        except NATSSyncError as exc:
            log.warning("agent %s could not publish its heartbeat: %s", self.subject.agent, exc)

    def _tick(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_interval_s
        ka = self.keepalive_interval_s
        while True:
            now = time.monotonic()
            wake = next_beat
            if ka is not None:
                with self._lock:
                    streams = list(self._active)
                for st in streams:
                    if st._errored:  # nothing goes between an error frame and the terminator
                        continue
                    if now - st.last_sent >= ka:
                        try:
                            st._write(_ACK)
                        except NATSSyncError as exc:
                            log.warning("keep-alive on %s failed: %s", st.subject, exc)
                    wake = min(wake, st.last_sent + ka)
            self._tick_now.wait(max(0.01, min(wake - time.monotonic(), 1.0)))
            self._tick_now.clear()
            if self._stop_event.is_set():
                return
            if time.monotonic() >= next_beat:
                self._publish_heartbeat()
                next_beat += self.heartbeat_interval_s
                if next_beat < time.monotonic():  # a long stall: do not beat in a burst
                    next_beat = time.monotonic() + self.heartbeat_interval_s

    # -- requests ------------------------------------------------------------------------------------
    def _on_status(self, req: ServiceRequest) -> None:
        req.respond(json.dumps(self.heartbeat_payload()).encode())

    def _refuse(self, req: ServiceRequest, code: str, description: str) -> None:
        log.warning("agent %s refused a prompt: %s %s", self.subject.agent, code, description)
        try:
            req.msg.respond(b"", {ERROR_CODE_HEADER: code, ERROR_HEADER: one_line(description)})
            req.msg.respond(b"")
        except NATSSyncError as exc:
            log.warning("agent %s could not answer a refused prompt: %s", self.subject.agent, exc)

    def _on_prompt(self, req: ServiceRequest) -> None:
        if not req.reply:
            return  # a plain publish: nobody to answer
        if not self._accepting:
            self._refuse(req, "503", "the agent is stopping")
            return
        try:
            envelope = decode_envelope(req.data)
        except AgentProtocolError as exc:
            self._refuse(req, "400", str(exc))
            return
        if not envelope.prompt:
            self._refuse(req, "400", "the prompt is empty")
            return
        if len(req.data) > self.max_payload:
            self._refuse(req, "400", f"the prompt is {len(req.data)} bytes, over max_payload {self.max_payload}")
            return
        if envelope.attachments and not self.attachments_ok:
            self._refuse(req, "400", "this agent does not take attachments")
            return
        while not self._slots.acquire(timeout=0.1):
            if not self._accepting:
                self._refuse(req, "503", "the agent is stopping")
                return
        stream = PromptStream(self._client, req.msg, self._stop_event)
        try:
            stream._write(_ACK)  # the leading ack (§6.4), before the handler runs
        except NATSSyncError as exc:
            self._slots.release()
            log.warning("agent %s could not acknowledge a prompt: %s", self.subject.agent, exc)
            return
        with self._lock:
            self._active[stream] = None
            if self.keepalive_interval_s is not None:
                self._tick_now.set()  # the ticker learns of this stream now, not at its next wake
            spawn = self._idle == 0 and len(self._workers) < self.max_concurrent
            if spawn:
                worker = threading.Thread(
                    target=self._work_loop, name=f"agent-{self.subject.agent}-prompt-{len(self._workers)}", daemon=True
                )
                self._workers.append(worker)
        if spawn:
            worker.start()
        self._queue.put((envelope, stream, req.headers, len(req.data)))

    def _work_loop(self) -> None:
        """A worker of the pool: takes prompts until told to stop (a ``None``); the slots bound the
        prompts in progress, so at most ``max_concurrent`` workers are ever made, and reused."""
        me = threading.current_thread()
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
                if item is not None:
                    self._active[item[1]] = me
            if item is None:
                return
            self._run(*item)

    def _run(self, envelope: Envelope, stream: PromptStream, headers: Mapping[str, str] | None, size: int) -> None:
        handler = self._handler
        assert handler is not None
        try:
            if self._stop_event.is_set():
                return  # taken after stop() ended its stream: the handler does not run
            with self._hooks.serve_prompt(stream.subject, headers, size, self.subject.agent):
                handler(envelope, stream)
        except AgentStoppedError:
            pass  # the service stopped it and answered for it
        except Exception as exc:
            log.exception("the prompt handler of agent %s raised", self.subject.agent)
            if not stream._errored:
                try:
                    stream._error_frame("500", f"{type(exc).__name__}: {exc}")
                except NATSSyncError as send_exc:
                    log.warning("could not send the error frame on %s: %s", stream.subject, send_exc)
        finally:
            try:
                stream._finish()
            except NATSSyncError as exc:
                log.warning("could not send the terminator on %s: %s", stream.subject, exc)
            with self._lock:
                self._active.pop(stream, None)
                self.prompts_served += 1
            self._slots.release()

    # -- stopping ------------------------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """Stop: no new prompts, the running ones get ``timeout`` seconds (default the client's
        ``Options.timeout``) to finish; those still running then get an error frame (503) and
        their terminator, and their handler's next send raises :class:`AgentStoppedError`.
        Heartbeats stop; the service stops answering discovery. Idempotent."""
        with self._lock:
            if self._state in ("stopping", "stopped"):
                return
            was = self._state
            self._state = "stopping"
        self._accepting = False
        t = self._client.options.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + t
        try:
            if was == "new":
                return
            if self._service is not None:
                try:  # no new prompts reach this instance; those already queued are refused (503)
                    self._service.stop(max(0.5, deadline - time.monotonic()))
                except NATSSyncError as exc:
                    log.warning("agent %s: stopping its service: %s", self.subject.agent, exc)
            while time.monotonic() < deadline:  # running handlers may finish in the grace period
                with self._lock:
                    busy = bool(self._active)
                if not busy:
                    break
                self._stop_event.wait(min(0.01, max(0.0, deadline - time.monotonic())))
            self._stop_event.set()
            self._tick_now.set()
            if self._ticker is not None:
                self._ticker.join(2.0)
            with self._lock:
                left = dict(self._active)
            for stream in left:
                try:
                    stream._error_frame("503", "the agent stopped before the answer was complete")
                    stream._finish()
                except NATSSyncError as exc:
                    log.warning("could not end the stream on %s: %s", stream.subject, exc)
            with self._lock:
                workers = list(self._workers)
            for _ in workers:
                self._queue.put(None)
            for worker in workers:
                worker.join(1.0 if worker in left.values() else 5.0)
                if worker.is_alive():
                    log.warning(
                        "the prompt handler thread %s of agent %s did not return after stop(); it keeps "
                        "running until it does (handlers should return when stream.stop_event is set)",
                        worker.name,
                        self.subject.agent,
                    )
            try:
                if not self._client.is_closed:
                    self._client.flush(max(0.5, deadline - time.monotonic()))
            except NATSSyncError:
                pass
        finally:
            self._stop_event.set()
            self._tick_now.set()
            self._state = "stopped"

    def __enter__(self) -> AgentService:
        if self._state == "new":
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        with self._lock:
            n = len(self._active)
        return f"<AgentService {self.subject.prompt} {self._state} instance={self.instance_id or '-'} active={n}>"
