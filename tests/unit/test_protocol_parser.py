"""The parser of what a server sends, without a server: every frame kind, every chunking, every
error, the bounds on what it keeps, and the linearity of its work."""

from __future__ import annotations

import json
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.protocol import OK, PING, PONG, Headers, Info, Parser, ServerError, Status

HDR = b"NATS/1.0\r\nA: 1\r\nA: 2\r\nBb:  x y \r\n\r\n"
STREAM = (
    b'INFO {"server_id":"S","version":"2.15.1","max_payload":1048576,"headers":true,'
    b'"connect_urls":["10.0.0.1:4222","[::1]:4222"]}\r\n'
    b"PING\r\nPONG\r\n+OK\r\n-ERR 'Stale Connection'\r\n-ERR\r\n"
    b"MSG a.b 1 5\r\nhello\r\n"
    b"MSG a.b 1 5\r\nhello\r\n"
    b"MSG a.b 1 _INBOX.x.y 6\r\nab\r\ncd\r\n"
    b"MSG empty 2 0\r\n\r\n"
    b"HMSG h.s 3 r.1 %d %d\r\n%bhi\r\n"
    b"HMSG st 4 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    b"HMSG st 4 38 38\r\nNATS/1.0 408 Request Timeout\r\nX: y\r\n\r\n\r\n"
    b"MSG big 5 4000\r\n%b\r\n"
    b"MSG utf.\xc3\xa9 6 1\r\n\r\r\n"
) % (len(HDR), len(HDR) + 2, HDR, b"z\r\n" * 1333 + b"z")
assert len(b"NATS/1.0 408 Request Timeout\r\nX: y\r\n\r\n") == 38


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def msg(self, sid: int, subject: str, reply: str | None, payload: bytes, headers: Headers | None) -> None:
        self.events.append((sid, subject, reply, payload, headers))

    def control(self, event: Any) -> None:
        self.events.append(event)

    def parser(self, **kw: Any) -> Parser:
        return Parser(self.msg, self.control, **kw)


def parse(*chunks: bytes | bytearray | memoryview, **kw: Any) -> list[Any]:
    rec = Recorder()
    p = rec.parser(**kw)
    for c in chunks:
        p.feed(c)
    assert p.buffered == 0
    return rec.events


def test_every_frame_kind() -> None:
    ev = parse(STREAM)
    assert isinstance(ev[0], Info) and ev[0].info["server_id"] == "S"
    assert ev[1:5] == [PING, PONG, OK, ServerError("Stale Connection")]
    assert ev[5] == ServerError("")
    assert ev[6] == ev[7] == (1, "a.b", None, b"hello", None)
    assert ev[8] == (1, "a.b", "_INBOX.x.y", b"ab\r\ncd", None)
    assert ev[9] == (2, "empty", None, b"", None)
    sid, subject, reply, payload, headers = ev[10]
    assert (sid, subject, reply, payload) == (3, "h.s", "r.1", b"hi")
    assert headers is not None and headers.get_all("A") == ["1", "2"] and headers["Bb"] == "x y "
    assert headers.status is None
    assert ev[11][4] == Headers(status=Status(503, "")) and ev[11][3] == b""
    timeout = ev[12][4]
    assert timeout.status == Status(408, "Request Timeout") and timeout["X"] == "y"
    assert ev[13][3] == b"z\r\n" * 1333 + b"z"
    assert ev[14] == (6, "utf.\u00e9", None, b"\r", None)
    assert len(ev) == 15


def test_status_lines_of_jetstream() -> None:
    block = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\n\r\n"
    frame = b"HMSG _INBOX.a 1 %d %d\r\n%b\r\n" % (len(block), len(block), block)
    [(_, _, _, _, h)] = parse(frame)
    assert h.status == Status(100, "Idle Heartbeat") and h["Nats-Last-Stream"] == "9"
    block = b"NATS/1.0 409 Consumer Deleted\r\n\r\n"
    [(_, _, _, _, h)] = parse(b"HMSG x 1 %d %d\r\n%b\r\n" % (len(block), len(block), block))
    assert h.status == Status(409, "Consumer Deleted") and len(h) == 0


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_every_chunking_gives_the_same_events(size: int) -> None:
    whole = parse(STREAM)
    assert parse(*(STREAM[i : i + size] for i in range(0, len(STREAM), size))) == whole


