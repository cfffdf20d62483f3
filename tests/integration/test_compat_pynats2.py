"""The pynats2 drop-in (beluga_nats_sync.compat.pynats2) against a real nats-server.

The scenarios of pynats2's own test-suite (connect/close, context manager, rejected connect,
bad scheme, reconnect, subscribe/unsubscribe, publish with and without payload, request and
request timeout, vhost prefixing) run against the shim; the ``impl`` ones run against the real
pynats2 too, when it can be imported, to show the same observable behaviour.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
import types
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.compat import pynats2 as shim
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for
from shared import REAL, needs_real


@pytest.fixture
def url(nats_server: EmbeddedServer) -> str:
    return nats_server.url


@pytest.fixture
def dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"nats://127.0.0.1:{port}"


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    """Clients made by a test, closed at its end even when it fails (pynats2's threads are not
    daemon threads: an unclosed one would keep the interpreter alive)."""
    made: list[Any] = []
    yield made
    for c in made:
        c.close()


class Inbox:
    """A callback that keeps what it receives, and the threads it ran on."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, msg: Any) -> None:
        with self._lock:
            self.messages.append(msg)
            self.threads.add(threading.current_thread().name)

    def wait(self, n: int, timeout: float = 5.0) -> list[Any]:
        wait_for(lambda: len(self.messages) >= n, timeout, f"{n} message(s)")
        return self.messages


def connected(impl: types.ModuleType, clients: list[Any], url: str, cls: str = "NATSClient", **kw: Any) -> Any:
    c = getattr(impl, cls)(url, socket_timeout=kw.pop("socket_timeout", 5), **kw)
    c.connect()
    clients.append(c)
    return c


def real_traffic(inbox: Inbox) -> list[Any]:
    """What an observer saw, without the barriers' own messages."""
    return [m for m in inbox.messages if ".barrier." not in f".{m.subject}"]


def barrier(*cs: Any) -> None:
    """Return once the server has processed what each client sent so far.

    pynats2's ping() waits for no PONG, so the barrier is a message each client sends itself:
    the server handles one connection's commands in order.
    """
    for c in cs:
        inbox = Inbox()
        sentinel = f"barrier.{id(inbox)}"
        sub = c.subscribe(sentinel, callback=inbox)
        c.publish(sentinel)
        inbox.wait(1)
        c.unsubscribe(sub)


# -- connect and close ---------------------------------------------------------------------------
def test_connect_ping_close(impl: types.ModuleType, url: str) -> None:
    client = impl.NATSClient(url, socket_timeout=5)
    client.connect()
    try:
        client.ping()
    finally:
        client.close()


def test_context_manager(impl: types.ModuleType, url: str) -> None:
    with impl.NATSClient(url, socket_timeout=5) as client:
        client.ping()
        assert isinstance(client, impl.NATSClient)


def test_close_is_idempotent_and_calls_after_it_raise_connection_errors(url: str) -> None:
    client = shim.NATSClient(url, socket_timeout=5)
    client.close()  # never connected: nothing to do
    with pytest.raises(shim.NATSConnectionError, match="not connected"):
        client.publish("a")
    client.connect()
    client.connect()  # already connected: nothing to do
    first = client.client
    client.connect()
    assert client.client is first
    client.close()
    client.close()
    assert client.client is None
    for call in (
        lambda: client.publish("a", payload=b"x"),
        lambda: client.request("a", timeout=1),
        lambda: client.subscribe("a", callback=print),
        client.ping,
    ):
        with pytest.raises(shim.NATSConnectionError, match="connect"):
            call()


def test_rejected_connect_raises_connection_error(dead_url: str) -> None:
    client = shim.NATSClient(dead_url, socket_timeout=2)
    t0 = time.monotonic()
    with pytest.raises(shim.NATSConnectionError) as info:
        client.connect()
    assert time.monotonic() - t0 < 2.0
    # what pynats2 0.9 let escape is a ConnectionRefusedError: handlers for it still work
    assert isinstance(info.value, ConnectionRefusedError)
    assert dead_url in str(info.value) and "refused" in str(info.value)
    assert client.client is None


