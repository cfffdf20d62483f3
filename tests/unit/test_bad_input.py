"""Bad input is refused in the caller's thread with a clear error, and the client stays healthy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

import beluga_nats_sync as bns


def assert_healthy(client: bns.Client) -> None:
    sub = client.subscribe("bad.health")
    client.publish("bad.health", b"still ok")
    assert sub.next_msg(2.0).data == b"still ok"
    sub.unsubscribe()


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda c: c.publish("", b"x"), bns.InvalidSubjectError, "empty"),
        (lambda c: c.publish("a b", b"x"), bns.InvalidSubjectError, "whitespace"),
        (lambda c: c.publish("a\r\nPUB x 1", b"x"), bns.InvalidSubjectError, "whitespace"),
        (lambda c: c.publish("a.*", b"x"), bns.InvalidSubjectError, "wildcard"),
        (lambda c: c.publish("a.>", b"x"), bns.InvalidSubjectError, "wildcard"),
        (lambda c: c.publish("a..b", b"x"), bns.InvalidSubjectError, "empty token"),
        (lambda c: c.publish(b"bytes.subject", b"x"), TypeError, "must be a str"),
        (lambda c: c.publish("ok", "text"), TypeError, ".encode()"),
        (lambda c: c.publish("ok", 123), TypeError, "bytes-like"),
        (lambda c: c.publish("ok", b"x", headers={"k": 1}), TypeError, "values must be str"),
        (lambda c: c.publish("ok", b"x", headers={1: "v"}), TypeError, "names must be str"),
        (lambda c: c.publish("ok", b"x", headers={"k": "a\r\nb"}), ValueError, "CR or LF"),
        (lambda c: c.publish("ok", b"x", headers={"a b": "v"}), ValueError, "header name"),
        (lambda c: c.publish("ok", b"x", headers={"a:b": "v"}), ValueError, "header name"),
        (lambda c: c.publish("ok", b"x", headers=["k", "v"]), TypeError, "mapping"),
        (lambda c: c.publish("ok", b"x", headers={"X": ["a", 1]}), TypeError, "header 'X' value [1]: values must"),
        (lambda c: c.publish("ok", b"x", headers={"X": ["a", "b\r\nPUB y 1"]}), ValueError, "header 'X' value [1]: "),
        (lambda c: c.publish("ok", b"x", headers={"X": ("a", None)}), TypeError, "a str or a list of str"),
        (lambda c: c.publish("ok", b"x", headers={"X": {"a"}}), TypeError, "a str or a list of str"),
        (lambda c: c.request("bad.rpc", b"", headers={"X": ["\n"]}, timeout=1), ValueError, "header 'X' value [0]"),
        (lambda c: c.request_many("bad.rpc", b"", headers={"X": [b"v"]}), TypeError, "header 'X' value [0]"),
        (lambda c: c.publish("ok", b"x", reply="r r"), bns.InvalidSubjectError, "whitespace"),
        (lambda c: c.subscribe(""), bns.InvalidSubjectError, "empty"),
        (lambda c: c.subscribe("a.>.b"), bns.InvalidSubjectError, "last token"),
        (lambda c: c.subscribe("a", queue="q q"), bns.InvalidSubjectError, "queue"),
        (lambda c: c.subscribe("a", callback=42), TypeError, "callable"),
        (lambda c: c.subscribe("a", max_msgs=0), ValueError, "max_msgs"),
        (lambda c: c.subscribe("a", pending_msgs_limit=0), ValueError, "pending_msgs_limit"),
        (lambda c: c.request("bad.rpc", b"", timeout=-1), ValueError, "timeout"),
        (lambda c: c.request("bad.rpc", b"", timeout=math.nan), ValueError, "timeout"),
        (lambda c: c.request("bad.*", b"", timeout=1), bns.InvalidSubjectError, "wildcard"),
        (lambda c: c.flush(timeout=-0.5), ValueError, "timeout"),
        (lambda c: c.subscribe("bad.t").next_msg(timeout=math.nan), ValueError, "timeout"),
    ],
)
def test_bad_input_is_refused_and_client_stays_healthy(
    client: bns.Client, call: Callable[[bns.Client], Any], error: type[BaseException], words: str
) -> None:
    with pytest.raises(error) as info:
        call(client)
    assert words in str(info.value)
    assert_healthy(client)


def test_coroutine_callback_is_refused(client: bns.Client) -> None:
    async def cb(msg: bns.Msg) -> None:
        return None

    with pytest.raises(TypeError, match="plain function"):
        client.subscribe("bad.coro", cb)
    assert_healthy(client)


def test_payload_larger_than_max_payload(client: bns.Client) -> None:
    big = b"x" * (client.max_payload + 1)
    with pytest.raises(bns.PayloadTooLargeError) as info:
        client.publish("bad.big", big)
    assert info.value.size == len(big) and info.value.max_payload == client.max_payload
    assert isinstance(info.value, ValueError)
    with pytest.raises(bns.PayloadTooLargeError):
        client.request("bad.big", big, timeout=1.0)
    assert_healthy(client)


def test_payload_at_max_payload_is_accepted(client: bns.Client) -> None:
    sub = client.subscribe("bad.exact")
    data = b"y" * client.max_payload
    client.publish("bad.exact", data)
    assert sub.next_msg(5.0).data == data


def test_use_after_close(make_client) -> None:  # type: ignore[no-untyped-def]
    nc = make_client()
    sub = nc.subscribe("bad.closed")
    nc.close()
    for call in (
        lambda: nc.publish("a", b""),
        lambda: nc.subscribe("a"),
        lambda: nc.request("a", b"", timeout=1),
        lambda: nc.flush(1),
        lambda: nc.drain(1),
        lambda: sub.next_msg(0.1),
    ):
        with pytest.raises(bns.ClosedError):
            call()
    nc.close()  # idempotent


def test_use_before_connect() -> None:
    nc = bns.Client("nats://127.0.0.1:1")
    with pytest.raises(bns.ClosedError, match="connect"):
        nc.publish("a", b"")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"reconnect_wait": math.nan}, "reconnect_wait"),
        ({"max_reconnects": -2}, "max_reconnects"),
        ({"pending_msgs_limit": 0}, "pending_msgs_limit"),
        ({"servers": ""}, "servers"),
        ({"servers": "http://x:1"}, "scheme"),
        ({"servers": "htp:/nope"}, "'htp:/nope' is not a server URL"),
        ({"servers": "nats:/localhost:4222"}, "a scheme ends with '://'"),
        ({"servers": "nats://:4222"}, "names no host"),
        ({"servers": "nats://host:99999"}, "not a valid URL"),
        ({"servers": "nats://host:4222/tenant"}, "has a path"),
        ({"servers": "nats://a:1,ws://b:2"}, "mix websocket"),
        ({"name": 5}, "name"),
        ({"error_cb": "nope"}, "error_cb"),
        ({"allow_reconnect": "yes"}, "allow_reconnect"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        bns.Options(**kwargs)
    assert words in str(info.value)


def test_servers_forms() -> None:
    assert bns.Options(servers="nats://a:1, nats://b:2").servers == ("nats://a:1", "nats://b:2")
    for url in ("localhost", "127.0.0.1:4222", "[::1]:4222", "tls://h:1", "ws://h:8080/nats", "wss://h", "nats://h/"):
        assert bns.Options(servers=url).servers == (url,)


def test_a_mistyped_bus_keyword_is_named_before_connecting() -> None:
    with pytest.raises(TypeError, match=r"unknown keyword argument 'max_retrys'; did you mean 'max_retries'\?"):
        bns.NATSMessageBus("nats://127.0.0.1:1", max_retrys=2)
    with pytest.raises(TypeError, match="'nmae'; did you mean 'name'") as info:
        bns.NATSMessageBus("nats://127.0.0.1:1", nmae="planner")
    assert "Options.__init__" not in str(info.value)


def test_repr_names_the_client() -> None:
    assert repr(bns.Client("nats://127.0.0.1:1", name="agent-1")).startswith("<beluga_nats_sync.Client 'agent-1' new ")
    assert repr(bns.Client("nats://127.0.0.1:1")).startswith("<beluga_nats_sync.Client new ")
    assert bns.Options(servers=["nats://a:1", "nats://b:2"]).servers == ("nats://a:1", "nats://b:2")


def test_servers_default_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4333")
    assert bns.Options().servers == ("nats://127.0.0.1:4333",)
    monkeypatch.delenv("NATS_URL")
    assert bns.Options().servers == ("nats://localhost:4222",)


def test_secrets_are_not_in_repr() -> None:
    opts = bns.Options(servers="nats://alice:s3cret@127.0.0.1:1", user="bob", password="hunter2", token="tok-123")
    text = repr(opts) + repr(bns.Client(options=opts))
    for secret in ("s3cret", "hunter2", "tok-123"):
        assert secret not in text


def test_a_mistyped_client_option_is_named_before_connecting() -> None:
    with pytest.raises(TypeError, match=r"unknown client option 'timout'; did you mean 'timeout'\?") as info:
        bns.connect("nats://127.0.0.1:1", timout=1.0)
    assert "Options.__init__" not in str(info.value)
    with pytest.raises(TypeError, match="'reconect_wait'; did you mean 'reconnect_wait'"):
        bns.Client(reconect_wait=1.0)


def test_a_bad_list_value_sends_nothing(client: bns.Client) -> None:
    """Nothing of a refused message reaches the server, not even the values before the bad one."""
    sub = client.subscribe("bad.list")
    client.flush(2.0)
    with pytest.raises(ValueError, match=r"header 'X' value \[2\]: the value must not contain CR or LF"):
        client.publish("bad.list", b"refused", headers={"X": ["a", "b", "c\r\n"]})
    with pytest.raises(TypeError, match=r"header 'X' value \[1\]"):
        client.subscribe("bad.list.rpc", lambda m: None)
        client.request("bad.list.rpc", b"", headers={"X": ["a", 2]}, timeout=1.0)  # type: ignore[list-item]
    client.publish("bad.list", b"accepted", headers={"X": ["a", "b"]})
    msg = sub.next_msg(2.0)
    assert msg.data == b"accepted" and msg.headers is not None and msg.headers.get_all("X") == ["a", "b"]
    with pytest.raises(bns.NATSTimeoutError):
        sub.next_msg(0.2)  # the refused one was never sent
    assert_healthy(client)


def test_a_bad_list_value_is_refused_by_responders_services_and_jetstream(client: bns.Client) -> None:
    errors: list[BaseException] = []

    def respond_badly(msg: bns.Msg) -> None:
        try:
            msg.respond(b"", headers={"X": ["ok", 3]})  # type: ignore[list-item]
        except TypeError as exc:
            errors.append(exc)
            msg.respond(b"after")

    client.subscribe("bad.respond", respond_badly)
    assert client.request("bad.respond", b"", timeout=5.0).data == b"after"
    assert len(errors) == 1 and "header 'X' value [1]" in str(errors[0])

    js = client.jetstream(timeout=5.0)
    with pytest.raises(ValueError, match=r"header 'X' value \[0\]: the value must not contain CR or LF"):
        js.publish("bad.js.nostream", b"", headers={"X": ["\r"]}, msg_id="m")
    assert_healthy(client)
