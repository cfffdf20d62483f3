"""beluga_nats_sync.testing: the in-memory server behaves as a nats-server does for what it offers,
and says clearly what it does not offer."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.testing import MemoryServer, Subscriber

from helpers import thread_snapshot, threads_started_since, wait_for


def test_it_is_exported_as_bns_testing() -> None:
    assert bns.testing.MemoryServer is MemoryServer


def test_clients_of_one_server_talk_and_those_of_another_do_not(make_client: Callable[..., bns.Client]) -> None:
    a, b = make_client(name="a"), make_client(name="b")
    elsewhere = bns.connect(transport=MemoryServer().transport)
    try:
        sub = b.subscribe("greet")
        lost = elsewhere.subscribe("greet")
        a.publish("greet", b"hi")
        assert sub.next_msg(2.0).data == b"hi"
        with pytest.raises(bns.NATSTimeoutError):
            lost.next_msg(0.1)
    finally:
        elsewhere.close()


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("a.*.c", ["a.b.c", "a.x.c"], ["a.b", "a.b.c.d", "x.b.c"]),
        ("a.>", ["a.b", "a.b.c.d"], ["a", "b.a"]),
        ("*", ["a"], ["a.b"]),
        (">", ["a", "a.b"], []),
        ("a.b", ["a.b"], ["a.b.c", "a"]),
    ],
)
def test_wildcards_match_as_a_server_matches_them(
    client: bns.Client, pattern: str, matching: list[str], not_matching: list[str]
) -> None:
    sub = client.subscribe(pattern)
    for subject in not_matching + matching:
        client.publish(subject, subject.encode())
    client.flush(2.0)
    assert [sub.next_msg(2.0).subject for _ in matching] == matching
    with pytest.raises(bns.NATSTimeoutError):
        sub.next_msg(0.05)


def test_each_queue_group_gets_one_copy_and_every_member_gets_a_share(client: bns.Client) -> None:
    counts = {"w1": 0, "w2": 0, "w3": 0, "other": 0, "plain": 0}
    lock = threading.Lock()

    def count(name: str) -> Callable[[bns.Msg], None]:
        def cb(msg: bns.Msg) -> None:
            with lock:
                counts[name] += 1

        return cb

    for name in ("w1", "w2", "w3"):
        client.subscribe("jobs.*", count(name), queue="workers")
    client.subscribe("jobs.>", count("other"), queue="auditors")
    client.subscribe("jobs.new", count("plain"))
    for _ in range(30):
        client.publish("jobs.new", b"")
    wait_for(lambda: sum(counts.values()) == 90, what="every copy")
    assert counts["w1"] + counts["w2"] + counts["w3"] == 30
    assert min(counts["w1"], counts["w2"], counts["w3"]) > 0
    assert counts["other"] == 30 and counts["plain"] == 30


def test_a_request_nobody_listens_to_fails_at_once(client: bns.Client) -> None:
    with pytest.raises(bns.NoRespondersError, match="nobody"):
        client.request("nobody", b"", timeout=30.0)  # at once: a timeout would fail the test's own


def test_a_reply_subscription_sees_the_503_status(make_client: Callable[..., bns.Client]) -> None:
    """As from a real server: only the requester gets it, with the status on the headers."""
    requester, bystander = make_client(), make_client()
    inbox = requester.new_inbox()
    mine = requester.subscribe(inbox)
    theirs = bystander.subscribe(inbox)
    requester.publish("nobody.here", b"", reply=inbox)
    msg = mine.next_msg(2.0)
    assert msg.data == b"" and msg.headers is not None and msg.headers["Status"] == "503"
    assert isinstance(msg.headers, bns.Headers) and msg.headers.status == (503, "")
    with pytest.raises(bns.NATSTimeoutError):
        theirs.next_msg(0.1)


def test_headers_keep_every_value_in_order_and_each_receiver_gets_its_own(client: bns.Client) -> None:
    one, two = client.subscribe("h"), client.subscribe("h")
    client.publish("h", b"x", headers=bns.Headers([("K", "1"), ("k", "2"), ("K", "3")]))
    a, b = one.next_msg(2.0), two.next_msg(2.0)
    assert a.headers is not None and b.headers is not None
    assert a.headers.get_all("K") == ["1", "3"] and a.headers.get_all("k") == ["2"]
    assert a.headers == b.headers and a.headers is not b.headers


def test_max_payload_is_the_servers(memory_server: MemoryServer) -> None:
    small = MemoryServer(max_payload=16)
    with small.connect() as nc:
        assert nc.max_payload == 16
        sub = nc.subscribe("p")
        nc.publish("p", b"x" * 16)
        assert sub.next_msg(2.0).data == b"x" * 16
        with pytest.raises(bns.PayloadTooLargeError):
            nc.publish("p", b"x" * 17)
    with memory_server.connect() as nc:
        assert nc.max_payload == 1024 * 1024  # nats-server's default


def test_jetstream_and_key_value_say_they_need_a_real_server(client: bns.Client) -> None:
    js = client.jetstream(timeout=2.0)
    with pytest.raises(bns.JetStreamNotEnabledError, match="need a real nats-server"):
        js.add_stream(name="S", subjects=["s.>"])
    with pytest.raises(bns.JetStreamNotEnabledError, match="need a real nats-server"):
        js.key_value("bucket")


def test_a_fake_jetstream_api_of_the_test_s_own_answers_instead(client: bns.Client) -> None:
    """The server's answer is only for a JetStream API nobody serves: a test may serve its own."""
    client.subscribe("$JS.API.INFO", lambda m: m.respond(b'{"type":"io.nats.jetstream.api.v1.account_info_response"}'))
    assert client.request("$JS.API.INFO", b"", timeout=2.0).data.startswith(b'{"type"')


