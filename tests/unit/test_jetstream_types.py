"""JetStream's configuration and information types, held to nats-py's: the same fields and
defaults, the same wire form (``as_dict()``) and the same reading of a real server's responses
(``from_response()``). nats-py is only a test peer here; without it those comparisons skip.

The responses in ``data/jetstream_responses.json`` are what nats-server v2.15.1 sent.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import importlib
import importlib.metadata
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beluga_nats_sync import jetstream as js
from beluga_nats_sync.jetstream import types as t
from beluga_nats_sync.jetstream.api import make_config


def _natspy() -> ModuleType | None:
    try:
        return importlib.import_module("nats.js.api")
    except ImportError:
        return None


napi = _natspy()
needs_natspy = pytest.mark.skipif(
    napi is None, reason="nats-py (a test peer) is not installed: nothing to compare with"
)
#: the nats-py release whose types ours follow field for field; an older one (CI runs the floor of
#: the declared range) lacks some: those are compared where both have them
FOLLOWS = (2, 16)
NATSPY_VERSION = (
    tuple(int(p) for p in importlib.metadata.version("nats-py").split(".")[:2]) if napi is not None else (0, 0)
)

SAMPLES: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "jetstream_responses.json").read_text())
OURS = [getattr(t, name) for name in t.__all__ if isinstance(getattr(t, name), type)]
DATACLASSES = [c for c in OURS if dataclasses.is_dataclass(c)]
ENUMS = [c for c in OURS if issubclass(c, enum.Enum)]


def _only_ours() -> tuple[set[str], set[str], set[str]]:
    """The classes, fields and enum values of ours that this nats-py does not have."""
    classes: set[str] = set()
    fields: set[str] = set()
    values: set[str] = set()
    for cls in OURS if napi is not None else []:
        theirs = getattr(napi, cls.__name__, None)
        if theirs is None:
            classes.add(cls.__name__)
        elif dataclasses.is_dataclass(cls):
            fields |= {f.name for f in dataclasses.fields(cls)} - {f.name for f in dataclasses.fields(theirs)}
        else:
            values |= {m.value for m in cls} - {m.value for m in theirs}
    return classes, fields, values


ONLY_OURS_CLASSES, ONLY_OURS_FIELDS, ONLY_OURS_VALUES = _only_ours()
DURATION_KEYS = {
    "max_age",
    "duplicate_window",
    "subject_delete_marker_ttl",
    "ack_wait",
    "idle_heartbeat",
    "inactive_threshold",
    "backoff",
    "ttl",
}
UTC = datetime.timezone.utc


def to_natspy(value: Any) -> Any:
    """The nats-py equivalent of one of our values (fields nats-py lacks are left out)."""
    assert napi is not None
    if isinstance(value, t.JsType):
        cls = getattr(napi, type(value).__name__)
        theirs = {f.name for f in dataclasses.fields(cls)}
        return cls(**{f.name: to_natspy(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name in theirs})
    if isinstance(value, enum.Enum):
        if value.value in ONLY_OURS_VALUES:  # an older nats-py: it sends the plain string
            return value.value
        return getattr(napi, type(value).__name__)(value.value)
    if isinstance(value, list):
        return [to_natspy(v) for v in value]
    return value


def same_wire(ours: Any, theirs: Any, key: str = "") -> None:
    """Equal JSON, except that nats-py truncates durations to the nanosecond where we round."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(theirs) <= set(ours), (key, sorted(ours), sorted(theirs))
        assert set(ours) - set(theirs) <= ONLY_OURS_FIELDS, (key, sorted(ours), sorted(theirs))
        for k in theirs:
            same_wire(ours[k], theirs[k], k)
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), key
        for a, b in zip(ours, theirs, strict=True):
            same_wire(a, b, key)
    elif key in DURATION_KEYS and isinstance(theirs, int):
        assert type(ours) is int and abs(ours - theirs) <= 1, (key, ours, theirs)
    else:
        assert ours == theirs and json.dumps(ours) == json.dumps(theirs), (key, ours, theirs)


