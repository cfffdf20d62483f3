"""The Message envelope: what Go writes decodes, what Go refuses is refused, and we write what Go writes.

The wire strings below are what Go's ``encoding/json`` produces for
``struct { Type string; Payload map[string]interface{}; Timestamp time.Time; MessageID string }``
(Go 1.22+, which writes ``\\b`` and ``\\f`` as such; older Go wrote ``\\u0008`` and ``\\u000c``).
"""

from __future__ import annotations

import enum
import json
import pickle
import uuid
from collections import OrderedDict, namedtuple
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from beluga_nats_sync.errors import MessageDecodeError, NATSSyncError
from beluga_nats_sync.message import (
    GO_ZERO_TIME,
    Message,
    format_go_timestamp,
    new_message_id,
    parse_go_timestamp,
)

UTC = timezone.utc
EST = timezone(timedelta(hours=-5))
IST = timezone(timedelta(hours=5, minutes=30))
T0 = datetime(2026, 11, 25, 16, 20, 50, 123456, tzinfo=UTC)


def decode(text: str) -> Message:
    return Message.from_json(text.encode("utf-8"))


# ------------------------------------------------------------------------------------------------
# Decoding what Go writes


def test_decodes_the_design_example() -> None:
    head = '{"Type":"request","Payload":{"task":"process"},'
    msg = decode(head + '"Timestamp":"2026-11-25T16:20:50.123456789Z","MessageID":"abc"}')
    assert msg.type == "request"
    assert msg.payload == {"task": "process"}
    assert msg.timestamp == T0
    assert msg.timestamp.utcoffset() == timedelta(0)
    assert msg.message_id == "abc"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-25T11:20:50.123456789-05:00", datetime(2026, 11, 25, 11, 20, 50, 123456, EST)),
        ("2026-11-25T21:50:50.5+05:30", datetime(2026, 11, 25, 21, 50, 50, 500000, IST)),
        ("2026-11-25T16:20:50Z", datetime(2026, 11, 25, 16, 20, 50, tzinfo=UTC)),
        ("2026-11-25T16:20:50+00:00", datetime(2026, 11, 25, 16, 20, 50, tzinfo=UTC)),
        (
            "2026-11-25T16:20:50-00:30",
            datetime(2026, 11, 25, 16, 20, 50, tzinfo=timezone(timedelta(minutes=-30))),
        ),
        (
            "2024-02-29T23:59:59.999999999+23:59",
            datetime(2024, 2, 29, 23, 59, 59, 999999, timezone(timedelta(minutes=1439))),
        ),
        ("0001-01-01T00:00:00Z", GO_ZERO_TIME),
        ("9999-12-31T23:59:59.999999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_decodes_go_timestamps_keeping_the_offset(stamp: str, expected: datetime) -> None:
    msg = decode(f'{{"Type":"t","Payload":{{}},"Timestamp":"{stamp}","MessageID":"x"}}')
    assert msg.timestamp == expected
    assert msg.timestamp.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("fraction", "micro"),
    [
        ("", 0),
        (".1", 100000),
        (".12", 120000),
        (".123", 123000),
        (".1234", 123400),
        (".12345", 123450),
        (".123456", 123456),
        (".1234567", 123456),
        (".12345678", 123456),
        (".123456789", 123456),
        (".999999999", 999999),  # truncated, not rounded up into the next second
        (".000000999", 0),
        (".100", 100000),  # trailing zeros: Go never writes them, but accepts them
        # Go's parser also accepts more than 9 digits (it keeps 9): time/format_rfc3339.go, parseNanoseconds.
        (".1234567891", 123456),
        (".99999999999999999999", 999999),
    ],
)
def test_fraction_digits_are_truncated_to_microseconds(fraction: str, micro: int) -> None:
    stamp = parse_go_timestamp(f"2026-11-25T16:20:50{fraction}Z")
    assert stamp == datetime(2026, 11, 25, 16, 20, 50, micro, tzinfo=UTC)


