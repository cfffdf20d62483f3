"""Agents in a notebook: discovered agents as a table, and a prompt's response streaming into the
cell (updated in place when IPython is there, printed as it comes otherwise).

A layer below the agents, which import it when they show themselves: it knows them only by the
protocols below."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Sequence
from html import escape
from typing import Any, Protocol

from .._text import format_size
from .display import _PRE, _box, rows_html

__all__ = ["AGENT_COLUMNS", "LiveResponse", "agent_rows", "agents_html", "stream_html"]


class AgentInfoView(Protocol):
    """What the table shows of an agent's ``AgentInfo``."""

    @property
    def agent(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def session_name(self) -> str: ...
    @property
    def instance_id(self) -> str: ...
    @property
    def protocol_version(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def max_payload(self) -> int | None: ...
    @property
    def attachments_ok(self) -> bool | None: ...


class AgentView(Protocol):
    """A discovered ``Agent``, as the table reads it."""

    @property
    def info(self) -> AgentInfoView: ...


class StreamView(Protocol):
    """A prompt's ``ResponseStream``, as the cell shows it."""

    @property
    def subject(self) -> str: ...
    @property
    def closed(self) -> bool: ...


AGENT_COLUMNS = ["agent", "owner", "session", "instance_id", "protocol", "max_payload", "attachments", "description"]


def agent_rows(agents: Sequence[AgentView]) -> list[dict[str, Any]]:
    """One dict per agent, with the columns of the table (the CLI's ``agents ls`` prints them too)."""
    rows = []
    for a in agents:
        i = a.info
        ok = i.attachments_ok
        rows.append(
            {
                "agent": i.agent,
                "owner": i.owner,
                "session": i.session_name,
                "instance_id": i.instance_id,
                "protocol": i.protocol_version,
                "max_payload": format_size(i.max_payload) if i.max_payload is not None else "",
                "attachments": "" if ok is None else ("yes" if ok else "no"),
                "description": i.description,
            }
        )
    return rows


def agents_html(agents: Sequence[AgentView]) -> str:
    return rows_html(agent_rows(agents), AGENT_COLUMNS, title="agents")


def stream_html(stream: StreamView, text: str = "", note: str = "") -> str:
    state = "ended" if stream.closed else "streaming"
    body = f"<pre {_PRE}>{escape(text)}</pre>" if text else ""
    if note:
        body += f"<div><em>{escape(note)}</em></div>"
    return _box(f"prompt to {stream.subject}", state, body)


class LiveResponse:
    """A prompt's response shown as it grows: an HTML box updated in place when IPython shows the
    cell, the text printed as it comes otherwise. ``ResponseStream.show`` feeds it."""

    def __init__(self, stream: StreamView) -> None:
        self._stream = stream
        self._parts: list[str] = []
        self._ipd: Any = None
        with contextlib.suppress(ImportError):  # IPython is optional: without a shell, printed as it comes
            if importlib.import_module("IPython").get_ipython() is not None:
                self._ipd = importlib.import_module("IPython.display")
        self._handle: Any = None
        if self._ipd is not None:
            self._handle = self._ipd.display(self._ipd.HTML(stream_html(stream)), display_id=True)

    def add(self, text: str) -> None:
        """Another piece of the response."""
        self._parts.append(text)
        self._show(text)

    def failed(self, exc: BaseException) -> None:
        """The stream ended on ``exc``: say so under what came."""
        self._show("", f"{type(exc).__name__}: {exc}")

    def end(self) -> str:
        """The stream ended well: show it so; returns the whole text."""
        self._show("", "")
        if self._handle is None and self._parts:
            print(flush=True)
        return "".join(self._parts)

    def _show(self, chunk_text: str, note: str = "") -> None:
        if self._handle is not None:
            self._handle.update(self._ipd.HTML(stream_html(self._stream, "".join(self._parts), note)))
        elif chunk_text:
            print(chunk_text, end="", flush=True)
