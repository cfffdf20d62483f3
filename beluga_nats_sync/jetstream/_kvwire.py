"""What key-value entries look like on the wire: the entry class, the write headers nats.go
and nats-py use, and reading them back from a stored or delivered message."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..protocol.headers import Headers

__all__ = [
    "HDR_EXPECTED_LAST_SUBJECT_SEQ",
    "HDR_OPERATION",
    "HDR_ROLLUP",
    "OP_DEL",
    "OP_PURGE",
    "KeyValueEntry",
    "KvCallback",
    "operation",
    "parse_headers",
]

# the headers of key-value writes, as nats.go and nats-py send them
HDR_OPERATION = "KV-Operation"
HDR_EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
HDR_ROLLUP = "Nats-Rollup"
OP_DEL = "DEL"
OP_PURGE = "PURGE"


@attrs.frozen
class KeyValueEntry:
    """One revision of a key: ``value`` (b'' for a delete), ``revision`` (the stream sequence,
    growing across the bucket), ``operation`` ('PUT', 'DEL' or 'PURGE'); ``created`` and
    ``delta`` (revisions still to come in a watch) are set on entries from watch and history."""

    bucket: str
    key: str
    value: bytes
    revision: int
    operation: str = "PUT"
    created: datetime.datetime | None = None
    delta: int | None = None


KvCallback = Callable[[KeyValueEntry], Any]


def parse_headers(raw: bytes) -> Headers:
    """A ``NATS/1.0`` header block (as a stored message's ``hdrs`` carries it) as :class:`Headers`,
    every value of a repeated name kept, in order. Lenient: a line without ``:`` is skipped."""
    out = Headers()
    for line in raw.decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        name = name.strip()
        if sep and name:
            out.add(name, value.strip())
    return out


def operation(headers: Mapping[str, str] | None) -> str:
    op = (headers or {}).get(HDR_OPERATION, "")
    return op if op in (OP_DEL, OP_PURGE) else "PUT"