def test_go_escapes_and_utf8_decode() -> None:
    data = (
        b'{"Type":"a\\u003cb\\u003e\\u0026c","Payload":{"html":"\\u003cp\\u003e\\u0026amp;",'
        b'"ls":"\\u2028\\u2029","raw":"h\xc3\xa9llo \xf0\x9f\x98\x80","ctl":"\\u0000\\b\\f\\n\\r\\t\\"\\\\",'
        b'"old":"\\u0008\\u000c","bad":"\\ufffd"},"Timestamp":"2026-11-25T16:20:50Z","MessageID":"\\u0026"}'
    )
    msg = Message.from_json(data)
    assert msg.type == "a<b>&c"
    assert msg.message_id == "&"
    assert msg.payload == {
        "html": "<p>&amp;",
        "ls": "\u2028\u2029",
        "raw": "h\u00e9llo \U0001f600",
        "ctl": '\x00\b\f\n\r\t"\\',
        "old": "\b\f",
        "bad": "\ufffd",
    }


def test_go_numbers_decode_keeping_integer_literals_as_int() -> None:
    msg = decode(
        '{"Payload":{"i":42,"f":0.5,"e":1e+21,"t":1e-7,"neg":-0,"big":9007199254740993,'
        '"list":[1,2.5,null,true,false,{"k":[]}]}}'
    )
    assert msg.payload == {
        "i": 42,
        "f": 0.5,
        "e": 1e21,
        "t": 1e-7,
        "neg": 0,
        "big": 9007199254740993,  # Go itself would hold 9007199254740992.0
        "list": [1, 2.5, None, True, False, {"k": []}],
    }
    assert type(msg.payload["i"]) is int
    assert type(msg.payload["e"]) is float


def test_null_and_missing_fields_are_go_zero_values() -> None:
    zero = Message.from_json(b"{}")
    assert (zero.type, zero.payload, zero.timestamp, zero.message_id) == ("", {}, GO_ZERO_TIME, "")
    nulls = decode('{"Type":null,"Payload":null,"Timestamp":null,"MessageID":null}')
    assert nulls == zero
    assert decode('{"Type":"x","Payload":null}').payload == {}
    assert decode('{"Timestamp":"0001-01-01T00:00:00Z"}').timestamp == GO_ZERO_TIME


@pytest.mark.parametrize(
    "keys",
    [
        ("type", "payload", "timestamp", "messageid"),
        ("TYPE", "PAYLOAD", "TIMESTAMP", "MESSAGEID"),
        ("tYpE", "PayLoad", "timeStamp", "messageId"),
        ("Type", "Payload", "Timestamp", "MessageId"),
        # Go folds keys with Unicode simple case folding: long s, dotless i, dotted capital I become ASCII.
        ("type", "payload", "t\u0131mestamp", "me\u017f\u017fage\u0130d"),
    ],
)
def test_keys_bind_case_insensitively(keys: tuple[str, str, str, str]) -> None:
    text = json.dumps(
        dict(zip(keys, ["request", {"task": "process"}, "2026-11-25T16:20:50.123456Z", "abc"], strict=True))
    )
    assert decode(text) == Message("request", {"task": "process"}, T0, "abc")


def test_unknown_and_near_miss_keys_are_ignored() -> None:
    msg = decode(
        '{"Type":"t","message_id":"no","messageID ":"no","ID":"no","Extra":{"deep":[1,2,{"NaNish":"x"}]},'
        '"time\ufb06amp":"2026-01-01T00:00:00Z","Other":1e400}'
    )
    assert (msg.type, msg.message_id, msg.timestamp) == ("t", "", GO_ZERO_TIME)


def test_repeated_fields_follow_go() -> None:
    assert decode('{"Type":"a","type":"b"}').type == "b"
    assert decode('{"type":"b","Type":"a"}').type == "a"
    # null leaves a string or a time as it was, and resets a map.
    assert decode('{"Type":"a","type":null}').type == "a"
    stamp = decode('{"Timestamp":"2026-01-01T00:00:00Z","timestamp":null}').timestamp
    assert stamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert decode('{"Payload":{"a":1},"payload":null}').payload == {}
    # A second object for the map field is decoded into the same map: the keys merge.
    assert decode('{"Payload":{"a":1,"b":1},"payload":{"b":2}}').payload == {"a": 1, "b": 2}
    # Inside the payload, the last of duplicate keys wins.
    assert decode('{"Payload":{"k":1,"k":2,"n":{"x":1,"x":[3]}}}').payload == {"k": 2, "n": {"x": [3]}}


