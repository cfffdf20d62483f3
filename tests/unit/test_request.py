"""Request/reply: replies, timeouts, no responders, concurrency, re-entrancy."""

from __future__ import annotations

import threading
import time

import pytest

import beluga_nats_sync as bns


def test_request_reply(client: bns.Client) -> None:
    client.subscribe("rpc.echo", lambda m: m.respond(b"echo:" + m.data, headers={"h": "1"}))
    rep = client.request("rpc.echo", b"hi", timeout=2.0)
    assert rep.data == b"echo:hi"
    assert rep.headers == {"h": "1"}


def test_request_headers_reach_the_responder(client: bns.Client) -> None:
    client.subscribe("rpc.hdr", lambda m: m.respond((m.headers or {}).get("who", "?").encode()))
    assert client.request("rpc.hdr", b"", headers={"who": "agent-7"}, timeout=2.0).data == b"agent-7"


def test_sixteen_threads_request_concurrently(client: bns.Client, make_client) -> None:  # type: ignore[no-untyped-def]
    server_side = make_client()
    server_side.subscribe("rpc.conc", lambda m: m.respond(m.data))
    server_side.flush(2.0)
    errors: list[BaseException] = []
    results: dict[int, list[bytes]] = {}

    def worker(t: int) -> None:
        try:
            results[t] = [client.request("rpc.conc", b"%d-%d" % (t, i), timeout=5.0).data for i in range(50)]
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    ws = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for w in ws:
        w.start()
    for w in ws:
        w.join(30.0)
    assert not errors
    for t in range(16):
        assert results[t] == [b"%d-%d" % (t, i) for i in range(50)]


def test_request_from_inside_a_callback_does_not_deadlock(client: bns.Client) -> None:
    client.subscribe("rpc.inner", lambda m: m.respond(b"inner"))
    outer_results: list[bytes] = []
    done = threading.Event()

    def outer(msg: bns.Msg) -> None:
        outer_results.append(client.request("rpc.inner", b"", timeout=2.0).data)
        done.set()

    client.subscribe("rpc.outer", outer)
    client.publish("rpc.outer", b"go")
    assert done.wait(5.0)
    assert outer_results == [b"inner"]


def test_timeout_is_accurate(client: bns.Client) -> None:
    client.subscribe("rpc.silent", lambda m: None)  # listens, never answers
    client.flush(2.0)
    t0 = time.monotonic()
    with pytest.raises(bns.RequestTimeoutError) as info:
        client.request("rpc.silent", b"", timeout=0.2)
    took = time.monotonic() - t0
    assert 0.2 <= took < 0.5, took
    assert isinstance(info.value, TimeoutError)
    assert "rpc.silent" in str(info.value)


def test_no_responders_is_raised_at_once(client: bns.Client) -> None:
    t0 = time.monotonic()
    with pytest.raises(bns.NoRespondersError) as info:
        client.request("rpc.nobody.home", b"", timeout=5.0)
    assert time.monotonic() - t0 < 0.1
    assert "rpc.nobody.home" in str(info.value)


def test_client_still_works_after_timeouts(client: bns.Client) -> None:
    client.subscribe("rpc.later", lambda m: m.respond(b"ok"))
    with pytest.raises(bns.NoRespondersError):
        client.request("rpc.none", timeout=1.0)
    assert client.request("rpc.later", timeout=2.0).data == b"ok"


def test_respond_without_reply_subject_is_refused(client: bns.Client) -> None:
    sub = client.subscribe("rpc.noreply")
    client.publish("rpc.noreply", b"x")
    msg = sub.next_msg(2.0)
    with pytest.raises(bns.NoReplySubjectError):
        msg.respond(b"y")
