"""Ctrl-C during a blocking call on the client stops it promptly and leaves the client usable, on
the in-memory server (a flush against a paused real server: tests/integration/test_interrupt.py).

A watcher thread sends SIGINT to the main thread once the main thread is parked inside the call
under test (its innermost frame stays on one line), as Ctrl-C in a terminal or "interrupt kernel"
in Jupyter would.
"""

from __future__ import annotations

import beluga_nats_sync as bns

from helpers import interrupted


def test_interrupting_a_request_stops_it_and_the_client_still_works(client: bns.Client) -> None:
    client.subscribe("intr.silent")  # a subscriber that never answers: the request waits
    client.subscribe("intr.rpc", lambda m: m.respond(b"pong:" + m.data))
    client.flush(5.0)
    took = interrupted(lambda: client.request("intr.silent", b"?", timeout=60.0), "request")
    assert took < 5.0, f"request took {took:.2f} s to stop after the interrupt"
    # private: nothing public shows the requests waiting for a reply
    assert len(client._engine.router) == 0  # the abandoned request is forgotten
    assert client.request("intr.rpc", b"1", timeout=5.0).data == b"pong:1"
    assert client.is_connected


def test_interrupting_next_msg_stops_it_and_the_subscription_still_works(client: bns.Client) -> None:
    sub = client.subscribe("intr.pull")
    client.flush(5.0)
    took = interrupted(lambda: sub.next_msg(timeout=60.0), "next_msg")
    assert took < 5.0
    client.publish("intr.pull", b"after")
    assert sub.next_msg(timeout=5.0).data == b"after"