def test_unpaired_surrogate_escapes_become_replacement_characters_as_in_go() -> None:
    msg = decode('{"Type":"\\ud800x","Payload":{"\\udc00":"\\ud83d\\ude00\\ud83d"},"MessageID":"\\udfff"}')
    assert msg.type == "\ufffdx"
    assert msg.message_id == "\ufffd"
    assert msg.payload == {"\ufffd": "\U0001f600\ufffd"}
    assert msg.to_json()  # and it can be sent on


def test_accepts_str_bytearray_and_memoryview() -> None:
    text = '{"Type":"t","MessageID":"m"}'
    expected = Message("t", {}, GO_ZERO_TIME, "m")
    assert Message.from_json(text) == expected
    assert Message.from_json(bytearray(text, "utf-8")) == expected
    assert Message.from_json(memoryview(text.encode())) == expected
    assert Message.from_json(' \t\r\n{"Type":"t","MessageID":"m"}\n ') == expected
    with pytest.raises(TypeError, match="bytes or str"):
        Message.from_json(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Refusing what Go refuses


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"Payload":[1,2]}', "Payload must be a JSON object or null, got an array"),
        ('{"Payload":"task"}', "Payload must be a JSON object or null, got a string"),
        ('{"Payload":3}', "Payload must be a JSON object or null, got a number"),
        ('{"payload":true}', "Payload (key 'payload') must be a JSON object or null, got a boolean"),
        ('{"Type":5}', "Type must be a JSON string or null, got a number"),
        ('{"TYPE":{"a":1}}', "Type (key 'TYPE') must be a JSON string or null, got an object"),
        ('{"Type":["request"]}', "Type must be a JSON string or null, got an array"),
        ('{"MessageID":123}', "MessageID must be a JSON string or null, got a number"),
        ('{"messageId":false}', "MessageID (key 'messageId') must be a JSON string or null"),
        ('{"Timestamp":1764087650}', "Timestamp must be an RFC 3339 string or null, got a number"),
        ('{"Timestamp":{"sec":1}}', "Timestamp must be an RFC 3339 string or null, got an object"),
    ],
)
def test_wrong_json_type_for_a_field_names_it(text: str, words: str) -> None:
    with pytest.raises(MessageDecodeError, match=_literal(words)):
        decode(text)


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-25T16:20:50",  # no zone: what naive datetime.isoformat() writes
        "2026-11-25T16:20:50.123456",
        "2026-11-25T16:20:50+0000",  # no colon in the offset
        "2026-11-25T16:20:50+00",
        "2026-11-25 16:20:50Z",  # space instead of T
        "2026-11-25t16:20:50Z",  # lower-case t
        "2026-11-25T16:20:50z",  # lower-case z
        "2026-11-25T16:20:50.Z",  # a dot without digits
        "2026-11-25T16:20:50,5Z",  # comma fraction
        "2026-11-25T16:20:50ZZ",
        "2026-11-25T16:20:50Z ",
        " 2026-11-25T16:20:50Z",
        "2026-11-25T16:20:50Z\n",
        "2026-11-25",
        "1764087650",
        "",
        "26-11-25T16:20:50Z",
        "2026-1-25T16:20:50Z",
        "2026-11-25T6:20:50Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T16:60:00Z",
        "2026-11-25T16:20:60Z",  # no leap seconds
        "2026-02-30T16:20:50Z",
        "2026-13-01T16:20:50Z",
        "2026-11-25T16:20:50+24:00",
        "2026-11-25T16:20:50+05:60",
        "0000-01-01T00:00:00Z",  # Go's year 0 is valid there, but not representable by datetime
        "\u0662\u0660\u0662\u0666-11-25T16:20:50Z",  # non-ASCII digits
        "2026-11-25T16:20:50.１Z",
    ],
)
def test_timestamps_go_refuses_are_refused_naming_the_field(stamp: str) -> None:
    with pytest.raises(MessageDecodeError, match="^Timestamp") as info:
        decode(json.dumps({"Type": "t", "Timestamp": stamp}))
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError):
        parse_go_timestamp(stamp)


