"""The caller's side: discover agents, watch their heartbeats, prompt them and read the stream.

Built on the client's public surface only (``request_many``, ``request``, ``subscribe``,
``publish``). A prompt is a subscription to a fresh inbox, one publish, then ``next_msg`` until
the terminator: the iterator is the subscription.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from ..errors import ClosedError, NATSSyncError, NATSTimeoutError, NoRespondersError
from ._errors import (
    AgentError,
    AgentProtocolError,
    AgentServiceError,
    AttachmentsNotSupportedError,
    PromptEmptyError,
    PromptTooLargeError,
    StreamMaxWaitError,
    StreamStalledError,
)
from ._hooks import NO_HOOKS, AgentHooks, PromptFinish
from ._protocol import (
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    HEARTBEAT_WILDCARD,
    PROTOCOL_VERSION,
    SERVICE_NAME,
    Attachment,
    check_attachments,
    decode_attachments,
    encode_envelope,
    parse_size,
    same_minor,
)

if TYPE_CHECKING:
    from .._core.msg import Msg
    from .._core.subscription import Subscription
    from ._surface import AgentClient as ServiceClient

__all__ = [
    "Agent",
    "AgentInfo",
    "AgentList",
    "Agents",
    "Chunk",
    "EndpointInfo",
    "Liveness",
    "QueryChunk",
    "ResponseChunk",
    "ResponseStream",
    "StatusChunk",
]

log = logging.getLogger("beluga_nats_sync.agents")

#: A heartbeat is late after this many intervals (the official SDKs' slack).
LIVENESS_SLACK = 3


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        low = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == low), None)
    return value


# -- what discovery finds ---------------------------------------------------------------------------
@attrs.frozen
class EndpointInfo:
    """One endpoint of an agent, from ``$SRV.INFO``: for ``prompt``, its ``max_payload`` (bytes,
    None when not declared or unreadable) and ``attachments_ok`` (None when not declared)."""

    name: str
    subject: str
    queue_group: str = ""
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    max_payload: int | None = None
    attachments_ok: bool | None = None


@attrs.frozen
class AgentInfo:
    """An agent as ``$SRV.INFO.agents`` describes it. ``instance_id`` is the service id (the key
    of its heartbeats); ``session_name`` the 5th token of its prompt subject."""

    instance_id: str
    agent: str
    owner: str
    session_name: str
    protocol_version: str
    description: str
    version: str
    metadata: Mapping[str, str]
    endpoints: tuple[EndpointInfo, ...]
    prompt_endpoint: EndpointInfo

    @property
    def prompt_subject(self) -> str:
        return self.prompt_endpoint.subject

    @property
    def max_payload(self) -> int | None:
        return self.prompt_endpoint.max_payload

    @property
    def attachments_ok(self) -> bool | None:
        return self.prompt_endpoint.attachments_ok

    @property
    def status_subject(self) -> str | None:
        return next((e.subject for e in self.endpoints if e.name == "status"), None)

    @classmethod
    def from_info(cls, doc: Any) -> AgentInfo | None:
        """From one ``$SRV.INFO`` reply; None when it is not an agent of our protocol MAJOR.MINOR
        (another service, missing metadata, no prompt endpoint)."""
        if not isinstance(doc, dict) or doc.get("name") != SERVICE_NAME:
            return None
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            return None
        metadata = {str(k): str(v) for k, v in meta.items()}
        agent, owner, version = metadata.get("agent"), metadata.get("owner"), metadata.get("protocol_version")
        if not agent or not owner or not version or not same_minor(version):
            return None
        raw = doc.get("endpoints")
        if not isinstance(raw, list):
            return None
        endpoints = tuple(_endpoint(e) for e in raw if isinstance(e, dict))
        prompt = next((e for e in endpoints if e.name == "prompt"), None)
        if prompt is None:
            return None
        parts = prompt.subject.split(".")
        session = parts[4] if len(parts) == 5 and parts[:2] == ["agents", "prompt"] else ""

        def text(key: str) -> str:
            v = doc.get(key)
            return v if isinstance(v, str) else ""

        return cls(
            instance_id=text("id"),
            agent=agent,
            owner=owner,
            session_name=session,
            protocol_version=version,
            description=text("description"),
            version=text("version"),
            metadata=MappingProxyType(metadata),
            endpoints=endpoints,
            prompt_endpoint=prompt,
        )


def _endpoint(raw: Mapping[str, Any]) -> EndpointInfo:
    meta = raw.get("metadata")
    metadata = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
    mp = metadata.get("max_payload")
    ok = metadata.get("attachments_ok")
    return EndpointInfo(
        name=str(raw.get("name", "")),
        subject=str(raw.get("subject", "")),
        queue_group=str(raw.get("queue_group") or ""),
        metadata=MappingProxyType(metadata),
        max_payload=parse_size(mp) if mp is not None else None,
        attachments_ok=True if ok == "true" else False if ok == "false" else None,
    )


@attrs.frozen
class Liveness:
    """What the last heartbeat of an instance said, and whether it is recent enough
    (``is_online``: seen within three intervals when this snapshot was taken)."""

    instance_id: str
    agent: str
    owner: str
    session_name: str
    last_seen: datetime
    interval_s: float
    is_online: bool
    payload: Mapping[str, Any]


# -- the stream's chunks ----------------------------------------------------------------------------
@attrs.frozen
class StatusChunk:
    """A lifecycle signal, usually ``"ack"`` (the agent got the prompt); unknown values pass through."""

    status: str


@attrs.frozen
class ResponseChunk:
    """A piece of the answer: ``text``, and ``attachments`` when the agent sent files."""

    text: str
    attachments: tuple[Attachment, ...] = ()


@attrs.frozen
class QueryChunk:
    """The agent asks the caller something mid-stream; answer with :meth:`reply` (once)."""

    id: str
    reply_subject: str
    prompt: str
    attachments: tuple[Attachment, ...] = ()
    _client: ServiceClient | None = attrs.field(default=None, eq=False, repr=False, alias="client")

    def reply(self, answer: str, attachments: Sequence[Attachment] | None = None) -> None:
        """Send the answer: plain text, or the JSON envelope when there are attachments."""
        if not isinstance(answer, str):
            raise TypeError(f"answer must be a str, got {type(answer).__name__}")
        if self._client is None:
            raise AgentError("this query was not received by a client; it cannot be answered")
        data = encode_envelope(answer, attachments) if attachments else answer.encode()
        self._client.publish(self.reply_subject, data)


#: One chunk of a prompt's stream.
Chunk: TypeAlias = StatusChunk | ResponseChunk | QueryChunk


def decode_chunk(data: bytes, client: ServiceClient | None = None) -> Chunk | None:
    """One non-terminating message of the stream; None for an unknown chunk type (§6.6: ignored)."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise AgentProtocolError(f"the agent sent a chunk that is not JSON: {data[:80]!r}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        raise AgentProtocolError(f"the agent sent a chunk without a string 'type': {data[:80]!r}")
    kind, body = doc["type"], doc.get("data")
    if kind == "status":
        if not isinstance(body, str):
            raise AgentProtocolError("a status chunk's data must be a string")
        return StatusChunk(body)
    if kind == "response":
        if isinstance(body, str):
            return ResponseChunk(body)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise AgentProtocolError("a response chunk's data must be a string or an object with text")
        return ResponseChunk(body["text"], decode_attachments(body.get("attachments"), "response chunk"))
    if kind == "query":
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("id", "reply_subject", "prompt")
        ):
            raise AgentProtocolError("a query chunk's data must have string id, reply_subject and prompt")
        return QueryChunk(
            body["id"],
            body["reply_subject"],
            body["prompt"],
            decode_attachments(body.get("attachments"), "query chunk"),
            client=client,
        )
    return None


