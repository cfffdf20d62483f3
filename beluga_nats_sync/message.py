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

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

import attrs

from beluga_nats_sync.errors import MessageDecodeError

# The Go codec lives in _gocodec.py; every name of it stays importable from here, as before the move.
from ._gocodec import (
    _ACCEPTED,  # noqa: F401
    _FIELDS,
    _FLOAT_TOKEN,
    _FOLDED_FIELDS,  # noqa: F401
    _GO_FOLD,  # noqa: F401
    _MINUTE,  # noqa: F401
    _NAIVE_HINT,  # noqa: F401
    _RFC3339,  # noqa: F401
    _SURROGATE,  # noqa: F401
    _TWO_53,  # noqa: F401
    _ZONES,  # noqa: F401
    GO_ZERO_TIME,
    _aware,
    _check_int,  # noqa: F401
    _check_payload,
    _check_text,
    _dumps,
    _dumps_payload,
    _folded_field,
    _format_aware,
    _go_escape,
    _go_float,  # noqa: F401
    _go_number,
    _json_kind,
    _key,  # noqa: F401
    _loads,
    _make_fast_dumps,  # noqa: F401
    _non_finite,  # noqa: F401
    _not_json,  # noqa: F401
    _PathError,
    _refuse_constant,  # noqa: F401
    _short_repr,  # noqa: F401
    _text,  # noqa: F401
    _Walk,
    _walk,  # noqa: F401
    _walk_dict,
    _walk_list,  # noqa: F401
    _walk_subclass,  # noqa: F401
    _wrong_type,
    _zone,  # noqa: F401
    format_go_timestamp,
    parse_go_timestamp,
)

__all__ = [
    "check_message",
    "GO_ZERO_TIME",
    "Message",
    "format_go_timestamp",
    "new_message_id",
    "parse_go_timestamp",
]

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
