"""Go's ``encoding/json`` and ``time.Time`` as the Beluga envelope needs them: RFC 3339 timestamps as Go
parses and writes them, the payload check (what Go can carry), and a JSON codec that writes Go's bytes.

:mod:`beluga_nats_sync.message` explains the rules; its ``Message`` is built on these helpers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from beluga_nats_sync.errors import MessageDecodeError

GO_ZERO_TIME: Final = datetime(1, 1, 1, tzinfo=timezone.utc)
"""Go's zero ``time.Time`` (``0001-01-01T00:00:00Z``): the timestamp of a message that did not carry one."""

_ACCEPTED: Final = "accepted: None, bool, int, finite float, str, and lists, tuples, str-keyed dicts of these"

# --------------------------------------------------------------------------------------------------
# Timestamps

_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:(Z)|([-+])([0-9]{2}):([0-9]{2}))"
)
_ZONES: dict[int, timezone] = {0: timezone.utc}
_MINUTE: Final = timedelta(minutes=1)
_NAIVE_HINT: Final = "use an aware datetime, e.g. datetime.now(timezone.utc)"


def _zone(minutes: int) -> timezone:
    zone = _ZONES.get(minutes)
    if zone is None:
        zone = _ZONES.setdefault(minutes, timezone(timedelta(minutes=minutes)))
    return zone


def parse_go_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp the way Go's ``time.Time.UnmarshalJSON`` does, into an aware datetime.

    Accepted: ``2006-01-02T15:04:05[.fraction](Z|+hh:mm|-hh:mm)`` with any number of fraction digits
    (Go keeps 9; Python keeps 6, truncating the rest). The offset becomes the datetime's ``tzinfo``.
    Refused with ``ValueError``: no zone, ``+0000``, a space or ``t`` instead of ``T``, ``z``, out-of-range
    fields, and year 0000 (valid in Go, not representable by ``datetime``).
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an RFC 3339 timestamp as Go writes it, like 2006-01-02T15:04:05.999999999Z "
            f"or 2006-01-02T15:04:05-07:00 (a zone is required; 'T' and 'Z' are upper case)"
        )
    year, month, day, hour, minute, second, fraction, utc, sign, off_h, off_m = match.groups()
    if utc:
        zone = timezone.utc
    else:
        hours, minutes = int(off_h), int(off_m)
        if hours > 23 or minutes > 59:
            raise ValueError(f"{text!r} has a zone offset out of range (at most 23:59)")
        zone = _zone(-(hours * 60 + minutes) if sign == "-" else hours * 60 + minutes)
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid time: {exc}") from None


