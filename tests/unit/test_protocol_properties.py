"""Properties of the parser, with hypothesis: what a server frames parses back to itself in any
chunking, and any bytes at all end in events or in our one error, never in a foreign exception or
an unbounded buffer.

``PROTOCOL_EXAMPLES=200000 python -m pytest tests/unit/test_protocol_properties.py`` runs them
at scale (the default keeps the suite fast).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import beluga_nats_sync as bns
from beluga_nats_sync.protocol import OK, PING, PONG, Headers, Info, Parser, ServerError, Status, encode_headers

EXAMPLES = int(os.environ.get("PROTOCOL_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = {"max_control_line": 200, "max_info_line": 300, "max_payload": 600, "max_header_allowance": 100}
#: what may stay buffered between feeds: a line, or a payload with its headers and CRLF
BOUND = max(LIMITS["max_info_line"], LIMITS["max_payload"] + LIMITS["max_header_allowance"] + 2)

token = st.text(st.characters(codec="utf-8", exclude_categories=["Zs", "Zl", "Zp", "Cc", "Cs"]), min_size=1, max_size=6)
subjects = st.lists(token, min_size=1, max_size=4).map(".".join).filter(lambda s: len(s.encode()) < 80)
header_names = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=8
)
header_values = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12).map(str.strip)
headers = st.lists(st.tuples(header_names, header_values), max_size=4).map(Headers)
statuses = st.none() | st.builds(
    Status, st.integers(100, 999), st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=10)
)
payloads = st.binary(max_size=300) | st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"x"]), max_size=50).map(b"".join)


@st.composite
def messages(draw: st.DrawFn) -> tuple[bytes, Any]:
    subject, sid, payload = draw(subjects), draw(st.integers(1, 10**9)), draw(payloads)
    reply = draw(st.none() | subjects)
    r = b"" if reply is None else reply.encode() + b" "
    if not draw(st.booleans()):
        return b"MSG %b %d %b%d\r\n%b\r\n" % (subject.encode(), sid, r, len(payload), payload), (
            sid,
            subject,
            reply,
            payload,
            None,
        )
    h = draw(headers)
    h.status = draw(statuses)
    block = encode_headers(h)
    if h.status is not None:
        code = f" {h.status.code} {h.status.description}".rstrip().encode()
        block = b"NATS/1.0" + code + block[8:]
        h.status = Status(h.status.code, h.status.description)
    n = len(block)
    frame = b"HMSG %b %d %b%d %d\r\n%b%b\r\n" % (subject.encode(), sid, r, n, n + len(payload), block, payload)
    return frame, (sid, subject, reply, payload, h)


controls = st.sampled_from([(b"PING\r\n", PING), (b"PONG\r\n", PONG), (b"+OK\r\n", OK)])
errs = st.text(st.characters(codec="utf-8", exclude_characters="\r\n'"), max_size=30).map(
    lambda t: (b"-ERR '" + t.encode() + b"'\r\n", ServerError(t))
)
infos = st.fixed_dictionaries(
    {"server_id": st.text(max_size=10), "max_payload": st.just(LIMITS["max_payload"])},
    optional={
        "connect_urls": st.lists(
            st.builds("{}:{}".format, st.from_regex(r"\A[a-z0-9.]{1,10}\Z"), st.integers(0, 65535)), max_size=4
        )
    },
).map(lambda d: (b"INFO " + json.dumps(d).encode() + b"\r\n", Info(d)))
frames = st.lists(messages() | controls | errs | infos, max_size=12)


def run(stream: bytes, cuts: list[int]) -> tuple[list[Any], Parser]:
    events: list[Any] = []
    p = Parser(lambda *m: events.append(m), events.append, **LIMITS)
    start = 0
    for cut in sorted(set(cuts)) + [len(stream)]:
        p.feed(stream[start:cut])
        start = cut
        assert p.buffered <= BOUND
    return events, p


@SETTINGS
@given(frames, st.lists(st.integers(0, 5000), max_size=12))
def test_what_a_server_frames_parses_back_in_any_chunking(items: list[tuple[bytes, Any]], cuts: list[int]) -> None:
    stream = b"".join(f for f, _ in items)
    events, p = run(stream, [c for c in cuts if c <= len(stream)])
    assert events == [e for _, e in items]
    assert p.buffered == 0


def _feed_anything(chunks: list[bytes]) -> None:
    p = Parser(lambda *m: None, lambda e: None, **LIMITS)
    try:
        for c in chunks:
            p.feed(c)
            assert p.buffered <= BOUND
    except bns.ProtocolError:
        assert p.dead and p.buffered == 0


@SETTINGS
@given(st.lists(st.binary(max_size=400), max_size=8))
def test_any_bytes_end_in_events_or_our_error(chunks: list[bytes]) -> None:
    _feed_anything(chunks)


protocol_words = st.sampled_from(
    [b"MSG ", b"HMSG ", b"INFO ", b"PING", b"PONG", b"+OK", b"-ERR ", b"NATS/1.0", b" 503", b"\r\n", b" ", b"\r", b"\n"]
)
numbers = st.integers(-5, 10**12).map(lambda n: str(n).encode())
fragments = st.lists(protocol_words | numbers | st.binary(max_size=8) | subjects.map(str.encode), max_size=30)


@SETTINGS
@given(fragments, st.lists(st.integers(0, 400), max_size=6))
def test_protocol_like_noise_ends_in_events_or_our_error(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    points = sorted({c for c in cuts if c <= len(stream)})
    _feed_anything([stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)])


@SETTINGS
@given(frames, st.integers(0, 10**6), st.integers(0, 255))
def test_a_corrupted_stream_ends_in_events_or_our_error(items: list[tuple[bytes, Any]], where: int, byte: int) -> None:
    stream = bytearray(b"".join(f for f, _ in items))
    if stream:
        stream[where % len(stream)] = byte
    _feed_anything([bytes(stream[i : i + 37]) for i in range(0, len(stream), 37)])
