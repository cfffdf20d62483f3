"""Pull subscriptions on the client's own pull requests, against a real nats-server with JetStream."""

from __future__ import annotations

import threading
import uuid

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream

from helpers import wait_for


@pytest.fixture
def js(client: bns.Client) -> JetStream:
    return client.jetstream(timeout=5.0)


def test_unsubscribe_ends_a_fetch_waiting_in_another_thread(js: JetStream) -> None:
    name = f"F_{uuid.uuid4().hex[:8]}"
    js.add_stream(name=name, subjects=[f"{name}.>"])
    try:
        sub = js.pull_subscribe(f"{name}.x", durable="waiter")
        outcome: list[BaseException] = []
        ended = threading.Event()

        def fetch() -> None:
            try:
                sub.fetch(1, timeout=30.0)
            except BaseException as exc:
                outcome.append(exc)
            ended.set()

        t = threading.Thread(target=fetch)
        t.start()
        wait_for(lambda: js.consumer_info(name, "waiter").num_waiting == 1, 5.0, "the pull request waiting")
        sub.unsubscribe()
        assert ended.wait(2.0), "fetch still waiting after unsubscribe"
        t.join(2.0)
        assert len(outcome) == 1 and isinstance(outcome[0], bns.ClosedError)
    finally:
        js.delete_stream(name)


def test_fetch_returns_what_is_there_at_once_and_waits_only_when_nothing_is(js: JetStream) -> None:
    name = f"F_{uuid.uuid4().hex[:8]}"
    js.add_stream(name=name, subjects=[f"{name}.>"])
    try:
        for i in range(3):
            js.publish(f"{name}.x", b"%d" % i)
        sub = js.pull_subscribe(f"{name}.x", durable="quick")
        got = sub.fetch(10, timeout=20.0)  # three are there: no waiting for ten
        assert [m.data for m in got] == [b"0", b"1", b"2"]
        for m in got:
            m.ack()
        late = threading.Timer(0.2, lambda: js.publish(f"{name}.x", b"late"))
        late.start()
        try:
            got = sub.fetch(1, timeout=10.0)  # nothing there: waits for the next one
        finally:
            late.join(5.0)
        assert [m.data for m in got] == [b"late"]
        got[0].ack()
    finally:
        js.delete_stream(name)