def same_fields(ours: Any, theirs: Any, path: str = "") -> None:
    """nats-py's reading and ours agree on every field nats-py has."""
    if dataclasses.is_dataclass(theirs):
        assert type(ours).__name__ == type(theirs).__name__, path
        for f in dataclasses.fields(theirs):
            mine, other = getattr(ours, f.name), getattr(theirs, f.name)
            if (type(ours).__name__, f.name) == ("StreamConfig", "duplicate_window") and other is None:
                # the server leaves it out where it is 0 (a mirror): nats-py reads None, we the default
                assert mine == 0, path
                continue
            same_fields(mine, other, f"{path}.{f.name}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            same_fields(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, (path, ours, theirs)
        if isinstance(ours, enum.Enum):  # ours reads the enum member where nats-py keeps the string
            assert ours.value == theirs, path


# -- the shape -------------------------------------------------------------------------------------
@needs_natspy
@pytest.mark.parametrize("cls", DATACLASSES, ids=lambda c: c.__name__)
def test_fields_are_nats_pys_in_order_with_its_defaults(cls: type[t.JsType]) -> None:
    if cls.__name__ in ONLY_OURS_CLASSES:
        pytest.skip(f"nats-py {NATSPY_VERSION} has no {cls.__name__}")
    theirs = {f.name: f for f in dataclasses.fields(getattr(napi, cls.__name__))}
    ours = [f for f in dataclasses.fields(cls) if f.name in theirs]
    assert [f.name for f in ours] == [n for n in theirs if n in {f.name for f in ours}]
    for f in ours:
        assert f.default == theirs[f.name].default, f.name
        assert (f.default is dataclasses.MISSING) == (theirs[f.name].default is dataclasses.MISSING), f.name


@needs_natspy
@pytest.mark.parametrize("cls", ENUMS, ids=lambda c: c.__name__)
def test_enums_have_nats_pys_members_and_values(cls: type[enum.Enum]) -> None:
    theirs = getattr(napi, cls.__name__)
    assert {m.name: m.value for m in cls if m.value not in ONLY_OURS_VALUES} == {m.name: m.value for m in theirs}
    assert all(isinstance(m, str) for m in cls)


@needs_natspy
def test_on_the_nats_py_ours_follow_every_type_field_and_value_is_theirs() -> None:
    if NATSPY_VERSION < FOLLOWS:
        pytest.skip(f"nats-py {NATSPY_VERSION} is older than {FOLLOWS}: only what it has is compared")
    assert not (ONLY_OURS_CLASSES or ONLY_OURS_FIELDS or ONLY_OURS_VALUES)


def test_the_package_exports_every_type() -> None:
    assert {c.__name__ for c in OURS} <= set(js.__all__)
    assert js.StreamConfig is t.StreamConfig and js.AckPolicy is t.AckPolicy


# -- as_dict: the wire form ------------------------------------------------------------------------
REPRESENTATIVE = [
    t.StreamConfig(name="ORDERS", subjects=["orders.>"]),
    t.StreamConfig(
        name="ORDERS",
        description="all orders",
        subjects=["orders.>", "refunds.*"],
        retention=t.RetentionPolicy.WORK_QUEUE,
        max_consumers=10,
        max_msgs=1_000_000,
        max_bytes=1 << 30,
        discard=t.DiscardPolicy.NEW,
        discard_new_per_subject=True,
        max_age=7 * 24 * 3600,
        max_msgs_per_subject=5,
        max_msg_size=65536,
        storage=t.StorageType.MEMORY,
        num_replicas=3,
        duplicate_window=120.5,
        placement=t.Placement(cluster="east", tags=["ssd"]),
        sources=[
            t.StreamSource(
                name="A",
                opt_start_seq=4,
                subject_transforms=[t.SubjectTransform(src="a.>", dest="b.>")],
            ),
            t.StreamSource(
                name="B",
                opt_start_time=datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
                external=t.ExternalStream(api="$JS.hub.API", deliver="dlv"),
                consumer=t.StreamConsumerSource(name="src", deliver_subject="deliver.src"),
            ),
        ],
        deny_delete=True,
        allow_rollup_hdrs=True,
        first_seq=100,
        republish=t.RePublish(src="orders.>", dest="copy.>", headers_only=True),
        subject_transform=t.SubjectTransform(src="orders.>", dest="o.>"),
        allow_direct=True,
        compression=t.StoreCompression.S2,
        allow_msg_ttl=True,
        persist_mode=t.PersistMode.ASYNC,
        metadata={"team": "payments"},
        consumer_limits=t.StreamConsumerLimits(inactive_threshold=30, max_ack_pending=100),
        subject_delete_marker_ttl=5.0,
    ),
    t.StreamConfig(name="M", mirror=t.StreamSource(name="ORDERS", filter_subject="orders.eu.>"), sealed=True),
    t.StreamConfig(name="KV_b", storage="file", discard="new", retention="limits", subject_delete_marker_ttl=0),
    t.ConsumerConfig(),
    t.ConsumerConfig(durable_name="workers", ack_policy=t.AckPolicy.EXPLICIT, ack_wait=30, max_deliver=5),
    t.ConsumerConfig(
        name="w",
        durable_name="w",
        description="a worker",
        deliver_policy=t.DeliverPolicy.BY_START_TIME,
        opt_start_time=datetime.datetime(2024, 1, 2, 3, 4, 5),
        ack_policy="all",
        backoff=[1, 2.5, 10],
        filter_subjects=["a.>", "b.>"],
        replay_policy=t.ReplayPolicy.ORIGINAL,
        rate_limit_bps=1 << 20,
        sample_freq="50%",
        max_waiting=64,
        max_ack_pending=1000,
        flow_control=True,
        idle_heartbeat=5,
        headers_only=True,
        deliver_subject="push.w",
        deliver_group="q",
        inactive_threshold=0.25,
        num_replicas=1,
        mem_storage=True,
        metadata={"k": "v"},
        pause_until="2030-01-01T00:00:00Z",
    ),
    t.ConsumerConfig(deliver_policy="by_start_sequence", opt_start_seq=7, ack_policy=t.AckPolicy.NONE),
    t.KeyValueConfig(bucket="agents"),
    t.KeyValueConfig(
        bucket="agents",
        description="who is busy",
        max_value_size=1024,
        history=10,
        ttl=3600,
        max_bytes=1 << 20,
        storage=t.StorageType.MEMORY,
        replicas=3,
        placement=t.Placement(tags=["a"]),
        republish=t.RePublish(src=">", dest="kv.>"),
        direct=True,
        limit_marker_ttl=60,
    ),
]


@needs_natspy
@pytest.mark.parametrize("config", REPRESENTATIVE, ids=lambda c: type(c).__name__)
def test_as_dict_is_nats_pys(config: t.JsType) -> None:
    ours = config.as_dict()
    same_wire(ours, to_natspy(config).as_dict())
    assert json.loads(json.dumps(ours)) == ours  # plain JSON: enums as their values, times as strings


def test_as_dict_sends_durations_in_nanoseconds_and_leaves_out_what_is_unset() -> None:
    assert t.StreamConfig(name="s", max_age=1.5).as_dict() == {
        "name": "s",
        "discard": "old",
        "discard_new_per_subject": False,
        "max_age": 1_500_000_000,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "no_ack": False,
        "duplicate_window": 0,
        "sealed": False,
        "deny_delete": False,
        "deny_purge": False,
        "allow_rollup_hdrs": False,
    }
    wire = t.ConsumerConfig(durable_name="d", backoff=[0.1, 0.3], ack_wait=4.35).as_dict()
    assert wire["backoff"] == [100_000_000, 300_000_000] and wire["ack_wait"] == 4_350_000_000
    assert wire["idle_heartbeat"] == 0 and wire["inactive_threshold"] == 0  # as nats-py: never null to Go
    assert "filter_subject" not in wire and "metadata" not in wire
    assert t.KeyValueConfig(bucket="b", limit_marker_ttl=5).as_dict() == {
        "bucket": "b",
        "history": 1,
        "ttl": 0,
        "replicas": 1,
    }
    assert "subject_delete_marker_ttl" not in t.StreamConfig(subject_delete_marker_ttl=0).as_dict()
    assert t.StreamConfig(subject_delete_marker_ttl=2).as_dict()["subject_delete_marker_ttl"] == 2_000_000_000
    limits = t.StreamConsumerLimits(inactive_threshold=0.5).as_dict()
    assert limits == {"inactive_threshold": 500_000_000}


def test_times_go_out_as_rfc3339_in_utc() -> None:
    naive = t.ConsumerConfig(opt_start_time=datetime.datetime(2024, 1, 2, 3, 4, 5))
    assert naive.as_dict()["opt_start_time"] == "2024-01-02T03:04:05Z"
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    aware = t.StreamSource(name="s", opt_start_time=datetime.datetime(2024, 1, 2, 5, 4, 5, 250000, tzinfo=plus2))
    assert aware.as_dict()["opt_start_time"] == "2024-01-02T03:04:05.250000Z"


# -- from_response: what the server sends ----------------------------------------------------------
PARSED = [
    ("stream_create", "StreamInfo"),
    ("mirror_create", "StreamInfo"),
    ("stream_info", "StreamInfo"),
    ("src_create", "StreamInfo"),
    ("src_info", "StreamInfo"),
    ("kv_create", "StreamInfo"),
    ("cluster_stream_info", "StreamInfo"),
    ("consumer_create", "ConsumerInfo"),
    ("consumer_info", "ConsumerInfo"),
    ("push_create", "ConsumerInfo"),
]


@needs_natspy
@pytest.mark.parametrize(("sample", "cls"), PARSED)
def test_from_response_reads_a_server_response_as_nats_py_does(sample: str, cls: str) -> None:
    resp = SAMPLES[sample]
    ours = getattr(t, cls).from_response(copy.deepcopy(resp))
    theirs = getattr(napi, cls).from_response(copy.deepcopy(resp))
    same_fields(ours, theirs, cls)


@pytest.mark.parametrize(("sample", "cls"), PARSED)
def test_a_config_read_from_the_server_goes_back_unchanged(sample: str, cls: str) -> None:
    resp = copy.deepcopy(SAMPLES[sample])
    info = getattr(t, cls).from_response(resp)
    assert resp == SAMPLES[sample]  # the response is not changed in place
    sent = info.config.as_dict()
    for key in DURATION_KEYS & set(resp["config"]):
        assert sent[key] == resp["config"][key], key  # nanoseconds exactly, not one short
    assert type(info.config).from_response(sent).as_dict() == sent


def test_from_response_reads_seconds_times_enums_and_nested_types() -> None:
    info = t.StreamInfo.from_response(SAMPLES["stream_info"])
    cfg = info.config
    assert cfg.max_age == 3600.123456789 and cfg.duplicate_window == 60.0
    assert cfg.storage is t.StorageType.FILE and cfg.discard is t.DiscardPolicy.NEW
    assert cfg.compression is t.StoreCompression.S2 and cfg.retention is t.RetentionPolicy.LIMITS
    assert cfg.republish == t.RePublish(src="orders.>", dest="copy.orders.>")
    assert cfg.consumer_limits == t.StreamConsumerLimits(inactive_threshold=30.0, max_ack_pending=100)
    assert cfg.subject_delete_marker_ttl == 5.0
    assert info.state.messages == 4 and info.state.deleted == [2]
    assert info.state.subjects == {"o.x0": 1, "o.x2": 1, "o.x3": 1, "o.x4": 1}
    assert info.created is not None and info.created.tzinfo is UTC
    nanos = SAMPLES["stream_info"]["created"].rstrip("Z").rpartition(".")[2]
    assert len(nanos) == 9 and info.created.microsecond == int(nanos[:6])  # nanoseconds cut to microseconds

    agg = t.StreamInfo.from_response(SAMPLES["src_info"])
    assert agg.config.sources is not None
    a, b = agg.config.sources
    assert a.subject_transforms == [t.SubjectTransform(src="o.>", dest="agg.>")]
    assert b.external == t.ExternalStream(api="$JS.hub.API", deliver="dlv")
    assert b.opt_start_time == datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert agg.sources is not None and sorted(s.name for s in agg.sources) == ["ORDERS", "X"]
    assert agg.state.first_seq == 0

    cluster = t.StreamInfo.from_response(SAMPLES["cluster_stream_info"])
    assert cluster.cluster is not None and cluster.cluster.replicas is not None
    assert cluster.cluster.leader_since == datetime.datetime(2024, 3, 4, 5, 6, 7, 900000, tzinfo=UTC)
    assert [p.name for p in cluster.cluster.replicas] == ["n2", "n3"] and cluster.cluster.replicas[1].offline
    assert cluster.state.lost == t.LostStreamData(msgs=[1, 2], bytes=80)
    assert cluster.mirror is not None and cluster.mirror.error == {
        "code": 503,
        "err_code": 10074,
        "description": "stream not found",
    }
    assert cluster.config.placement == t.Placement(cluster="east", tags=["ssd"])
    assert cluster.config.persist_mode is t.PersistMode.DEFAULT

    ci = t.ConsumerInfo.from_response(SAMPLES["consumer_info"])
    assert ci.config.ack_wait == 1.0 and ci.config.backoff == [1.0, 2.5] and ci.config.inactive_threshold == 30.0
    assert (
        ci.config.deliver_policy is t.DeliverPolicy.BY_START_SEQUENCE and ci.config.ack_policy is t.AckPolicy.EXPLICIT
    )
    assert ci.delivered is not None and (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (2, 4)
    assert ci.delivered.last_active is not None and ci.ack_floor == t.SequenceInfo(consumer_seq=0, stream_seq=1)
    assert (ci.num_pending, ci.num_ack_pending, ci.num_waiting) == (1, 2, 0)
    push = t.ConsumerInfo.from_response(SAMPLES["push_create"])
    assert push.config.idle_heartbeat == 5.0 and push.config.flow_control is True
    assert push.config.opt_start_time == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_unknown_fields_and_enum_values_from_a_newer_server_are_kept_out_of_the_way() -> None:
    resp = copy.deepcopy(SAMPLES["consumer_info"])
    resp["priority_groups"] = ["g"]
    resp["config"]["some_new_setting"] = {"x": 1}
    resp["config"]["deliver_policy"] = "by_new_rule"
    resp["delivered"]["some_new_counter"] = 5
    info = t.ConsumerInfo.from_response(resp)
    assert info.config.deliver_policy == "by_new_rule"  # kept as the server said it
    assert not hasattr(info, "priority_groups") and not hasattr(info.config, "some_new_setting")
    assert info.config.as_dict()["deliver_policy"] == "by_new_rule"
    changed = info.config.evolve(max_deliver=9)  # the untouched unknown value is no reason to refuse
    assert changed.max_deliver == 9 and changed.deliver_policy == "by_new_rule"
    assert t.StreamConfig.from_response(SAMPLES["cluster_stream_info"]["config"]).name == "R3"


# -- what users pass -------------------------------------------------------------------------------
def test_strings_become_enum_members_and_others_are_refused_with_the_accepted_values() -> None:
    cfg = t.StreamConfig(name="s", storage="memory", retention="workqueue", discard="new")
    assert cfg.storage is t.StorageType.MEMORY and cfg.retention is t.RetentionPolicy.WORK_QUEUE
    assert cfg.discard is t.DiscardPolicy.NEW
    with pytest.raises(ValueError, match=r"StreamConfig\.storage: 'disk' is not accepted; use one of 'file', 'memory'"):
        t.StreamConfig(storage="disk")
    with pytest.raises(ValueError, match=r"ConsumerConfig\.ack_policy: 'yes'.*'none', 'all', 'explicit'"):
        t.ConsumerConfig().evolve(ack_policy="yes")
    with pytest.raises(ValueError, match="compression"):
        t.StreamConfig(compression="gzip")


def test_enum_members_print_as_their_values_as_the_strings_they_replace_did() -> None:
    info = t.StreamInfo.from_response(SAMPLES["stream_info"])
    assert f"{info.config.storage}" == str(info.config.storage) == "file"
    assert f"{t.AckPolicy.EXPLICIT:>10}" == "  explicit"
    assert json.dumps({"p": t.DeliverPolicy.LAST_PER_SUBJECT}) == '{"p": "last_per_subject"}'


def test_durations_that_are_not_numbers_are_refused() -> None:
    with pytest.raises(TypeError, match=r"StreamConfig\.max_age: '1h' is not accepted; give a finite number"):
        t.StreamConfig(max_age="1h")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ConsumerConfig\.backoff"):
        t.ConsumerConfig(backoff=[1, float("nan")])
    with pytest.raises(TypeError, match=r"KeyValueConfig\.ttl"):
        t.KeyValueConfig(bucket="b").evolve(ttl=True)
    with pytest.raises(TypeError, match="metadata"):
        t.StreamConfig(metadata=[("k", "v")]).as_dict()  # type: ignore[arg-type]


def test_evolve_is_a_copy_with_changes() -> None:
    base = t.ConsumerConfig(durable_name="d", ack_wait=30)
    changed = base.evolve(ack_wait=5, deliver_policy="new")
    assert (base.ack_wait, base.deliver_policy) == (30, t.DeliverPolicy.ALL)
    assert (changed.ack_wait, changed.deliver_policy, changed.durable_name) == (5, t.DeliverPolicy.NEW, "d")
    with pytest.raises(TypeError):
        base.evolve(no_such_field=1)


@needs_natspy
def test_a_nats_py_config_is_still_accepted_where_ours_is() -> None:
    assert napi is not None
    theirs = napi.StreamConfig(name="s", subjects=["s.>"], storage=napi.StorageType.MEMORY, max_age=0.25)
    ours = make_config(t.StreamConfig, theirs, {"max_msgs": 10}, "add_stream")
    assert isinstance(ours, t.StreamConfig)
    assert (ours.name, ours.subjects, ours.storage, ours.max_age, ours.max_msgs) == (
        "s",
        ["s.>"],
        t.StorageType.MEMORY,
        0.25,
        10,
    )
    kv = make_config(t.KeyValueConfig, napi.KeyValueConfig(bucket="b", history=5, limit_marker_ttl=2.0), {}, "kv")
    assert (kv.bucket, kv.history, kv.limit_marker_ttl) == ("b", 5, 2.0)
    with pytest.raises(TypeError, match="config must be a StreamConfig, got ConsumerConfig"):
        make_config(t.StreamConfig, napi.ConsumerConfig(), {}, "add_stream")  # type: ignore[arg-type]


# -- generated configurations ----------------------------------------------------------------------
names = st.text("abcxyz09-_", min_size=1, max_size=8)
subjects = st.lists(st.builds("{}.>".format, names), max_size=3)
seconds = st.one_of(
    st.integers(0, 10**7),
    st.integers(0, 10**12).map(lambda ms: ms / 1000),
    st.floats(0, 10**6, allow_nan=False, allow_infinity=False),
)
maybe = st.none().__or__
small = st.integers(-1, 10**9)
times = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1), timezones=st.just(UTC)
)
transforms = st.builds(t.SubjectTransform, src=names, dest=names)
placements = st.builds(t.Placement, cluster=maybe(names), tags=maybe(st.lists(names, max_size=2)))
stream_sources = st.builds(
    t.StreamSource,
    name=names,
    opt_start_seq=maybe(st.integers(1, 10**6)),
    opt_start_time=maybe(times),
    filter_subject=maybe(names),
    external=maybe(st.builds(t.ExternalStream, api=names, deliver=maybe(names))),
    subject_transforms=maybe(st.lists(transforms, max_size=2)),
)
stream_configs = st.builds(
    t.StreamConfig,
    name=maybe(names),
    description=maybe(st.text(max_size=10)),
    subjects=maybe(subjects),
    retention=maybe(st.sampled_from(t.RetentionPolicy)),
    max_consumers=maybe(small),
    max_msgs=maybe(small),
    max_bytes=maybe(small),
    discard=maybe(st.sampled_from(t.DiscardPolicy)),
    discard_new_per_subject=st.booleans(),
    max_age=maybe(seconds),
    max_msgs_per_subject=small,
    storage=maybe(st.sampled_from(t.StorageType)),
    num_replicas=maybe(st.integers(1, 5)),
    duplicate_window=seconds,
    placement=maybe(placements),
    mirror=maybe(stream_sources),
    sources=maybe(st.lists(stream_sources, max_size=2)),
    sealed=st.booleans(),
    allow_rollup_hdrs=st.booleans(),
    republish=maybe(st.builds(t.RePublish, src=maybe(names), dest=maybe(names), headers_only=maybe(st.booleans()))),
    subject_transform=maybe(transforms),
    allow_direct=maybe(st.booleans()),
    compression=maybe(st.sampled_from(t.StoreCompression)),
    metadata=maybe(st.dictionaries(names, names, max_size=2)),
    consumer_limits=maybe(
        st.builds(t.StreamConsumerLimits, inactive_threshold=maybe(seconds), max_ack_pending=maybe(small))
    ),
    subject_delete_marker_ttl=maybe(seconds),
)
consumer_configs = st.builds(
    t.ConsumerConfig,
    name=maybe(names),
    durable_name=maybe(names),
    deliver_policy=maybe(st.sampled_from(t.DeliverPolicy)),
    opt_start_seq=maybe(st.integers(1, 10**6)),
    opt_start_time=maybe(times),
    ack_policy=maybe(st.sampled_from(t.AckPolicy)),
    ack_wait=maybe(seconds),
    max_deliver=maybe(small),
    backoff=maybe(st.lists(seconds, max_size=4)),
    filter_subject=maybe(names),
    filter_subjects=maybe(st.lists(names, max_size=3)),
    replay_policy=maybe(st.sampled_from(t.ReplayPolicy)),
    max_ack_pending=maybe(small),
    flow_control=maybe(st.booleans()),
    idle_heartbeat=maybe(seconds),
    deliver_subject=maybe(names),
    inactive_threshold=maybe(seconds),
    metadata=maybe(st.dictionaries(names, names, max_size=2)),
)
kv_configs = st.builds(
    t.KeyValueConfig,
    bucket=names,
    description=maybe(st.text(max_size=10)),
    max_value_size=maybe(small),
    history=st.integers(1, 64),
    ttl=maybe(seconds),
    storage=maybe(st.sampled_from(t.StorageType)),
    replicas=st.integers(1, 5),
    placement=maybe(placements),
    direct=maybe(st.booleans()),
    limit_marker_ttl=maybe(seconds),
)
configs = st.one_of(stream_configs, consumer_configs, kv_configs)


@needs_natspy
@settings(max_examples=300, deadline=None)
@given(configs)
def test_generated_configs_have_nats_pys_wire_form(config: t.JsType) -> None:
    ours, theirs = config.as_dict(), to_natspy(config).as_dict()
    if theirs.get("subject_delete_marker_ttl") == 0:  # positive, under a nanosecond: nats-py sends the
        del theirs["subject_delete_marker_ttl"]  # 0 the server refuses, we leave it out
    same_wire(ours, theirs)


@settings(max_examples=300, deadline=None)
@given(st.one_of(stream_configs, consumer_configs))
def test_generated_configs_survive_the_round_trip_through_the_server_form(config: t.JsType) -> None:
    wire = config.as_dict()
    back = type(config).from_response(json.loads(json.dumps(wire))).as_dict()
    assert {k: v for k, v in back.items() if k in wire} == wire  # what was left out reads as the default
