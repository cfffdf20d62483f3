"""The caller's side: discover agents, follow their heartbeats, ping and prompt them.

Built on the client's public surface only (``request_many``, ``request``, ``subscribe``,
``publish``). The stream a prompt returns is in :mod:`._stream`, the records in :mod:`._records`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

from .._core.handlers import check_handler
from ..errors import ClosedError, NATSSyncError, NATSTimeoutError, NoRespondersError
from ..protocol.headers import encode_headers
from ._errors import (
    AgentError,
    AgentProtocolError,
    AgentServiceError,
    AttachmentsNotSupportedError,
    PromptEmptyError,
    PromptTooLargeError,
)
from ._hooks import NO_HOOKS, AgentHooks
from ._protocol import (
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    HEARTBEAT_WILDCARD,
    PROTOCOL_VERSION,
    SERVICE_NAME,
    Attachment,
    check_attachments,
    encode_envelope,
)
from ._records import LIVENESS_SLACK, AgentInfo, Liveness
from ._stream import QueryChunk, ResponseStream, header

if TYPE_CHECKING:
    from .._core.msg import Msg
    from .._core.subscription import Subscription
    from ._surface import AgentClient as ServiceClient

__all__ = ["Agent", "AgentList", "Agents"]

log = logging.getLogger("beluga_nats_sync.agents")


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


# -- an agent and the directory -------------------------------------------------------------------------
class Agent:
    """A discovered agent, ready to prompt: its :class:`AgentInfo` and the client to reach it."""

    def __init__(self, client: ServiceClient, info: AgentInfo, hooks: AgentHooks = NO_HOOKS) -> None:
        self._client = client
        self.info = info
        self._hooks = hooks

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.info, name)

    def prompt(
        self,
        text: str,
        attachments: Sequence[Attachment] | None = None,
        *,
        timeout: float = 60.0,
        max_wait: float = 600.0,
    ) -> ResponseStream:
        """Send ``text`` (and ``attachments``) and return the stream of chunks.

        Checked before anything is sent: an empty prompt (:class:`PromptEmptyError`), attachments
        to an agent that refuses them (:class:`AttachmentsNotSupportedError`), a request over the
        agent's or the server's ``max_payload`` (:class:`PromptTooLargeError`). ``timeout`` is the
        most seconds between two chunks, ``max_wait`` the most for the whole stream."""
        if not isinstance(text, str):
            raise TypeError(f"prompt text must be a str, got {type(text).__name__}")
        if not text:
            raise PromptEmptyError("the prompt is empty; the protocol requires some text")
        t = _seconds(timeout, "timeout")
        mw = _seconds(max_wait, "max_wait")
        attachments = check_attachments(attachments)
        if attachments and self.info.attachments_ok is False:
            raise AttachmentsNotSupportedError(
                f"agent {self.info.agent!r} does not take attachments (its prompt endpoint says attachments_ok=false)"
            )
        data = encode_envelope(text, attachments)
        subject = self.info.prompt_subject
        limit = self.info.max_payload
        if limit is not None and len(data) > limit:
            raise PromptTooLargeError(len(data), limit, f"agent {self.info.agent!r}'s")
        server_limit = self._client.max_payload
        headers, finish = self._hooks.start_prompt(subject, len(data), self.info.agent)
        # the server counts the header block too, every value of it, in bytes
        framed = len(data) + (len(encode_headers(headers)) if headers else 0)
        if framed > server_limit:
            error = PromptTooLargeError(framed, server_limit, "server's")
            finish(error, 0)
            raise error
        try:
            inbox = self._client.new_inbox()
            sub = self._client.subscribe(inbox)
            try:
                self._client.publish(subject, data, reply=inbox, headers=headers or None)
            except BaseException:
                sub.unsubscribe()
                raise
        except BaseException as exc:
            finish(exc, 0)
            raise
        return ResponseStream(self._client, sub, subject, t, mw, finish)

    def prompt_text(
        self,
        text: str,
        attachments: Sequence[Attachment] | None = None,
        *,
        timeout: float = 60.0,
        max_wait: float = 600.0,
        on_query: Callable[[QueryChunk], str] | None = None,
    ) -> str:
        """Prompt and return the whole response text (see :meth:`ResponseStream.text`)."""
        return self.prompt(text, attachments, timeout=timeout, max_wait=max_wait).text(on_query)

    def status(self, timeout: float = 2.0) -> dict[str, Any]:
        """The agent's ``status`` endpoint's answer: a fresh heartbeat payload, as a dict."""
        subject = self.info.status_subject
        if subject is None:
            raise AgentError(f"agent {self.info.agent!r} declares no status endpoint")
        msg = self._client.request(subject, b"", timeout=timeout)
        code = header(msg.headers, ERROR_CODE_HEADER)
        if code is not None:
            raise AgentServiceError(code, header(msg.headers, ERROR_HEADER) or "")
        try:
            doc = json.loads(msg.data)
        except ValueError as exc:
            raise AgentProtocolError("the status answer is not JSON") from exc
        if not isinstance(doc, dict):
            raise AgentProtocolError("the status answer is not a JSON object")
        return doc

    def __repr__(self) -> str:
        i = self.info
        return f"<Agent {i.agent}.{i.owner}.{i.session_name} id={i.instance_id} protocol={i.protocol_version}>"


class AgentList(list["Agent"]):
    """The agents :meth:`Agents.discover` found: a list of :class:`Agent` that shows as a table
    in a notebook."""

    def _repr_html_(self) -> str:
        from .._notebook.agents import agents_html

        return agents_html(self)


class Agents:
    """Agents on a connection: ``discover()`` them, ``ping()`` an instance, follow their
    heartbeats (``liveness()``, ``on_heartbeat()``), and prompt what you found.

    ``nc`` is a connected :class:`~beluga_nats_sync.Client` (``Agents(nc)`` or ``Agents(nc=nc)``).
    The heartbeat subscription starts with the first ``discover()`` or ``watch()``, before any
    discovery request, and ends with :meth:`close` (or the ``with`` block)."""

    def __init__(self, nc: ServiceClient, *, hooks: AgentHooks = NO_HOOKS) -> None:
        self._client = nc
        self._hooks = hooks
        self._lock = threading.Lock()
        self._beats: dict[str, tuple[dict[str, Any], datetime, float]] = {}
        self._listeners: list[Callable[[Liveness], Any]] = []
        self._hb_sub: Subscription | None = None
        self._closed = False

    @property
    def client(self) -> ServiceClient:
        return self._client

    # -- discovery -------------------------------------------------------------------------------
    def discover(
        self,
        timeout: float = 2.0,
        *,
        stall: float | None = 0.5,
        agent: str | None = None,
        owner: str | None = None,
        session: str | None = None,
    ) -> AgentList:
        """Ask ``$SRV.INFO.agents`` and return the agents that answer, filtered by ``agent``,
        ``owner`` and ``session`` (the session name) when given.

        Collection stops ``stall`` seconds after the last answer, or at ``timeout`` (``stall=None``:
        wait the whole ``timeout``). Only services named ``agents`` of protocol MAJOR.MINOR
        ``0.3`` are kept. With no agents at all it returns an empty list at once."""
        self.watch()
        replies = self._client.request_many(
            f"$SRV.INFO.{SERVICE_NAME}", b"", timeout=_seconds(timeout, "timeout"), stall=stall
        )
        found = AgentList()
        for msg in replies:
            try:
                doc = json.loads(msg.data)
            except ValueError:
                log.warning("ignoring a $SRV.INFO.agents answer that is not JSON: %r", msg.data[:80])
                continue
            info = AgentInfo.from_info(doc)
            if info is None:
                continue
            if agent is not None and info.agent != agent:
                continue
            if owner is not None and info.owner != owner:
                continue
            if session is not None and info.session_name != session:
                continue
            found.append(Agent(self._client, info, self._hooks))
        found.sort(key=lambda a: (a.info.agent, a.info.owner, a.info.session_name, a.info.instance_id))
        return found

    def ping(self, instance_id: str, timeout: float = 2.0) -> bool:
        """True when the instance answers ``$SRV.PING.agents.<instance_id>`` within ``timeout``."""
        if not isinstance(instance_id, str) or not instance_id or any(c in instance_id for c in ". *>"):
            raise ValueError(f"instance_id must be one subject token (a service id), got {instance_id!r}")
        try:
            self._client.request(f"$SRV.PING.{SERVICE_NAME}.{instance_id}", b"", timeout=timeout)
        except (NATSTimeoutError, NoRespondersError):
            return False
        return True

    # -- heartbeats ---------------------------------------------------------------------------------
    def watch(self) -> None:
        """Start following heartbeats (``agents.hb.>``) now; idempotent."""
        with self._lock:
            if self._closed:
                raise ClosedError("this Agents is closed; make a new one")
            if self._hb_sub is not None:
                return
            self._hb_sub = self._client.subscribe(HEARTBEAT_WILDCARD, self._on_heartbeat)
        try:
            self._client.flush(self._client.options.timeout)
        except NATSTimeoutError:
            log.warning("the heartbeat subscription is not confirmed by the server yet")

    def _on_heartbeat(self, msg: Msg) -> None:
        try:
            doc = json.loads(msg.data)
            iid = doc["instance_id"]
            interval = float(doc["interval_s"])
            if not isinstance(iid, str) or not iid or not math.isfinite(interval) or interval <= 0:
                raise ValueError("bad instance_id or interval_s")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed heartbeat on %s: %s", msg.subject, exc)
            return
        now = datetime.now(timezone.utc)
        with self._lock:
            self._beats[iid] = (doc, now, interval)
            listeners = list(self._listeners)
        if listeners:
            snapshot = self._liveness(iid, doc, now, interval, now)
            for fn in listeners:
                try:
                    fn(snapshot)
                except Exception:
                    log.exception("a heartbeat listener raised")

    @staticmethod
    def _liveness(iid: str, doc: dict[str, Any], seen: datetime, interval: float, now: datetime) -> Liveness:
        return Liveness(
            instance_id=iid,
            agent=str(doc.get("agent", "")),
            owner=str(doc.get("owner", "")),
            session_name=str(doc.get("session", "")),
            last_seen=seen,
            interval_s=interval,
            is_online=(now - seen).total_seconds() <= LIVENESS_SLACK * interval,
            payload=MappingProxyType(dict(doc)),
        )

    def liveness(self, instance_id: str) -> Liveness | None:
        """The last heartbeat of ``instance_id`` (None if none was seen since watching began)."""
        with self._lock:
            entry = self._beats.get(instance_id)
        if entry is None:
            return None
        return self._liveness(instance_id, entry[0], entry[1], entry[2], datetime.now(timezone.utc))

    def heartbeats(self) -> dict[str, Liveness]:
        """Every instance heard from, by instance id."""
        now = datetime.now(timezone.utc)
        with self._lock:
            entries = dict(self._beats)
        return {iid: self._liveness(iid, d, s, i, now) for iid, (d, s, i) in entries.items()}

    def on_heartbeat(self, callback: Callable[[Liveness], Any]) -> Callable[[], None]:
        """Call ``callback(liveness)`` for every heartbeat (on the heartbeat subscription's thread);
        returns the function that removes it. Starts watching."""
        check_handler(callback, "callback", "a Liveness")
        with self._lock:
            self._listeners.append(callback)
        self.watch()

        def remove() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop following heartbeats (the client stays open: it is the caller's)."""
        with self._lock:
            self._closed = True
            sub, self._hb_sub = self._hb_sub, None
        if sub is not None:
            with contextlib.suppress(NATSSyncError):
                sub.unsubscribe()

    def __enter__(self) -> Agents:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:
            n = len(self._beats)
        return f"<Agents protocol={PROTOCOL_VERSION} heartbeats_from={n}{' closed' if self._closed else ''}>"