def _aware(value: object, name: str = "timestamp") -> datetime:
    """``value`` as a plain datetime with a fixed ``timezone`` of whole minutes: what the wire can carry."""
    if type(value) is not datetime:
        if not isinstance(value, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(value).__name__} ({_short_repr(value)})")
        # A subclass (pandas.Timestamp, ...) may format or compare itself differently: keep the plain value.
        value = datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            value.tzinfo,
            fold=value.fold,
        )
    offset = value.utcoffset()
    if offset is None:
        naive = f"{name} {value.isoformat()!r} is naive (it has no zone, which Go refuses)"
        raise ValueError(f"{naive}: {_NAIVE_HINT}")
    if offset.seconds % 60 or offset.microseconds:
        # RFC 3339 (and Go) write offsets in whole minutes only; keep the instant, in UTC.
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError(f"{name} {value.isoformat()!r} is out of range once moved to UTC") from None
    if type(value.tzinfo) is not timezone:
        # A zone with rules (zoneinfo, pytz, dateutil) becomes the offset it has at that instant, which is
        # all the wire carries. Besides, Python never finds a datetime in a DST gap or fold equal to one in
        # another zone (PEP 495), so without this such a message would not equal itself after a round trip.
        value = value.replace(tzinfo=_zone(offset // _MINUTE), fold=0)
    return value


def _format_aware(value: datetime) -> str:
    # isoformat() is C code; for an aware datetime whose offset is whole minutes it is
    # 'YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM'. Go trims the fraction's trailing zeros and writes Z for UTC.
    text = datetime.isoformat(value)
    if value.microsecond:
        clock, offset = text[:26].rstrip("0"), text[26:]
    else:
        clock, offset = text[:19], text[19:]
    return clock + ("Z" if offset == "+00:00" else offset)


def format_go_timestamp(value: datetime) -> str:
    """Format an aware datetime as Go's ``time.Time.MarshalJSON`` does (RFC 3339 with nanoseconds).

    The fraction has no trailing zeros (and no dot when zero); a zero offset is ``Z``, others ``+hh:mm``.
    An offset with seconds (which RFC 3339 cannot write) is moved to UTC, keeping the instant. A naive
    datetime raises ``ValueError``.
    """
    return _format_aware(_aware(value))


# --------------------------------------------------------------------------------------------------
# Payload validation: one walk that checks, normalises (tuples to lists, subclasses to base types) and copies


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class _PathError(Exception):
    """Internal: a bad value deep in a payload; each level adds its part of the path on the way out."""

    def __init__(self, kind: type[Exception], problem: str) -> None:
        super().__init__(problem)
        self.kind = kind
        self.problem = problem
        self.path: list[str] = []

    def describe(self, root: str) -> str:
        return f"{root}{''.join(reversed(self.path))} {self.problem}"


class _Walk:
    """State of one payload walk: whether to repair lone surrogates (decoding), and whether a float was
    seen that Python's ``repr`` spells differently from Go (``1.0``, ``1e-05``, ``1e+16``)."""

    __slots__ = ("respell", "repair")

    def __init__(self, repair: bool) -> None:
        self.repair = repair
        self.respell = False


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: str, walk: _Walk) -> str:
    if _SURROGATE.search(value) is None:
        return value
    if walk.repair:
        # Go decodes an unpaired \ud800 escape as U+FFFD; do the same so both sides see the same text.
        return _SURROGATE.sub("\ufffd", value)
    problem = f"is a str with a lone surrogate ({_short_repr(value)}): not valid Unicode text"
    raise _PathError(ValueError, problem)


def _check_int(value: int) -> int:
    try:
        float(value)
    except OverflowError:
        raise _PathError(
            ValueError,
            f"is an int of {len(str(abs(value)))} digits, beyond float64's range: Go decodes every JSON "
            "number into a float64 and refuses it",
        ) from None
    return value


def _non_finite(value: float, walk: _Walk) -> str:
    if walk.repair:  # decoding: json.loads turns a literal such as 1e400 into inf
        return "is a number beyond float64's range, which Go refuses"
    return f"is {value!r}: NaN and Infinity are not JSON, and Go refuses them"


def _walk(value: Any, walk: _Walk) -> Any:
    cls = type(value)
    if cls is str:
        return value if value.isascii() else _text(value, walk)
    if cls is int:
        return value if value.bit_length() < 1024 else _check_int(value)
    if cls is float:
        if value - value != 0.0:  # NaN or an infinity
            raise _PathError(ValueError, _non_finite(value, walk))
        if not 1e-4 <= abs(value) < 1e16 or value.is_integer():
            walk.respell = True
        return value
    if value is None or cls is bool:
        return value
    if cls is dict:
        return _walk_dict(value, walk)
    if cls is list or cls is tuple:
        return _walk_list(value, walk)
    return _walk_subclass(value, walk)


def _walk_dict(value: Mapping[Any, Any], walk: _Walk) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str or not key.isascii():
            key = _key(key, walk)
        try:
            out[key] = _walk(item, walk)
        except _PathError as exc:
            exc.path.append(f"[{key!r}]")
            raise
    return out


def _key(key: object, walk: _Walk) -> str:
    if not isinstance(key, str):
        raise _PathError(
            TypeError,
            f"has a key {_short_repr(key)} of type {type(key).__name__}: JSON object keys must be str",
        )
    key = str.__str__(key)
    try:
        return key if key.isascii() else _text(key, walk)
    except _PathError as exc:
        raise _PathError(exc.kind, f"has a key that {exc.problem}") from None


def _walk_list(value: list[Any] | tuple[Any, ...], walk: _Walk) -> list[Any]:
    out: list[Any] = []
    append = out.append
    try:
        for item in value:
            append(_walk(item, walk))
    except _PathError as exc:
        exc.path.append(f"[{len(out)}]")
        raise
    return out


def _walk_subclass(value: Any, walk: _Walk) -> Any:
    # Subclasses (StrEnum, IntEnum, OrderedDict, namedtuple, numpy.float64...) become their plain base
    # type, so the message compares equal to what comes back from the wire.
    if isinstance(value, str):
        return _walk(str.__str__(value), walk)
    if isinstance(value, int):
        return _walk(int.__int__(value), walk)
    if isinstance(value, float):
        return _walk(float.__float__(value), walk)
    if isinstance(value, dict):
        return _walk_dict(value, walk)
    if isinstance(value, (list, tuple)):
        return _walk_list(value, walk)
    raise _PathError(
        TypeError,
        f"is {_short_repr(value)} of type {type(value).__qualname__}, which is not JSON ({_ACCEPTED})",
    )


def _check_payload(payload: object, walk: _Walk) -> dict[str, Any]:
    """The validated private copy of ``payload``; a _PathError carries the path of a bad value."""
    if not isinstance(payload, dict):
        hint = " (use {} for an empty payload)" if payload is None else ""
        raise _PathError(TypeError, f"must be a dict with str keys, got {type(payload).__name__}{hint}")
    try:
        return _walk_dict(payload, walk)
    except RecursionError:
        raise _PathError(ValueError, "is nested too deeply, or contains a reference cycle") from None


def _check_text(value: object, name: str, repair: bool = False) -> str:
    if type(value) is not str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__} ({_short_repr(value)})")
        value = str.__str__(value)
    if value.isascii():
        return value
    try:
        return _text(value, _Walk(repair))
    except _PathError as exc:
        raise ValueError(f"{name} {exc.problem}") from None


