"""Properties of the Message codec, over arbitrary valid messages and Go-style timestamps."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beluga_nats_sync.errors import MessageDecodeError
from beluga_nats_sync.message import Message, _go_float, format_go_timestamp, parse_go_timestamp

from strategies import (
    any_case,
    aware_datetimes,
    go_timestamps,
    json_floats,
    json_keys,
    json_scalars,
    json_values,
    messages,
)

MODEST = settings(max_examples=200, deadline=None)

FIELDS = ["Type", "Payload", "Timestamp", "MessageID"]
GO_RFC3339NANO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?(Z|[-+][0-9]{2}:[0-9]{2})"
)
# A JSON string literal, to look at what lies between them.
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _has_negative_zero(value: Any) -> bool:
    if isinstance(value, float):
        return value == 0 and math.copysign(1, value) < 0
    if isinstance(value, dict):
        return any(_has_negative_zero(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_negative_zero(v) for v in value)
    return False


def _utc(stamp: datetime) -> datetime:
    offset = stamp.utcoffset()
    assert offset is not None
    return stamp.replace(tzinfo=None) - offset


def _refuse(name: str) -> Any:
    raise AssertionError(f"{name} on the wire")


@MODEST
@given(messages)
def test_round_trip(msg: Message) -> None:
    data = msg.to_json()
    back = Message.from_json(data)
    assert back == msg
    assert back.timestamp.utcoffset() == msg.timestamp.utcoffset()
    assert type(msg.timestamp.tzinfo) is timezone and type(back.timestamp.tzinfo) is timezone
    # The wire form is canonical: encoding what was decoded gives the same bytes, except that Go's "-0"
    # for -0.0 is an integer literal, which Python reads as the int 0 (equal, but without the sign).
    if not _has_negative_zero(msg.payload):
        assert back.to_json() == data
    assert Message.from_dict(msg.to_dict()) == msg


@MODEST
@given(messages)
def test_wire_shape(msg: Message) -> None:
    data = msg.to_json()
    text = data.decode("utf-8")  # valid UTF-8
    objects: list[list[tuple[str, Any]]] = []

    def record(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        objects.append(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=record, parse_constant=_refuse)  # valid JSON, no NaN/Infinity
    top = objects[-1]
    assert [key for key, _ in top] == FIELDS
    for pairs in objects[:-1]:  # every payload object has its keys sorted, as Go sorts map keys
        keys = [key for key, _ in pairs]
        assert keys == sorted(keys)
        assert [k.encode() for k in keys] == sorted(k.encode() for k in keys)  # Go compares bytes
    for raw in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        assert raw not in data
    outside_strings = JSON_STRING.sub('""', text)
    assert not re.search(r"\s", outside_strings)  # compact
    assert "NaN" not in outside_strings and "Infinity" not in outside_strings
    stamp = dict(top)["Timestamp"]
    assert GO_RFC3339NANO.fullmatch(stamp)
    assert not stamp.endswith("+00:00")


@MODEST
@given(go_timestamps())
def test_go_timestamps_decode_to_the_right_instant_and_offset(case: tuple[str, datetime]) -> None:
    text, expected = case
    parsed = parse_go_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()
    msg = Message.from_json(json.dumps({"Type": "t", "Timestamp": text}).encode())
    assert msg.timestamp == expected
    assert msg.timestamp.utcoffset() == expected.utcoffset()


@MODEST
@given(aware_datetimes)
def test_timestamps_format_as_go_and_parse_back(stamp: datetime) -> None:
    text = format_go_timestamp(stamp)
    assert GO_RFC3339NANO.fullmatch(text)
    parsed = parse_go_timestamp(text)
    # Same instant. (Not parsed == stamp: Python finds a datetime in a DST gap or fold unequal to any
    # datetime in another zone, PEP 495.)
    assert _utc(parsed) == _utc(stamp)
    if stamp.utcoffset() == parsed.utcoffset():
        assert parsed.replace(tzinfo=None) == stamp.replace(tzinfo=None, fold=0)
    else:  # an offset with seconds (local mean time) is written in UTC
        offset = stamp.utcoffset()
        assert offset is not None and offset.seconds % 60 != 0
        assert parsed.utcoffset() == timedelta(0)


@MODEST
@given(json_floats)
def test_floats_are_spelled_as_go_spells_float64(value: float) -> None:
    text = _go_float(value)
    assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
    size = abs(value)
    if size == 0 or 1e-6 <= size < 1e21:
        assert "e" not in text
        if size < 2**53:
            # Plain decimal with the shortest digits that round-trip, as Go's strconv 'f' with precision -1.
            assert text == format(Decimal(repr(value)).normalize(), "f")
        else:
            assert text == str(int(value))
    else:
        mantissa, exponent = text.split("e")
        assert mantissa == repr(value).split("e")[0].removesuffix(".0")
        assert re.fullmatch(r"\+[0-9]{2,3}|-[1-9][0-9]{0,2}", exponent)  # Go: e+21, e-7, e-10, e+308
        assert int(exponent) == int(repr(value).split("e")[1])


@MODEST
@given(messages, st.data())
def test_keys_in_any_case_bind_to_the_same_fields(msg: Message, data: st.DataObject) -> None:
    wire = json.loads(msg.to_json())
    recased = {data.draw(any_case(key)): value for key, value in wire.items()}
    assert Message.from_json(json.dumps(recased)) == msg


@MODEST
@given(st.data())
def test_bad_values_anywhere_are_refused_naming_their_path(data: st.DataObject) -> None:
    bad, error = data.draw(
        st.sampled_from(
            [
                (float("nan"), ValueError),
                (float("inf"), ValueError),
                ({1}, TypeError),
                (b"x", TypeError),
            ]
        )
    )
    value: Any = bad
    path = ""
    for _ in range(data.draw(st.integers(1, 5))):
        if data.draw(st.booleans()):
            key = data.draw(json_keys)
            siblings = data.draw(st.dictionaries(json_keys, json_scalars, max_size=2))
            value = {**siblings, key: value}  # the bad value replaces a sibling of the same key
            path = f"[{key!r}]{path}"
        else:
            before = data.draw(st.lists(json_scalars, max_size=3))
            value = [*before, value, *data.draw(st.lists(json_scalars, max_size=2))]
            path = f"[{len(before)}]{path}"
    payload = value if isinstance(value, dict) else {"top": value}
    if not isinstance(value, dict):
        path = f"['top']{path}"
    with pytest.raises(error) as info:
        Message("t", payload)
    assert str(info.value).startswith(f"payload{path} is ")


@MODEST
@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_arbitrary_bytes_decode_or_raise_message_decode_error(data: bytes) -> None:
    try:
        msg = Message.from_json(data)
    except MessageDecodeError:
        return
    assert Message.from_json(msg.to_json()) == msg


@MODEST
@given(st.dictionaries(st.sampled_from(["Type", "payload", "TIMESTAMP", "MessageId", "other"]), json_values))
def test_arbitrary_field_values_decode_or_raise_message_decode_error(fields: dict[str, Any]) -> None:
    try:
        msg = Message.from_json(json.dumps(fields))
    except MessageDecodeError as exc:
        assert str(exc).split()[0].startswith(("Type", "Payload", "Timestamp", "MessageID"))
        return
    assert Message.from_json(msg.to_json()) == msg
