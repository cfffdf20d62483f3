"""JetStream from synchronous code: streams, acknowledged publishes, durable consumers, key-value.

Built on the client's connection like nats.go's ``jetstream`` package: the calls block the
calling thread, each bounded by a timeout, and are safe from any thread::

    js = nc.jetstream()
    js.add_stream(name="ORDERS", subjects=["orders.>"])
    ack = js.publish("orders.new", b"...", msg_id="order-42")      # PubAck(stream, seq, duplicate)

    def handle(msg):                                                # on a dispatcher thread
        process(msg.data)                                           # return: acked; raise: retried

    with js.consume("orders.>", durable="workers", callback=handle, dead_letter_subject="dlq.orders"):
        ...

    kv = js.create_key_value("agents")
    rev = kv.put("agent-1.status", b"busy")
    kv.update("agent-1.status", b"idle", last=rev)

Messages from consumers are :class:`JetStreamMsg` values; their ``ack()``/``nak()``/``term()``/
``in_progress()`` publish through the client's thread-safe path. Every JetStream API call is a
request of the client's own (one helper, ``_api.JsApi``); the configuration and information
classes (:class:`StreamConfig`, ...) are plain dataclasses of ours (:mod:`.types`), field-compatible
with nats-py's ``nats.js.api``.
"""

from __future__ import annotations

from .consume import ConsumeHandle
from .context import JetStream
from .kv import KeyValue, KeyValueEntry, KeyWatcher
from .msg import JetStreamMsg, MsgMetadata
from .publish import PubAck, PubAckFuture
from .pull import PullSubscription
from .types import (
    AckPolicy,
    ClusterInfo,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    DiscardPolicy,
    ExternalStream,
    KeyValueConfig,
    LostStreamData,
    PeerInfo,
    PersistMode,
    Placement,
    ReplayPolicy,
    RePublish,
    RetentionPolicy,
    SequenceInfo,
    StorageType,
    StoreCompression,
    StreamConfig,
    StreamConsumerLimits,
    StreamConsumerSource,
    StreamInfo,
    StreamSource,
    StreamSourceInfo,
    StreamState,
    SubjectTransform,
)

__all__ = [
    "AckPolicy",
    "ClusterInfo",
    "ConsumeHandle",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "ExternalStream",
    "JetStream",
    "JetStreamMsg",
    "KeyValue",
    "KeyValueConfig",
    "KeyValueEntry",
    "KeyWatcher",
    "LostStreamData",
    "MsgMetadata",
    "PeerInfo",
    "PersistMode",
    "Placement",
    "PubAck",
    "PubAckFuture",
    "PullSubscription",
    "RePublish",
    "ReplayPolicy",
    "RetentionPolicy",
    "SequenceInfo",
    "StorageType",
    "StoreCompression",
    "StreamConfig",
    "StreamConsumerLimits",
    "StreamConsumerSource",
    "StreamInfo",
    "StreamSource",
    "StreamSourceInfo",
    "StreamState",
    "SubjectTransform",
]