def test_timestamp_error_names_the_key_as_spelled() -> None:
    with pytest.raises(MessageDecodeError, match=_literal("Timestamp (key 'timestamp'): '2026' is not")):
        decode('{"timestamp":"2026"}')


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" ",
        b"{",
        b'{"Type":"t",}',
        b"{'Type': 't'}",
        b'{"Type":"t"} {"Type":"u"}',
        b'{"Type":"t"}x',
        b'{"Payload":{"x":NaN}}',
        b'{"Payload":{"x":Infinity}}',
        b'{"Payload":{"x":-Infinity}}',
        b'{"Payload":{"x":01}}',
        b'{"Payload":{"x":1.}}',
        b'{"Payload":{"x":.5}}',
        b'{"Payload":{"x":+1}}',
        b'{"Type":"a\nb"}',  # raw control character in a string
        b'{"Type":"\\x41"}',
        b"\xef\xbb\xbf{}",  # UTF-8 BOM: Go refuses it too
        b'{"Type":"\xff"}',  # not UTF-8
        b'{"Type":"\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        '{"Type":"t"}'.encode("utf-16"),
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_invalid_json_or_utf8_is_refused(data: bytes) -> None:
    with pytest.raises(MessageDecodeError, match="not valid"):
        Message.from_json(data)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"[]", "an array"),
        (b'[{"Type":"t"}]', "an array"),
        (b"null", "null"),
        (b'"request"', "a string"),
        (b"42", "a number"),
        (b"true", "a boolean"),
    ],
)
def test_top_level_must_be_an_object(data: bytes, kind: str) -> None:
    with pytest.raises(MessageDecodeError, match=f"message must be a JSON object, got {kind}"):
        Message.from_json(data)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"Payload":{"x":1e400}}', "Payload['x'] is a number beyond float64's range"),
        ('{"Payload":{"a":[0,{"b":-1e309}]}}', "Payload['a'][1]['b'] is a number beyond float64's range"),
        (
            '{"Payload":{"x":1' + "0" * 400 + "}}",
            "Payload['x'] is an int of 401 digits, beyond float64's range",
        ),
    ],
)
def test_numbers_beyond_float64_are_refused_with_their_path(text: str, words: str) -> None:
    with pytest.raises(MessageDecodeError, match=_literal(words)):
        decode(text)


def test_decode_error_is_a_value_error_and_a_library_error() -> None:
    with pytest.raises(MessageDecodeError) as info:
        Message.from_json(b"nope")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, NATSSyncError)


# ------------------------------------------------------------------------------------------------
# Encoding exactly what Go writes


def test_encodes_the_design_example_exactly() -> None:
    msg = Message("request", {"task": "process"}, T0, "abc")
    head = b'{"Type":"request","Payload":{"task":"process"},'
    assert msg.to_json() == head + b'"Timestamp":"2026-11-25T16:20:50.123456Z","MessageID":"abc"}'


