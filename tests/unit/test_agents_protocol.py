"""The agent protocol's wire pieces without a server: sizes, versions, the request envelope, the
stream's chunks and what discovery accepts."""

from __future__ import annotations

import json

import pytest

from beluga_nats_sync.agents import AgentInfo, AgentProtocolError, Attachment, QueryChunk, ResponseChunk, StatusChunk
from beluga_nats_sync.agents._protocol import (
    check_token,
    decode_envelope,
    encode_envelope,
    format_size,
    parse_size,
    same_minor,
)
from beluga_nats_sync.agents._stream import decode_chunk


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("1MB", 1 << 20),
        ("512kb", 512 << 10),
        (" 4 GB ", 4 << 30),
        ("100B", 100),
        ("2048", 2048),
        ("1.5MB", None),
        ("", None),
    ],
)
def test_sizes_are_read_base_1024_case_insensitively(text: str, n: int | None) -> None:
    assert parse_size(text) == n


def test_sizes_are_written_with_a_unit() -> None:
    assert [format_size(n) for n in (1 << 20, 8 << 20, 1536, 1000, 64 << 30)] == [
        "1MB",
        "8MB",
        "1536B",
        "1000B",
        "64GB",
    ]
    assert all(parse_size(format_size(n)) == n for n in (1, 1023, 1024, 123456789))


def test_protocol_versions_match_on_major_minor() -> None:
    assert same_minor("0.3") and same_minor("0.3.9")
    assert not same_minor("0.2") and not same_minor("1.3") and not same_minor("0")


def test_tokens_follow_the_protocol() -> None:
    assert check_token("my-agent", "agent") == "my-agent"
    assert check_token("team_a", "owner") == "team_a"
    for bad in ("", "Upper", "a.b", "a b", "a*", "under_score"):
        with pytest.raises(ValueError, match="agent"):
            check_token(bad, "agent")
    with pytest.raises(TypeError):
        check_token(3, "owner")


def test_the_envelope_round_trips_and_plain_text_is_a_prompt() -> None:
    wire = encode_envelope("héllo", [Attachment("a.bin", b"\x00\xff")])
    assert json.loads(wire) == {"prompt": "héllo", "attachments": [{"filename": "a.bin", "content": "AP8="}]}
    env = decode_envelope(wire)
    assert env.prompt == "héllo" and env.attachments == (Attachment("a.bin", b"\x00\xff"),)
    assert decode_envelope(b"just text").prompt == "just text"
    assert decode_envelope(b'  {"prompt":"p","future":1}').extras == {"future": 1}
    for bad in (
        b"",
        b"{oops",
        b'{"prompt": 3}',
        b"\xff\xfe",
        b'{"prompt":"p","attachments":[{"filename":"f","content":"*"}]}',
    ):
        with pytest.raises(AgentProtocolError):
            decode_envelope(bad)


def test_chunks_decode_and_unknown_types_are_skipped() -> None:
    assert decode_chunk(b'{"type":"status","data":"ack"}') == StatusChunk("ack")
    assert decode_chunk(b'{"type":"response","data":"hi"}') == ResponseChunk("hi")
    assert decode_chunk(
        b'{"type":"response","data":{"text":"t","attachments":[{"filename":"f","content":"YQ=="}]}}'
    ) == (ResponseChunk("t", (Attachment("f", b"a"),)))
    q = decode_chunk(b'{"type":"query","data":{"id":"1","reply_subject":"_INBOX.x","prompt":"?"}}')
    assert isinstance(q, QueryChunk) and (q.id, q.reply_subject, q.prompt) == ("1", "_INBOX.x", "?")
    assert decode_chunk(b'{"type":"thinking","data":"..."}') is None
    for bad in (b"plain text", b"[]", b'{"data":"x"}', b'{"type":"status","data":1}', b'{"type":"response","data":{}}'):
        with pytest.raises(AgentProtocolError):
            decode_chunk(bad)


def _info(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "name": "agents",
        "id": "ID1",
        "version": "1.0.0",
        "description": "d",
        "metadata": {"agent": "a", "owner": "o", "session": "s", "protocol_version": "0.3"},
        "endpoints": [
            {
                "name": "prompt",
                "subject": "agents.prompt.a.o.s",
                "queue_group": "agents",
                "metadata": {"max_payload": "2MB", "attachments_ok": "false"},
            }
        ],
    }
    doc.update(changes)
    return doc


def test_discovery_keeps_only_agents_of_our_protocol() -> None:
    info = AgentInfo.from_info(_info())
    assert info is not None
    assert (info.agent, info.owner, info.session_name, info.instance_id) == ("a", "o", "s", "ID1")
    assert info.max_payload == 2 << 20 and info.attachments_ok is False and info.status_subject is None
    assert AgentInfo.from_info(_info(name="other")) is None
    assert AgentInfo.from_info(_info(metadata={"agent": "a", "owner": "o", "protocol_version": "0.2"})) is None
    assert AgentInfo.from_info(_info(metadata={"agent": "a", "protocol_version": "0.3"})) is None
    assert AgentInfo.from_info(_info(endpoints=[{"name": "status", "subject": "x"}])) is None
    assert AgentInfo.from_info("not a dict") is None
    custom = AgentInfo.from_info(_info(endpoints=[{"name": "prompt", "subject": "custom.subject"}]))
    assert custom is not None and custom.session_name == "" and custom.max_payload is None
