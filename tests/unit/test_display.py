"""Rich display in notebooks: ``_repr_html_`` of Client, Subscription, Msg, Stats and Message (on the
in-memory server)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html.parser import HTMLParser

import attrs
import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._notebook import display as _display
from beluga_nats_sync.testing import MemoryServer

from helpers import wait_for


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[list[str]]:
    """The text of the <td> cells of every table row that has any."""
    parser = _Cells()
    parser.feed(html)
    return [r for r in parser.rows if r]


def test_client_html_shows_server_state_and_subscriptions(memory_server: MemoryServer) -> None:
    nc = memory_server.connect(name="display-agent")
    url = nc.connected_url
    assert url is not None
    try:
        pull = nc.subscribe("disp.pull")
        nc.subscribe("disp.cb", lambda m: None, queue="workers")
        nc.publish("disp.pull", b"1")
        nc.publish("disp.pull", b"2")
        nc.flush(5.0)
        wait_for(lambda: pull.pending == 2, what="two pending messages")
        pull.next_msg(1.0)
        html = nc._repr_html_()
        assert url in html
        assert "connected" in html and "display-agent" in html
        assert "disp.pull" in html and "disp.cb" in html and "workers" in html
        assert "2 subscription(s)" in html
        # the pull subscription's row: 1 pending, 1 delivered, 0 dropped, 0 errors
        (row,) = [r for r in table_rows(html) if r[:1] == ["disp.pull"]]
        assert row == ["disp.pull", "", str(pull.sid), "pull", "active", "1", "1", "0", "0"]
    finally:
        nc.close(5.0)
    closed = nc._repr_html_()
    assert "closed" in closed and "no subscriptions" in closed
    assert "closed" in repr(nc)


def test_unconnected_client_displays() -> None:
    html = bns.Client("nats://127.0.0.1:1")._repr_html_()
    assert "not connected" in html and "nats://127.0.0.1:1" in html


def test_subscription_html_counts_drops(client: bns.Client) -> None:
    sub = client.subscribe("disp.slow", pending_msgs_limit=1)
    for i in range(3):
        client.publish("disp.slow", str(i).encode())
    client.flush(5.0)
    wait_for(lambda: sub.dropped == 2, what="two drops")
    html = sub._repr_html_()
    assert "disp.slow" in html and "pull" in html and "active" in html
    assert table_rows(html) == [["disp.slow", "", str(sub.sid), "pull", "active", "1", "0", "2", "0"]]
    sub.unsubscribe()
    assert "closed" in sub._repr_html_()


def test_everything_from_the_wire_is_escaped(client: bns.Client) -> None:
    sub = client.subscribe("disp.&<i")
    client.publish("disp.&<i", b"<script>alert(1)</script>", headers={"X-Tag": "<img src=x onerror=alert(1)>"})
    msg = sub.next_msg(5.0)
    for html in (msg._repr_html_(), client._repr_html_(), sub._repr_html_()):
        assert "<script>" not in html and "<img" not in html and "&<i" not in html
    html = msg._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "X-Tag" in html
    assert "disp.&amp;&lt;i" in html


def test_json_payload_is_pretty_printed() -> None:
    msg = bns.Msg("a.b", json.dumps({"task": "process", "items": [1, 2]}).encode(), reply="_INBOX.x")
    html = msg._repr_html_()
    assert "JSON" in html and "_INBOX.x" in html
    assert "\n  &quot;task&quot;: &quot;process&quot;," in html  # indented, one key a line
    kind, text, note = _display.payload_text(b'{"a":1}')
    assert (kind, text, note) == ("JSON", '{\n  "a": 1\n}', "")


def test_big_payloads_are_cut_for_display() -> None:
    big = json.dumps({f"key{i}": "x" * 50 for i in range(5000)}).encode()  # ~300 KB
    html = bns.Msg("big", big)._repr_html_()
    assert len(html) < 10 * _display.MAX_CHARS
    assert "cut for display" in html
    kind, text, note = _display.payload_text(b"line\n" * 1000)
    assert kind == "text" and text.count("\n") < _display.MAX_LINES and "of 5,000 characters" in note
    huge = b"[" + b"1," * (_display.MAX_PARSE // 2) + b"1]"
    kind, text, note = _display.payload_text(huge)
    assert kind == "text" and len(text) <= _display.MAX_CHARS and note  # too big to parse: shown as text


def test_binary_and_empty_payloads() -> None:
    kind, text, note = _display.payload_text(bytes(range(256)) * 4)
    assert kind == "binary" and text.startswith("00 01 02") and "first 256 of 1,024 bytes" in note
    assert "empty" in bns.Msg("e")._repr_html_()
    assert _display.payload_text(b"not json {")[0] == "text"


def test_stats_html_and_repr(client: bns.Client) -> None:
    client.publish("disp.stats", b"x" * 2048)
    client.flush(5.0)
    stats = client.stats
    html = stats._repr_html_()
    for field in attrs.fields(bns.Stats):
        assert field.name in html
    assert "2.0 KiB" in html
    assert repr(stats).startswith("Stats(in_msgs=")


def test_format_size() -> None:
    assert [_display.format_size(n) for n in (0, 1023, 1536, 3 << 20, 5 << 30)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "3.0 MiB",
        "5.0 GiB",
    ]


@attrs.frozen
class _Envelope:
    type: str
    payload: dict[str, object]
    timestamp: datetime
    message_id: str


def test_message_html_from_any_envelope() -> None:
    m = _Envelope(
        "request", {"task": "<b>x</b>", "n": [1, 2]}, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "id-1"
    )
    html = _display.message_html(m)
    assert "request" in html and "id-1" in html and "2026-01-02T03:04:05+00:00" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x" not in html
    assert "&quot;n&quot;: [\n    1," in html


def test_message_html_of_the_real_message() -> None:
    try:
        from beluga_nats_sync.message import Message
    except ImportError as exc:
        pytest.skip(f"beluga_nats_sync.message is not importable yet: {exc}")
    m = Message(type="task", payload={"big": "y" * 20000})
    html = _display.message_html(m)
    assert "task" in html and m.message_id in html and "cut for display" in html


def test_message_renders_as_html() -> None:
    m = bns.Message(type="<req>", payload={"k": "<v>"}, message_id="id-1")
    html = m._repr_html_()
    assert "&lt;req&gt;" in html and "id-1" in html and "<req>" not in html
