"""A prompt's stream as the caller reads it: the chunks, and the iterator that ends at the
terminator. The iterator is a subscription to the prompt's own inbox, read with ``next_msg``."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from .._core.handlers import check_handler
from ..errors import ClosedError, NATSSyncError, NATSTimeoutError, NoRespondersError
from ..protocol.headers import is_no_responders
from ._errors import (
    AgentError,
    AgentProtocolError,
    AgentServiceError,
    StreamMaxWaitError,
    StreamStalledError,
)
from ._hooks import PromptFinish
from ._protocol import (
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    Attachment,
    decode_attachments,
    encode_envelope,
)

if TYPE_CHECKING:
    from .._core.msg import Msg
    from .._core.subscription import Subscription
    from ._surface import AgentClient as ServiceClient

__all__ = ["Chunk", "QueryChunk", "ResponseChunk", "ResponseStream", "StatusChunk", "decode_chunk", "header"]


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """The value of header ``name``, whatever its case on the wire, or None."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        low = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == low), None)
    return value


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
        code = header(headers, ERROR_CODE_HEADER)
        if code is not None:
            self._end(AgentServiceError(code, header(headers, ERROR_HEADER) or ""))
        if not msg.data:
            if not headers:
                self._end(None)  # the terminator
            if is_no_responders(msg.data, headers):
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
        check_handler(on_query, "on_query", "a QueryChunk, and returns the answer", optional=True)
        with self:
            return "".join(self._texts(on_query))

    def show(self, on_query: Callable[[QueryChunk], str] | None = None) -> str:
        """In a notebook, stream the response into the cell as it comes (printed elsewhere);
        returns the whole text."""
        from .._notebook.agents import LiveResponse

        live = LiveResponse(self)
        with self:
            try:
                for text in self._texts(on_query):
                    live.add(text)
            except BaseException as exc:
                live.failed(exc)
                raise
        return live.end()

    def _texts(self, on_query: Callable[[QueryChunk], str] | None) -> Iterator[str]:
        """The response's text chunks to the stream's end, answering each query with
        ``on_query(query)``; without it, a query raises :class:`AgentError`. The caller holds the
        stream open (``with self``), so it is closed however the reading ends."""
        for chunk in self:
            if isinstance(chunk, ResponseChunk):
                yield chunk.text
            elif isinstance(chunk, QueryChunk):
                if on_query is None:
                    raise AgentError(f"the agent asked {chunk.prompt!r}; pass on_query= to answer queries")
                chunk.reply(on_query(chunk))

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
