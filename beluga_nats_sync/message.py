"""The Beluga ``Message`` envelope and its JSON codec, compatible with Go's ``encoding/json``.

Go agents marshal ``struct { Type string; Payload map[string]interface{}; Timestamp time.Time;
MessageID string }`` with ``encoding/json``, so the wire form is one JSON object::

    {"Type":"request","Payload":{"task":"process"},"Timestamp":"2026-11-25T16:20:50.123456789Z","MessageID":"..."}

Encoding (:meth:`Message.to_json`) writes the bytes Go's ``json.Marshal`` writes for the same values: the
four keys in that order, no spaces, payload keys sorted (nested objects too), ``<`` ``>`` ``&`` U+2028
U+2029 escaped as ``\\u003c`` ``\\u003e`` ``\\u0026`` ``\\u2028`` ``\\u2029``, other text as raw UTF-8,
floats formatted as Go formats a float64 (``1`` for ``1.0``, ``0.00001``, ``1e+21``, ``1e-7``), and the
timestamp in RFC 3339 with nanosecond precision as Go writes it (fraction without trailing zeros, none at
all when zero; ``Z`` for a zero offset, else ``+hh:mm``). NaN and Infinity are never written: Go refuses them.

Decoding (:meth:`Message.from_json`) follows ``json.Unmarshal`` into that struct: keys bind to fields
case-insensitively (``type``, ``messageId``), unknown keys are ignored, ``null`` or a missing key leaves the
field at Go's zero value (``""``, ``{}``, ``0001-01-01T00:00:00Z``), and a value of the wrong JSON type,
invalid JSON, or a timestamp Go would refuse raises :class:`~beluga_nats_sync.errors.MessageDecodeError`.

What a Python user sees differently from a Go user:

* Numbers. Go decodes every JSON number in ``Payload`` into a float64, so **integers beyond 2**53
  (9007199254740992) lose digits on the Go side**, and integers beyond float64's range make Go's
  ``json.Unmarshal`` fail (so they are refused here at construction). Python keeps an integer literal as an
  ``int`` and anything with a fraction or exponent as a ``float``. Because Go writes an integral float64
  without a fraction, a float such as ``3.0`` arrives back as the int ``3`` (equal to ``3.0``; ``-0.0``
  arrives as ``0``). One spelling differs from Go on purpose: an integral float from 2**53 up to 1e21 is
  written with its exact digits (``1152921504606846976`` for ``2.0**60``, where Go pads its shortest digits
  with zeros, ``1152921504606847000``), so that Python reads back an equal number; Go reads both spellings
  as the same float64.
* Time. A ``datetime`` holds microseconds: further digits from Go are truncated, not rounded. The offset is
  kept (``-05:00`` stays ``-05:00``), as a fixed ``timezone``; two timestamps are equal when they denote the
  same instant.
* Text. An unpaired surrogate escape (``"\\ud800"``) decodes to U+FFFD, as in Go; a Python ``str`` holding
  one is refused at construction (it is not Unicode text and has no UTF-8 form).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import attrs

from beluga_nats_sync.errors import MessageDecodeError

__all__ = [
    "check_message",
    "GO_ZERO_TIME",
    "Message",
    "format_go_timestamp",
    "new_message_id",
    "parse_go_timestamp",
]

GO_ZERO_TIME: Final = datetime(1, 1, 1, tzinfo=timezone.utc)
"""Go's zero ``time.Time`` (``0001-01-01T00:00:00Z``): the timestamp of a message that did not carry one."""

_ACCEPTED: Final = "accepted: None, bool, int, finite float, str, and lists, tuples, str-keyed dicts of these"
_REPR_PAYLOAD_MAX: Final = 300

# --------------------------------------------------------------------------------------------------
# Message ids


# A random (version 4) UUID as 32 hex digits, without building a uuid.UUID: twice as fast as uuid4().hex.
_UUID4_KEEP: Final = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)


def new_message_id() -> str:
    """Return a fresh message id: a random (version 4) UUID written as 32 lower-case hex digits."""
    return format((int.from_bytes(os.urandom(16), "big") & _UUID4_KEEP) | _UUID4_SET, "032x")


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


# --------------------------------------------------------------------------------------------------
# The envelope