def test_encodes_a_rich_message_exactly() -> None:
    msg = Message(
        type="tag<&>",
        payload={
            "z": [1, 2.5, None, True, False, ()],
            "a": {"y": "<b>&amp;</b>", "x": 1.0, "w": {}},
            "B": "h\u00e9llo \u2028\u2029 \U0001f600 /",
            "num": {"big": 1e21, "tiny": 1e-7, "neg0": -0.0, "small": 0.00001, "int": 42, "huge": 2**60},
            "\u00e9": 0,
            "ctl": '\x00\x1f\n\r\t\b\f"\\\x7f',
        },
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 100000, tzinfo=EST),
        message_id="m-1",
    )
    expected = (
        '{"Type":"tag\\u003c\\u0026\\u003e","Payload":{'
        '"B":"h\u00e9llo \\u2028\\u2029 \U0001f600 /",'
        '"a":{"w":{},"x":1,"y":"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e"},'
        '"ctl":"\\u0000\\u001f\\n\\r\\t\\b\\f\\"\\\\\x7f",'
        '"num":{"big":1e+21,"huge":1152921504606846976,"int":42,"neg0":-0,"small":0.00001,"tiny":1e-7},'
        '"z":[1,2.5,null,true,false,[]],'
        '"\u00e9":0},'
        '"Timestamp":"2026-01-02T03:04:05.1-05:00","MessageID":"m-1"}'
    ).encode("utf-8")
    assert msg.to_json() == expected


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-3.0, "-3"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (123456789.123, "123456789.123"),
        (1e-4, "0.0001"),
        (1e-5, "0.00001"),
        (1.5e-5, "0.000015"),
        (1e-6, "0.000001"),
        (-1.25e-6, "-0.00000125"),
        (9.99e-7, "9.99e-7"),
        (1e-7, "1e-7"),
        (2.5e-8, "2.5e-8"),
        (1.5e-10, "1.5e-10"),
        (1e-100, "1e-100"),
        (5e-324, "5e-324"),
        (1e15, "1000000000000000"),
        (1e16, "10000000000000000"),
        (1.5e16, "15000000000000000"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (-1.5e22, "-1.5e+22"),
        (1e300, "1e+300"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        # Go writes the shortest digits padded with zeros (1152921504606847000); we write the exact value,
        # which Go parses to the same float64 and Python reads back as an equal int.
        (2.0**60, "1152921504606846976"),
        (42, "42"),
        (2**64, "18446744073709551616"),
        (True, "true"),
    ],
)
def test_numbers_are_spelled_as_go_spells_them(value: Any, spelled: str) -> None:
    msg = Message("n", {"v": value}, T0, "i")
    assert f'"Payload":{{"v":{spelled}}}'.encode() in msg.to_json()
    assert Message.from_json(msg.to_json()) == msg


@pytest.mark.parametrize(
    ("stamp", "text"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2026-01-02T03:04:05.12Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC), "2026-01-02T03:04:05.000001Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "2026-01-02T03:04:05.123456Z"),
        (datetime(2026, 1, 2, 3, 4, 0, tzinfo=EST), "2026-01-02T03:04:00-05:00"),
        (datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=IST), "2026-01-02T03:04:05.5+05:30"),
        (datetime(2026, 1, 2, tzinfo=timezone(timedelta(minutes=-30))), "2026-01-02T00:00:00-00:30"),
        (datetime(2026, 1, 2, tzinfo=timezone(timedelta(0), "GMT")), "2026-01-02T00:00:00Z"),
        (GO_ZERO_TIME, "0001-01-01T00:00:00Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
        # RFC 3339 has no offset seconds: the instant is kept, in UTC.
        (
            datetime(2026, 1, 2, 12, 0, 30, tzinfo=timezone(timedelta(hours=1, seconds=30))),
            "2026-01-02T11:00:00Z",
        ),
    ],
)
def test_timestamps_are_written_as_go_writes_them(stamp: datetime, text: str) -> None:
    assert format_go_timestamp(stamp) == text
    msg = Message("t", {}, stamp, "i")
    assert f'"Timestamp":"{text}"'.encode() in msg.to_json()
    back = Message.from_json(msg.to_json())
    assert back == msg
    assert back.timestamp.utcoffset() == msg.timestamp.utcoffset()


def test_named_zones_are_written_with_their_offset_at_that_instant() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        new_york = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database on this machine")
    assert format_go_timestamp(datetime(2026, 1, 15, 12, tzinfo=new_york)) == "2026-01-15T12:00:00-05:00"
    assert format_go_timestamp(datetime(2026, 7, 15, 12, tzinfo=new_york)) == "2026-07-15T12:00:00-04:00"
    msg = Message("t", {}, datetime(2026, 7, 15, 12, tzinfo=new_york), "i")
    assert msg.timestamp.tzinfo == timezone(timedelta(hours=-4))  # the offset at that instant, as on the wire
    assert Message.from_json(msg.to_json()) == msg
    # In the 2026-03-08 DST gap and in the 2026-11-01 fold: Python never finds such a datetime equal to one
    # in another zone (PEP 495), so the message holds the fixed offset and still equals its round trip.
    for stamp in (
        datetime(2026, 3, 8, 2, 30, tzinfo=new_york),
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york),
    ):
        msg = Message("t", {}, stamp, "i")
        assert msg.timestamp.utcoffset() == stamp.utcoffset()
        assert Message.from_json(msg.to_json()) == msg
    assert b'"2026-11-01T01:30:00-05:00"' in Message("t", {}, stamp, "i").to_json()