@needs_real
def test_rejected_connect_is_caught_by_pynats2_era_handlers(dead_url: str) -> None:
    assert REAL is not None
    for mod in (REAL, shim):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # pynats2 leaves the refused socket open
            try:
                mod.NATSClient(dead_url, socket_timeout=2).connect()
            except ConnectionRefusedError:
                pass
            else:
                pytest.fail(f"{mod.__name__}: connect() to a dead port did not raise")
            gc.collect()


def test_bad_arguments_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(TypeError, match="url"):
        shim.NATSClient(4222)  # type: ignore[arg-type]
    for kw, match in [
        ({"socket_timeout": 0}, "socket_timeout"),
        ({"socket_timeout": "1"}, "socket_timeout"),
        ({"ping_interval": -1}, "ping_interval"),
        ({"workers": 0}, "workers"),
        ({"reconnect_delay": float("inf")}, "reconnect_delay"),
        ({"tls_client_cert": "c.pem"}, "tls_client_key"),
    ]:
        with pytest.raises(ValueError, match=match):
            shim.NATSClient(url, **kw)
    with shim.NATSClient(url, socket_timeout=5) as client:
        with pytest.raises(ValueError, match="max_messages"):
            client.subscribe("a", callback=print, max_messages=0)
        with pytest.raises(TypeError, match="callback"):
            client.subscribe("a", callback=None)  # type: ignore[arg-type]
        with pytest.raises(bns.InvalidSubjectError):  # pynats2 sent it and its reader died on the -ERR
            client.publish("with space")
        with pytest.raises(TypeError, match="subject"):
            client.publish(b"bytes")  # type: ignore[arg-type]


def test_multiple_urls_are_tried_in_order(url: str, dead_url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, f"{dead_url}, {url}")
    assert client.client.connected_url == url
    client.ping()
    with pytest.raises(shim.NATSConnectionError, match="refused"):
        shim.NATSClient(f"{dead_url},{dead_url.replace('nats', 'tls')}", socket_timeout=2).connect()


