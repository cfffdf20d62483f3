"""The NATS client protocol, sans I/O: parse what a server sends, frame what a client sends.

No sockets, no threads, no clock: the engine feeds the bytes it reads to a :class:`Parser` and
writes the bytes the framing functions return. Everything here is bounded, linear in its input,
tested without a server and fuzzed. It imports nothing from the rest of the package but
:mod:`beluga_nats_sync.errors`.
"""

from __future__ import annotations

from .checks import DEFAULT_MAX_CONTROL_LINE, check_control_line, check_queue, check_subject
from .events import OK, PING, PONG, ControlEvent, Info, Ok, Ping, Pong, ServerError, parse_info
from .framing import (
    PING_FRAME,
    PONG_FRAME,
    frame_connect,
    frame_hpub,
    frame_pub,
    frame_sub,
    frame_unsub,
    pub_parts,
)
from .headers import Headers, Status, decode_headers, encode_headers
from .parser import DEFAULT_MAX_PAYLOAD, MsgCallback, Parser

__all__ = [
    "DEFAULT_MAX_CONTROL_LINE",
    "DEFAULT_MAX_PAYLOAD",
    "OK",
    "PING",
    "PING_FRAME",
    "PONG",
    "PONG_FRAME",
    "ControlEvent",
    "Headers",
    "Info",
    "MsgCallback",
    "Ok",
    "Parser",
    "Ping",
    "Pong",
    "ServerError",
    "Status",
    "check_control_line",
    "check_queue",
    "check_subject",
    "decode_headers",
    "encode_headers",
    "frame_connect",
    "frame_hpub",
    "frame_pub",
    "frame_sub",
    "frame_unsub",
    "parse_info",
    "pub_parts",
]
