"""What discovery and heartbeats tell about an agent: its info, its endpoints, its liveness."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from ._protocol import (
    SERVICE_NAME,
    parse_size,
    same_minor,
)

__all__ = ["LIVENESS_SLACK", "AgentInfo", "EndpointInfo", "Liveness"]

#: A heartbeat is late after this many intervals (the official SDKs' slack).
LIVENESS_SLACK = 3


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
