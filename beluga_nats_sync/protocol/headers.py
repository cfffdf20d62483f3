"""NATS headers: a case-preserving, case-sensitive multi-map, the status line, and their wire form.

Keys are case-sensitive, as in nats.go (since v1.11 ``Header.Get``, ``Values``, ``Set``, ``Add``
and ``Del`` use the key exactly as given, and ``DecodeHeadersMsg`` keeps the case the sender
wrote): ``h["Trace"]`` and ``h["trace"]`` are two keys, so a Python agent sees what a Go agent
sees. A key may hold several values; repeated header lines keep every value, in order.

On the wire a header block is ``NATS/1.0[ <code>[ <description>]]\\r\\n`` then ``Name: value\\r\\n``
lines and an empty line. Decoding follows nats.go: the text after the first ``:`` with leading
spaces and tabs removed is the value, a line with an empty name is skipped, a line without ``:``
is an error. The status line (``NATS/1.0 503``, ``NATS/1.0 408 Request Timeout``,
``NATS/1.0 100 Idle Heartbeat``) is parsed once into :class:`Status`; it is not repeated as
``Status``/``Description`` keys (nats.go adds those; :attr:`Headers.status` replaces them).
Bytes that are not UTF-8 are kept with ``surrogateescape``, so a Go peer's raw bytes survive a
round trip instead of failing the connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple, Union

from ..errors import ProtocolError

__all__ = [
    "HEADER_LINE",
    "HEADER_TEXT_LIMIT",
    "Headers",
    "NO_RESPONDERS_STATUS",
    "HeadersInput",
    "Status",
    "decode_headers",
    "encode_headers",
    "header_items",
    "header_text",
    "headers_dict",
    "headers_with",
    "is_no_responders",
    "show_status",
]

HEADER_LINE = b"NATS/1.0"
_HDR_LINE_CRLF = b"NATS/1.0\r\n"

_new = object.__new__

HeadersInput = Union["Headers", Mapping[str, str | Sequence[str]]]
"""What every ``headers=`` takes: a :class:`Headers`, or a mapping of names to a str or to a list
(or tuple) of str. Each value of a list is sent as its own header line, in order, as Go's
``Header.Add`` does (``{"X-Tag": ["a", "b"]}``); an empty list sends no line for its name."""


class Status(NamedTuple):
    """A status line's code (``503`` no responders, ``408`` request timeout, ``409`` a JetStream
    conflict, ``100`` an idle heartbeat or flow control, ``404`` no messages) and its description."""

    code: int
    description: str = ""


#: The status code of the server's answer to a request that nothing is subscribed to.
NO_RESPONDERS_STATUS = 503


def is_no_responders(data: bytes, headers: Mapping[str, str] | None) -> bool:
    """Whether a reply is the server's "no responders" answer: no data, and a header block whose
    status line (parsed into :attr:`Headers.status`) has code 503. A ``Status`` key that a
    sender wrote as an ordinary header is not the server's status line, and does not count."""
    if data or not isinstance(headers, Headers):
        return False
    status = headers.status
    return status is not None and status.code == NO_RESPONDERS_STATUS


