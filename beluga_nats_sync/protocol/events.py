"""What the server sends besides messages: PING, PONG, +OK, -ERR and INFO, as small values.

INFO is checked once here, so the engine can read it without guarding every field: it must be a
JSON object; the fields a client acts on, when present, must have the type and range below.
Unknown fields pass through untouched (servers add fields over time).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ..errors import ProtocolError

__all__ = [
    "MAX_PAYLOAD_LIMIT",
    "OK",
    "PING",
    "PONG",
    "ControlEvent",
    "Info",
    "Ok",
    "Ping",
    "Pong",
    "ServerError",
    "parse_info",
]

#: the largest ``max_payload`` accepted from a server (nats-server refuses more than 64 MiB)
MAX_PAYLOAD_LIMIT = 64 * 1024 * 1024
_MAX_CONNECT_URLS = 4096


class Ping:
    """The server's PING: answer it with a PONG."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PING"


class Pong:
    """The server's PONG: the answer to our oldest outstanding PING."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PONG"


class Ok:
    """``+OK`` (only in verbose mode)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "+OK"


PING = Ping()
PONG = Pong()
OK = Ok()


class Info(NamedTuple):
    """The server's INFO, a JSON object whose known fields were checked (see :func:`parse_info`)."""

    info: dict[str, Any]


class ServerError(NamedTuple):
    """``-ERR '<text>'``: the server's text without its quotes (UTF-8; other bytes are a protocol error)."""

    text: str


ControlEvent = Ping | Pong | Ok | Info | ServerError

_STR_FIELDS = ("server_id", "server_name", "version", "go", "host", "nonce", "cluster", "domain", "client_ip", "xkey")
_BOOL_FIELDS = (
    "headers",
    "auth_required",
    "tls_required",
    "tls_verify",
    "tls_available",
    "ldm",
    "jetstream",
)
#: field -> (low, high): integers (never bools) in this closed range
_INT_FIELDS = {
    "max_payload": (1, MAX_PAYLOAD_LIMIT),
    "port": (0, 65535),
    "proto": (0, 1 << 16),
    "client_id": (0, (1 << 64) - 1),
}


def parse_info(raw: bytes) -> Info:
    """Check INFO's JSON text and return it as :class:`Info`; raise :class:`ProtocolError` otherwise.

    Checked when present: ``max_payload`` an int from 1 to 64 MiB; ``port``, ``proto``,
    ``client_id`` ints in range; ``server_id``, ``version``, ``host``, ``nonce``, ... strings;
    ``headers``, ``auth_required``, ``tls_required``, ``ldm``, ... booleans; ``connect_urls`` and
    ``ws_connect_urls`` lists of at most 4096 non-empty strings without whitespace.
    """
    try:
        info = json.loads(raw)
    except Exception as exc:  # the decoder's errors (ValueError, RecursionError, ...) are not ours to leak
        raise ProtocolError(f"INFO is not valid JSON ({type(exc).__name__})", raw[:64]) from None
    if not isinstance(info, dict):
        raise ProtocolError(f"INFO must be a JSON object, got a JSON {type(info).__name__}", raw[:64])
    for name in _STR_FIELDS:
        if name in info and not isinstance(info[name], str):
            raise ProtocolError(f"INFO field {name!r} must be a string, got {_shown(info[name])}")
    for name in _BOOL_FIELDS:
        if name in info and not isinstance(info[name], bool):
            raise ProtocolError(f"INFO field {name!r} must be true or false, got {_shown(info[name])}")
    for name, (low, high) in _INT_FIELDS.items():
        if name in info:
            value = info[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ProtocolError(f"INFO field {name!r} must be an integer from {low} to {high}, got {_shown(value)}")
    for name in ("connect_urls", "ws_connect_urls"):
        if name in info:
            _check_urls(name, info[name])
    return Info(info)


def _check_urls(name: str, urls: Any) -> None:
    if not isinstance(urls, list) or len(urls) > _MAX_CONNECT_URLS:
        raise ProtocolError(f"INFO field {name!r} must be a list of at most {_MAX_CONNECT_URLS} strings")
    for url in urls:
        if not isinstance(url, str) or not _is_host_port(url):
            raise ProtocolError(f"INFO field {name!r} holds {_shown(url)}: expected 'host:port' strings")


def _is_host_port(url: str) -> bool:
    """``host:port`` (``[v6]:port`` for IPv6), an optional ``scheme://`` before it, nothing else."""
    if not url or len(url) > 512 or any(c.isspace() for c in url):
        return False
    _, sep, rest = url.rpartition("://")
    if not sep:
        rest = url
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or len(port) > 5 or int(port) > 65535 or not host:
        return False
    if host.startswith("["):
        return host.endswith("]") and len(host) > 2 and "[" not in host[1:] and "]" not in host[:-1]
    return "[" not in host and "]" not in host and ":" not in host and "/" not in host and "@" not in host


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
