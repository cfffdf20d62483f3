"""JetStream acknowledgement subjects and answers, without a server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream.msg import parse_metadata


class Acker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.options = bns.Options()

    def publish(self, subject: str, payload: Any, reply: str | None, headers: Mapping[str, str] | None) -> None:
        self.sent.append((subject, payload))

    def request(self, subject: str, payload: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        self.sent.append((subject, payload))
        return None


def test_old_and_domain_aware_ack_subjects() -> None:
    old = parse_metadata("$JS.ACK.ORDERS.workers.2.10.7.1700000000000000000.3")
    assert old is not None and (old.stream, old.consumer, old.sequence, old.consumer_sequence) == (
        "ORDERS",
        "workers",
        10,
        7,
    )
    assert old.num_delivered == 2 and old.num_pending == 3 and old.domain == ""
    new = parse_metadata("$JS.ACK.hub.ACCHASH.ORDERS.workers.1.5.5.1700000000000000000.0.tok")
    assert new is not None and new.domain == "hub" and new.stream == "ORDERS" and new.sequence == 5
    assert parse_metadata("_INBOX.x") is None
    assert parse_metadata("$JS.ACK.bad") is None
    assert parse_metadata("$JS.ACK.S.c.x.1.1.1.1") is None  # not numbers


def test_one_answer_per_message() -> None:
    acker = Acker()
    m = bns.JetStreamMsg("orders.new", b"x", "$JS.ACK.S.c.1.1.1.1700000000000000000.0", None, acker)
    m.nak(delay=1.5)
    assert acker.sent == [("$JS.ACK.S.c.1.1.1.1700000000000000000.0", b'-NAK {"delay": 1500000000}')]
    assert m.is_acked and m.answer == "nak"
    with pytest.raises(bns.MsgAlreadyAckedError, match="already answered with nak"):
        m.ack()


def test_only_jetstream_messages_can_be_acknowledged() -> None:
    m = bns.JetStreamMsg("plain", b"", "_INBOX.1", None, Acker())
    with pytest.raises(bns.NoReplySubjectError, match="JetStream"):
        m.ack()