def test_a_split_at_every_byte_boundary() -> None:
    whole = parse(STREAM)
    for cut in range(len(STREAM) + 1):
        assert parse(STREAM[:cut], STREAM[cut:]) == whole, cut


def test_input_may_be_a_bytearray_or_a_memoryview() -> None:
    buf = bytearray(STREAM)
    assert parse(memoryview(buf)[:100], buf[100:]) == parse(STREAM)


def test_max_payload_follows_the_servers_info() -> None:
    rec = Recorder()
    p = rec.parser()
    p.feed(b'INFO {"max_payload":16}\r\nMSG a 1 16\r\n0123456789abcdef\r\n')
    assert p.max_payload == 16
    with pytest.raises(bns.ProtocolError, match="exceeds max_payload 16"):
        p.feed(b"MSG a 1 17\r\n")


BAD_FRAMES = [
    (b"MSG a 1\r\n", "must be MSG"),
    (b"MSG a 1 r x 5\r\n", "must be MSG"),
    (b"MSG a x 5\r\nhello\r\n", "decimal"),
    (b"MSG a 1 -5\r\n", "decimal"),
    (b"MSG a 1 +5\r\n", "decimal"),
    (b"MSG a 1 5_0\r\n", "decimal"),
    (b"MSG a 1 99999999999\r\n", "decimal"),
    (b"MSG a 1 5\r\nhelloXX", "not followed by CRLF"),
    (b"MSG a 1 2\r\nhello\r\n", "not followed by CRLF"),
    (b"MSG a\xff 1 2\r\nhi\r\n", "not valid UTF-8"),
    (b"MSG a 1 r\xc3 2\r\nhi\r\n", "reply subject is not valid UTF-8"),
    (b"MSG a\x00b 1 2\r\nhi\r\n", "NUL"),
    (b"MSG a\rb 1 2\r\nhi\r\n", "decimal"),
    (b"HMSG a 1 20 10\r\n", "header size"),
    (b"HMSG a 1 5 10\r\n", "header size"),
    (b"HMSG a 1 12\r\n", "must be HMSG"),
    (b"HMSG a 1 12 12\r\nHTTP/1.1 x\r\n\r\n\r\n", "must start with 'NATS/1.0'"),
    (b"HMSG a 1 12 12\r\nNATS/1.0\r\nxx\r\n", "must start with 'NATS/1.0'"),
    (b"HMSG a 1 15 15\r\nNATS/1.0\r\nX\r\n\r\n\r\n", "no ':'"),
    (b"HMSG a 1 16 16\r\nNATS/1.0 5x3\r\n\r\n\r\n", "three digits"),
    (b"HMSG a 1 16 16\r\nNATS/1.0x503\r\n\r\n\r\n", "first line"),
    (b"INFO [1, 2]\r\n", "JSON object"),
    (b"INFO {\r\n", "not valid JSON"),
    (b"INFO " + b"[" * 100_000 + b"\r\n", "longer than 65536|no CRLF within 65536"),
    (b'INFO {"max_payload": 1e400}\r\n', "max_payload"),
    (b'INFO {"max_payload": "abc"}\r\n', "max_payload"),
    (b'INFO {"max_payload": null}\r\n', "max_payload"),
    (b'INFO {"max_payload": true}\r\n', "max_payload"),
    (b'INFO {"max_payload": 0}\r\n', "max_payload"),
    (b'INFO {"max_payload": 1073741824}\r\n', "max_payload"),
    (b'INFO {"connect_urls": "a:1"}\r\n', "connect_urls"),
    (b'INFO {"connect_urls": [1]}\r\n', "connect_urls"),
    (b'INFO {"connect_urls": ["a b:1"]}\r\n', "connect_urls"),
    (b'INFO {"port": 70000}\r\n', "port"),
    (b'INFO {"headers": "yes"}\r\n', "headers"),
    (b'INFO {"server_id": 5}\r\n', "server_id"),
    (b"INFO \xff\xfe\r\n", "not valid JSON"),
    (b"PINGX\r\n", "unknown"),
    (b"PONG PONG\r\n", "unknown"),
    (b"HELLO\r\n", "unknown"),
    (b"\r\n", "unknown"),
    (b"PING\nPONG\r\n", "unknown"),
]