class Headers(MutableMapping[str, str]):
    """Multi-valued, case-sensitive, case-preserving headers, in the spirit of Go's ``nats.Header``.

    ``h["X"]`` is the first value of ``X`` (``KeyError`` when absent), ``h.get_all("X")`` every
    value; ``h["X"] = "v"`` and ``h.set("X", "v")`` replace, ``h.add("X", "v")`` appends. Iteration
    and ``len`` see each key once. Built from a mapping whose values are a str or a list of str, or
    from ``(name, value)`` pairs. Equal to another ``Headers`` with the same keys and values, and
    to a plain dict when each key's one value (or its list of values) matches. A value that is not
    a str, or holds CR or LF, is refused at once (``TypeError``, ``ValueError``), naming the header
    and its index in a list.
    """

    __slots__ = ("_map", "status")

    def __init__(self, data: HeadersInput | Iterable[tuple[str, str]] | None = None, *, status: Status | None = None):
        self._map: dict[str, list[str]] = {}
        self.status = status
        if data is None:
            return
        if isinstance(data, Headers):
            self._map = {k: list(v) for k, v in data._map.items()}
            if status is None:
                self.status = data.status
            return
        items = data.items() if isinstance(data, Mapping) else data
        for name, value in items:
            if isinstance(value, str):
                self.add(name, value)
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    self.add(name, _check_str(name, v, i))
            else:
                raise _bad_value(name, value)

    def __getitem__(self, key: str) -> str:
        return self._map[key][0]

    def __setitem__(self, key: str, value: str) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        del self._map[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def set(self, key: str, value: str) -> None:
        """Make ``value`` the only value of ``key``."""
        self._map[key] = [_check_str(key, value)]

    def add(self, key: str, value: str) -> None:
        """Append ``value`` to the values of ``key``."""
        if not isinstance(key, str):
            raise TypeError(f"header names must be str, got {type(key).__name__} ({key!r})")
        values = self._map.get(key)
        if values is None:
            self._map[key] = [_check_str(key, value)]
        else:
            values.append(_check_str(key, value))

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` in arrival order (a new list; empty when the key is absent)."""
        return list(self._map.get(key, ()))

    def multi_items(self) -> Iterator[tuple[str, str]]:
        """``(name, value)`` for every value, repeated names included, in order."""
        for k, values in self._map.items():
            for v in values:
                yield k, v

    def copy(self) -> Headers:
        return Headers(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._map == other._map and self.status == other.status
        if isinstance(other, Mapping):
            if len(other) != len(self._map):
                return False
            for k, v in other.items():
                mine = self._map.get(k)
                if mine is None or (mine != [v] and mine != v and (not isinstance(v, tuple) or mine != list(v))):
                    return False
            return True
        return NotImplemented

    def __repr__(self) -> str:
        shown = headers_dict(self)
        st = f", status={self.status!r}" if self.status is not None else ""
        return f"Headers({shown!r}{st})"


def _check_str(key: str, value: Any, index: int | None = None) -> str:
    """``value`` if it can be sent as a header value (a str without CR or LF)."""
    if type(value) is not str or "\r" in value or "\n" in value:
        raise _bad_value(key, value, index)
    return value


def _bad_name(name: Any) -> Exception:
    if not isinstance(name, str):
        return TypeError(f"header names must be str, got {type(name).__name__} ({name!r})")
    return ValueError(f"header name {name!r} is not accepted: use printable ASCII without ':' or spaces")


def _bad_value(name: str, value: Any, index: int | None = None) -> Exception:
    where = f"header {name!r}" if index is None else f"header {name!r} value [{index}]"
    if type(value) is not str:
        return TypeError(
            f"{where}: values must be str, got {type(value).__name__}; a header's value is a str or a list of str"
        )
    return ValueError(f"{where}: the value must not contain CR or LF")


def _first_bad(name: str, values: Sequence[Any]) -> Exception:
    """The error for the first value of ``values`` that cannot be sent (found again here, off the
    fast path, to name its index)."""
    for i, v in enumerate(values):
        if type(v) is not str or "\r" in v or "\n" in v:
            return _bad_value(name, v, i)
    raise AssertionError("no bad value")  # pragma: no cover - called only when one was seen


def encode_headers(headers: Any) -> bytes:
    """The ``NATS/1.0`` header block for ``headers`` (a :class:`Headers`, or a mapping of str to a
    str or a list or tuple of str: each value of a list becomes its own line, in order, as Go's
    ``Header.Add``; an empty list sends no line for its name).

    Names: printable ASCII without ':' or whitespace. Values: str without CR or LF. A bad name or
    value raises ``TypeError`` or ``ValueError`` naming the header (and the index in its list).
    """
    if type(headers) is dict:
        pairs: Iterable[tuple[Any, Any]] = headers.items()
    elif isinstance(headers, Headers):
        pairs = headers.multi_items()
    elif isinstance(headers, Mapping):
        pairs = headers.items()
    else:
        raise TypeError(f"headers must be a mapping of str to str (or to a list of str), got {type(headers).__name__}")
    parts = [_HDR_LINE_CRLF]
    for name, value in pairs:
        if (
            type(name) is not str
            or not name
            or not name.isascii()
            or not name.isprintable()
            or ":" in name
            or " " in name
        ):
            raise _bad_name(name)
        if type(value) is str and "\r" not in value and "\n" not in value:
            parts.append(f"{name}: {value}\r\n".encode("utf-8", "surrogateescape"))
        elif isinstance(value, (list, tuple)):
            for v in value:
                if type(v) is not str or "\r" in v or "\n" in v:
                    raise _first_bad(name, value)
                parts.append(f"{name}: {v}\r\n".encode("utf-8", "surrogateescape"))
        else:
            raise _bad_value(name, value)
    parts.append(b"\r\n")
    return b"".join(parts)


def headers_with(base: HeadersInput | None, values: Mapping[str, str], *, drop: str | None = None) -> Headers:
    """A new :class:`Headers`: every value of ``base`` (repeated names keep all their values),
    then each name of ``values`` set to its one value (replacing what ``base`` had for it).
    ``drop``: a name prefix whose names are left out of ``base``'s copy (``values`` still apply).
    ``base`` is not changed; its status is not copied."""
    h = Headers()
    if base:
        if not isinstance(base, Headers):
            base = Headers(base)
        m = h._map
        for k, vs in base._map.items():
            if drop is None or not k.startswith(drop):
                m[k] = list(vs)
    for k, v in values.items():
        h.set(k, v)
    return h


#: The longest text :func:`header_text` keeps, in characters. nats.go's ``micro`` sends an error
#: description unchanged, so the bound is generous: it only keeps an exception's text from
#: growing a header block without end (the full text travels in the body where there is one).
HEADER_TEXT_LIMIT = 1024


def header_text(text: str, limit: int = HEADER_TEXT_LIMIT) -> str:
    """``text`` as one header value: each run of whitespace (CR and LF among it) becomes one
    space, and a text longer than ``limit`` characters is cut to ``limit``, ending in ``...``."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def header_items(headers: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """``(name, value)`` for every value: all of a :class:`Headers`' repeated values, or a plain
    mapping's items."""
    return headers.multi_items() if isinstance(headers, Headers) else iter(headers.items())


def headers_dict(headers: Mapping[str, str]) -> dict[str, str | list[str]]:
    """A plain dict for showing or JSON: a name with one value maps to it, a name with several to
    the list of them, in order (a plain mapping is copied as it is)."""
    if not isinstance(headers, Headers):
        return dict(headers)
    return {k: (v[0] if len(v) == 1 else list(v)) for k, v in headers._map.items()}


def decode_headers(block: bytes) -> Headers:
    """Decode a received header block (``NATS/1.0...`` up to and including its empty line).

    Raises :class:`ProtocolError` when the block does not start with ``NATS/1.0``, does not end with
    an empty line, has a status that is not a three-digit code, or a line without ``:``.
    """
    if block[:8] != HEADER_LINE or block[-4:] != b"\r\n\r\n":
        raise ProtocolError("a header block must start with 'NATS/1.0' and end with an empty line", block[:64])
    lines = block[:-4].decode("utf-8", "surrogateescape").split("\r\n")
    first = lines[0]
    status = _status(first) if len(first) > 8 else None
    del lines[0]
    mapping: dict[str, list[str]] = {}
    for kv in lines:
        key, colon, value = kv.partition(":")
        if not colon:
            raise ProtocolError("a header line has no ':'", kv[:64].encode("utf-8", "surrogateescape"))
        if key:  # nats.go skips a line with an empty name
            if key in mapping:
                mapping[key].append(value.lstrip(" \t"))
            else:
                mapping[key] = [value.lstrip(" \t")]
    h = _new(Headers)  # the hot path of every HMSG: no __init__ to run
    h._map = mapping
    h.status = status
    return h


def _status(first: str) -> Status:
    rest = first[8:]
    shown = first[:64].encode("utf-8", "surrogateescape")
    if rest[:1] not in (" ", "\t"):
        raise ProtocolError("the header block's first line must be 'NATS/1.0' or 'NATS/1.0 <code> ...'", shown)
    rest = rest.strip(" \t")
    code = rest[:3]
    if len(code) != 3 or not code.isascii() or not code.isdigit() or (len(rest) > 3 and rest[3] not in " \t"):
        raise ProtocolError("a status line's code must be three digits, as in 'NATS/1.0 503'", shown)
    return Status(int(code), rest[3:].strip(" \t"))


def show_status(headers: Headers) -> None:
    """A received message's status line as the ``Status`` and ``Description`` keys too, where every
    reader of a message's status looks for it today (nats-py's convention); keys the server sent
    itself are kept. Nothing happens without a status."""
    status = headers.status
    if status is None:
        return
    if "Status" not in headers:
        headers.set("Status", str(status.code))
    if status.description and "Description" not in headers:
        headers.set("Description", status.description)
