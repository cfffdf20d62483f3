"""Headers as Go's nats.Header has them: multi-valued, case-sensitive, case-preserving; the status
line; and the wire form both ways."""

from __future__ import annotations

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.protocol import Headers, Status, decode_headers, encode_headers
from beluga_nats_sync.protocol.headers import HEADER_TEXT_LIMIT, header_text, headers_with, is_no_responders


def test_first_value_all_values_and_mutation() -> None:
    h = Headers({"X": ["1", "2"], "Y": "y"})
    assert h["X"] == "1" and h.get_all("X") == ["1", "2"] and h.get_all("missing") == []
    assert h.get("missing") is None and h.get("Y") == "y"
    assert list(h) == ["X", "Y"] and len(h) == 2 and "X" in h and "x" not in h
    h.add("X", "3")
    h.add("Z", "z")
    assert h.get_all("X") == ["1", "2", "3"]
    h["X"] = "only"
    assert h.get_all("X") == ["only"]
    h.set("Y", "new")
    del h["Z"]
    assert list(h.multi_items()) == [("X", "only"), ("Y", "new")]
    with pytest.raises(KeyError):
        h["Z"]
    returned = h.get_all("X")
    returned.append("not stored")
    assert h.get_all("X") == ["only"]


def test_keys_are_case_sensitive_as_in_nats_go() -> None:
    h = Headers()
    h.add("Traceparent", "a")
    h.add("traceparent", "b")
    assert h["Traceparent"] == "a" and h["traceparent"] == "b" and len(h) == 2


def test_equality_with_headers_and_plain_dicts() -> None:
    h = Headers([("K", "1"), ("K", "2"), ("J", "j")])
    assert h == Headers({"K": ["1", "2"], "J": "j"})
    assert h == {"K": ["1", "2"], "J": ["j"]}
    assert h == {"K": ("1", "2"), "J": "j"}
    assert h != {"K": "1", "J": "j"}  # a dict of one value per key is not all of K's values
    assert Headers({"A": "1"}) == {"A": "1"} and Headers({"A": "1"}) != {"A": "2"}
    assert Headers({"A": "1"}) != {"A": "1", "B": "2"}
    assert Headers(status=Status(503)) != Headers()
    assert dict(Headers({"A": ["1", "2"]})) == {"A": "1"}  # a dict view keeps the first value, as h[k]
    assert Headers(Headers({"A": ["1", "2"]}, status=Status(408, "x"))).status == Status(408, "x")


def test_construction_refuses_what_is_not_str() -> None:
    with pytest.raises(TypeError, match="list of str"):
        Headers({"A": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"header 'A' value \[1\]: values must be str, got int; .*list of str"):
        Headers({"A": ["x", 2]})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="names must be str"):
        Headers().add(3, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^header 'A' value \[1\]: the value must not contain CR or LF$"):
        Headers({"A": ["ok", "x\r\nInjected: 1"]})
    with pytest.raises(ValueError, match=r"^header 'A': the value must not contain CR or LF$"):
        Headers().add("A", "a\nb")


def test_repeated_lines_round_trip() -> None:
    h = Headers([("X-Tag", "a"), ("X-Tag", "b"), ("Other", "c"), ("X-Tag", "d")])
    block = encode_headers(h)
    assert block == b"NATS/1.0\r\nX-Tag: a\r\nX-Tag: b\r\nX-Tag: d\r\nOther: c\r\n\r\n"
    assert decode_headers(block) == h
    assert encode_headers({"K": ["1", "2"], "L": "3"}) == b"NATS/1.0\r\nK: 1\r\nK: 2\r\nL: 3\r\n\r\n"


def test_decoding_follows_nats_go() -> None:
    h = decode_headers(b"NATS/1.0\r\nA:no-space\r\nB: \t lead\r\nC: trail \r\n: skipped\r\nD:\r\n\r\n")
    assert h == {"A": "no-space", "B": "lead", "C": "trail ", "D": ""}
    h = decode_headers(b"NATS/1.0\r\nK: a: b\r\n\r\n")
    assert h["K"] == "a: b"


def test_bytes_that_are_not_utf8_survive_a_round_trip() -> None:
    block = b"NATS/1.0\r\nBin: \xff\xfe\r\n\r\n"
    assert encode_headers(decode_headers(block)) == block


@pytest.mark.parametrize(
    ("line", "status"),
    [
        (b"NATS/1.0 503", Status(503, "")),
        (b"NATS/1.0 503 ", Status(503, "")),
        (b"NATS/1.0 408 Request Timeout", Status(408, "Request Timeout")),
        (b"NATS/1.0 100 Idle Heartbeat", Status(100, "Idle Heartbeat")),
        (b"NATS/1.0 409 Exceeded MaxRequestBatch of 1", Status(409, "Exceeded MaxRequestBatch of 1")),
        (b"NATS/1.0 404 No Messages", Status(404, "No Messages")),
        (b"NATS/1.0", None),
    ],
)
def test_status_lines(line: bytes, status: Status | None) -> None:
    h = decode_headers(line + b"\r\n\r\n")
    assert h.status == status and len(h) == 0


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b"NATS/1.0\r\n",
        b"NATS/2.0\r\n\r\n",
        b"nats/1.0\r\n\r\n",
        b"NATS/1.0 50\r\n\r\n",
        b"NATS/1.0 5034\r\n\r\n",
        b"NATS/1.0 abc\r\n\r\n",
        b"NATS/1.0 \xd9\xa3\xd9\xa3\xd9\xa3\r\n\r\n",  # Arabic-Indic digits are digits to str, not to NATS
        b"NATS/1.0\r\nno colon\r\n\r\n",
    ],
)
def test_bad_blocks_are_protocol_errors(block: bytes) -> None:
    with pytest.raises(bns.ProtocolError):
        decode_headers(block)


