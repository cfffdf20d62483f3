"""The JetStream API-request helper without a server: what it sends, how it reads the answer,
and which of our errors an error answer becomes."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._core.msg import Msg
from beluga_nats_sync.jetstream._api import JsApi, decode_reply
from beluga_nats_sync.jetstream.kv import parse_headers


class FakeConnection:
    """Answers each request with the next of ``answers`` (bytes, or an exception to raise)."""

    def __init__(self, *answers: bytes | BaseException, is_open: bool = True) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, bytes, float]] = []
        self.is_open = is_open

    def closed_error(self, what: str) -> bns.ClosedError:
        return bns.ClosedError(f"{what}: the client is closed")

    def request(self, subject: str, payload: bytes, timeout: float, headers: Mapping[str, str] | None) -> Msg:
        self.sent.append((subject, payload, timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return Msg("_INBOX.x", answer)


def _api(conn: FakeConnection, prefix: str = "$JS.API") -> JsApi:
    return JsApi(conn, prefix, 2.0)  # type: ignore[arg-type]  # a stand-in for the core Connection


def _error(code: int, err_code: int, description: str) -> bytes:
    return json.dumps({"error": {"code": code, "err_code": err_code, "description": description}}).encode()


def test_request_sends_json_to_prefix_dot_op_and_returns_the_answer() -> None:
    conn = FakeConnection(b'{"streams": ["ORDERS"], "total": 1}', b'{"ok": 1}')
    api = _api(conn, "$JS.hub.API")
    assert api.request("STREAM.NAMES", {"subject": "orders.new"}, None, "find") == {"streams": ["ORDERS"], "total": 1}
    assert conn.sent == [("$JS.hub.API.STREAM.NAMES", b'{"subject": "orders.new"}', 2.0)]
    api.request("STREAM.INFO.X", None, 0.5, "info")
    assert conn.sent[1] == ("$JS.hub.API.STREAM.INFO.X", b"", 0.5)


def test_stream_for_subject_is_none_when_no_stream_captures_it() -> None:
    api = _api(FakeConnection(b'{"streams": null, "total": 0}', b'{"streams": ["S1", "S2"]}'))
    assert api.stream_for_subject("a.b", None, "find") is None
    assert api.stream_for_subject("a.b", None, "find") == "S1"


@pytest.mark.parametrize(
    ("answer", "context", "cls", "words"),
    [
        (_error(404, 10059, "stream not found"), {"stream": "ORDERS"}, bns.StreamNotFoundError, "'ORDERS' does not"),
        (_error(404, 10014, "consumer not found"), {"stream": "S", "consumer": "w"}, bns.ConsumerNotFoundError, "'w'"),
        (_error(404, 10059, "stream not found"), {"bucket": "cfg"}, bns.BucketNotFoundError, "bucket 'cfg' does not"),
        (_error(503, 10039, "jetstream not enabled for account"), {}, bns.JetStreamNotEnabledError, "-js"),
        (_error(400, 10071, "wrong last sequence: 4"), {}, bns.WrongRevisionError, "wrong last sequence: 4"),
        (
            _error(400, 10071, "wrong last sequence: 4"),
            {"bucket": "cfg", "key": "k"},
            bns.WrongRevisionError,
            "key 'k' in bucket 'cfg' is not at the expected revision",
        ),
        (_error(400, 10058, "stream name already in use"), {"stream": "S"}, bns.JetStreamError, "already in use"),
    ],
)
def test_an_error_answer_becomes_our_error_class(
    answer: bytes, context: dict[str, str], cls: type[bns.JetStreamError], words: str
) -> None:
    with pytest.raises(cls, match=words) as info:
        _api(FakeConnection(answer)).request("X", None, None, "the call", **context)
    err = info.value
    assert str(err).startswith("the call: ")
    parsed = json.loads(answer)["error"]
    assert (err.code, err.err_code, err.description) == (parsed["code"], parsed["err_code"], parsed["description"])


def test_an_answer_that_is_not_an_api_response_is_a_jetstream_error() -> None:
    for bad in (b"not json", b"[1, 2]", b""):
        with pytest.raises(bns.JetStreamError, match="not a JetStream API response"):
            decode_reply(bad, "stream_info")
    with pytest.raises(bns.JetStreamError, match="odd"):  # an error that is not an object still says what
        decode_reply(b'{"error": "odd"}', "stream_info")


def test_no_responders_means_jetstream_is_not_enabled_and_a_timeout_says_so() -> None:
    api = _api(FakeConnection(bns.NoRespondersError("$JS.API.INFO"), bns.RequestTimeoutError("late")))
    with pytest.raises(bns.JetStreamNotEnabledError, match="add_stream: JetStream is not enabled.*-js"):
        api.request("STREAM.CREATE.X", {}, None, "add_stream")
    with pytest.raises(bns.NATSTimeoutError, match="stream_info: no answer from JetStream within 2 s"):
        api.request("STREAM.INFO.X", None, None, "stream_info")


def test_timeouts_are_checked_and_a_closed_client_is_refused_before_sending() -> None:
    conn = FakeConnection(b"{}")
    api = _api(conn)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            api.request("INFO", None, bad, "info")
    with pytest.raises(TypeError, match="timeout"):
        api.request("INFO", None, "1", "info")  # type: ignore[arg-type]
    closed = FakeConnection(b"{}", is_open=False)
    with pytest.raises(bns.ClosedError, match="info"):
        _api(closed).request("INFO", None, None, "info")
    assert conn.sent == [] and closed.sent == []


def test_stored_message_headers_are_parsed() -> None:
    raw = b"NATS/1.0\r\nKV-Operation: DEL\r\nNats-Expected-Last-Subject-Sequence: 7\r\n\r\n"
    assert parse_headers(raw) == {"KV-Operation": "DEL", "Nats-Expected-Last-Subject-Sequence": "7"}
    assert parse_headers(b"NATS/1.0\r\n\r\n") == {}
    repeated = parse_headers(b"NATS/1.0\r\nTag: a\r\nOther: o\r\nTag: b\r\n\r\n")
    assert repeated.get_all("Tag") == ["a", "b"] and repeated["Tag"] == "a"