# --------------------------------------------------------------------------------------------------
# Encoding

_dumps: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, sort_keys=True, separators=(",", ":")
).encode


def _not_json(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_fast_dumps() -> Callable[[dict[str, Any]], str]:
    # JSONEncoder.encode builds a new C encoder on every call; building it once saves a third of the
    # payload's encoding time. c_make_encoder is the C half of the json module: fall back to the public
    # path if this Python lacks it or has changed its signature.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _dumps
    try:
        encode = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, False)
        probe = {"b": [1, 2.5, None, True, "<\u00e9>"], "a": {}}
        if "".join(encode(probe, 0)) != _dumps(probe):
            return _dumps
    except Exception:
        return _dumps

    def dumps(payload: dict[str, Any]) -> str:
        return "".join(encode(payload, 0))

    return dumps


_dumps_payload: Final = _make_fast_dumps()

# A JSON string (skipped) or a number with a fraction or exponent: how Python writes every float.
_FLOAT_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9]+(?:\.[0-9]+(?:e[-+][0-9]+)?|e[-+][0-9]+)')
_TWO_53: Final = float(2**53)


def _go_float(value: float) -> str:
    """Write a finite float as Go's ``encoding/json`` writes a float64 (ES6 number formatting).

    Shortest round-trip digits; plain decimal for 1e-6 <= |x| < 1e21 (``1`` for 1.0, ``-0`` for -0.0,
    ``0.000001``), else exponent form with Go's clean-up (``1e+21``, ``1e-7``, ``1.5e-10``).
    One deliberate difference: an integral float from 2**53 up to 1e21 is written with its exact digits
    (Go pads the shortest digits with zeros), so Python reads back an int equal to the float; Go parses
    both spellings to the same float64.
    """
    text = float.__repr__(value)
    size = abs(value)
    if size != 0.0 and (size < 1e-6 or size >= 1e21):
        # repr already uses exponent form here (below 1e-4 and from 1e16); Go drops the 0 of 'e-07'.
        if text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            return text[:-2] + text[-1]
        return text
    if size >= _TWO_53:
        return str(int(value))
    cut = text.find("e")
    if cut < 0:
        return text[:-2] if text.endswith(".0") else text
    # repr chose exponent form (1e-06 .. 1e-05) where Go writes a plain decimal: move the point.
    mantissa, exponent = text[:cut], int(text[cut + 1 :])
    sign = ""
    if mantissa[0] == "-":
        sign, mantissa = "-", mantissa[1:]
    dot = mantissa.find(".")
    if dot < 0:
        digits, point = mantissa, len(mantissa) + exponent
    else:
        digits, point = mantissa[:dot] + mantissa[dot + 1 :], dot + exponent
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _go_number(match: re.Match[str]) -> str:
    token = match.group()
    return token if token[0] == '"' else _go_float(float(token))


def _go_escape(text: str) -> str:
    # Outside strings JSON has none of these characters, so a plain replace only touches string contents.
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    if not text.isascii():
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text


# --------------------------------------------------------------------------------------------------
# Decoding

_FIELDS: Final = {"Type": "Type", "Payload": "Payload", "Timestamp": "Timestamp", "MessageID": "MessageID"}
_FOLDED_FIELDS: Final = {name.upper(): name for name in _FIELDS}
# The only non-ASCII characters that Go's key folding (unicode.ToUpper(unicode.ToLower(r))) maps onto an
# ASCII letter: long s, Kelvin sign, capital I with dot, dotless i.
_GO_FOLD: Final = str.maketrans({"\u017f": "s", "\u212a": "k", "\u0130": "i", "\u0131": "i"})


def _folded_field(key: object) -> str | None:
    """The struct field Go's ``json.Unmarshal`` binds ``key`` to when no field has exactly that name."""
    if not isinstance(key, str):
        return None
    if not key.isascii():
        key = key.translate(_GO_FOLD)
        if not key.isascii():
            return None
    return _FOLDED_FIELDS.get(key.upper())


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (Go refuses NaN and Infinity)")


_loads: Final = json.JSONDecoder(parse_constant=_refuse_constant).decode


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({_short_repr(value)})"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _wrong_type(field: str, key: str, expected: str, value: object) -> MessageDecodeError:
    spelled = "" if key == field else f" (key {key!r})"
    return MessageDecodeError(f"{field}{spelled} must be {expected}, got {_json_kind(value)}")