def test_format_go_timestamp_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_go_timestamp(datetime(2026, 1, 2))


def test_wire_keys_are_go_field_names_in_struct_order() -> None:
    data = Message("t", {"b": 1, "a": 2}).to_json()
    pairs = json.loads(data, object_pairs_hook=lambda kv: kv)
    assert [key for key, _ in pairs] == ["Type", "Payload", "Timestamp", "MessageID"]
    assert b"message_id" not in data


# ------------------------------------------------------------------------------------------------
# Construction-time validation


class Color(enum.Enum):
    RED = 1


@pytest.mark.parametrize(
    ("payload", "error", "words"),
    [
        (
            {"a": [0, 1, {"b": {1, 2}}]},
            TypeError,
            "payload['a'][2]['b'] is {1, 2} of type set, which is not JSON",
        ),
        ({"x": float("nan")}, ValueError, "payload['x'] is nan: NaN and Infinity are not JSON"),
        ({"x": [float("inf")]}, ValueError, "payload['x'][0] is inf: NaN and Infinity"),
        ({"x": {"y": -float("inf")}}, ValueError, "payload['x']['y'] is -inf"),
        ({1: "v"}, TypeError, "payload has a key 1 of type int: JSON object keys must be str"),
        ({"a": {("t",): 1}}, TypeError, "payload['a'] has a key ('t',) of type tuple"),
        ({"a": {None: 1}}, TypeError, "payload['a'] has a key None of type NoneType"),
        ({"b": b"bytes"}, TypeError, "payload['b'] is b'bytes' of type bytes"),
        (
            {"d": datetime(2026, 1, 1)},
            TypeError,
            "payload['d'] is datetime.datetime(2026, 1, 1, 0, 0) of type datetime",
        ),
        ({"c": Color.RED}, TypeError, "payload['c'] is <Color.RED: 1> of type Color"),
        ({"o": object}, TypeError, "payload['o'] is <class 'object'> of type type"),
        ({"n": 10**400}, ValueError, "payload['n'] is an int of 401 digits, beyond float64's range"),
        ({"n": -(2**1024)}, ValueError, "payload['n'] is an int of 309 digits"),
        ({"s": "ok\ud800"}, ValueError, "payload['s'] is a str with a lone surrogate"),
        ({"\udc00": 1}, ValueError, "payload has a key that is a str with a lone surrogate"),
        ({"x": {"y": [[], [1, 2, frozenset()]]}}, TypeError, "payload['x']['y'][1][2] is frozenset()"),
        ({"it": iter([1])}, TypeError, "payload['it'] is <list_iterator"),
        ({"k'\"": {1.5}}, TypeError, "payload['k\\'\"'] is {1.5}"),
    ],
)
def test_bad_payload_values_are_refused_naming_the_path(
    payload: Any,
    error: type[Exception],
    words: str,
) -> None:
    with pytest.raises(error, match=_literal(words)) as info:
        Message("t", payload)
    if error is TypeError and "key" not in words:
        accepted = "accepted: None, bool, int, finite float, str, and lists, tuples, str-keyed dicts of these"
        assert accepted in str(info.value)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (None, "payload must be a dict with str keys, got NoneType (use {} for an empty payload)"),
        ([("a", 1)], "payload must be a dict with str keys, got list"),
        ("{}", "payload must be a dict with str keys, got str"),
    ],
)
def test_payload_must_be_a_dict(payload: Any, words: str) -> None:
    with pytest.raises(TypeError, match=_literal(words)):
        Message("t", payload)