@pytest.mark.parametrize(("frame", "reason"), BAD_FRAMES, ids=[r for _, r in BAD_FRAMES])
def test_each_malformed_frame_is_one_protocol_error(frame: bytes, reason: str) -> None:
    for chunks in ([frame], [frame[:3], frame[3:]], [frame[i : i + 1] for i in range(len(frame))]):
        rec = Recorder()
        p = rec.parser()
        with pytest.raises(bns.ProtocolError, match=reason) as info:
            for c in chunks:
                p.feed(c)
        assert isinstance(info.value, bns.NATSSyncError) and info.value.reason
        assert p.dead and p.buffered == 0
        with pytest.raises(bns.ProtocolError, match="earlier error"):
            p.feed(b"PING\r\n")
        assert rec.events == []


def test_a_recursive_info_is_refused_as_ours() -> None:
    rec = Recorder()
    p = rec.parser(max_info_line=1 << 20)
    with pytest.raises(bns.ProtocolError, match="not valid JSON"):
        p.feed(b"INFO " + b"[" * 200_000 + b"]" * 200_000 + b"\r\n")


def test_err_text_is_kept_and_must_be_utf8() -> None:
    assert parse(b"-ERR 'Permissions Violation for Publish to \"x\"'\r\n") == [
        ServerError('Permissions Violation for Publish to "x"')
    ]
    assert parse(b"-ERR unquoted text\r\n") == [ServerError("unquoted text")]
    p = Recorder().parser()
    with pytest.raises(bns.ProtocolError, match="-ERR text is not valid UTF-8"):
        p.feed(b"-ERR '\xff\xfe'\r\n")


def test_a_long_line_without_crlf_is_refused_before_it_is_kept() -> None:
    rec = Recorder()
    p = rec.parser()
    p.feed(b"MSG " + b"a" * 4000)
    with pytest.raises(bns.ProtocolError, match="no CRLF within 4096"):
        p.feed(b"a" * 100)
    assert p.buffered == 0


def test_a_4_mb_info_is_refused_within_its_first_64_kib() -> None:
    rec = Recorder()
    p = rec.parser()
    line = b'INFO {"x":"' + b"y" * (4 << 20)
    with pytest.raises(bns.ProtocolError, match="no CRLF within 65536"):
        for i in range(0, len(line), 16 * 1024):
            assert p.buffered <= p.max_info_line
            p.feed(line[i : i + 16 * 1024])
    assert i < 80 * 1024  # refused as soon as the line outgrew the limit


def test_a_256_mb_declared_message_is_refused_at_its_line() -> None:
    rec = Recorder()
    p = rec.parser()
    with pytest.raises(bns.ProtocolError, match="MSG of 268435456 bytes exceeds max_payload 1048576"):
        p.feed(b"MSG a 1 268435456\r\n" + b"x" * 1000)
    p = rec.parser()
    with pytest.raises(bns.ProtocolError, match="plus 8192 bytes of server headers"):
        p.feed(b"HMSG a 1 12 268435456\r\n")


def test_what_is_kept_stays_within_the_bound() -> None:
    """A payload is collected up to its size and no further: max_payload plus a line."""
    rec = Recorder()
    p = rec.parser(max_payload=100_000)
    frame = b"MSG a 1 100000\r\n" + b"x" * 100_000 + b"\r\n"
    for i in range(0, len(frame) - 1, 1000):
        p.feed(frame[i : i + 1000])
        assert p.buffered <= 100_000 + 4096
    assert len(rec.events) == 1 and p.buffered == 0


