"""``Client.tail``: a few messages from a subject, as rows (and a DataFrame when pandas is there)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timezone

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.testing import MemoryServer

from helpers import wait_for


@pytest.fixture
def ticker(make_client: object) -> Iterator[threading.Event]:
    """Publishes {"seq": i} on tail.ticks (with a header) every few ms until the test ends."""
    pub = make_client()  # type: ignore[operator]
    stop = threading.Event()

    def run() -> None:
        i = 0
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            pub.publish("tail.ticks", json.dumps({"seq": i}).encode(), headers={"n": str(i)})
            i += 1
            stop.wait(0.002)

    t = threading.Thread(target=run, name="test-ticker", daemon=True)
    t.start()
    yield stop
    stop.set()
    t.join(5.0)


def test_tail_collects_n_messages_in_order(
    client: bns.Client, ticker: threading.Event, memory_server: MemoryServer
) -> None:
    rows = client.tail("tail.ticks", n=5, timeout=10.0)
    assert isinstance(rows, list) and isinstance(rows, bns.TailResult)
    assert len(rows) == 5
    seqs = [r["json"]["seq"] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 5))  # consecutive: nothing lost, in order
    first = rows[0]
    assert set(first) == {"time", "subject", "reply", "size", "headers", "data", "json"}
    assert first["subject"] == "tail.ticks" and first["reply"] is None
    assert first["headers"] == {"n": str(seqs[0])}
    assert first["data"] == json.dumps({"seq": seqs[0]}) and first["size"] == len(first["data"])
    assert first["time"].tzinfo is timezone.utc
    assert not memory_server.has_interest("tail.ticks")  # the subscription is gone
    html = rows._repr_html_()
    assert "tail tail.ticks" in html and "&quot;seq&quot;" in html


def test_tail_with_wildcards_returns_what_came_within_the_timeout(
    client: bns.Client, memory_server: MemoryServer
) -> None:
    client.publish("tail.other", b"not yet subscribed")
    rows = client.tail("tail.quiet.>", n=3, timeout=0.2)
    assert rows == [] and not memory_server.has_interest("tail.quiet.x")
    assert "nothing received" in rows._repr_html_()


def test_tail_keeps_binary_data_as_bytes(client: bns.Client, memory_server: MemoryServer) -> None:
    done: list[bns.TailResult] = []
    t = threading.Thread(target=lambda: done.append(client.tail("tail.mixed", n=3, timeout=10.0)), daemon=True)
    t.start()
    wait_for(lambda: memory_server.has_interest("tail.mixed"), what="tail's subscription")
    # same connection: the server sees tail's SUB before these PUBs
    for payload in (b"\xff\xfe", b"plain text", b"[1, 2]"):
        client.publish("tail.mixed", payload)
    t.join(15.0)
    (rows,) = done
    assert [r["data"] for r in rows] == [b"\xff\xfe", "plain text", "[1, 2]"]
    assert [r["json"] for r in rows] == [None, None, [1, 2]]


def test_tail_to_dataframe(client: bns.Client, ticker: threading.Event) -> None:
    pd = pytest.importorskip("pandas")
    df = client.tail("tail.ticks", n=3, timeout=10.0).to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["time", "subject", "reply", "size", "headers", "data", "json"]
    assert len(df) == 3 and set(df["subject"]) == {"tail.ticks"}


def test_to_dataframe_without_pandas_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    rows = bns.TailResult([{"subject": "a"}])
    with pytest.raises(ImportError, match="pip install pandas"):
        rows.to_dataframe()


def test_tail_refuses_bad_input_before_subscribing(client: bns.Client, memory_server: MemoryServer) -> None:
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        client.tail("tail.x", n=0)
    with pytest.raises(bns.InvalidSubjectError):
        client.tail("tail..x")
    with pytest.raises(ValueError, match="timeout"):
        client.tail("tail.x", timeout=-1)
    assert not memory_server.has_interest("tail.x")
    assert client.stats.out_msgs == 0 and "subscriptions=0" in repr(client)
