"""DeadLetter.from_msg and dead_letter_headers, on hand-built messages (no server)."""

from __future__ import annotations

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.deadletter import DEPRECATED_NAMES, DeadLetter, dead_letter_headers


def test_a_jetstream_dead_letter_with_only_the_old_names_is_read() -> None:
    headers = bns.Headers(
        {
            "Beluga-Error": "ValueError: no",
            "Beluga-Stream": "ORDERS",
            "Beluga-Consumer": "workers",
            "Beluga-Stream-Seq": "17",
            "Beluga-Num-Delivered": "3",
            "Beluga-Subject": "orders.new",
            "Beluga-Msg-Id": "order-9",
            "Tag": ["a", "b"],
        }
    )
    dead = DeadLetter.from_msg(bns.Msg("orders.dlq", b"poison", headers=headers))
    assert dead == DeadLetter(
        subject="orders.new",
        attempts=3,
        message_id="order-9",
        error="ValueError: no",
        error_type="",
        stream="ORDERS",
        consumer="workers",
        stream_seq=17,
        headers=headers,
        data=b"poison",
    )


def test_the_new_names_win_over_the_old_ones() -> None:
    headers = {
        "Beluga-Error": "x",
        "Beluga-Original-Subject": "new.subject",
        "Beluga-Subject": "old.subject",
        "Beluga-Attempts": "4",
        "Beluga-Num-Delivered": "9",
        "Beluga-Message-Id": "new-id",
        "Beluga-Msg-Id": "old-id",
    }
    dead = DeadLetter.from_msg(bns.Msg("d", headers=headers))
    assert (dead.subject, dead.attempts, dead.message_id) == ("new.subject", 4, "new-id")


def test_a_bus_dead_letter_has_no_stream_fields() -> None:
    headers = {"Beluga-Error": "boom", "Beluga-Error-Type": "RuntimeError", "Beluga-Original-Subject": "a.b"}
    dead = DeadLetter.from_msg(bns.Msg("a.b.dlq", b"{}", headers=headers))
    assert (dead.error, dead.error_type, dead.subject) == ("boom", "RuntimeError", "a.b")
    assert (dead.attempts, dead.message_id, dead.stream, dead.consumer, dead.stream_seq) == (0, "", "", "", None)


@pytest.mark.parametrize("headers", [None, {}, {"Beluga-Original-Subject": "a"}])
def test_a_message_without_an_error_header_is_not_a_dead_letter(headers: dict[str, str] | None) -> None:
    with pytest.raises(bns.MessageDecodeError, match="not a dead letter"):
        DeadLetter.from_msg(bns.Msg("a.dlq", headers=headers))


@pytest.mark.parametrize("value", ["three", "-1", "²", " 3"])
def test_a_count_that_is_not_a_whole_number_is_refused(value: str) -> None:
    msg = bns.Msg("d", headers={"Beluga-Error": "x", "Beluga-Num-Delivered": value})
    with pytest.raises(bns.MessageDecodeError, match="Beluga-Attempts"):
        DeadLetter.from_msg(msg)


def test_headers_write_the_old_names_only_when_asked_and_leave_out_empty_fields() -> None:
    plain = dead_letter_headers({"Tag": ["1", "2"]}, subject="s", attempts=2, error="e")
    assert plain == {"Tag": ["1", "2"], "Beluga-Error": "e", "Beluga-Original-Subject": "s", "Beluga-Attempts": "2"}
    both = dead_letter_headers(
        {"Nats-Msg-Id": "m", "Keep": "k"},
        subject="s",
        attempts=2,
        error="e",
        error_type="ValueError",
        message_id="m",
        stream="S",
        consumer="C",
        stream_seq=5,
        deprecated_names=True,
        drop="Nats-",
    )
    assert "Nats-Msg-Id" not in both and both["Keep"] == "k"
    for new, old in DEPRECATED_NAMES.items():
        assert both[new] == both[old] != ""
    assert (both["Beluga-Stream"], both["Beluga-Consumer"], both["Beluga-Stream-Seq"]) == ("S", "C", "5")
    assert DeadLetter.from_msg(bns.Msg("d", headers=both)).error_type == "ValueError"
