"""The stream a prompt's handler answers on: response chunks, mid-stream queries, an error frame.
The service (:mod:`._host`) sends the leading ack and the terminator around the handler."""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ClosedError, NATSSyncError, NATSTimeoutError
from ._errors import AgentStoppedError, QueryTimeoutError
from ._protocol import (
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    Attachment,
    Envelope,
    check_attachments,
    decode_envelope,
    encode_chunk,
    response_data,
)

if TYPE_CHECKING:
    from .._core.msg import Msg
    from ._surface import AgentClient

__all__ = ["PromptHandler", "PromptStream", "one_line"]


def one_line(text: str, limit: int = 200) -> str:
    """A header value is one line; the SDKs cap error descriptions at 200 characters."""
    line = " | ".join(part.strip() for part in text.splitlines() if part.strip()) or "error"
    return line if len(line) <= limit else line[: limit - 3] + "..."


class PromptStream:
    """What a handler answers with: :meth:`send` response chunks, :meth:`ask` the caller a question,
    :meth:`error` to end with an error frame. The service sends the leading ack before the handler
    runs and the terminator after it returns, whatever happens.

    Once the service stops, sending raises :class:`AgentStoppedError`; ``stop_event`` is set then, so a
    handler that waits on something else can wait on it too."""

    def __init__(self, client: AgentClient, msg: Msg, stop_event: threading.Event) -> None:
        self._client = client
        self._msg = msg
        self._lock = threading.Lock()
        self._closed = False
        self._errored = False
        self.stop_event = stop_event
        self.last_sent = time.monotonic()
        self.chunks_sent = 0

    @property
    def subject(self) -> str:
        """The prompt subject the request came on."""
        return self._msg.subject

    @property
    def closed(self) -> bool:
        return self._closed

    def _write(self, data: bytes, headers: Mapping[str, str] | None = None, *, last: bool = False) -> bool:
        with self._lock:
            if self._closed:
                return False
            if last:
                self._closed = True
            self._msg.respond(data, headers)
            self.last_sent = time.monotonic()
        return True

    def _check_open(self) -> None:
        if self._closed or self.stop_event.is_set():
            raise AgentStoppedError(f"the stream of {self.subject} is closed: the agent service is stopping")
        if self._errored:
            raise AgentStoppedError(f"the stream of {self.subject} already ended with an error frame")

    def send(self, text: str, attachments: Sequence[Attachment] | None = None) -> None:
        """Send one response chunk: ``text``, with ``attachments`` (files) when given."""
        if not isinstance(text, str):
            raise TypeError(f"send() takes the response text as a str, got {type(text).__name__}")
        self._check_open()
        if not self._write(encode_chunk("response", response_data(text, attachments))):
            self._check_open()
        self.chunks_sent += 1

    def status(self, status: str) -> None:
        """Send a status chunk (the protocol knows ``"ack"``; callers pass other values through)."""
        self._check_open()
        self._write(encode_chunk("status", status))

    def ask(self, question: str, timeout: float = 60.0, attachments: Sequence[Attachment] | None = None) -> Envelope:
        """Ask the caller mid-stream and wait for the answer, at most ``timeout`` seconds
        (:class:`QueryTimeoutError`); the answer is an :class:`Envelope` (``.prompt``)."""
        if not isinstance(question, str) or not question:
            raise ValueError(f"ask() takes a non-empty question str, got {question!r}")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        self._check_open()
        inbox = self._client.new_inbox()
        sub = self._client.subscribe(inbox, max_msgs=1)
        try:
            query: dict[str, Any] = {"id": uuid.uuid4().hex, "reply_subject": inbox, "prompt": question}
            atts = check_attachments(attachments)
            if atts:
                query["attachments"] = [a.to_wire() for a in atts]
            self._write(encode_chunk("query", query))
            deadline = time.monotonic() + timeout
            while True:
                self._check_open()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QueryTimeoutError(f"the caller did not answer {question!r} within {timeout:g} s")
                try:
                    msg = sub.next_msg(min(left, 0.25))  # short waits: a stop must be seen promptly
                except NATSTimeoutError:
                    continue
                except ClosedError:
                    self._check_open()
                    raise
                return decode_envelope(msg.data) if msg.data else Envelope("")  # an empty answer is an answer
        finally:
            with contextlib.suppress(NATSSyncError):
                sub.unsubscribe()

    def error(self, code: str | int, description: str) -> None:
        """End the stream with an error frame (``Nats-Service-Error-Code: code``); the terminator
        follows when the handler returns. Later sends raise :class:`AgentStoppedError`."""
        code_text = str(code)
        if isinstance(code, bool) or not code_text.strip() or any(c.isspace() for c in code_text):
            raise ValueError(f"code must be a status code such as 400 or '500', got {code!r}")
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"description must be a non-empty str, got {description!r}")
        self._check_open()
        self._error_frame(code_text, description)

    def _error_frame(self, code: str, description: str) -> None:
        headers = {ERROR_CODE_HEADER: code, ERROR_HEADER: one_line(description)}
        if self._write(b"", headers):
            self._errored = True

    def _finish(self) -> None:
        """The terminator: an empty message without headers (once)."""
        self._write(b"", None, last=True)

    def __repr__(self) -> str:
        return f"<PromptStream {self.subject} chunks={self.chunks_sent}{' closed' if self._closed else ''}>"


PromptHandler = Callable[[Envelope, PromptStream], Any]
