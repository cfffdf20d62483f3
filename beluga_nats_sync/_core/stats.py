"""Stats: a snapshot of a client's counters."""

from __future__ import annotations

import attrs

from .html import html_of

__all__ = ["Stats"]


@attrs.frozen
class Stats:
    """A snapshot of a client's counters."""

    in_msgs: int = 0
    in_bytes: int = 0
    out_msgs: int = 0
    out_bytes: int = 0
    reconnects: int = 0
    #: Asynchronous errors reported (server errors, slow-consumer episodes, ...).
    errors: int = 0
    #: Exceptions raised by subscription callbacks.
    callback_errors: int = 0
    #: Messages dropped by slow consumers.
    dropped: int = 0

    def _repr_html_(self) -> str:
        return html_of(self)
