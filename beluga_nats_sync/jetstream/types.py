"""JetStream's configuration and information types: plain dataclasses, field-compatible with
nats-py's ``nats.js.api`` (the same names, fields, defaults and enum values).

Durations are seconds (floats) in Python and nanoseconds on the wire; times are aware UTC
``datetime`` values in Python and RFC 3339 strings on the wire. Every type has:

- ``as_dict()``: the JSON body the server is sent (unset fields left out, enums as their values);
- ``from_response(dict)``: read from the server's JSON, ignoring fields this version does not
  know, so newer servers work;
- ``evolve(**changes)``: a copy with some fields replaced.

A string where an enum is expected (``storage="memory"``) becomes the enum member; a value that
is not one of the enum's is refused with the accepted ones, except in what a server sent (a newer
server may know more values: those stay strings, hence the ``| str`` of the enum fields).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import re
import types
import typing
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

__all__ = [
    "AckPolicy",
    "ClusterInfo",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "DiscardPolicy",
    "ExternalStream",
    "KeyValueConfig",
    "LostStreamData",
    "PeerInfo",
    "PersistMode",
    "Placement",
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

_NS_PER_SECOND = 1_000_000_000
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)")

# Set while a server's response is read (and while evolve() copies unchanged fields): enum values
# this version does not know are kept as strings there instead of refused.
_LENIENT: ContextVar[bool] = ContextVar("beluga_jetstream_lenient", default=False)

T = TypeVar("T", bound="JsType")


# -- enums -----------------------------------------------------------------------------------------
class _Value(str, enum.Enum):
    """A string enum that prints as its value (``f"{StorageType.FILE}"`` is ``file``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class RetentionPolicy(_Value):
    """When a stream's messages may be removed."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class StorageType(_Value):
    """Where a stream keeps its messages."""

    FILE = "file"
    MEMORY = "memory"


class DiscardPolicy(_Value):
    """What a full stream discards: the oldest messages, or the new one."""

    OLD = "old"
    NEW = "new"


class StoreCompression(_Value):
    """Compression of a file stream's store (nats-server 2.10+)."""

    NONE = "none"
    S2 = "s2"


class PersistMode(_Value):
    """How an R1 stream persists (nats-server 2.12+): ``async`` acks before the disk write."""

    DEFAULT = "default"
    ASYNC = "async"


class AckPolicy(_Value):
    """How a consumer's messages are acknowledged."""

    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"
    FLOW_CONTROL = "flow_control"


class DeliverPolicy(_Value):
    """Where in the stream a new consumer starts."""

    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class ReplayPolicy(_Value):
    """Deliver stored messages at once, or at the pace they were stored."""

    INSTANT = "instant"
    ORIGINAL = "original"


# -- conversions -----------------------------------------------------------------------------------
def _to_ns(seconds: float) -> int:
    # rounded, not truncated: a duration read from the server is sent back unchanged
    return round(seconds * _NS_PER_SECOND)


def _to_rfc3339(when: datetime.datetime | str) -> str:
    if isinstance(when, str):
        return when
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_rfc3339(text: str) -> datetime.datetime:
    """The server's RFC 3339 time (nanoseconds allowed) as an aware UTC datetime (microseconds)."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    whole, frac, zone = m.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    micros = f".{frac[:6].ljust(6, '0')}" if frac else ""
    return datetime.datetime.fromisoformat(f"{whole}{micros}{zone}").astimezone(datetime.timezone.utc)


def _wire(value: Any) -> Any:
    if isinstance(value, JsType):
        return value.as_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.datetime):
        return _to_rfc3339(value)
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


def _is_seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class _Spec:
    nested: dict[str, type[JsType]]
    enums: dict[str, type[enum.Enum]]
    times: frozenset[str]


_SPECS: dict[type, _Spec] = {}


def _inner(hint: Any) -> Any:
    """``X`` of ``X | None``, ``X | str | None`` (an enum), ``list[X]`` and ``list[X] | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) > 1:
            args = [a for a in args if a is not str]
        if len(args) == 1:
            hint = args[0]
    if typing.get_origin(hint) is list:
        (hint,) = typing.get_args(hint)
    return hint


