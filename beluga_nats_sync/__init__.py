"""beluga_nats_sync: a synchronous NATS client for plain Python, and the Beluga message bus.

A background I/O thread runs our own NATS protocol engine; publish returns at once, callbacks run
in order on their own threads, and every blocking call is bounded by a timeout::

    import beluga_nats_sync as bns

    with bns.connect("nats://localhost:4222") as nc:
        sub = nc.subscribe("greet")
        nc.publish("greet", b"hello")
        print(sub.next_msg(timeout=1.0).data)
"""

import typing as _typing  # no `from __future__ import annotations`: it would show in dir()

from . import testing as testing  # bns.testing: the in-memory server for tests
from ._client import Client, connect
from ._context import NatsContext
from ._core.lifetime import ConnState
from ._core.msg import Msg
from ._core.options import Options
from ._core.stats import Stats
from ._core.subscription import Subscription
from ._notebook import display as _display  # noqa: F401  (registers the HTML objects show in a notebook)
from ._version import __version__
from .agents import (
    Agent,
    AgentError,
    Agents,
    AgentService,
    AgentServiceError,
    Attachment,
    Envelope,
    PromptStream,
    QueryChunk,
    ResponseChunk,
    ResponseStream,
    StatusChunk,
)
from .bus import BusStats, NATSMessageBus
from .deadletter import DeadLetter
from .errors import (
    AuthorizationError,
    BucketNotFoundError,
    ClosedError,
    ConnectError,
    ConsumerNotFoundError,
    ContextError,
    ContextNotFoundError,
    DisconnectedError,
    InvalidSubjectError,
    JetStreamError,
    JetStreamNotEnabledError,
    KeyExistsError,
    KeyNotFoundError,
    MessageDecodeError,
    MsgAlreadyAckedError,
    NATSSyncError,
    NATSTimeoutError,
    NoReplySubjectError,
    NoRespondersError,
    OutboundBufferFullError,
    PayloadTooLargeError,
    PermissionsError,
    ProtocolError,
    RequestTimeoutError,
    SlowConsumerError,
    StreamNotFoundError,
    WrongRevisionError,
)
from .jetstream import JetStream, JetStreamMsg, KeyValue, KeyValueEntry, PubAck
from .message import Message
from .protocol.headers import Headers, HeadersInput
from .services import Service, ServiceGroup, ServiceRequest

if _typing.TYPE_CHECKING:
    from ._notebook.tail import TailResult

__all__ = [
    "Agent",
    "AgentError",
    "AgentService",
    "AgentServiceError",
    "Agents",
    "Attachment",
    "AuthorizationError",
    "BucketNotFoundError",
    "BusStats",
    "Client",
    "ClosedError",
    "ConnState",
    "ConnectError",
    "ConsumerNotFoundError",
    "ContextError",
    "ContextNotFoundError",
    "DeadLetter",
    "DisconnectedError",
    "Envelope",
    "Headers",
    "HeadersInput",
    "InvalidSubjectError",
    "JetStream",
    "JetStreamError",
    "JetStreamMsg",
    "JetStreamNotEnabledError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "KeyValueEntry",
    "Message",
    "MessageDecodeError",
    "Msg",
    "MsgAlreadyAckedError",
    "NATSMessageBus",
    "NATSSyncError",
    "NATSTimeoutError",
    "NatsContext",
    "NoReplySubjectError",
    "NoRespondersError",
    "Options",
    "OutboundBufferFullError",
    "PayloadTooLargeError",
    "PermissionsError",
    "PromptStream",
    "ProtocolError",
    "PubAck",
    "QueryChunk",
    "RequestTimeoutError",
    "ResponseChunk",
    "ResponseStream",
    "Service",
    "ServiceGroup",
    "ServiceRequest",
    "SlowConsumerError",
    "Stats",
    "StatusChunk",
    "StreamNotFoundError",
    "Subscription",
    "TailResult",
    "WrongRevisionError",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> _typing.Any:
    # TailResult lives with the notebook display, which a client that never shows itself in a
    # notebook does not load
    if name == "TailResult":
        from ._notebook.tail import TailResult

        return TailResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
