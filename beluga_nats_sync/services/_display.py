"""Tables of services: the rows the CLI prints and the HTML a notebook shows.

Everything that comes from the network (names, descriptions, metadata, errors) is escaped.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, Protocol

__all__ = ["duration_text", "service_html", "table", "table_html"]


class ServiceView(Protocol):
    """What the HTML shows of a ``Service`` (named by this protocol, not imported: the service
    imports this module to show itself)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def stopped(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...


_BOX = 'style="font-family: var(--jp-code-font-family, monospace); font-size: 12px"'
_TABLE = 'style="border-collapse: collapse; margin: 2px 0"'
_TH = 'style="text-align: left; padding: 1px 10px 1px 0; font-weight: 600; vertical-align: top"'
_TD = 'style="text-align: left; padding: 1px 10px 1px 0; vertical-align: top"'
_WIDTH = 80

COLUMNS = {
    "PING": ["name", "id", "version", "metadata"],
    "INFO": ["name", "id", "version", "description", "endpoints"],
    "STATS": ["name", "id", "endpoint", "subject", "queue", "requests", "errors", "average", "last error"],
}


def duration_text(ns: Any) -> str:
    """``12345`` (nanoseconds) -> ``'12.3 us'``."""
    if isinstance(ns, bool) or not isinstance(ns, (int, float)):
        return ""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else ""
    else:
        text = str(value)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def table(verb: str, docs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The columns and rows (text cells) for discovery replies of ``verb``; STATS has a row per endpoint."""
    columns = COLUMNS[verb]
    rows: list[list[str]] = []
    for doc in docs:
        ident = [_text(doc.get("name")), _text(doc.get("id"))]
        if verb == "PING":
            rows.append([*ident, _text(doc.get("version")), _text(doc.get("metadata"))])
        elif verb == "INFO":
            subjects = ", ".join(str(_dict(e).get("subject", "")) for e in _list(doc.get("endpoints")))
            rows.append([*ident, _text(doc.get("version")), _text(doc.get("description")), _text(subjects)])
        else:
            endpoints = _list(doc.get("endpoints")) or [{}]
            for e in map(_dict, endpoints):
                rows.append(
                    [
                        *ident,
                        _text(e.get("name")),
                        _text(e.get("subject")),
                        _text(e.get("queue_group")),
                        _text(e.get("num_requests")),
                        _text(e.get("num_errors")),
                        duration_text(e.get("average_processing_time")),
                        _text(e.get("last_error")),
                    ]
                )
    return columns, rows


def _grid(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th {_TH}>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td {_TD}>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _box(title: str, badge: str, body: str) -> str:
    badge_html = f' <span style="opacity: 0.7">{escape(badge)}</span>' if badge else ""
    return f"<div {_BOX}><strong>{escape(title)}</strong>{badge_html}{body}</div>"


def table_html(verb: str, docs: list[dict[str, Any]], title: str) -> str:
    """A discovery result as an HTML table."""
    if not docs:
        return _box(title, "0", "<div><em>no service answered</em></div>")
    columns, rows = table(verb, docs)
    return _box(title, f"{len(docs)} instance(s)", _grid(columns, rows))


def service_html(svc: ServiceView) -> str:
    """A service of this process: its identity, then a row per endpoint with its counters."""
    stats = svc.stats()
    ident = [
        ("id", svc.id),
        ("description", svc.description),
        ("metadata", _text(svc.metadata)),
        ("started", stats["started"]),
    ]
    head = "".join(f"<tr><th {_TH}>{escape(k)}</th><td {_TD}>{escape(v)}</td></tr>" for k, v in ident)
    columns = ["endpoint", "subject", "queue", "requests", "errors", "average", "last error"]
    rows = [
        [
            _text(e["name"]),
            _text(e["subject"]),
            _text(e["queue_group"]),
            str(e["num_requests"]),
            str(e["num_errors"]),
            duration_text(e["average_processing_time"]),
            _text(e["last_error"]),
        ]
        for e in stats["endpoints"]
    ]
    endpoints = _grid(columns, rows) if rows else "<div><em>no endpoints</em></div>"
    state = "stopped" if svc.stopped else "running"
    return _box(f"Service {svc.name} {svc.version}", state, f"<table {_TABLE}>{head}</table>{endpoints}")