def test_the_server_shows_its_subscriptions(memory_server: MemoryServer, client: bns.Client) -> None:
    sub = client.subscribe("orders.*", queue="q")
    assert Subscriber("orders.*", "q", "test") in memory_server.subscriptions()
    assert memory_server.has_interest("orders.new") and not memory_server.has_interest("orders")
    sub.unsubscribe()
    assert not memory_server.has_interest("orders.new")
    assert "subscriptions=1" in repr(memory_server)  # the client's own replies subscription
    client.close()
    assert memory_server.subscriptions() == []


def test_auto_unsubscribe_and_drain_remove_interest(memory_server: MemoryServer, client: bns.Client) -> None:
    sub = client.subscribe("limited", max_msgs=2)
    for n in range(3):
        client.publish("limited", b"%d" % n)
    assert [sub.next_msg(2.0).data for _ in range(2)] == [b"0", b"1"]
    assert not memory_server.has_interest("limited")
    drained = client.subscribe("drained")
    client.publish("drained", b"kept")
    client.flush(2.0)
    drained.drain(2.0)
    assert not memory_server.has_interest("drained")
    assert drained.next_msg(2.0).data == b"kept"


def test_the_client_reports_where_it_is_connected(memory_server: MemoryServer) -> None:
    with MemoryServer(name="unit").connect(name="c") as nc:
        assert nc.is_connected and nc.connected_url == "memory://unit:0"
        assert nc.server_address == ("unit", 0)
    assert nc.is_closed and nc.connected_url is None


def test_stats_count_what_was_received(client: bns.Client) -> None:
    sub = client.subscribe("counted")
    client.publish("counted", b"abc")
    sub.next_msg(2.0)
    assert client.stats.in_msgs == 1 and client.stats.in_bytes == 3
    assert client.stats.out_msgs == 1 and client.stats.out_bytes == 3


def test_no_nats_context_is_read_unless_asked_for(monkeypatch: pytest.MonkeyPatch, memory_server: MemoryServer) -> None:
    monkeypatch.setenv("NATS_CONTEXT", "does-not-exist")
    with memory_server.connect() as nc:
        assert nc.context is None
    with pytest.raises(bns.ContextNotFoundError):
        memory_server.connect(context="does-not-exist")


def test_closing_leaves_no_thread(memory_server: MemoryServer) -> None:
    before = thread_snapshot()
    nc = memory_server.connect()
    nc.subscribe("t", lambda m: None)
    nc.close()
    wait_for(lambda: threads_started_since(before) == [], what="the client's threads to end")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"max_payload": 0}, ValueError, "max_payload must be a positive int"),
        ({"max_payload": True}, ValueError, "max_payload must be a positive int"),
        ({"name": ""}, ValueError, "name must be a non-empty str"),
    ],
)
def test_bad_server_settings_are_named(kwargs: dict[str, object], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        MemoryServer(**kwargs)  # type: ignore[arg-type]


def test_a_transport_that_is_not_a_factory_is_refused() -> None:
    with pytest.raises(TypeError, match=r"transport must be a factory called as transport\(options, events\)"):
        bns.Client(transport=MemoryServer())  # type: ignore[arg-type]
