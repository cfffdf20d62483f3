"""Framing of what a client sends, checked before anything is framed."""

from __future__ import annotations

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.protocol import (
    PING_FRAME,
    PONG_FRAME,
    Headers,
    frame_connect,
    frame_hpub,
    frame_pub,
    frame_sub,
    frame_unsub,
    pub_parts,
)


def test_pub_and_hpub() -> None:
    assert frame_pub("a.b", b"hello") == b"PUB a.b 5\r\nhello\r\n"
    assert frame_pub("a.b", b"", "r.1") == b"PUB a.b r.1 0\r\n\r\n"
    hdr = b"NATS/1.0\r\nK: 1\r\nK: 2\r\n\r\n"
    expected = b"HPUB s r %d %d\r\n%bxy\r\n" % (len(hdr), len(hdr) + 2, hdr)
    assert frame_pub("s", b"xy", "r", {"K": ["1", "2"]}) == expected
    assert frame_hpub("s", b"xy", Headers([("K", "1"), ("K", "2")]), "r") == expected
    assert frame_pub("s", b"xy", "r", hdr) == expected  # an encoded block is used as it is
    assert PING_FRAME == b"PING\r\n" and PONG_FRAME == b"PONG\r\n"


def test_pieces_for_sendmsg_keep_the_payload_object() -> None:
    payload = memoryview(bytearray(b"x" * 70_000))
    head, body, crlf = pub_parts("big", payload, "r")
    assert head == b"PUB big r 70000\r\n" and body is payload and crlf == b"\r\n"
    head, body, _ = pub_parts("big", payload, None, {"A": "b"})
    assert head == b"HPUB big 18 70018\r\nNATS/1.0\r\nA: b\r\n\r\n" and body is payload
    assert b"".join([bytes(p) for p in pub_parts("s", b"ab")]) == frame_pub("s", b"ab")


def test_sizes_are_checked_with_headers_counted() -> None:
    with pytest.raises(bns.PayloadTooLargeError):
        frame_pub("s", b"x" * 31, max_payload=30)
    with pytest.raises(bns.PayloadTooLargeError):
        frame_pub("s", b"x" * 20, None, {"K": "v" * 10}, max_payload=30)
    with pytest.raises(bns.PayloadTooLargeError):
        pub_parts("s", b"x" * 31, max_payload=30)


def test_subjects_replies_and_lines_are_checked() -> None:
    for bad in ("", "a b", "a..b", "a.*", "a.>"):
        with pytest.raises(bns.InvalidSubjectError):
            frame_pub(bad, b"")
    with pytest.raises(bns.InvalidSubjectError, match="reply"):
        frame_pub("s", b"", "bad reply")
    with pytest.raises(TypeError, match="reply"):
        frame_pub("s", b"", 5)  # type: ignore[arg-type]
    with pytest.raises(bns.InvalidSubjectError, match="max_control_line"):
        frame_pub("s", b"", "r" * 5000)
    with pytest.raises(TypeError, match="HPUB needs headers"):
        frame_hpub("s", b"", None)


def test_sub_and_unsub() -> None:
    assert frame_sub("a.*.>", 1) == b"SUB a.*.> 1\r\n"
    assert frame_sub("a", 2, "workers") == b"SUB a workers 2\r\n"
    assert frame_sub("a", 2, "") == b"SUB a 2\r\n"
    assert frame_unsub(3) == b"UNSUB 3\r\n" and frame_unsub(3, 10) == b"UNSUB 3 10\r\n"
    with pytest.raises(bns.InvalidSubjectError):
        frame_sub("a", 1, "bad queue")
    with pytest.raises(bns.InvalidSubjectError):
        frame_sub("a.>.b", 1)
    for bad in (0, -1, True, "1"):
        with pytest.raises(ValueError, match="positive int"):
            frame_sub("a", bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="positive int"):
            frame_unsub(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_msgs"):
        frame_unsub(1, 0)
    with pytest.raises(bns.InvalidSubjectError, match="max_control_line"):
        frame_sub("a", 1, "q" * 5000)


def test_connect() -> None:
    frame = frame_connect({"verbose": False, "name": "agent\r\n1", "headers": True})
    assert frame == b'CONNECT {"verbose":false,"name":"agent\\r\\n1","headers":true}\r\n'
    assert frame.count(b"\r\n") == 1
    with pytest.raises(ValueError, match="plain JSON"):
        frame_connect({"x": float("nan")})
    with pytest.raises(ValueError, match="plain JSON"):
        frame_connect({"x": object()})
    with pytest.raises(TypeError, match="mapping"):
        frame_connect([("a", 1)])  # type: ignore[arg-type]
