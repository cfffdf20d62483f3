"""A three-node cluster on loopback: failover when the node the client is on dies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import free_port, wait_for


def _nodes() -> list[EmbeddedServer]:
    route_ports = [free_port() for _ in range(3)]
    nodes = []
    for i, port in enumerate(route_ports):
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(route_ports) if j != i)
        config = f"""
server_name: node{i}
lame_duck_duration: "30s"
lame_duck_grace_period: "0s"
cluster {{
  name: beluga
  listen: 127.0.0.1:{port}
  routes: [{routes}]
}}
"""
        nodes.append(EmbeddedServer(config=config, jetstream=False))
    return nodes


def _start(nodes: list[EmbeddedServer]) -> bool:
    """Start every node; False if a route port chosen a moment ago was taken meanwhile (by
    another process on the machine), in which case the nodes are cleaned up."""
    try:
        for n in nodes:
            n.start()
    except RuntimeError as exc:
        for n in nodes:
            n.cleanup()
        if "address already in use" in str(exc):
            return False
        raise
    return True


@pytest.fixture
def cluster() -> Iterator[list[EmbeddedServer]]:
    for _ in range(5):  # bounded: each try takes fresh ports
        nodes = _nodes()
        if _start(nodes):
            break
    else:
        pytest.fail("could not start the cluster: its route ports kept being taken")
    try:
        with bns.connect(nodes[0].url) as probe:
            # the cluster is formed once a subscription on one node is seen from another
            sub = probe.subscribe("cluster.ready")
            probe.flush(2.0)

            def routed() -> bool:
                with bns.connect(nodes[2].url) as other:
                    other.publish("cluster.ready", b"?")
                    other.flush(1.0)
                try:
                    sub.next_msg(0.2)
                    return True
                except bns.NATSTimeoutError:
                    return False

            wait_for(routed, timeout=15.0, what="routes between the nodes")
        yield nodes
    finally:
        for n in nodes:
            n.cleanup()


def test_failover_to_another_node(cluster: list[EmbeddedServer]) -> None:
    reconnect_wait = 0.5
    reconnected = threading.Event()
    urls = [n.url for n in cluster]
    received: list[int] = []
    with (
        bns.connect(urls[2]) as responder,
        bns.connect(
            urls, dont_randomize=True, reconnect_wait=reconnect_wait, max_reconnects=-1, reconnected_cb=reconnected.set
        ) as nc,
    ):
        assert nc.connected_url == urls[0]
        responder.subscribe("cluster.rpc", lambda m: m.respond(b"pong"))
        responder.flush(2.0)
        nc.subscribe("cluster.events", lambda m: received.append(int(m.data)), pending_msgs_limit=1_000_000)
        nc.flush(2.0)
        assert nc.request("cluster.rpc", b"", timeout=2.0).data == b"pong"
        sent = 0
        for _ in range(1000):
            responder.publish("cluster.events", b"%d" % sent)
            sent += 1
        wait_for(lambda: len(received) == sent, what="events before the failure")

        cluster[0].kill()
        killed = time.monotonic()
        # the publisher keeps going during the gap; core NATS does not keep what nobody received
        while not reconnected.is_set() and time.monotonic() - killed < 10.0:
            responder.publish("cluster.events", b"%d" % sent)
            sent += 1
            reconnected.wait(0.001)
        assert reconnected.is_set()
        gap = time.monotonic() - killed
        assert nc.connected_url in urls[1:]
        assert gap < 2 * reconnect_wait + 0.5, gap

        assert nc.request("cluster.rpc", b"", timeout=2.0).data == b"pong"
        nc.flush(2.0)
        before_tail = sent
        for _ in range(1000):
            responder.publish("cluster.events", b"%d" % sent)
            sent += 1
        wait_for(lambda: bool(received) and received[-1] == sent - 1, what="events after the failover")
        lost = sent - len(received)
        assert received == sorted(received)
        assert set(range(before_tail, sent)) <= set(received), "nothing lost after the failover"
        print(f"failover in {gap:.2f}s; sent={sent} received={len(received)} lost during the gap={lost}")


def test_servers_discovered_from_info(cluster: list[EmbeddedServer]) -> None:
    reconnected = threading.Event()
    with bns.connect(cluster[0].url, reconnect_wait=0.2, max_reconnects=-1, reconnected_cb=reconnected.set) as nc:
        pool = nc._engine.transport.server_pool()
        assert len(pool) >= 2, pool  # the others were learnt from the INFO the server sent
        cluster[0].kill()
        assert reconnected.wait(5.0)
        assert nc.connected_url in (cluster[1].url, cluster[2].url)


def test_lame_duck_mode_is_handled_like_a_disconnect(cluster: list[EmbeddedServer]) -> None:
    import os
    import signal

    disconnected, reconnected = threading.Event(), threading.Event()
    with bns.connect(
        [n.url for n in cluster],
        dont_randomize=True,
        reconnect_wait=0.2,
        max_reconnects=-1,
        disconnected_cb=disconnected.set,
        reconnected_cb=reconnected.set,
    ) as nc:
        assert nc.connected_url == cluster[0].url
        assert cluster[0].pid is not None
        os.kill(cluster[0].pid, signal.SIGUSR2)  # enter lame-duck mode
        assert disconnected.wait(10.0)
        assert reconnected.wait(10.0)
        assert nc.connected_url in (cluster[1].url, cluster[2].url)
        nc.subscribe("cluster.ldm", lambda m: m.respond(b"moved"))
        assert nc.request("cluster.ldm", b"", timeout=2.0).data == b"moved"