def test_encoding_checks_names_and_values() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_headers({"K": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="CR or LF"):
        encode_headers({"K": ["ok", "a\nb"]})
    for bad in ("", "Bad Name", "a:b", "caf\u00e9", "tab\t"):
        with pytest.raises(ValueError, match="not accepted"):
            encode_headers({bad: "v"})
    with pytest.raises(TypeError, match="mapping"):
        encode_headers([("K", "v")])
    with pytest.raises(TypeError, match="must be str"):
        encode_headers({"K": 1})


def test_a_bad_value_in_a_list_is_named_with_its_index() -> None:
    with pytest.raises(ValueError, match=r"^header 'K' value \[2\]: the value must not contain CR or LF$"):
        encode_headers({"K": ("a", "b", "c\r\nInjected: 1")})
    with pytest.raises(TypeError, match=r"^header 'K' value \[1\]: values must be str, got bytes; .*a list of str$"):
        encode_headers({"K": ["a", b"b"]})
    with pytest.raises(TypeError, match=r"^header 'K': values must be str, got set; .*a list of str$"):
        encode_headers({"K": {"a"}})
    with pytest.raises(TypeError, match=r"header 'K' value \[0\]"):
        encode_headers({"K": [None]})


def test_an_empty_list_sends_no_line_for_its_name() -> None:
    assert encode_headers({"Gone": [], "K": "v"}) == b"NATS/1.0\r\nK: v\r\n\r\n"
    assert encode_headers({"Gone": ()}) == b"NATS/1.0\r\n\r\n"
    assert "Gone" not in Headers({"Gone": []})


def test_headers_with_keeps_every_value_and_sets_the_given_names() -> None:
    base = Headers([("Tag", "a"), ("Tag", "b"), ("Id", "old"), ("Nats-Msg-Id", "m")], status=Status(503))
    h = headers_with(base, {"Id": "new", "Extra": "x"})
    assert list(h.multi_items()) == [("Tag", "a"), ("Tag", "b"), ("Id", "new"), ("Nats-Msg-Id", "m"), ("Extra", "x")]
    assert h.status is None
    assert base.get_all("Id") == ["old"] and "Extra" not in base  # the base is not changed
    h.add("Tag", "c")
    assert base.get_all("Tag") == ["a", "b"]  # nor shares its lists
    dropped = headers_with(base, {"Nats-Stream": "S"}, drop="Nats-")
    assert list(dropped.multi_items()) == [("Tag", "a"), ("Tag", "b"), ("Id", "old"), ("Nats-Stream", "S")]
    assert headers_with({"T": ["1", "2"]}, {}).get_all("T") == ["1", "2"]
    assert headers_with(None, {"A": "1"}) == {"A": "1"}
    with pytest.raises(TypeError, match=r"header 'T' value \[1\]"):
        headers_with({"T": ["1", 2]}, {})  # type: ignore[dict-item]


def test_repr_shows_single_and_multiple_values() -> None:
    assert repr(Headers({"A": "1", "B": ["2", "3"]})) == "Headers({'A': '1', 'B': ['2', '3']})"
    assert "status=Status(code=503" in repr(Headers(status=Status(503)))


def test_header_text_is_one_line_bounded_by_the_one_default_limit() -> None:
    assert header_text("a\r\nb \t c\n") == "a b c"
    assert header_text("x" * HEADER_TEXT_LIMIT) == "x" * HEADER_TEXT_LIMIT
    cut = header_text("word " * 1000)
    assert len(cut) == HEADER_TEXT_LIMIT == 1024 and cut.endswith("...")
    assert header_text("12345678", 6) == "123..."
    encode_headers({"Nats-Service-Error": cut})  # a value a header line can carry


def test_no_responders_is_the_parsed_503_status_without_data() -> None:
    block = decode_headers(b"NATS/1.0 503\r\n\r\n")
    assert is_no_responders(b"", block)
    assert not is_no_responders(b"answer", block)  # a real reply that carries the status
    assert not is_no_responders(b"", decode_headers(b"NATS/1.0 408 Request Timeout\r\n\r\n"))
    assert not is_no_responders(b"", Headers({"Status": "503"}))  # a sender's own header, no status line
    assert not is_no_responders(b"", {"Status": "503"})
    assert not is_no_responders(b"", None)
