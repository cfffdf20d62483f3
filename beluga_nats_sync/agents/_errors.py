"""The agents' errors, under :class:`~beluga_nats_sync.NATSSyncError`::

    NATSSyncError
     +-- AgentError                      anything the agent protocol raises on purpose
          +-- AgentServiceError          the agent answered with an error frame (``code``, ``description``)
          +-- AgentProtocolError         a chunk that is not the protocol's (malformed JSON, wrong shape)
          +-- StreamStalledError         no chunk for ``timeout`` seconds (also a TimeoutError)
          +-- StreamMaxWaitError         the whole stream took longer than ``max_wait`` (also a TimeoutError)
          +-- QueryTimeoutError          the caller did not answer ``stream.ask()`` in time (also a TimeoutError)
          +-- AgentStoppedError          the host is stopping: the prompt's stream is closed
          +-- PromptValidationError      refused before anything is sent (also a ValueError)
               +-- PromptEmptyError
               +-- AttachmentsNotSupportedError
               +-- PromptTooLargeError   (also a PayloadTooLargeError)

A prompt to an agent that is gone raises the client's :class:`~beluga_nats_sync.NoRespondersError`.
"""

from __future__ import annotations

from ..errors import NATSSyncError, NATSTimeoutError, PayloadTooLargeError

__all__ = [
    "AgentError",
    "AgentProtocolError",
    "AgentServiceError",
    "AgentStoppedError",
    "AttachmentsNotSupportedError",
    "PromptEmptyError",
    "PromptTooLargeError",
    "PromptValidationError",
    "QueryTimeoutError",
    "StreamMaxWaitError",
    "StreamStalledError",
]


class AgentError(NATSSyncError):
    """Root of the errors of the agent protocol."""


class AgentServiceError(AgentError):
    """The agent answered the prompt with an error frame: ``code`` (``"400"``, ``"500"``, ...) and
    ``description``, from its ``Nats-Service-Error-Code`` and ``Nats-Service-Error`` headers."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"agent error {code}: {description}")
        self.code = code
        self.description = description


class AgentProtocolError(AgentError):
    """The agent sent something the protocol does not allow (a chunk that is not a JSON object
    with a ``type``, a known chunk type with a wrong shape)."""


class StreamStalledError(AgentError, NATSTimeoutError):
    """No chunk arrived for ``timeout`` seconds (the inactivity limit, reset by every chunk)."""


class StreamMaxWaitError(AgentError, NATSTimeoutError):
    """The stream did not end within ``max_wait`` seconds of the prompt (chunks do not reset it)."""


class QueryTimeoutError(AgentError, NATSTimeoutError):
    """``stream.ask()`` got no answer from the caller in time."""


class AgentStoppedError(AgentError):
    """The agent service is stopping; the prompt's stream no longer takes chunks."""


class PromptValidationError(AgentError, ValueError):
    """The prompt was refused before anything was sent."""


class PromptEmptyError(PromptValidationError):
    """The prompt text is empty (the protocol requires a non-empty prompt)."""


class AttachmentsNotSupportedError(PromptValidationError):
    """The agent's prompt endpoint says ``attachments_ok=false`` and the prompt has attachments."""


class PromptTooLargeError(PromptValidationError, PayloadTooLargeError):
    """The encoded request is larger than the agent's ``max_payload`` or the server's."""

    def __init__(self, size: int, limit: int, which: str) -> None:
        Exception.__init__(self, f"the prompt request is {size} bytes, over the {which} max_payload of {limit} bytes")
        self.size = size
        self.limit = limit
        self.max_payload = limit
