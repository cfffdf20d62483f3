"""``Client.tail``: collect a few messages from a subject into rows, to look at traffic in a notebook."""

from __future__ import annotations

import importlib
import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .._core.protocol import check_subject, check_timeout
from ..errors import ClosedError, NATSTimeoutError
from ..protocol.headers import headers_dict
from .display import MAX_PARSE, rows_html

if TYPE_CHECKING:
    from .._core.msg import Msg
    from .._core.options import Options
    from .._core.subscription import Subscription


class Subscriber(Protocol):
    """What ``tail`` needs of a client."""

    @property
    def options(self) -> Options: ...

    def subscribe(self, subject: str) -> Subscription: ...


__all__ = ["TailResult", "msg_row", "tail"]

COLUMNS = ["time", "subject", "reply", "size", "headers", "data", "json"]


class TailResult(list[dict[str, Any]]):
    """The messages collected by :meth:`Client.tail`: a plain list of dicts, one per message.

    Each dict has the keys ``time`` (an aware UTC ``datetime``: when the message was taken),
    ``subject``, ``reply`` (``None`` when there is none), ``size`` (payload bytes), ``headers``
    (a dict or ``None``), ``data`` (``str`` when the payload is UTF-8, else ``bytes``) and
    ``json`` (the decoded value when the payload is a JSON document, else ``None``).
    In a notebook it shows as a table; :meth:`to_dataframe` turns it into a pandas DataFrame.
    """

    subject: str = ""

    def to_dataframe(self) -> Any:
        """Return the rows as a ``pandas.DataFrame`` (one column per key).

        pandas is not a dependency of this library: this raises ``ImportError`` with the install
        command when it is missing.
        """
        try:
            pandas = importlib.import_module("pandas")
        except ImportError:
            raise ImportError(
                "to_dataframe() needs pandas, which beluga-nats-sync does not install; run `pip install pandas` "
                "(the rows are also a plain list of dicts)"
            ) from None
        return pandas.DataFrame(list(self), columns=COLUMNS)

    def _repr_html_(self) -> str:
        return rows_html(list(self), COLUMNS, title=f"tail {self.subject}".strip())


def _json_value(text: str, size: int) -> Any:
    if size > MAX_PARSE or text.lstrip()[:1] not in ("{", "["):
        return None  # only documents (objects, arrays): a bare 42 or "x" is text in a table
    try:
        return json.loads(text)
    except ValueError:
        return None


def msg_row(msg: Msg, received: datetime | None = None) -> dict[str, Any]:
    """One message as a dict with the keys of :class:`TailResult`."""
    data: str | bytes
    value: Any = None
    try:
        data = msg.data.decode("utf-8")
    except UnicodeDecodeError:
        data = msg.data
    else:
        value = _json_value(data, len(msg.data))
    return {
        "time": received or datetime.now(timezone.utc),
        "subject": msg.subject,
        "reply": msg.reply or None,
        "size": len(msg.data),
        "headers": headers_dict(msg.headers) if msg.headers else None,
        "data": data,
        "json": value,
    }


def tail(client: Subscriber, subject: str, n: int = 10, timeout: float | None = 5.0) -> TailResult:
    """Subscribe to ``subject`` and collect up to ``n`` messages, for at most ``timeout`` seconds in all.

    Returns what arrived (possibly nothing) without raising a timeout; the subscription is removed
    before returning, also when interrupted (Ctrl-C / "interrupt kernel" raises ``KeyboardInterrupt``).
    """
    check_subject(subject, wildcards=True)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1 (how many messages to collect), got {n!r}")
    t = check_timeout(timeout, client.options.timeout)
    rows = TailResult()
    rows.subject = subject
    sub = client.subscribe(subject)
    deadline = time.monotonic() + t
    try:
        while len(rows) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                msg = sub.next_msg(remaining)
            except (NATSTimeoutError, ClosedError):
                break
            rows.append(msg_row(msg))
    finally:
        sub.unsubscribe()
    return rows
