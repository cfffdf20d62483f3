"""Framing and input checks, without a server."""

from __future__ import annotations

import math

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._core.protocol import (
    MAX_TIMEOUT,
    check_subject,
    check_timeout,
    encode_headers,
    frame_pub,
    payload_bytes,
    pub_prefix,
)


def test_plain_pub_frame() -> None:
    assert pub_prefix("a.b") == b"PUB a.b "
    assert frame_pub("a.b", b"hello", None, None, 1024) == b"PUB a.b 5\r\nhello\r\n"
    assert frame_pub("a.b", b"", "r.1", None, 1024) == b"PUB a.b r.1 0\r\n\r\n"


def test_hpub_frame_counts_headers_and_payload() -> None:
    cmd = frame_pub("s", b"xy", "r", {"K": "v"}, 1024)
    hdr = b"NATS/1.0\r\nK: v\r\n\r\n"
    assert cmd == b"HPUB s r %d %d\r\n%bxy\r\n" % (len(hdr), len(hdr) + 2, hdr)


def test_headers_and_payload_together_respect_max_payload() -> None:
    with pytest.raises(bns.PayloadTooLargeError):
        frame_pub("s", b"x" * 20, None, {"K": "v" * 10}, 30)


@pytest.mark.parametrize("bad", ["", "a..b", ".a", "a.", "a b", "a\tb", "a.>.b", "a.*"])
def test_bad_publish_subjects(bad: str) -> None:
    with pytest.raises(bns.InvalidSubjectError):
        check_subject(bad)


def test_wildcards_only_where_allowed() -> None:
    assert check_subject("a.*.c", wildcards=True) == "a.*.c"
    assert check_subject("a.>", wildcards=True) == "a.>"
    with pytest.raises(bns.InvalidSubjectError, match="last token"):
        check_subject("a.>.c", wildcards=True)
    with pytest.raises(TypeError, match="str"):
        check_subject(b"a")


def test_reply_is_checked() -> None:
    with pytest.raises(bns.InvalidSubjectError, match="reply"):
        frame_pub("s", b"", "bad reply", None, 1024)
    with pytest.raises(TypeError, match="reply"):
        frame_pub("s", b"", 5, None, 1024)  # type: ignore[arg-type]


def test_headers_are_checked() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_headers({"K": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="not accepted"):
        encode_headers({"Bad Name": "v"})
    with pytest.raises(TypeError, match="mapping"):
        encode_headers([("K", "v")])


def test_payload_types() -> None:
    assert payload_bytes(bytearray(b"ab")) == b"ab"
    assert payload_bytes(memoryview(b"ab")) == b"ab"
    assert payload_bytes(None) == b""
    with pytest.raises(TypeError, match="encode"):
        payload_bytes("text")
    with pytest.raises(TypeError, match="bytes-like"):
        payload_bytes(3)


def test_timeouts() -> None:
    assert check_timeout(None, 7.0) == 7.0
    assert check_timeout(2, 7.0) == 2.0
    assert check_timeout(0, 7.0) == 0.0  # next_msg(0): do not wait
    for bad in (-1, math.nan, math.inf, 1e10, MAX_TIMEOUT * 2):
        with pytest.raises(ValueError, match="finite number of seconds"):
            check_timeout(bad, 1.0)
    with pytest.raises(ValueError, match="> 0"):
        check_timeout(0, 1.0, wait=True)  # a call that must wait for an answer cannot wait 0
    with pytest.raises(TypeError):
        check_timeout("1", 1.0)
    assert check_timeout(MAX_TIMEOUT, 1.0) == MAX_TIMEOUT


def test_option_times_have_the_same_bound() -> None:
    with pytest.raises(ValueError, match="at most"):
        bns.Options(timeout=1e10)
    with pytest.raises(ValueError, match="finite"):
        bns.Options(reconnect_wait=math.inf)