class ResponseStream:
    """The chunks of one prompt, in order: iterate it (``for chunk in stream``); it ends at the
    agent's terminator and raises :class:`AgentServiceError` for an error frame,
    :class:`StreamStalledError` after ``timeout`` seconds without a chunk and
    :class:`StreamMaxWaitError` past ``max_wait``. Leaving it early (``break``, ``close()``, the
    end of a ``with`` block) ends its subscription."""

    def __init__(
        self,
        client: ServiceClient,
        sub: Subscription,
        subject: str,
        timeout: float,
        max_wait: float,
        finish: PromptFinish,
    ) -> None:
        self._client = client
        self._sub = sub
        self.subject = subject
        self._timeout = timeout
        self._deadline = time.monotonic() + max_wait
        self._max_wait = max_wait
        self._finish: PromptFinish | None = finish
        self._chunks = 0
        self._lock = threading.Lock()

    def __iter__(self) -> ResponseStream:
        return self

    def __next__(self) -> Chunk:
        while True:
            if self._finish is None:
                raise StopIteration
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._end(StreamMaxWaitError(f"the stream from {self.subject} did not end within {self._max_wait:g} s"))
            try:
                msg = self._sub.next_msg(min(self._timeout, left))
            except NATSTimeoutError:
                if time.monotonic() >= self._deadline:
                    self._end(
                        StreamMaxWaitError(f"the stream from {self.subject} did not end within {self._max_wait:g} s")
                    )
                self._end(StreamStalledError(f"no chunk from {self.subject} for {self._timeout:g} s"))
            except ClosedError as exc:
                if self._finish is None:  # close() from another thread
                    raise StopIteration from None
                self._end(AgentError(f"the stream from {self.subject} ended without its terminator: {exc}"))
            except BaseException as exc:  # Ctrl-C: the stream is abandoned, its subscription ends
                self._end(exc)
            chunk = self._chunk(msg)
            if chunk is not None:
                self._chunks += 1
                return chunk

    def _chunk(self, msg: Msg) -> Chunk | None:
        headers = msg.headers
        code = _header(headers, ERROR_CODE_HEADER)
        if code is not None:
            self._end(AgentServiceError(code, _header(headers, ERROR_HEADER) or ""))
        if not msg.data:
            if not headers:
                self._end(None)  # the terminator
            if _header(headers, "Status") == "503":
                self._end(NoRespondersError(f"no agent listens on {self.subject}"))
            return None  # an empty frame with headers is not the terminator
        try:
            return decode_chunk(msg.data, self._client)
        except AgentProtocolError as exc:
            self._end(exc)
            raise  # unreachable: _end raised

    def _end(self, error: BaseException | None) -> Any:
        """Unsubscribe once, tell the hook, then stop (None) or raise ``error``."""
        with self._lock:
            finish, self._finish = self._finish, None
        if finish is not None:
            with contextlib.suppress(NATSSyncError):
                self._sub.unsubscribe()
            finish(error, self._chunks)
        if error is None:
            raise StopIteration
        raise error

    def close(self) -> None:
        """Stop reading: the subscription ends, chunks still coming are dropped (the agent is not told)."""
        with contextlib.suppress(StopIteration):
            self._end(None)

    @property
    def closed(self) -> bool:
        return self._finish is None

    def text(self, on_query: Callable[[QueryChunk], str] | None = None) -> str:
        """Read the stream to its end and return the response text, joined. A query is answered
        with ``on_query(query)``; without it, a query raises :class:`AgentError`."""
        parts: list[str] = []
        with self:
            for chunk in self:
                if isinstance(chunk, ResponseChunk):
                    parts.append(chunk.text)
                elif isinstance(chunk, QueryChunk):
                    if on_query is None:
                        raise AgentError(f"the agent asked {chunk.prompt!r}; pass on_query= to answer queries")
                    chunk.reply(on_query(chunk))
        return "".join(parts)

    def show(self, on_query: Callable[[QueryChunk], str] | None = None) -> str:
        """In a notebook, stream the response into the cell as it comes (printed elsewhere);
        returns the whole text."""
        from .._notebook.agents import show_stream

        return show_stream(self, on_query)

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # an abandoned loop (``break`` out of ``for chunk in agent.prompt(...)``) drops the last
        # reference here: end the subscription then rather than leaving it to the client's close
        if getattr(self, "_finish", None) is not None:
            with contextlib.suppress(Exception):  # nothing can be reported from a finaliser
                self.close()

    def _repr_html_(self) -> str:
        from .._notebook.agents import stream_html

        return stream_html(self)

    def __repr__(self) -> str:
        state = "ended" if self.closed else "open"
        return f"<ResponseStream {self.subject} {state} chunks={self._chunks}>"


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
        server_limit = getattr(self._client, "max_payload", None)
        headers, finish = self._hooks.start_prompt(subject, len(data), self.info.agent)
        if isinstance(server_limit, int) and len(data) > server_limit:
            error = PromptTooLargeError(len(data), server_limit, "server's")
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
        code = _header(msg.headers, ERROR_CODE_HEADER)
        if code is not None:
            raise AgentServiceError(code, _header(msg.headers, ERROR_HEADER) or "")
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
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
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
