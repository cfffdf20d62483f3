"""How what arrives is printed: one line for a terminal, one JSON object per line, text columns."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from .._text import format_size
from ..protocol.headers import header_items, headers_dict

if TYPE_CHECKING:
    from .._core.msg import Msg


_CONTROLS: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROLS.update({ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})


def escape_controls(text: str) -> str:
    """Write control characters (C0, DEL, C1) as escapes such as ``\\x1b`` and ``\\n``.

    What a terminal prints then cannot move the cursor, clear the screen or change colours, and
    one message stays on one line.
    """
    return text.translate(_CONTROLS)


def _message_dict(message: Any) -> dict[str, Any]:
    ts = message.timestamp
    return {
        "type": message.type,
        "payload": message.payload,
        "timestamp": ts.isoformat() if hasattr(ts, "isoformat") else str(ts),
        "message_id": message.message_id,
    }


def _message_text(message: Any) -> str:
    d = _message_dict(message)
    payload = json.dumps(d["payload"], ensure_ascii=False, default=str)
    return f"Message type={d['type']!r} id={d['message_id']} at {d['timestamp']}: {payload}"


# -- received messages ----------------------------------------------------------------------------


def _record(seq: int, msg: Msg, decoded: Any = None, error: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "seq": seq,
        "subject": msg.subject,
        "reply": msg.reply or None,
        "headers": headers_dict(msg.headers) if msg.headers else None,
        "size": len(msg.data),
    }
    try:
        rec["data"] = msg.data.decode("utf-8")
    except UnicodeDecodeError:
        rec["data_base64"] = base64.b64encode(msg.data).decode("ascii")
    if decoded is not None:
        rec["message"] = _message_dict(decoded)
    if error is not None:
        rec["error"] = error
    return rec


def _line(seq: int, msg: Msg, decoded: Any = None) -> str:
    """One line for a terminal: bytes that are not UTF-8 and control characters are escaped."""
    head = f"[#{seq}] {msg.subject} ({format_size(len(msg.data))})"
    if msg.reply:
        head += f" reply={msg.reply}"
    if msg.headers:
        head += " [" + ", ".join(f"{k}={v}" for k, v in header_items(msg.headers)) + "]"
    if decoded is not None:
        return escape_controls(f"{head} {_message_text(decoded)}")
    return escape_controls(f"{head}: {msg.data.decode('utf-8', 'backslashreplace')}")


def _json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _service_columns(rows: list[list[str]], header: list[str]) -> list[str]:
    """Rows as aligned text columns (the last one is not padded)."""
    table = [[h.upper() for h in header], *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [
        ("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True)) + "  " + r[-1]).rstrip() for r in table
    ]