def test_socket_timeout_bounds_connect_to_a_silent_server() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        client = shim.NATSClient(f"nats://127.0.0.1:{s.getsockname()[1]}", socket_timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(shim.NATSConnectionError):
            client.connect()
        assert time.monotonic() - t0 < 3.0
    finally:
        s.close()


# -- reconnect -----------------------------------------------------------------------------------
def test_reconnect(impl: types.ModuleType, url: str) -> None:
    client = impl.NATSClient(url, socket_timeout=5)
    client.connect()
    try:
        client.ping()
        client.reconnect()
        client.ping()
    finally:
        client.close()


def test_reconnect_restores_subscriptions(url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, url)
    inbox, limited = Inbox(), Inbox()
    sub = client.subscribe("re.sub", callback=inbox)
    lim = client.subscribe("re.lim", callback=limited, max_messages=3)
    client.publish("re.lim", payload=b"1")
    limited.wait(1)
    old = client.client
    client.reconnect()
    assert client.client is not old and old is not None and old.is_closed
    client.publish("re.sub", payload=b"after")
    for i in range(2, 6):
        client.publish("re.lim", payload=str(i).encode())
    assert inbox.wait(1)[0] == shim.NATSMessage(sid=sub.sid, subject="re.sub", reply="", payload=b"after")
    barrier(client)
    assert [m.payload for m in limited.wait(3)] == [b"1", b"2", b"3"]  # the limit counts across reconnects
    assert lim.is_wasted()


def test_lost_connection_is_reestablished_without_a_call(fresh_server: EmbeddedServer, clients: list[Any]) -> None:
    """pynats2 needed an explicit reconnect(); ours reconnects and resubscribes by itself."""
    client = connected(shim, clients, fresh_server.url, reconnect_delay=0.05)
    inbox = Inbox()
    client.subscribe("survive", callback=inbox)
    fresh_server.kill()
    wait_for(lambda: not client.client.is_connected, 5.0, "the client to notice")
    with pytest.raises(shim.NATSConnectionError):
        client.ping()  # reconnecting: no round trip possible
    fresh_server.start()
    wait_for(lambda: client.client.is_connected, 10.0, "the client to reconnect")
    client.publish("survive", payload=b"still here")
    assert inbox.wait(1)[0].payload == b"still here"


# -- subscribe / unsubscribe ------------------------------------------------------------------------
def test_subscribe_unsubscribe(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    client = connected(impl, clients, url)
    sub = client.subscribe("test-subject", callback=lambda m: m, queue="test-queue", max_messages=2)
    assert isinstance(sub, impl.NATSSubscription)
    assert (sub.subject, sub.queue, sub.max_messages, sub.received_messages) == ("test-subject", "test-queue", 2, 0)
    client.unsubscribe(sub)


def test_unsubscribe_stops_delivery(url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, url)
    gone, sentinel = Inbox(), Inbox()
    sub = client.subscribe("unsub.a", callback=gone)
    client.subscribe("unsub.b", callback=sentinel)
    client.publish("unsub.a", payload=b"1")
    gone.wait(1)
    client.unsubscribe(sub)
    client.unsubscribe(sub)  # idempotent
    client.publish("unsub.a", payload=b"2")
    client.publish("unsub.b", payload=b"after")
    sentinel.wait(1)  # published after the one that must not arrive, on the same connection
    assert [m.payload for m in gone.messages] == [b"1"]


def test_unsubscribe_from_its_own_callback(url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, url)
    seen: list[bytes] = []
    subs: list[Any] = []

    def once(msg: Any) -> None:
        seen.append(msg.payload)
        client.unsubscribe(subs[0])

    subs.append(client.subscribe("self.unsub", callback=once))
    for i in range(5):
        client.publish("self.unsub", payload=b"%d" % i)
    wait_for(lambda: seen == [b"0"], 5.0, "the first message")
    barrier(client)
    assert seen == [b"0"] and not subs[0]._sub.is_active


def test_max_messages_ends_the_subscription_on_the_server(url: str, clients: list[Any]) -> None:
    """With a queue group no message is lost to a member past its limit: the server knows it."""
    member, peer = connected(shim, clients, url), connected(shim, clients, url)
    limited, other = Inbox(), Inbox()
    sub = member.subscribe("qg.work", callback=limited, queue="workers", max_messages=2)
    member.auto_unsubscribe(sub)  # what pynats2 code does; already done by subscribe
    peer.subscribe("qg.work", callback=other, queue="workers")
    barrier(member, peer)
    for i in range(40):
        peer.publish("qg.work", payload=b"%d" % i)
    wait_for(lambda: len(limited.messages) + len(other.messages) == 40, 5.0, "all 40 messages")
    assert len(limited.messages) <= 2
    assert sub.received_messages == len(limited.messages)
    barrier(peer)
    assert len(limited.messages) + len(other.messages) == 40


def test_auto_unsubscribe_after_raising_the_limit(url: str, clients: list[Any]) -> None:
    """Setting max_messages after subscribing, then auto_unsubscribe(), limits it on the server."""
    member, peer = connected(shim, clients, url), connected(shim, clients, url)
    limited, other = Inbox(), Inbox()
    sub = member.subscribe("auto.later", callback=limited, queue="workers")
    member.auto_unsubscribe(sub)  # no max_messages: nothing to do
    sub.max_messages = 3
    member.auto_unsubscribe(sub)
    peer.subscribe("auto.later", callback=other, queue="workers")
    barrier(member, peer)
    for i in range(60):
        peer.publish("auto.later", payload=b"%d" % i)
    wait_for(lambda: len(limited.messages) + len(other.messages) == 60, 5.0, "all 60 messages")
    assert len(limited.messages) <= 3
    barrier(member, peer)
    assert len(limited.messages) + len(other.messages) == 60
    if len(limited.messages) == 3:
        assert sub.is_wasted() and sub.sid not in member._subs


def test_publish_and_receive_with_and_without_payload(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    receiver, sender = connected(impl, clients, url), connected(impl, clients, url)
    inbox = Inbox()
    sub = receiver.subscribe("test-subject", callback=inbox, queue="test-queue", max_messages=2)
    receiver.auto_unsubscribe(sub)
    barrier(receiver)
    sender.publish("test-subject")
    sender.publish("test-subject", payload=b"test-payload")
    got = inbox.wait(2)
    fields = [(m.sid, m.subject, m.reply, m.payload) for m in got]
    expected = [(sub.sid, "test-subject", "", b""), (sub.sid, "test-subject", "", b"test-payload")]
    if impl is shim:
        assert fields == expected  # ours runs callbacks in order, on the subscription's one thread
    else:
        # pynats2 hands each message to a pool of 3 worker threads and does not promise their order
        assert sorted(fields) == sorted(expected)
    assert all(isinstance(m, impl.NATSMessage) for m in got)
    assert sub.received_messages == 2 and sub.is_wasted()


def test_publish_with_reply_and_text_payload(url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, url)
    inbox = Inbox()
    client.subscribe("with.reply", callback=inbox)
    client.publish("with.reply", payload="héllo", reply="answers.here")  # type: ignore[arg-type]
    msg = inbox.wait(1)[0]
    assert (msg.reply, msg.payload) == ("answers.here", "héllo".encode())


def test_callbacks_run_in_order_on_one_thread(url: str, clients: list[Any]) -> None:
    """pynats2 handed messages to a pool of workers, so callbacks ran concurrently, in any order."""
    client = connected(shim, clients, url, workers=3)
    seen: list[bytes] = []
    threads: set[str] = set()
    running = threading.Semaphore(1)
    overlaps: list[bool] = []

    def callback(msg: Any) -> None:
        overlaps.append(not running.acquire(blocking=False))
        threads.add(threading.current_thread().name)
        seen.append(msg.payload)
        if msg.payload == b"13":
            running.release()
            raise RuntimeError("a failing callback does not stop delivery")
        running.release()

    client.subscribe("ordered", callback=callback)
    payloads = [b"%d" % i for i in range(300)]
    for p in payloads:
        client.publish("ordered", payload=p)
    wait_for(lambda: len(seen) == len(payloads), 10.0, "all messages")
    assert seen == payloads
    assert len(threads) == 1 and threading.current_thread().name not in threads
    assert not any(overlaps)


# -- request -------------------------------------------------------------------------------------
def test_request(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    responder, requester = connected(impl, clients, url), connected(impl, clients, url)
    responder.subscribe(
        "test-subject",
        callback=lambda m: responder.publish(m.reply, payload=b"re:" + m.payload),
        queue="test-queue",
    )
    barrier(responder)
    for payload in (b"", b"test-payload"):
        resp = requester.request("test-subject", payload=payload, timeout=5)
        assert isinstance(resp, impl.NATSMessage)
        assert resp.subject.startswith("_INBOX.")
        assert (resp.reply, resp.payload) == ("", b"re:" + payload)


def test_request_from_the_no_subscribe_client(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    responder = connected(impl, clients, url)
    responder.subscribe("nosub.rpc", callback=lambda m: responder.publish(m.reply, payload=m.payload[::-1]))
    barrier(responder)
    with impl.NATSNoSubscribeClient(url, socket_timeout=5) as client:
        assert not hasattr(client, "subscribe")
        assert client.request("nosub.rpc", payload=b"abc", timeout=5).payload == b"cba"
        client.publish("nosub.other", payload=b"fire and forget")


def test_request_timeout(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    silent = connected(impl, clients, url)
    silent.subscribe("test-silent", callback=lambda m: None)
    barrier(silent)
    client = connected(impl, clients, url)
    t0 = time.monotonic()
    with pytest.raises(impl.NATSRequestTimeoutError):
        client.request("test-silent", timeout=0.5)
    assert time.monotonic() - t0 >= 0.45


def test_request_with_no_responders_fails_at_once(url: str, clients: list[Any]) -> None:
    """pynats2 waited for the whole timeout; the error type is the same, but it comes at once."""
    client = connected(shim, clients, url)
    t0 = time.monotonic()
    with pytest.raises(shim.NATSRequestTimeoutError, match="no responders") as info:
        client.request("nobody.listens", timeout=30)
    assert time.monotonic() - t0 < 10
    assert isinstance(info.value, TimeoutError)
    client.ping()  # the client is fine afterwards


def test_request_inside_a_callback(url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, url)
    client.subscribe("inner.rpc", callback=lambda m: client.publish(m.reply, payload=b"inner"))
    results: list[bytes] = []
    client.subscribe("outer", callback=lambda m: results.append(client.request("inner.rpc", timeout=5).payload))
    client.publish("outer")
    wait_for(lambda: results == [b"inner"], 5.0, "the nested request")


# -- vhost -----------------------------------------------------------------------------------------
def test_vhost_prefixes_subjects_on_the_wire(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    raw = connected(shim, clients, url)  # no vhost: sees the subjects as the server does
    wire = Inbox()
    raw.subscribe("vhost1.>", callback=wire)
    barrier(raw)
    client = connected(impl, clients, url + "/vhost1")
    inbox = Inbox()
    sub = client.subscribe("test-subject", callback=inbox, max_messages=2)
    barrier(client)
    client.publish("test-subject", payload=b"from inside")
    raw.publish("vhost1.test-subject", payload=b"from outside", reply="vhost1.back")
    got = sorted(inbox.wait(2), key=lambda m: m.payload)
    assert [(m.sid, m.subject, m.reply, m.payload) for m in got] == [
        (sub.sid, "test-subject", "", b"from inside"),
        (sub.sid, "test-subject", "back", b"from outside"),
    ]
    wait_for(lambda: len(real_traffic(wire)) == 2, 5.0, "both messages on the wire")
    assert {m.subject for m in real_traffic(wire)} == {"vhost1.test-subject"}


def test_vhost_request_reply_stays_inside_the_vhost(impl: types.ModuleType, url: str, clients: list[Any]) -> None:
    raw = connected(shim, clients, url)
    wire = Inbox()
    raw.subscribe("tenant.a.>", callback=wire)
    responder = connected(impl, clients, url + "/tenant/a")
    responder.subscribe("rpc", callback=lambda m: responder.publish(m.reply, payload=b"ok:" + m.payload))
    barrier(raw, responder)
    requester = connected(shim, clients, url + "/tenant/a/")
    resp = requester.request("rpc", payload=b"q", timeout=5)
    assert resp.payload == b"ok:q" and resp.subject.startswith("_INBOX.")
    wait_for(lambda: len(real_traffic(wire)) == 2, 5.0, "the request and its reply on the wire")
    request_on_wire = next(m for m in wire.messages if m.subject == "tenant.a.rpc")
    assert request_on_wire.reply.startswith("tenant.a._INBOX.")


def test_vhosts_are_isolated(url: str, clients: list[Any]) -> None:
    one, two = connected(shim, clients, url + "/one"), connected(shim, clients, url + "/two")
    got_one, got_two = Inbox(), Inbox()
    one.subscribe("news", callback=got_one)
    two.subscribe("news", callback=got_two)
    barrier(one, two)
    one.publish("news", payload=b"for one")
    two.publish("news", payload=b"for two")
    assert [m.payload for m in got_two.wait(1)] == [b"for two"]
    assert [m.payload for m in got_one.wait(1)] == [b"for one"]
    barrier(one, two)
    assert len(got_one.messages) == len(got_two.messages) == 1


# -- what pynats2 got wrong ------------------------------------------------------------------------
PERMISSIONS_CONF = """
authorization {
  users = [
    {user: agent, password: s3cret, permissions: {publish: {deny: ["forbidden"]}}}
  ]
}
"""


def test_a_server_error_does_not_stop_delivery() -> None:
    """pynats2's reader thread died on the first -ERR; here the error is logged and life goes on."""
    with EmbeddedServer(config=PERMISSIONS_CONF, jetstream=False) as srv:
        url = f"nats://agent:s3cret@127.0.0.1:{srv.port}"
        with shim.NATSClient(url, socket_timeout=5) as client:
            assert "s3cret" not in repr(client)
            inbox = Inbox()
            client.subscribe("allowed", callback=inbox)
            client.publish("forbidden", payload=b"x")  # -ERR 'Permissions Violation ...'
            client.ping()
            client.publish("allowed", payload=b"still delivered")
            assert inbox.wait(1)[0].payload == b"still delivered"
            under = client.client
            assert under is not None
            wait_for(lambda: under.stats.errors >= 1, 5.0, "the -ERR to be reported")
        # pynats2 returned from connect() before the server answered; ours waits and raises.
        # (The server may reset the connection before its -ERR is read: only the type is certain.)
        with pytest.raises(shim.NATSConnectionError):
            shim.NATSClient(f"nats://agent:wrong@127.0.0.1:{srv.port}", socket_timeout=5).connect()


# -- TLS -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d: Path = tmp_path_factory.mktemp("tls")
    files = {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    return {k: str(v) for k, v in files.items()}


@pytest.fixture(scope="module")
def tls_server(tls_files: dict[str, str]) -> Iterator[EmbeddedServer]:
    conf = f'tls {{\n  cert_file: "{tls_files["cert"]}"\n  key_file: "{tls_files["key"]}"\n}}\n'
    with EmbeddedServer(config=conf, jetstream=False) as srv:
        yield srv


def _roundtrip(client: Any) -> None:
    inbox = Inbox()
    client.subscribe("tls.echo", callback=inbox)
    client.publish("tls.echo", payload=b"secret")
    assert inbox.wait(1)[0].payload == b"secret"


@pytest.mark.parametrize("verify", [False, True])
def test_tls_connect(tls_server: EmbeddedServer, tls_files: dict[str, str], verify: bool) -> None:
    url = f"tls://127.0.0.1:{tls_server.port}"
    with shim.NATSClient(url, socket_timeout=5, tls_verify=verify, tls_cacert=tls_files["ca"]) as client:
        client.ping()
        _roundtrip(client)


def test_tls_required_by_the_server_but_not_asked_for(tls_server: EmbeddedServer) -> None:
    with pytest.raises(shim.NATSTLSConnectionRequiredError, match="tls://"):
        shim.NATSClient(f"nats://127.0.0.1:{tls_server.port}", socket_timeout=5).connect()


def test_tls_asked_for_but_not_offered(url: str) -> None:
    """nats-py would quietly go on in clear text; pynats2 refused, and so do we."""
    with pytest.raises(shim.NATSTCPConnectionRequiredError):
        shim.NATSClient(url.replace("nats://", "tls://"), socket_timeout=5).connect()


def test_tls_verify_refuses_an_unknown_certificate(tls_server: EmbeddedServer) -> None:
    client = shim.NATSClient(f"tls://127.0.0.1:{tls_server.port}", socket_timeout=5, tls_verify=True)
    with pytest.raises(shim.NATSConnectionError):
        client.connect()


# -- leftovers --------------------------------------------------------------------------------------
def test_close_ends_the_threads_it_started(url: str) -> None:
    before = set(threading.enumerate())
    client = shim.NATSClient(url, socket_timeout=5)
    client.connect()
    client.subscribe("threads", callback=lambda m: None)
    client.close()

    def ours_left() -> list[threading.Thread]:
        return [t for t in set(threading.enumerate()) - before if t.is_alive()]

    wait_for(lambda: not ours_left(), 5.0, "the client's threads to end")


def test_a_dropped_client_is_closed(url: str) -> None:
    before = set(threading.enumerate())
    client = shim.NATSClient(url, socket_timeout=5)
    client.connect()
    client.subscribe("dropped", callback=lambda m: None)
    under = weakref.ref(client.client)  # type: ignore[arg-type]
    del client
    gc.collect()
    assert under() is None
    wait_for(lambda: not [t for t in set(threading.enumerate()) - before if t.is_alive()], 5.0, "its threads to end")


def test_repr_and_underlying_client(url: str, clients: list[Any]) -> None:
    client = connected(shim, clients, url + "/space")
    assert isinstance(client.client, bns.Client)
    text = repr(client)
    assert "connected" in text and "space." in text and "subscriptions=0" in text
