"""The Beluga message bus: :class:`~beluga_nats_sync.Message` envelopes over NATS, traced with
OpenTelemetry, with retries and dead letters (:mod:`.client`), JetStream (:mod:`.jetstream`) and
the tracing contract shared with the Go agents (:mod:`.tracing`)."""

from __future__ import annotations

# the dead-letter headers, one vocabulary with JetStream's, are defined in beluga_nats_sync.deadletter
from ..deadletter import ATTEMPTS_HEADER, ERROR_HEADER, ERROR_TYPE_HEADER, MESSAGE_ID_HEADER, SUBJECT_HEADER
from .client import (
    BusStats,
    HandlerResultError,
    MessageHandler,
    NATSMessageBus,
    RequestHandler,
)
from .jetstream import BusJetStream

__all__ = [
    "ATTEMPTS_HEADER",
    "ERROR_HEADER",
    "ERROR_TYPE_HEADER",
    "MESSAGE_ID_HEADER",
    "SUBJECT_HEADER",
    "BusJetStream",
    "BusStats",
    "HandlerResultError",
    "MessageHandler",
    "NATSMessageBus",
    "RequestHandler",
]
