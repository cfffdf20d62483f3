"""What a command sends: DATA, ``--header`` options, and the Message envelope built from DATA."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from ..protocol.headers import Headers
from ._base import CLIError


def _data(text: str) -> bytes:
    """DATA as bytes; ``-`` reads standard input."""
    if text == "-":
        return sys.stdin.buffer.read()
    return text.encode("utf-8", "surrogateescape")  # arguments that were not UTF-8 come back unchanged


def _headers(items: list[str] | None) -> Headers | None:
    """The ``--header NAME=VALUE`` options; a name given twice gets both values, in order."""
    if not items:
        return None
    from .._core.protocol import encode_headers

    headers = Headers()
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CLIError(f"--header {item!r}: expected NAME=VALUE, e.g. --header trace-id=42")
        headers.add(name, value)
    encode_headers(headers)  # refuse a bad name or value now, before connecting
    return headers


# -- the Message envelope (--message) --------------------------------------------------------------


def _message_class() -> Any:
    try:
        module = importlib.import_module("beluga_nats_sync.message")
    except ImportError as exc:
        raise CLIError(
            f"--message needs the Beluga Message envelope (beluga_nats_sync.message), which cannot be imported: {exc}"
        ) from None
    return module.Message


def _reject_constant(name: str) -> Any:
    raise CLIError(f"DATA is not valid JSON: {name} is not a JSON number (Go agents refuse it)")


def _payload(data: bytes) -> dict[str, Any]:
    """The JSON object given as DATA for a --message payload."""
    example = """e.g. '{"task": "process"}'"""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise CLIError("DATA is not UTF-8 text, so it cannot be a JSON payload") from None
    except json.JSONDecodeError as exc:
        raise CLIError(
            f"DATA is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
            f"the payload of a --message is a JSON object, {example}"
        ) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise CLIError(f"DATA must be a JSON object for the Message payload, got {kind}; {example}")
    return value


class _Body:
    """What pub/request/reply send: fixed bytes, or a fresh Message (new id and time) each time."""

    def __init__(self, args: argparse.Namespace) -> None:
        raw = _data(args.data)
        self._fixed = raw
        self._message: Any = None
        self._payload: dict[str, Any] = {}
        self._type = args.type
        if args.message:
            self._payload = _payload(raw or b"{}")
            self._message = _message_class()
            self.make()  # a payload the envelope refuses is reported before connecting
        self.last_id: str | None = None

    def make(self) -> bytes:
        if self._message is None:
            return self._fixed
        m = self._message(type=self._type, payload=self._payload)
        self.last_id = m.message_id
        return bytes(m.to_json())