@attrs.frozen
class Message:
    """The Beluga envelope exchanged with Go agents: a type, a JSON payload, a timestamp and an id.

    ``Message(type, payload={}, timestamp=now in UTC, message_id=new_message_id())``. Construction checks
    every field and raises ``TypeError``/``ValueError`` naming the offending part, e.g.
    ``payload['a'][2]['b']``:

    * ``type`` and ``message_id`` are ``str``;
    * ``payload`` is a ``dict`` with ``str`` keys whose values are JSON: ``None``, ``bool``, ``int`` (within
      float64's range; Go keeps only 53 bits of it), finite ``float``, ``str``, and lists, tuples and dicts
      with ``str`` keys of these. NaN and Infinity are refused (Go refuses them);
    * ``timestamp`` is an aware ``datetime`` (a naive one is refused: Go requires a zone). Its ``tzinfo``
      becomes the fixed ``timezone`` offset it has at that instant (a ``ZoneInfo`` keeps only its offset, as
      on the wire); an offset with seconds, which RFC 3339 cannot write, is moved to UTC. The instant is
      always kept.

    The message keeps its own copy of the payload, with tuples made lists and subclasses (``StrEnum``,
    ``IntEnum``, ``OrderedDict``) made plain, so later changes to the caller's dict do not reach it and the
    message equals what comes back from the wire. The copy is a plain ``dict``: treat it as read-only.

    Equality compares all four fields; timestamps are equal when they denote the same instant, whatever the
    offset (the codec keeps the offset, so a round trip preserves it too). The hash leaves out the payload.
    """

    type: str
    """What the message is about, e.g. ``"request"``: Go's ``Type``."""
    payload: dict[str, Any] = attrs.field(factory=dict, hash=False)
    """The JSON body: Go's ``Payload map[string]interface{}``."""
    timestamp: datetime = attrs.field(factory=lambda: datetime.now(timezone.utc))
    """When the message was made, aware: Go's ``Timestamp time.Time``."""
    message_id: str = attrs.field(factory=new_message_id)
    """Unique id, by default a random UUID as 32 hex digits: Go's ``MessageID``."""
    # Whether the payload holds a float that Go spells differently from Python's repr (see _Walk).
    _respell: bool = attrs.field(init=False, default=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        put = object.__setattr__
        put(self, "type", _check_text(self.type, "type"))
        put(self, "message_id", _check_text(self.message_id, "message_id"))
        put(self, "timestamp", _aware(self.timestamp))
        walk = _Walk(repair=False)
        try:
            payload = _check_payload(self.payload, walk)
        except _PathError as exc:
            raise exc.kind(exc.describe("payload")) from None
        put(self, "payload", payload)
        put(self, "_respell", walk.respell)

    def _repr_html_(self) -> str:
        """A table for notebooks: type, id, timestamp and the payload as pretty JSON."""
        from beluga_nats_sync._notebook.display import message_html

        return message_html(self)

    def __repr__(self) -> str:
        payload = repr(self.payload)
        if len(payload) > _REPR_PAYLOAD_MAX:
            payload = payload[: _REPR_PAYLOAD_MAX - 4] + "...}"
        return (
            f"Message(type={self.type!r}, payload={payload}, "
            f"timestamp={_format_aware(self.timestamp)!r}, message_id={self.message_id!r})"
        )

    # -- wire form ---------------------------------------------------------------------------------

    def to_json(self) -> bytes:
        """The envelope as Go's ``json.Marshal`` writes it: compact UTF-8 JSON with the keys
        ``Type``, ``Payload``, ``Timestamp``, ``MessageID`` in that order.

        Payload keys are sorted, ``<`` ``>`` ``&`` U+2028 U+2029 are escaped as ``\\u003c`` etc., floats
        are spelled as Go spells a float64 (``1``, ``0.00001``, ``1e+21``, ``1e-7``) and ints as integers.
        Go reads every number into a float64: integers beyond 2**53 lose digits on the Go side.
        """
        try:
            payload = _dumps_payload(self.payload)
        except RecursionError:
            raise ValueError("payload is nested too deeply, or contains a reference cycle") from None
        if self._respell:
            payload = _FLOAT_TOKEN.sub(_go_number, payload)
        text = (
            f'{{"Type":{_dumps(self.type)},"Payload":{payload},'
            f'"Timestamp":"{_format_aware(self.timestamp)}","MessageID":{_dumps(self.message_id)}}}'
        )
        return _go_escape(text).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | bytearray | memoryview | str) -> Message:
        """Decode a message as Go's ``json.Unmarshal`` decodes it into the Go struct.

        Keys bind case-insensitively (``type``, ``messageId``), the last of repeated keys wins (repeated
        ``Payload`` objects merge, as in Go), unknown keys are ignored, and ``null`` or a missing key gives
        the zero value: ``""``, ``{}``, :data:`GO_ZERO_TIME`. Payload values decode as Python's ``json`` does:
        integer literals stay ``int`` (Go would make them float64), others become ``float``.

        Raises :class:`~beluga_nats_sync.errors.MessageDecodeError` (a ``ValueError``) for bytes that are not
        UTF-8, invalid JSON (NaN and Infinity included), a top level that is not an object, a field of the
        wrong JSON type, a number beyond float64's range, or a ``Timestamp`` Go would refuse; the message
        names the field.
        """
        if isinstance(data, str):
            text = data
        elif isinstance(data, (bytes, bytearray, memoryview)):
            try:
                text = str(data, "utf-8")
            except UnicodeDecodeError as exc:
                raise MessageDecodeError(f"message is not valid UTF-8: {exc}") from exc
        else:
            raise TypeError(f"from_json() takes bytes or str, got {type(data).__name__}")
        try:
            obj = _loads(text)
        except (ValueError, RecursionError) as exc:  # syntax, NaN/Infinity, an int too long, deep nesting
            raise MessageDecodeError(f"message is not valid JSON: {exc}") from exc
        if type(obj) is not dict:
            raise MessageDecodeError(f"message must be a JSON object, got {_json_kind(obj)}")
        return cls._bind(obj, repair=True)

    def to_dict(self) -> dict[str, Any]:
        """The wire object as Python values: ``{"Type", "Payload" (a copy), "Timestamp" (Go's text),
        "MessageID"}``. ``json.dumps`` of it is valid for Go but not byte-identical to :meth:`to_json`."""
        return {
            "Type": self.type,
            "Payload": _walk_dict(self.payload, _Walk(repair=False)),
            "Timestamp": _format_aware(self.timestamp),
            "MessageID": self.message_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Build a message from an already-parsed wire object (e.g. one embedded in a larger JSON document),
        with the same rules and errors as :meth:`from_json`. ``from_dict(m.to_dict()) == m``."""
        if not isinstance(data, Mapping):
            raise MessageDecodeError(f"message must be a JSON object, got {_json_kind(data)}")
        return cls._bind(data, repair=False)

    @classmethod
    def _bind(cls, obj: Mapping[Any, Any], repair: bool) -> Message:
        kind = ""
        payload: dict[str, Any] | None = None
        timestamp = GO_ZERO_TIME
        message_id = ""
        for key, value in obj.items():
            field = _FIELDS.get(key)
            if field is None:
                field = _folded_field(key)
                if field is None:
                    continue  # Go ignores unknown keys
            if value is None:
                # Go: null sets a map to nil and leaves a string or a time.Time as it was.
                if field == "Payload":
                    payload = None
                continue
            if field == "Payload":
                if not isinstance(value, dict):
                    raise _wrong_type(field, key, "a JSON object or null", value)
                payload = value if payload is None else {**payload, **value}
            elif field == "Timestamp":
                if not isinstance(value, str):
                    raise _wrong_type(field, key, "an RFC 3339 string or null", value)
                try:
                    timestamp = parse_go_timestamp(value)
                except ValueError as exc:
                    spelled = "" if key == field else f" (key {key!r})"
                    raise MessageDecodeError(f"Timestamp{spelled}: {exc}") from None
            else:
                if not isinstance(value, str):
                    raise _wrong_type(field, key, "a JSON string or null", value)
                text = value
                if type(text) is not str or not text.isascii():
                    try:
                        text = _check_text(value, field, repair)
                    except ValueError as exc:
                        raise MessageDecodeError(str(exc)) from None
                if field == "Type":
                    kind = text
                else:
                    message_id = text
        walk = _Walk(repair)
        try:
            checked = _check_payload({} if payload is None else payload, walk)
        except _PathError as exc:
            raise MessageDecodeError(exc.describe("Payload")) from None
        # All four fields are checked: skip __init__'s second walk of the payload.
        message = object.__new__(cls)
        put = object.__setattr__
        put(message, "type", kind)
        put(message, "payload", checked)
        put(message, "timestamp", timestamp)
        put(message, "message_id", message_id)
        put(message, "_respell", walk.respell)
        return message


def check_message(message: Any) -> Message:
    """``message`` if it is a :class:`Message`; a ``TypeError`` saying so otherwise."""
    if not isinstance(message, Message):
        raise TypeError(f"message must be a beluga_nats_sync.Message, got {type(message).__name__}")
    return message
