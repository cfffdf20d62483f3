"""The Synadia Agent Protocol for NATS (v0.3) on the wire: subjects, the request envelope, the
stream's chunks, heartbeats. Pure functions and values, no I/O.

Subjects are verb-first: ``agents.{prompt|status|hb}.{agent}.{owner}.{session}``. A request is
plain text or ``{"prompt": ..., "attachments": [{"filename", "content": base64}]}``; the reply is
a stream of ``{"type": "status"|"response"|"query", "data": ...}`` chunks ended by an empty
message without headers; an error is a frame with ``Nats-Service-Error-Code`` headers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from ._errors import AgentProtocolError

__all__ = [
    "ERROR_CODE_HEADER",
    "ERROR_HEADER",
    "HEARTBEAT_WILDCARD",
    "PROTOCOL_VERSION",
    "QUEUE_GROUP",
    "SERVICE_NAME",
    "Attachment",
    "Envelope",
    "agent_subject",
    "check_attachments",
    "check_token",
    "decode_attachments",
    "decode_envelope",
    "encode_chunk",
    "encode_envelope",
    "format_size",
    "parse_size",
    "same_minor",
    "utc_now",
]

SERVICE_NAME = "agents"
QUEUE_GROUP = "agents"
PROTOCOL_VERSION = "0.3"
HEARTBEAT_WILDCARD = "agents.hb.>"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"
ERROR_HEADER = "Nats-Service-Error"

_AGENT_RE = re.compile(r"^[a-z0-9-]+$")
_TOKEN_RE = re.compile(r"^[a-z0-9_-]+$")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def check_token(value: Any, what: str) -> str:
    """An ``agent`` token is lower-case letters, digits and ``-``; ``owner`` and ``session_name``
    also allow ``_`` (the protocol's §2); anything else is refused here, naming the rule."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    pattern = _AGENT_RE if what == "agent" else _TOKEN_RE
    if not pattern.fullmatch(value):
        allowed = "a-z, 0-9 and '-'" if what == "agent" else "a-z, 0-9, '-' and '_'"
        raise ValueError(f"{what} must be a non-empty subject token of {allowed} (protocol §2), got {value!r}")
    return value


def agent_subject(verb: str, agent: str, owner: str, session_name: str) -> str:
    """``agents.{verb}.{agent}.{owner}.{session_name}``."""
    return f"agents.{verb}.{agent}.{owner}.{session_name}"


def parse_size(text: str) -> int | None:
    """``"1MB"`` -> 1048576 (base 1024, case-insensitive, as the official SDKs read it); a bare
    number is bytes; anything else is None (the agent then decides on its side)."""
    m = _SIZE_RE.match(text)
    if m is None:
        return None
    return int(m.group(1)) * _UNITS[(m.group(2) or "").upper()]


def format_size(n: int) -> str:
    """1048576 -> ``"1MB"``: the largest unit that divides evenly (the SDKs' parser needs a unit)."""
    for unit in ("GB", "MB", "KB"):
        if n >= _UNITS[unit] and n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return f"{n}B"


def same_minor(version: str, ours: str = PROTOCOL_VERSION) -> bool:
    """True when ``version`` has our MAJOR.MINOR (§11.1: same MAJOR.MINOR means full interop)."""
    return version.split(".")[:2] == ours.split(".")[:2]


def utc_now() -> str:
    """UTC ISO 8601 to the second with ``Z``, the heartbeat's ``ts``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class Attachment:
    """A file sent with a prompt, a response chunk or a query: ``filename`` and its bytes (``data``);
    on the wire its ``content`` is standard base64."""

    filename: str = attrs.field(validator=attrs.validators.instance_of(str))
    data: bytes = attrs.field(converter=bytes, repr=lambda d: f"<{len(d)} bytes>")

    @classmethod
    def from_bytes(cls, filename: str, data: bytes) -> Attachment:
        return cls(filename, data)

    @classmethod
    def from_path(cls, path: str | Path) -> Attachment:
        """Read a file; only its base name travels."""
        p = Path(path)
        return cls(p.name, p.read_bytes())

    def to_bytes(self) -> bytes:
        return self.data

    @property
    def content(self) -> str:
        """The base64 text of the data, as on the wire."""
        return base64.b64encode(self.data).decode("ascii")

    def to_wire(self) -> dict[str, str]:
        return {"filename": self.filename, "content": self.content}


def check_attachments(attachments: Sequence[Attachment] | None) -> tuple[Attachment, ...]:
    if attachments is None:
        return ()
    if isinstance(attachments, (str, bytes, Attachment)) or not isinstance(attachments, Sequence):
        raise TypeError(f"attachments must be a list of Attachment, got {type(attachments).__name__}")
    for a in attachments:
        if not isinstance(a, Attachment):
            raise TypeError(f"attachments must be Attachment values (Attachment.from_path(...)), got {a!r}")
    return tuple(attachments)


def decode_attachments(raw: Any, where: str) -> tuple[Attachment, ...]:
    """The ``attachments`` list of a request, chunk or query, checked."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise AgentProtocolError(f"{where}: attachments must be a list, got {type(raw).__name__}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            raise AgentProtocolError(f"{where}: attachment #{i} must be an object with a filename")
        content = item.get("content")
        if not isinstance(content, str):
            raise AgentProtocolError(f"{where}: attachment #{i} must carry base64 text in content")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AgentProtocolError(f"{where}: attachment #{i} content is not standard base64") from exc
        out.append(Attachment(item["filename"], data))
    return tuple(out)


@attrs.frozen
class Envelope:
    """A prompt as the host receives it (or the answer to a query): ``prompt`` text, its
    ``attachments`` and any other top-level fields a peer sent (``extras``, kept as they came)."""

    prompt: str
    attachments: tuple[Attachment, ...] = attrs.field(default=(), converter=check_attachments)
    extras: Mapping[str, Any] = attrs.field(factory=dict)


def encode_envelope(prompt: str, attachments: Sequence[Attachment] | None = None) -> bytes:
    """The JSON request (§5.1): ``{"prompt": ...}`` and ``attachments`` when there are some."""
    doc: dict[str, Any] = {"prompt": prompt}
    atts = check_attachments(attachments)
    if atts:
        doc["attachments"] = [a.to_wire() for a in atts]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def decode_envelope(data: bytes) -> Envelope:
    """A request or query answer (§5.3): JSON when the first non-blank byte is ``{``, else the
    UTF-8 text is the prompt. Raises :class:`AgentProtocolError` (the host answers 400)."""
    if not data:
        raise AgentProtocolError("empty request: a prompt must not be empty")
    if data.lstrip()[:1] == b"{":
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise AgentProtocolError(f"malformed JSON request: {exc}") from exc
        prompt = doc.get("prompt")
        if not isinstance(prompt, str):
            raise AgentProtocolError("the request has no prompt text (a string field 'prompt')")
        atts = decode_attachments(doc.get("attachments"), "request")
        extras = {k: v for k, v in doc.items() if k not in ("prompt", "attachments")}
        return Envelope(prompt, atts, extras)
    try:
        return Envelope(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise AgentProtocolError("the request is neither JSON nor UTF-8 text") from exc


def encode_chunk(kind: str, data: Any) -> bytes:
    """``{"type": kind, "data": data}`` as JSON bytes."""
    return json.dumps({"type": kind, "data": data}, separators=(",", ":"), ensure_ascii=False).encode()


def response_data(text: str, attachments: Sequence[Attachment] | None) -> Any:
    """A response chunk's ``data``: the bare string, or ``{text, attachments}`` when there are some."""
    atts = check_attachments(attachments)
    if not atts:
        return text
    return {"text": text, "attachments": [a.to_wire() for a in atts]}