def _spec(cls: type[JsType]) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        hints = typing.get_type_hints(cls)
        nested: dict[str, type[JsType]] = {}
        enums: dict[str, type[enum.Enum]] = {}
        times = set()
        for f in dataclasses.fields(cls):
            kind = _inner(hints[f.name])
            if isinstance(kind, type) and issubclass(kind, JsType):
                nested[f.name] = kind
            elif isinstance(kind, type) and issubclass(kind, enum.Enum):
                enums[f.name] = kind
            elif kind is datetime.datetime:
                times.add(f.name)
        spec = _SPECS[cls] = _Spec(nested, enums, frozenset(times))
    return spec


# -- the base --------------------------------------------------------------------------------------
@dataclasses.dataclass
class JsType:
    """What every JetStream type shares: ``as_dict()``, ``from_response()``, ``evolve()``."""

    #: durations: seconds here, nanoseconds on the wire
    _seconds: ClassVar[frozenset[str]] = frozenset()
    #: durations sent as 0 when unset (as nats-py does, so Go servers never see null)
    _zero_when_unset: ClassVar[frozenset[str]] = frozenset()
    #: settings of the client's own, never sent
    _client_only: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        self._settle(() if _LENIENT.get() else None)

    def _settle(self, strict: Collection[str] | None) -> None:
        """Make enum fields enum members; refuse what is not accepted among ``strict`` (None: all)."""
        what = type(self).__name__
        for name, kind in _spec(type(self)).enums.items():
            value = getattr(self, name)
            if value is None or isinstance(value, kind):
                continue
            try:
                setattr(self, name, kind(value))
            except ValueError:
                if strict is None or name in strict:
                    accepted = ", ".join(repr(m.value) for m in kind)
                    raise ValueError(f"{what}.{name}: {value!r} is not accepted; use one of {accepted}") from None
        for name in self._seconds:
            if strict is not None and name not in strict:
                continue
            value = getattr(self, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            if value is not None and not all(_is_seconds(v) for v in values):
                raise TypeError(f"{what}.{name}: {value!r} is not accepted; give a finite number of seconds")

    @classmethod
    def from_response(cls: type[T], resp: Mapping[str, Any]) -> T:
        """Read from the server's JSON (a dict); fields this version does not know are ignored."""
        spec = _spec(cls)
        params: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in resp:
                continue
            value = resp[f.name]
            if value is None:
                pass
            elif f.name in spec.nested:
                kind = spec.nested[f.name]
                if isinstance(value, list):
                    value = [kind.from_response(v) for v in value]
                elif isinstance(value, Mapping):
                    value = kind.from_response(value)
            elif f.name in cls._seconds:
                value = [v / _NS_PER_SECOND for v in value] if isinstance(value, list) else value / _NS_PER_SECOND
            elif f.name in spec.times:
                value = _parse_rfc3339(value) if value else None
            params[f.name] = value
        token = _LENIENT.set(True)
        try:
            return cls(**params)
        finally:
            _LENIENT.reset(token)

    def evolve(self: T, **changes: Any) -> T:
        """A copy with ``changes`` applied (each checked as in the constructor)."""
        token = _LENIENT.set(True)
        try:
            new = dataclasses.replace(self, **changes)
        finally:
            _LENIENT.reset(token)
        new._settle(changes)
        return new

    def as_dict(self) -> dict[str, Any]:
        """The JSON body for the server: unset fields left out, durations in nanoseconds."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            name = f.name
            if name in self._client_only:
                continue
            value = getattr(self, name)
            if value is None:
                if name in self._zero_when_unset:
                    out[name] = 0
            elif name in self._seconds:
                out[name] = [_to_ns(v) for v in value] if isinstance(value, (list, tuple)) else _to_ns(value)
            else:
                out[name] = _wire(value)
        return out


# -- streams ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Placement(JsType):
    """Where a stream's replicas go: a cluster, and tags the servers must have."""

    cluster: str | None = None
    tags: list[str] | None = None


@dataclasses.dataclass
class ExternalStream(JsType):
    """A stream in another JetStream domain or account: its API prefix and deliver prefix."""

    api: str
    deliver: str | None = None


@dataclasses.dataclass
class SubjectTransform(JsType):
    """Maps subjects matching ``src`` to ``dest``."""

    src: str
    dest: str


@dataclasses.dataclass
class StreamConsumerSource(JsType):
    """A pre-made push consumer a source or mirror reads through (nats-server 2.14+)."""

    name: str
    deliver_subject: str


@dataclasses.dataclass
class StreamSource(JsType):
    """A stream this one mirrors or sources messages from."""

    name: str
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | None = None
    filter_subject: str | None = None
    external: ExternalStream | None = None
    subject_transforms: list[SubjectTransform] | None = None
    consumer: StreamConsumerSource | None = None


@dataclasses.dataclass
class RePublish(JsType):
    """Republish each stored message from subjects ``src`` to ``dest``."""

    src: str | None = None
    dest: str | None = None
    headers_only: bool | None = None


@dataclasses.dataclass
class StreamConsumerLimits(JsType):
    """Defaults and limits for the stream's new consumers (nats-server 2.10+)."""

    _seconds: ClassVar[frozenset[str]] = frozenset({"inactive_threshold"})

    inactive_threshold: float | None = None
    max_ack_pending: int | None = None


@dataclasses.dataclass
class StreamConfig(JsType):
    """A stream's configuration. Durations (``max_age``, ``duplicate_window``,
    ``subject_delete_marker_ttl``) are seconds."""

    _seconds: ClassVar[frozenset[str]] = frozenset({"max_age", "duplicate_window", "subject_delete_marker_ttl"})
    _zero_when_unset: ClassVar[frozenset[str]] = frozenset({"max_age", "duplicate_window"})

    name: str | None = None
    description: str | None = None
    subjects: list[str] | None = None
    retention: RetentionPolicy | str | None = None
    max_consumers: int | None = None
    max_msgs: int | None = None
    max_bytes: int | None = None
    discard: DiscardPolicy | str | None = DiscardPolicy.OLD
    discard_new_per_subject: bool = False
    max_age: float | None = None
    max_msgs_per_subject: int = -1
    max_msg_size: int | None = -1
    storage: StorageType | str | None = None
    num_replicas: int | None = None
    no_ack: bool = False
    template_owner: str | None = None
    duplicate_window: float = 0
    placement: Placement | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None
    sealed: bool = False
    deny_delete: bool = False
    deny_purge: bool = False
    allow_rollup_hdrs: bool = False
    first_seq: int | None = None
    republish: RePublish | None = None
    subject_transform: SubjectTransform | None = None
    allow_direct: bool | None = None
    mirror_direct: bool | None = None
    compression: StoreCompression | str | None = None
    allow_msg_ttl: bool | None = None
    allow_msg_schedules: bool | None = None
    allow_atomic: bool | None = None
    allow_batched: bool | None = None
    allow_msg_counter: bool | None = None
    persist_mode: PersistMode | str | None = None
    metadata: dict[str, str] | None = None
    consumer_limits: StreamConsumerLimits | None = None
    subject_delete_marker_ttl: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON body for the server; ``subject_delete_marker_ttl`` is sent only when >= 1 ns."""
        if self.metadata is not None and not isinstance(self.metadata, dict):
            raise TypeError(f"StreamConfig.metadata: {self.metadata!r} is not accepted; give a dict of str to str")
        out = super().as_dict()
        if out.get("subject_delete_marker_ttl", 0) <= 0:
            out.pop("subject_delete_marker_ttl", None)  # the server takes 0 as an error, not "off"
        return out


@dataclasses.dataclass
class LostStreamData(JsType):
    """Messages the stream lost (a damaged store)."""

    msgs: list[int] | None = None
    bytes: int | None = None


@dataclasses.dataclass
class StreamState(JsType):
    """A stream's counters: ``messages``, ``bytes``, ``first_seq``, ``last_seq``, ..."""

    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumer_count: int
    deleted: list[int] | None = None
    num_deleted: int | None = None
    lost: LostStreamData | None = None
    subjects: dict[str, int] | None = None


@dataclasses.dataclass
class StreamSourceInfo(JsType):
    """How far a mirror or source is behind (``lag``), and its last error."""

    name: str
    lag: int | None = None
    active: int | None = None
    error: dict[str, Any] | None = None


@dataclasses.dataclass
class PeerInfo(JsType):
    """One replica of a clustered stream or consumer."""

    name: str | None = None
    current: bool | None = None
    offline: bool | None = None
    active: int | None = None
    lag: int | None = None


@dataclasses.dataclass
class ClusterInfo(JsType):
    """The RAFT group of a stream or consumer: its leader and replicas."""

    leader: str | None = None
    name: str | None = None
    replicas: list[PeerInfo] | None = None
    raft_group: str | None = None
    leader_since: datetime.datetime | None = None
    traffic_acc: str | None = None


@dataclasses.dataclass
class StreamInfo(JsType):
    """A stream's configuration and state (``info.config.name``, ``info.state.messages``)."""

    config: StreamConfig
    state: StreamState
    mirror: StreamSourceInfo | None = None
    sources: list[StreamSourceInfo] | None = None
    cluster: ClusterInfo | None = None
    did_create: bool | None = None
    created: datetime.datetime | None = None


# -- consumers -------------------------------------------------------------------------------------
@dataclasses.dataclass
class ConsumerConfig(JsType):
    """A consumer's configuration. Durations (``ack_wait``, ``idle_heartbeat``,
    ``inactive_threshold``, each of ``backoff``) are seconds."""

    _seconds: ClassVar[frozenset[str]] = frozenset({"ack_wait", "idle_heartbeat", "inactive_threshold", "backoff"})
    _zero_when_unset: ClassVar[frozenset[str]] = frozenset({"ack_wait", "idle_heartbeat", "inactive_threshold"})

    name: str | None = None
    durable_name: str | None = None
    description: str | None = None
    deliver_policy: DeliverPolicy | str | None = DeliverPolicy.ALL
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | None = None
    ack_policy: AckPolicy | str | None = AckPolicy.EXPLICIT
    ack_wait: float | None = None
    max_deliver: int | None = None
    backoff: list[float] | None = None
    filter_subject: str | None = None
    filter_subjects: list[str] | None = None
    replay_policy: ReplayPolicy | str | None = ReplayPolicy.INSTANT
    rate_limit_bps: int | None = None
    sample_freq: str | None = None
    max_waiting: int | None = None
    max_ack_pending: int | None = None
    flow_control: bool | None = None
    idle_heartbeat: float | None = None
    headers_only: bool | None = None
    deliver_subject: str | None = None
    deliver_group: str | None = None
    inactive_threshold: float | None = None
    num_replicas: int | None = None
    mem_storage: bool | None = None
    metadata: dict[str, str] | None = None
    pause_until: str | None = None


@dataclasses.dataclass
class SequenceInfo(JsType):
    """A consumer's position: its own sequence and the stream's."""

    consumer_seq: int
    stream_seq: int
    last_active: datetime.datetime | None = None


@dataclasses.dataclass
class ConsumerInfo(JsType):
    """A consumer's configuration and progress (``num_pending``, ``num_ack_pending``, ...)."""

    name: str
    stream_name: str
    config: ConsumerConfig
    created: datetime.datetime
    delivered: SequenceInfo | None = None
    ack_floor: SequenceInfo | None = None
    num_ack_pending: int | None = None
    num_redelivered: int | None = None
    num_waiting: int | None = None
    num_pending: int | None = None
    cluster: ClusterInfo | None = None
    push_bound: bool | None = None
    paused: bool | None = None
    pause_remaining: int | None = None  # nanoseconds, as the server sends it


# -- key-value -------------------------------------------------------------------------------------
@dataclasses.dataclass
class KeyValueConfig(JsType):
    """A key-value bucket's configuration: ``history`` (revisions kept per key), ``ttl`` (seconds), ...

    ``limit_marker_ttl`` (seconds) is the client's own: it becomes the stream's
    ``subject_delete_marker_ttl``."""

    _seconds: ClassVar[frozenset[str]] = frozenset({"ttl", "limit_marker_ttl"})
    _zero_when_unset: ClassVar[frozenset[str]] = frozenset({"ttl"})
    _client_only: ClassVar[frozenset[str]] = frozenset({"limit_marker_ttl"})

    bucket: str
    description: str | None = None
    max_value_size: int | None = None
    history: int = 1
    ttl: float | None = None
    max_bytes: int | None = None
    storage: StorageType | str | None = None
    replicas: int = 1
    placement: Placement | None = None
    republish: RePublish | None = None
    direct: bool | None = None
    limit_marker_ttl: float | None = None