def test_a_callback_that_raises_kills_the_parser() -> None:
    def boom(*args: Any) -> None:
        raise KeyError("routing failed")

    p = Parser(boom, lambda e: None)
    with pytest.raises(KeyError):
        p.feed(b"MSG a 1 0\r\n\r\n")
    assert p.dead


def _scanned_for_a_line(length: int, chunk: int) -> int:
    p = Parser(lambda *a: None, lambda e: None, max_info_line=length + 100)
    line = b'INFO {"x":"' + b"y" * length + b'"}'
    for i in range(0, len(line), chunk):
        p.feed(line[i : i + chunk])
    p.feed(b"\r\n")
    return p.bytes_scanned


def test_a_long_line_in_small_reads_is_scanned_in_linear_work() -> None:
    """Work counted as the bytes handed to a search, not time: a quadratic rescan of the growing
    line would scan ~length**2 / (2 * chunk) bytes (here 100x more for the longer line)."""
    small = _scanned_for_a_line(10_000, 10)
    large = _scanned_for_a_line(100_000, 10)
    assert large <= 12 * small
    assert large <= 3 * 100_000


def test_a_large_payload_in_small_reads_is_collected_in_linear_work() -> None:
    def scanned(size: int) -> int:
        p = Parser(lambda *a: None, lambda e: None, max_payload=size)
        frame = b"MSG a 1 %d\r\n" % size + b"\r\n" * (size // 2) + b"\r\n"
        for i in range(0, len(frame), 100):
            p.feed(frame[i : i + 100])
        return p.bytes_scanned

    assert scanned(200_000) <= 12 * scanned(20_000)


def test_limits_can_be_set() -> None:
    rec = Recorder()
    p = rec.parser(max_control_line=64)
    with pytest.raises(bns.ProtocolError, match="longer than 64"):
        p.feed(b"MSG " + b"a" * 70 + b" 1 0\r\n\r\n")
    p = rec.parser()
    p.set_limits(max_control_line=8192, max_payload=10)
    p.feed(b"MSG " + b"a" * 5000 + b" 1 10\r\n0123456789\r\n")
    with pytest.raises(bns.ProtocolError):
        p.feed(b"MSG a 1 11\r\n")


def test_info_is_checked_but_keeps_unknown_fields() -> None:
    info = {"server_id": "S", "max_payload": 64 << 20, "connect_urls": [], "new_field": {"a": [1]}, "ldm": True}
    [event] = parse(b"INFO " + json.dumps(info).encode() + b"\r\n")
    assert event == Info(info)


def test_a_cached_line_is_checked_again_after_the_limits_change() -> None:
    rec = Recorder()
    p = rec.parser()
    frame = b"MSG a 1 16\r\n0123456789abcdef\r\n"
    p.feed(frame * 3)  # the line is cached now
    p.feed(b'INFO {"max_payload": 8}\r\n')
    with pytest.raises(bns.ProtocolError, match="exceeds max_payload 8"):
        p.feed(frame)
    assert len(rec.events) == 4


def test_info_need_not_change_the_limits() -> None:
    p = Parser(lambda *a: None, lambda e: None, max_payload=100, follow_info=False)
    p.feed(b'INFO {"max_payload": 8}\r\nMSG a 1 16\r\n0123456789abcdef\r\n')
    assert p.max_payload == 100


@pytest.mark.parametrize("url", ["127.0.0.1:4222", "[::1]:4222", "nats.example.org:1", "nats://10.0.0.2:6222"])
def test_connect_urls_that_name_a_host_and_port_are_accepted(url: str) -> None:
    info = {"connect_urls": [url]}
    assert parse(b"INFO " + json.dumps(info).encode() + b"\r\n") == [Info(info)]


@pytest.mark.parametrize(
    "url", ["[::1", "127.0.0.1:notaport", "h:70000", "h:", ":4222", "::1:4222", "user@h:4222", "h/x:4222", ""]
)
def test_connect_urls_that_do_not_name_a_host_and_port_are_refused(url: str) -> None:
    p = Recorder().parser()
    with pytest.raises(bns.ProtocolError, match="connect_urls"):
        p.feed(b"INFO " + json.dumps({"connect_urls": [url]}).encode() + b"\r\n")
