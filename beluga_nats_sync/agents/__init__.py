"""The Synadia Agent Protocol for NATS (v0.3) from blocking code: discover agents and prompt them
(:class:`Agents`), or serve one from a plain function (:class:`AgentService`).

Interoperates with the official async SDKs (``synadia-ai-agents``, ``synadia-ai-agent-service``)
and every harness that speaks the protocol; built on the client's public surface only.
"""

from __future__ import annotations

from ._caller import Agent, AgentList, Agents
from ._errors import (
    AgentError,
    AgentProtocolError,
    AgentServiceError,
    AgentStoppedError,
    AttachmentsNotSupportedError,
    PromptEmptyError,
    PromptTooLargeError,
    PromptValidationError,
    QueryTimeoutError,
    StreamMaxWaitError,
    StreamStalledError,
)
from ._host import AgentService, AgentSubject, PromptHandler, PromptStream
from ._protocol import PROTOCOL_VERSION, Attachment, Envelope
from ._records import AgentInfo, EndpointInfo, Liveness
from ._stream import Chunk, QueryChunk, ResponseChunk, ResponseStream, StatusChunk

__all__ = [
    "PROTOCOL_VERSION",
    "Agent",
    "AgentError",
    "AgentInfo",
    "AgentList",
    "AgentProtocolError",
    "AgentService",
    "AgentServiceError",
    "AgentStoppedError",
    "AgentSubject",
    "Agents",
    "Attachment",
    "AttachmentsNotSupportedError",
    "Chunk",
    "EndpointInfo",
    "Envelope",
    "Liveness",
    "PromptEmptyError",
    "PromptHandler",
    "PromptStream",
    "PromptTooLargeError",
    "PromptValidationError",
    "QueryChunk",
    "QueryTimeoutError",
    "ResponseChunk",
    "ResponseStream",
    "StatusChunk",
    "StreamMaxWaitError",
    "StreamStalledError",
]
