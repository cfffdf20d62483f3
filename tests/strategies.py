"""Hypothesis strategies for the Beluga ``Message`` envelope.

JSON-compatible payloads (with the characters and numbers that need care on the wire), aware datetimes
with many offsets, message ids and types, and RFC 3339 timestamp strings as Go writes (or accepts) them,
each with the datetime it must decode to.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from hypothesis import strategies as st

from beluga_nats_sync.message import Message

# Characters that need care on the wire: HTML characters Go escapes, JSON escapes, the JavaScript line
# separators, DEL, non-ASCII in and beyond the BMP, and the replacement character.
TRICKY_CHARS = '<>&"\\/\u2028\u2029\x00\x1f\x7f\n\r\t\b\f\u00e9\u4e2d\U0001f600\ufffd'

# Any Unicode scalar value that UTF-8 can carry (no lone surrogates), and the tricky ones more often.
text_chars = st.characters(codec="utf-8") | st.sampled_from(TRICKY_CHARS)
json_text = st.text(alphabet=text_chars, max_size=12)
json_keys = st.text(alphabet=text_chars, max_size=8)

# Floats whose Go spelling differs from Python's repr, and the edges of Go's plain/exponent switch.
EDGE_FLOATS = (
    0.0,
    -0.0,
    1.0,
    -3.0,
    0.5,
    0.1,
    1e-4,
    1e-5,
    1.5e-5,
    1e-6,
    9.99e-7,
    1e-7,
    2.5e-8,
    1.5e-10,
    1e15,
    1e16,
    1.5e16,
    2.0**53,
    2.0**53 + 2,
    2.0**60,
    1e20,
    9.999999999999999e20,
    1e21,
    1.5e22,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
)
json_floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(EDGE_FLOATS)
# Integers within float64's range (Go refuses larger ones), small ones more often.
small_ints = st.integers(min_value=-(2**64), max_value=2**64)
json_ints = small_ints | st.integers(min_value=-(2**1023), max_value=2**1023)
json_scalars = st.none() | st.booleans() | json_ints | json_floats | json_text


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)


json_values = st.recursive(json_scalars, _containers, max_leaves=8)
payloads = st.dictionaries(json_keys, json_values, max_size=4)

MAX_OFFSET_MINUTES = 24 * 60 - 1
offset_minutes = st.integers(min_value=-MAX_OFFSET_MINUTES, max_value=MAX_OFFSET_MINUTES)
fixed_zones: st.SearchStrategy[tzinfo] = st.just(timezone.utc) | offset_minutes.map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def _named_zones() -> list[tzinfo]:
    # Zones with DST, half-hour offsets and (before 1900) local mean time offsets with seconds,
    # when this machine has the tz database.
    try:
        from zoneinfo import ZoneInfo

        names = ("America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Paris")
        return [ZoneInfo(name) for name in names]
    except Exception:
        return []


_NAMED = _named_zones()
zones: st.SearchStrategy[tzinfo] = (fixed_zones | st.sampled_from(_NAMED)) if _NAMED else fixed_zones

# Years 1 and 9999 are left out: a datetime there with an offset cannot be hashed or compared across
# offsets (its UTC value falls outside datetime's range); test_message.py covers those years directly.
aware_datetimes = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=zones)

message_ids = st.uuids().map(lambda u: u.hex) | json_text
message_types = st.sampled_from(["request", "response", "event", ""]) | json_text

messages = st.builds(
    Message,
    type=message_types,
    payload=payloads,
    timestamp=aware_datetimes,
    message_id=message_ids,
)


@st.composite
def go_timestamps(draw: st.DrawFn) -> tuple[str, datetime]:
    """An RFC 3339 timestamp string Go writes or accepts, and the datetime it must decode to.

    Go writes 0-9 fraction digits without trailing zeros, ``Z`` for UTC and ``+hh:mm`` otherwise; it also
    accepts a fraction with trailing zeros and ``+00:00``/``-00:00``. The expected datetime truncates the
    nanoseconds to microseconds.
    """
    day = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
    hour = draw(st.integers(0, 23))
    minute = draw(st.integers(0, 59))
    second = draw(st.integers(0, 59))
    nanos = draw(st.integers(0, 999_999_999))
    if draw(st.booleans()):  # as Go's RFC3339Nano writes it
        digits = f"{nanos:09d}".rstrip("0")
    else:  # a fixed number of digits, as other writers do
        digits = f"{nanos:09d}"[: draw(st.integers(1, 9))]
        nanos = int(digits.ljust(9, "0"))
    fraction = f".{digits}" if digits else ""
    offset = draw(offset_minutes)
    if offset == 0:
        zone = draw(st.sampled_from(["Z", "+00:00", "-00:00"]))
    else:
        hours, minutes = divmod(abs(offset), 60)
        zone = f"{'-' if offset < 0 else '+'}{hours:02d}:{minutes:02d}"
    calendar = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    text = f"{calendar}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"
    expected = datetime(
        day.year,
        day.month,
        day.day,
        hour,
        minute,
        second,
        nanos // 1000,
        timezone(timedelta(minutes=offset)),
    )
    return text, expected


@st.composite
def any_case(draw: st.DrawFn, name: str) -> str:
    """``name`` with each ASCII letter in upper or lower case: Go binds every such spelling to the field."""
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
