"""Rich display for notebooks: the HTML behind ``_repr_html_`` of clients, subscriptions and messages.

Every piece of text that comes from the network or from the user (subjects, headers, payloads,
server URLs, names) goes through :func:`html.escape`, so a payload such as ``<script>`` is shown,
never run. Payloads are pretty-printed as JSON when they are JSON, and cut to a few thousand
characters so a large message cannot freeze the notebook front end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .._core.html import register_html
from .._core.msg import Msg
from .._core.stats import Stats
from .._core.subscription import Subscription
from .._text import format_size
from ..protocol.headers import header_items

if TYPE_CHECKING:
    from .._core.options import Options


class ClientView(Protocol):
    """What the display shows of a client."""

    @property
    def options(self) -> Options: ...

    @property
    def is_connected(self) -> bool: ...

    @property
    def is_closed(self) -> bool: ...

    @property
    def connected_url(self) -> str | None: ...

    @property
    def stats(self) -> Stats: ...

    def _display_state(self) -> tuple[bool, int | None, list[Subscription]]:
        """(connect() was called, the server's max payload while open, the active subscriptions)"""


__all__ = [
    "client_html",
    "client_state",
    "format_size",
    "message_html",
    "msg_html",
    "payload_text",
    "rows_html",
    "stats_html",
    "subscription_html",
]

#: Pretty-printed payloads are cut past this many characters, or this many lines.
MAX_CHARS = 4000
MAX_LINES = 60
#: Payloads larger than this are not parsed as JSON for display (parsing would cost more than a glance is worth).
MAX_PARSE = 1 << 20
#: Binary payloads show a hex dump of their first bytes.
HEX_BYTES = 256

_BOX = 'style="font-family: var(--jp-code-font-family, monospace); font-size: 12px"'
_TABLE = 'style="border-collapse: collapse; margin: 2px 0"'
_TH = 'style="text-align: left; padding: 1px 10px 1px 0; font-weight: 600; vertical-align: top"'
_TD = 'style="text-align: left; padding: 1px 10px 1px 0; vertical-align: top"'
_PRE = 'style="margin: 2px 0; padding: 4px; max-height: 24em; overflow: auto; white-space: pre-wrap"'


def _cut(text: str, total_bytes: int) -> tuple[str, str]:
    """Cut ``text`` to MAX_LINES/MAX_CHARS; return it and a note saying what was left out ('' if nothing)."""
    lines = text.splitlines()
    cut = text
    if len(lines) > MAX_LINES:
        cut = "\n".join(lines[:MAX_LINES])
    if len(cut) > MAX_CHARS:
        cut = cut[:MAX_CHARS]
    if len(cut) == len(text):
        return text, ""
    return cut, f"... cut for display: showing {len(cut):,} of {len(text):,} characters ({format_size(total_bytes)})"


def payload_text(data: bytes) -> tuple[str, str, str]:
    """Describe a payload for display: ``(kind, text, note)``.

    ``kind`` is ``'empty'``, ``'JSON'`` (pretty-printed), ``'text'`` (UTF-8) or ``'binary'`` (hex dump of
    the first bytes); ``text`` is cut to a displayable size and ``note`` says what was cut.
    """
    if not data:
        return "empty", "", ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        head = data[:HEX_BYTES]
        dump = "\n".join(head[i : i + 32].hex(" ") for i in range(0, len(head), 32))
        note = f"... first {len(head)} of {len(data):,} bytes" if len(data) > len(head) else ""
        return "binary", dump, note
    looks_json = text.lstrip()[:1] in ("{", "[", '"') or text.strip() in ("true", "false", "null")
    if looks_json and len(data) <= MAX_PARSE:
        try:
            value = json.loads(text)
        except ValueError:
            pass
        else:
            pretty = json.dumps(value, indent=2, ensure_ascii=False)
            shown, note = _cut(pretty, len(data))
            return "JSON", shown, note
    shown, note = _cut(text, len(data))
    return "text", shown, note


def _table(rows: Iterable[tuple[str, str]]) -> str:
    """Two-column table; the values are HTML already (callers escape what they put in)."""
    body = "".join(f"<tr><th {_TH}>{escape(k)}</th><td {_TD}>{v}</td></tr>" for k, v in rows)
    return f"<table {_TABLE}>{body}</table>"


def _grid(header: list[str], rows: list[list[str]]) -> str:
    """A table with a header row; every cell is escaped here."""
    head = "".join(f"<th {_TH}>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_TD}>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _payload_block(data: bytes) -> str:
    kind, text, note = payload_text(data)
    if kind == "empty":
        return "<em>empty</em>"
    out = f"<div>{escape(kind)}, {escape(format_size(len(data)))}</div><pre {_PRE}>{escape(text)}</pre>"
    if note:
        out += f"<div><em>{escape(note)}</em></div>"
    return out


def _headers_block(headers: Mapping[str, str] | None) -> str:
    if not headers:
        return "<em>none</em>"
    return _table((str(k), escape(str(v))) for k, v in header_items(headers))


def _box(title: str, badge: str, body: str) -> str:
    badge_html = f' <span style="opacity: 0.7">{escape(badge)}</span>' if badge else ""
    return f"<div {_BOX}><strong>{escape(title)}</strong>{badge_html}{body}</div>"


# -- clients and subscriptions ---------------------------------------------------------------------


def client_state(client: ClientView) -> str:
    """``'not connected'``, ``'connected'``, ``'reconnecting'`` or ``'closed'``."""
    if not client._display_state()[0]:
        return "not connected"
    if client.is_closed:
        return "closed"
    if client.is_connected:
        return "connected"
    return "reconnecting"


def _sub_row(sub: Subscription) -> list[str]:
    return [
        sub.subject,
        sub.queue or "",
        str(sub.sid),
        "callback" if sub._callback is not None else "pull",
        "active" if sub.is_active else "closed",
        f"{sub.pending:,}",
        f"{sub.delivered:,}",
        f"{sub.dropped:,}",
        f"{sub.errors:,}",
    ]


_SUB_HEADER = ["subject", "queue", "sid", "mode", "state", "pending", "delivered", "dropped", "errors"]


def subscription_html(sub: Subscription) -> str:
    """HTML for a :class:`Subscription`: subject, queue group, mode, and its counters."""
    state = "active" if sub.is_active else "closed"
    return _box("Subscription", state, _grid(_SUB_HEADER, [_sub_row(sub)]))


def client_html(client: ClientView) -> str:
    """HTML for a :class:`Client`: server, state, traffic counters and its subscriptions."""
    _, max_payload, subs = client._display_state()
    state = client_state(client)
    where = client.connected_url or ", ".join(client.options.redacted_servers)
    rows = [("server", escape(where)), ("state", escape(state))]
    if client.options.name:
        rows.append(("name", escape(client.options.name)))
    if max_payload is not None:
        rows.append(("max payload", escape(format_size(max_payload))))
    s = client.stats
    rows.append(("in", escape(f"{s.in_msgs:,} msgs, {format_size(s.in_bytes)}")))
    rows.append(("out", escape(f"{s.out_msgs:,} msgs, {format_size(s.out_bytes)}")))
    rows.append(
        (
            "problems",
            escape(
                f"{s.reconnects} reconnects, {s.errors} errors, {s.callback_errors} callback errors, "
                f"{s.dropped:,} dropped"
            ),
        )
    )
    body = _table(rows)
    if subs:
        subs.sort(key=lambda sub: sub.sid)
        body += f"<details open><summary>{len(subs)} subscription(s)</summary>"
        body += _grid(_SUB_HEADER, [_sub_row(sub) for sub in subs]) + "</details>"
    else:
        body += "<div><em>no subscriptions</em></div>"
    return _box("beluga_nats_sync.Client", state, body)


def stats_html(stats: Stats) -> str:
    """HTML for :class:`Stats`: every counter, with byte counts made readable."""
    rows = []
    for field in attrs.fields(type(stats)):
        value = getattr(stats, field.name)
        shown = f"{value:,}"
        if field.name.endswith("_bytes"):
            shown += f" ({format_size(value)})"
        rows.append((field.name, escape(shown)))
    return _box("Stats", "", _table(rows))


# -- messages ---------------------------------------------------------------------------------------


def msg_html(msg: Msg) -> str:
    """HTML for a raw :class:`Msg`: subject, reply, headers and the payload (pretty JSON when it is JSON)."""
    rows = [("subject", escape(msg.subject))]
    if msg.reply:
        rows.append(("reply", escape(msg.reply)))
    rows.append(("headers", _headers_block(msg.headers)))
    rows.append(("data", _payload_block(msg.data)))
    return _box("Msg", format_size(len(msg.data)), _table(rows))


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def message_html(message: Any) -> str:
    """HTML for a Beluga ``Message``: type, id, timestamp and the payload as pretty JSON.

    Takes any object with ``type``, ``payload``, ``timestamp`` and ``message_id`` attributes.
    """
    payload = getattr(message, "payload", None)
    try:
        pretty = json.dumps(payload, indent=2, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):  # a payload that is not JSON after all: show what it is
        pretty = repr(payload)
    shown, note = _cut(pretty, len(pretty.encode("utf-8", "replace")))
    block = f"<pre {_PRE}>{escape(shown)}</pre>"
    if note:
        block += f"<div><em>{escape(note)}</em></div>"
    rows = [
        ("type", escape(str(getattr(message, "type", "")))),
        ("message id", escape(str(getattr(message, "message_id", "")))),
        ("timestamp", escape(_timestamp(getattr(message, "timestamp", "")))),
        ("payload", block),
    ]
    return _box("Message", str(getattr(message, "type", "")), _table(rows))


def _cell(value: Any, width: int = 80) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = repr(bytes(value))
    elif isinstance(value, datetime):
        text = value.isoformat(timespec="milliseconds")
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=repr)
    elif value is None:
        text = ""
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def rows_html(rows: list[dict[str, Any]], columns: list[str], title: str = "messages") -> str:
    """HTML table of dict rows (e.g. the result of ``Client.tail``), long values cut to one line."""
    if not rows:
        return _box(title, "0", "<div><em>nothing received</em></div>")
    return _box(title, f"{len(rows)}", _grid(columns, [[_cell(r.get(c)) for c in columns] for r in rows]))


# What the core objects' ``_repr_html_`` draws (``_core/html.py``): registered when this module is
# imported, which ``beluga_nats_sync/__init__.py`` does.
register_html(Msg, msg_html)
register_html(Stats, stats_html)
register_html(Subscription, subscription_html)
