"""A three-node JetStream cluster on loopback, each node with its own store (for tests)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import free_port

T = TypeVar("T")
CLUSTER = "beluga-js"


class Node(EmbeddedServer):
    """A cluster node: an embedded server with JetStream and a monitoring port."""

    def __init__(self, *, config: str, http_port: int) -> None:
        super().__init__(config=config, jetstream=True)
        self.http_port = http_port


def node_config(i: int, route_ports: list[int], http_port: int) -> str:
    routes = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(route_ports) if j != i)
    return f"""
server_name: n{i}
http: 127.0.0.1:{http_port}
cluster {{
  name: {CLUSTER}
  listen: 127.0.0.1:{route_ports[i]}
  routes: [{routes}]
}}
"""


@contextmanager
def jetstream_cluster(size: int = 3, timeout: float = 30.0) -> Iterator[list[Node]]:
    """Start ``size`` JetStream nodes routed to each other; yield them once a meta leader answers."""
    route_ports = [free_port() for _ in range(size)]
    http_ports = [free_port() for _ in range(size)]
    nodes = [Node(config=node_config(i, route_ports, http_ports[i]), http_port=http_ports[i]) for i in range(size)]
    try:
        for n in nodes:
            n.start()
        with bns.connect([n.url for n in nodes], timeout=5.0) as nc:
            retry(lambda: _meta_ready(nc, size), timeout, "the JetStream meta leader")
        yield nodes
    finally:
        for n in nodes:
            n.cleanup()


def _meta_ready(nc: bns.Client, size: int) -> bool:
    import json

    reply = json.loads(nc.request("$JS.API.INFO", b"", timeout=1.0).data)
    if "error" in reply:  # 503 until a meta leader is elected
        raise bns.JetStreamError(str(reply["error"]))
    return True


def retry(fn: Callable[[], T], timeout: float, what: str, pause: float = 0.05) -> T:
    """Call ``fn`` until it returns without a NATS error, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        # concurrent.futures.TimeoutError: what a JetStream call that times out raises on Python
        # 3.10 (a defect: tests/integration/test_hostile.py, test_a_call_timing_out_...)
        except (bns.NATSSyncError, concurrent.futures.TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}: {exc!r}") from exc
        time.sleep(pause)  # a back-off between attempts, not a synchronisation


def stream_leader(js: Any, stream: str) -> str | None:
    info = js.stream_info(stream, timeout=2.0)
    return info.cluster.leader if info.cluster is not None else None


def meta_leader(node: Node) -> str | None:
    """The name of the JetStream meta leader, as ``node``'s monitoring endpoint sees it."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/jsz", timeout=2.0) as r:
        meta = json.load(r).get("meta_cluster") or {}
    leader: str | None = meta.get("leader") or None
    return leader