def test_reference_cycles_and_deep_nesting_are_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested too deeply, or contains a reference cycle"):
        Message("t", {"loop": loop})
    deep: dict[str, Any] = {}
    for _ in range(100_000):
        deep = {"d": deep}
    with pytest.raises(ValueError, match="nested too deeply"):
        Message("t", deep)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"type": 5}, TypeError, "type must be a str, got int (5)"),
        ({"type": None}, TypeError, "type must be a str, got NoneType"),
        ({"type": b"request"}, TypeError, "type must be a str, got bytes"),
        ({"type": "a\udfffb"}, ValueError, "type is a str with a lone surrogate"),
        ({"message_id": 7}, TypeError, "message_id must be a str, got int"),
        ({"message_id": uuid.UUID(int=1)}, TypeError, "message_id must be a str, got UUID"),
        ({"timestamp": "2026-01-01T00:00:00Z"}, TypeError, "timestamp must be a datetime, got str"),
        ({"timestamp": 1764087650.0}, TypeError, "timestamp must be a datetime, got float"),
        (
            {"timestamp": datetime(2026, 1, 1)},
            ValueError,
            "timestamp '2026-01-01T00:00:00' is naive (it has no zone, which Go refuses): "
            "use an aware datetime, e.g. datetime.now(timezone.utc)",
        ),
    ],
)
def test_bad_fields_are_refused(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    fields: dict[str, Any] = {"type": "t", **kwargs}
    with pytest.raises(error, match=_literal(words)):
        Message(**fields)


def test_defaults() -> None:
    before = datetime.now(UTC)
    first, second = Message("ping"), Message("ping")
    after = datetime.now(UTC)
    assert first.payload == {} and first.payload is not second.payload
    assert before <= first.timestamp <= after
    assert first.timestamp.utcoffset() == timedelta(0)
    assert len(first.message_id) == 32 and uuid.UUID(first.message_id).version == 4
    assert uuid.UUID(first.message_id).hex == first.message_id
    assert first.message_id != second.message_id
    assert len({new_message_id() for _ in range(10_000)}) == 10_000


def test_the_message_keeps_its_own_normalised_copy_of_the_payload() -> None:
    class Mood(enum.IntEnum):
        HAPPY = 1

    class Kind(str, enum.Enum):
        A = "a"

    Point = namedtuple("Point", "x y")
    inner = {"list": [1, 2]}
    payload: dict[str, Any] = {
        "inner": inner,
        "tuple": (1, (2, 3)),
        "point": Point(1, 2),
        "mood": Mood.HAPPY,
        "kind": Kind.A,
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        Kind.A: "enum key",
    }
    msg = Message("t", payload)
    inner["list"].append(3)
    payload["new"] = True
    assert msg.payload == {
        "inner": {"list": [1, 2]},
        "tuple": [1, [2, 3]],
        "point": [1, 2],
        "mood": 1,
        "kind": "a",
        "ordered": {"b": 1, "a": 2},
        "a": "enum key",
    }
    assert type(msg.payload["mood"]) is int
    assert type(msg.payload["kind"]) is str
    assert type(msg.payload["ordered"]) is dict
    assert all(type(key) is str for key in msg.payload)
    assert Message.from_json(msg.to_json()) == msg


def test_timestamp_subclasses_and_offset_seconds_are_normalised() -> None:
    class Stamp(datetime):
        pass

    msg = Message("t", {}, Stamp(2026, 1, 2, 3, 4, 5, tzinfo=EST))
    assert type(msg.timestamp) is datetime
    assert msg.timestamp.utcoffset() == timedelta(hours=-5)
    odd = timezone(timedelta(minutes=9, seconds=21))  # like Paris's local mean time before 1911
    msg = Message("t", {}, datetime(1900, 1, 1, 0, 9, 21, tzinfo=odd))
    assert msg.timestamp == datetime(1900, 1, 1, tzinfo=UTC)
    assert msg.timestamp.utcoffset() == timedelta(0)


# ------------------------------------------------------------------------------------------------
# Value behaviour


def test_equality_is_by_instant_and_the_offset_survives_the_wire() -> None:
    utc = Message("t", {"a": 1}, datetime(2026, 1, 2, 8, tzinfo=UTC), "i")
    est = Message("t", {"a": 1}, datetime(2026, 1, 2, 3, tzinfo=EST), "i")
    assert utc == est
    assert hash(utc) == hash(est)
    back = Message.from_json(est.to_json())
    assert back.timestamp.utcoffset() == timedelta(hours=-5)
    assert b"2026-01-02T03:00:00-05:00" in est.to_json()
    assert utc != attrs.evolve(utc, payload={"a": 2})
    assert utc != attrs.evolve(utc, message_id="j")


def test_frozen_hashable_evolvable_picklable() -> None:
    msg = Message("t", {"a": [1, 2.5]}, T0, "i")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        msg.type = "u"  # type: ignore[misc]
    assert hash(msg) == hash(attrs.evolve(msg, payload={"other": 1}))
    assert {msg: 1}[Message("t", {"a": [1, 2.5]}, T0, "i")] == 1
    changed = attrs.evolve(msg, type="u")
    assert (changed.type, changed.payload, changed.message_id) == ("u", {"a": [1, 2.5]}, "i")
    with pytest.raises(ValueError, match="naive"):
        attrs.evolve(msg, timestamp=datetime(2026, 1, 1))
    assert pickle.loads(pickle.dumps(msg)) == msg
    assert pickle.loads(pickle.dumps(msg)).to_json() == msg.to_json()


def test_repr_is_readable_and_bounded() -> None:
    msg = Message("request", {"task": "process"}, T0, "abc")
    assert repr(msg) == (
        "Message(type='request', payload={'task': 'process'}, "
        "timestamp='2026-11-25T16:20:50.123456Z', message_id='abc')"
    )
    big = Message("bulk", {"data": "x" * 10_000}, T0, "abc")
    assert len(repr(big)) < 450
    assert repr(big).endswith("...}, timestamp='2026-11-25T16:20:50.123456Z', message_id='abc')")


def test_to_dict_and_from_dict() -> None:
    msg = Message("t", {"a": [1, {"b": 2.5}]}, datetime(2026, 1, 2, 3, tzinfo=IST), "i")
    wire = msg.to_dict()
    assert wire == {
        "Type": "t",
        "Payload": {"a": [1, {"b": 2.5}]},
        "Timestamp": "2026-01-02T03:00:00+05:30",
        "MessageID": "i",
    }
    wire["Payload"]["a"].append("x")
    assert msg.payload == {"a": [1, {"b": 2.5}]}
    assert Message.from_dict(msg.to_dict()) == msg
    assert Message.from_dict(json.loads(msg.to_json())) == msg
    assert Message.from_dict({"type": "t", "messageid": "i"}) == Message("t", {}, GO_ZERO_TIME, "i")
    with pytest.raises(MessageDecodeError, match=_literal("Payload['a'] is {1} of type set")):
        Message.from_dict({"Payload": {"a": {1}}})
    words = "Timestamp must be an RFC 3339 string or null, got a datetime"
    with pytest.raises(MessageDecodeError, match=words):
        Message.from_dict({"Timestamp": T0})
    with pytest.raises(MessageDecodeError, match="message must be a JSON object, got an array"):
        Message.from_dict([("Type", "t")])  # type: ignore[arg-type]


def test_python_keeps_integers_that_go_would_round() -> None:
    msg = Message("t", {"id": 2**60 + 1, "neg": -(2**63)})
    back = Message.from_json(msg.to_json())
    assert back.payload == {"id": 2**60 + 1, "neg": -(2**63)}
    assert b'"id":1152921504606846977' in msg.to_json()


def test_to_json_after_the_payload_was_mutated_still_refuses_what_go_refuses() -> None:
    msg = Message("t", {"a": 1})
    msg.payload["bad"] = float("nan")
    with pytest.raises(ValueError):
        msg.to_json()
    msg.payload["bad"] = {1, 2}
    with pytest.raises(TypeError, match="not JSON serializable"):
        msg.to_json()


def _literal(text: str) -> str:
    import re

    return re.escape(text)
