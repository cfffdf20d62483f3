"""Forks, many threads through a reconnect, and hostile input."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_client_created_before_fork(client: bns.Client) -> None:
    sub = client.subscribe("fault.fork")
    client.flush(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: every use is refused at once, nothing is sent on the parent's socket
        code = 1
        try:
            client.publish("fault.fork", b"from the child")
        except bns.ClosedError as exc:
            code = 0 if "fork" in str(exc) else 2
        try:
            sub.next_msg(5.0)
            code = 3
        except bns.ClosedError:
            pass
        client.close()  # harmless
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.publish("fault.fork", b"from the parent")
    assert sub.next_msg(2.0).data == b"from the parent"
    with pytest.raises(bns.NATSTimeoutError):
        sub.next_msg(0.2)  # and nothing from the child


def test_thirty_two_threads_through_a_reconnect(fresh_server: EmbeddedServer) -> None:
    duration = 10.0
    reconnected = threading.Event()
    nc = bns.connect(
        fresh_server.url,
        reconnect_wait=0.1,
        max_reconnects=-1,
        reconnect_buffer_timeout=10.0,
        reconnected_cb=reconnected.set,
    )
    responder = bns.connect(fresh_server.url, reconnect_wait=0.1, max_reconnects=-1)
    try:
        received = [0]

        def count(_: bns.Msg) -> None:
            received[0] += 1

        nc.subscribe("fault.load", count, pending_msgs_limit=10_000_000)
        responder.subscribe("fault.rpc", lambda m: m.respond(m.data))
        nc.flush(2.0)
        responder.flush(2.0)
        stop = threading.Event()
        published = [0] * 16
        outcomes: list[dict[str, int]] = [{} for _ in range(16)]
        unexpected: list[BaseException] = []

        def publisher(i: int) -> None:
            try:
                while not stop.is_set():
                    nc.publish("fault.load", b"x")
                    published[i] += 1
                    if published[i] % 20 == 0:
                        stop.wait(0.001)  # a steady load rather than a flood that starves the requests
            except BaseException as exc:
                unexpected.append(exc)

        def requester(i: int) -> None:
            try:
                while not stop.is_set():
                    try:
                        nc.request("fault.rpc", b"q", timeout=2.0)
                        key = "ok"
                    except (bns.DisconnectedError, bns.NoRespondersError, bns.RequestTimeoutError) as exc:
                        key = type(exc).__name__
                    outcomes[i][key] = outcomes[i].get(key, 0) + 1
            except BaseException as exc:
                unexpected.append(exc)

        threads = [threading.Thread(target=publisher, args=(i,), daemon=True) for i in range(16)]
        threads += [threading.Thread(target=requester, args=(i,), daemon=True) for i in range(16)]
        for t in threads:
            t.start()
        stop.wait(duration / 2)
        fresh_server.restart()
        assert reconnected.wait(10.0)
        stop.wait(duration / 2)
        stop.set()
        watchdog = time.monotonic() + 15.0
        for t in threads:
            t.join(max(0.1, watchdog - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        assert not stuck, f"deadlock: {stuck} still running"
        assert not unexpected, unexpected
        nc.flush(5.0)
        total_pub = sum(published)
        deadline = time.monotonic() + 10.0
        while received[0] < total_pub and time.monotonic() < deadline:
            seen = received[0]
            stop.wait(0.2)
            if received[0] == seen:
                break  # nothing more is coming: what is missing was lost in the restart gap
        ok = sum(o.get("ok", 0) for o in outcomes)
        failed = sum(v for o in outcomes for k, v in o.items() if k != "ok")
        lost = total_pub - received[0]
        assert ok > 0 and 0 <= lost <= total_pub * 0.05, (total_pub, received[0])
        assert nc.stats.out_msgs >= total_pub + ok + failed - 16  # every accepted message was counted
        print(f"published={total_pub} received={received[0]} lost={lost} requests ok={ok} failed={failed}")
    finally:
        nc.close(timeout=5.0)
        responder.close(timeout=5.0)


@pytest.fixture(scope="module")
def fuzz_client(nats_server: EmbeddedServer) -> Iterator[bns.Client]:
    with bns.connect(nats_server.url) as nc:
        yield nc


DOCUMENTED = (bns.InvalidSubjectError, bns.PayloadTooLargeError, TypeError, ValueError)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=st.text(min_size=0, max_size=40),
    headers=st.none() | st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=3),
    size=st.sampled_from([0, 1, 100, 65536, 1024 * 1024, 1024 * 1024 + 1]),
)
def test_any_input_works_or_raises_a_documented_error(
    fuzz_client: bns.Client, subject: str, headers: dict[str, str] | None, size: int
) -> None:
    nc = fuzz_client
    with contextlib.suppress(*DOCUMENTED):  # refusing is fine; anything else fails the test
        nc.publish(subject, b"z" * size, headers=headers)
    sub = nc.subscribe("fuzz.probe")
    nc.publish("fuzz.probe", b"intact")
    assert sub.next_msg(2.0).data == b"intact"
    sub.unsubscribe()
    assert nc.is_connected
