"""The request router and its waiters, without a server."""

from __future__ import annotations

import threading

from beluga_nats_sync._core.requests import RequestRouter, Waiter
from beluga_nats_sync.protocol.headers import Headers, Status


def test_reply_releases_its_waiter_only() -> None:
    router = RequestRouter("_INBOX.abc.")
    w1, w2 = Waiter(), Waiter()
    r1, r2 = router.register(w1), router.register(w2)
    assert r1 != r2 and r1.startswith("_INBOX.abc.")
    router.deliver(r2, b"two", "", None)
    assert w2.wait(0) and w2.msg is not None and w2.msg.data == b"two"
    assert not w1.wait(0)
    assert len(router) == 1


def test_cancel_forgets_and_a_late_reply_is_ignored() -> None:
    router = RequestRouter("p.")
    w = Waiter()
    reply = router.register(w)
    assert router.cancel(reply)
    assert not router.cancel(reply)
    router.deliver(reply, b"late", "", None)  # nobody waits: dropped, no error
    assert not w.wait(0) and len(router) == 0


def test_fail_all_releases_every_waiter_with_the_error() -> None:
    router = RequestRouter("p.")
    waiters = [Waiter() for _ in range(3)]
    for w in waiters:
        router.register(w)
    err = RuntimeError("gone")
    router.fail_all(err)
    assert all(w.wait(0) and w.error is err for w in waiters)
    assert len(router) == 0


def test_no_responders_status() -> None:
    router = RequestRouter("p.")
    w = Waiter()
    reply = router.register(w)
    status = Headers({"Status": "503"}, status=Status(503))  # as the engine delivers it
    router.deliver(reply, b"", "", status)
    assert w.wait(0) and w.msg is not None and w.msg.no_responders
    w2 = Waiter()
    reply2 = router.register(w2)
    router.deliver(reply2, b"data", "", status)  # data: a real reply that carries a header
    assert w2.wait(0) and w2.msg is not None and not w2.msg.no_responders


def test_a_waiter_blocks_until_released_from_another_thread() -> None:
    router = RequestRouter("p.")
    w = Waiter()
    reply = router.register(w)
    t = threading.Timer(0.05, router.deliver, args=(reply, b"x", "", None))
    t.start()
    try:
        assert w.wait(5.0)
    finally:
        t.cancel()
