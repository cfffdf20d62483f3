"""Agents in a notebook: discovered agents as a table, and a prompt's response streaming into the
cell (updated in place when IPython is there, printed as it comes otherwise)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from .display import _PRE, _box, format_size, rows_html

if TYPE_CHECKING:
    from ..agents import Agent, QueryChunk, ResponseStream

__all__ = ["AGENT_COLUMNS", "agent_rows", "agents_html", "show_stream", "stream_html"]

AGENT_COLUMNS = ["agent", "owner", "session", "instance_id", "protocol", "max_payload", "attachments", "description"]


def agent_rows(agents: Sequence[Agent]) -> list[dict[str, Any]]:
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


def agents_html(agents: Sequence[Agent]) -> str:
    return rows_html(agent_rows(agents), AGENT_COLUMNS, title="agents")


def stream_html(stream: ResponseStream, text: str = "", note: str = "") -> str:
    state = "ended" if stream.closed else "streaming"
    body = f"<pre {_PRE}>{escape(text)}</pre>" if text else ""
    if note:
        body += f"<div><em>{escape(note)}</em></div>"
    return _box(f"prompt to {stream.subject}", state, body)


def show_stream(stream: ResponseStream, on_query: Callable[[QueryChunk], str] | None = None) -> str:
    """Read ``stream`` to its end, showing the response as it grows; returns the whole text."""
    from ..agents import AgentError, QueryChunk, ResponseChunk

    ipd: Any = None
    with contextlib.suppress(ImportError):  # IPython is optional: without a shell, printed as it comes
        if importlib.import_module("IPython").get_ipython() is not None:
            ipd = importlib.import_module("IPython.display")
    handle: Any = None
    if ipd is not None:
        handle = ipd.display(ipd.HTML(stream_html(stream)), display_id=True)
    parts: list[str] = []

    def show(chunk_text: str, note: str = "") -> None:
        if handle is not None:
            handle.update(ipd.HTML(stream_html(stream, "".join(parts), note)))
        elif chunk_text:
            print(chunk_text, end="", flush=True)

    with stream:
        try:
            for chunk in stream:
                if isinstance(chunk, ResponseChunk):
                    parts.append(chunk.text)
                    show(chunk.text)
                elif isinstance(chunk, QueryChunk):
                    if on_query is None:
                        raise AgentError(f"the agent asked {chunk.prompt!r}; pass on_query= to answer queries")
                    chunk.reply(on_query(chunk))
        except BaseException as exc:
            show("", f"{type(exc).__name__}: {exc}")
            raise
    show("", "")
    if handle is None and parts:
        print(flush=True)
    return "".join(parts)
