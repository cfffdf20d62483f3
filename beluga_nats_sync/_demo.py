"""The main job: the Go guide's scenario, played by synchronous agents.

A worker agent answers each message on ``agent.requests`` with one on ``agent.responses``; a
planner agent publishes requests and collects the responses; an asker agent uses request/reply
on ``agent.rpc`` with a timeout. Runs against ``$NATS_URL`` or, when nothing answers there, an
embedded ``nats-server``.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator

from ._client import Client, connect
from ._core.msg import Msg
from ._core.options import DEFAULT_URL
from .errors import ConnectError

__all__ = ["run_demo"]


@contextlib.contextmanager
def _server_url(url: str | None, say: Callable[[str], None]) -> Iterator[str]:
    url = url or os.environ.get("NATS_URL") or DEFAULT_URL
    try:
        connect(url, timeout=1.0).close()
        say(f"using the NATS server at {url}")
        yield url
        return
    except ConnectError:
        pass
    from .server import EmbeddedServer

    with EmbeddedServer() as srv:
        say(f"no server answered at {url}; started an embedded nats-server at {srv.url}")
        yield srv.url


def run_demo(url: str | None = None, requests: int = 20, say: Callable[[str], None] = print) -> int:
    """Run the scenario and print what happens; return 0 when every message made it."""
    with _server_url(url, say) as server:
        worker = connect(server, name="worker-agent")
        planner = connect(server, name="planner-agent")
        asker = connect(server, name="asker-agent")
        try:
            return _scenario(worker, planner, asker, requests, say)
        finally:
            for c in (asker, planner, worker):
                c.close(timeout=5.0)


def _scenario(worker: Client, planner: Client, asker: Client, n: int, say: Callable[[str], None]) -> int:
    def handle_request(msg: Msg) -> None:
        task = json.loads(msg.data)
        result = {"task_id": task["task_id"], "result": f"processed {task['task']}", "by": "worker-agent"}
        worker.publish("agent.responses", json.dumps(result).encode())

    def handle_rpc(msg: Msg) -> None:
        question = json.loads(msg.data)
        msg.respond(json.dumps({"answer": question["x"] * 2}).encode())

    worker.subscribe("agent.requests", handle_request, queue="workers")
    worker.subscribe("agent.rpc", handle_rpc, queue="workers")
    responses = planner.subscribe("agent.responses")
    worker.flush(5.0)
    planner.flush(5.0)
    say("worker-agent listens on agent.requests and agent.rpc")

    t0 = time.perf_counter()
    for i in range(n):
        planner.publish("agent.requests", json.dumps({"task_id": i, "task": f"task-{i}"}).encode())
    got = []
    for msg in responses.messages(timeout=5.0, limit=n):
        got.append(json.loads(msg.data))
    pubsub_s = time.perf_counter() - t0
    say(f"planner-agent published {n} requests on agent.requests, received {len(got)} responses")
    if got:
        say(f"  first response: {got[0]}")

    latencies = []
    answers_ok = 0
    for x in range(n):
        t = time.perf_counter()
        rep = asker.request("agent.rpc", json.dumps({"x": x}).encode(), timeout=2.0)
        latencies.append((time.perf_counter() - t) * 1e3)
        answers_ok += json.loads(rep.data)["answer"] == 2 * x
    say(f"asker-agent made {n} requests on agent.rpc, {answers_ok} correct answers")
    try:
        asker.request("agent.nobody", b"{}", timeout=2.0)
    except Exception as exc:  # the expected NoRespondersError, shown to the user
        say(f"asker-agent asked agent.nobody: {type(exc).__name__}: {exc}")

    p50 = statistics.median(latencies) if latencies else float("nan")
    ok = len(got) == n and answers_ok == n
    say(
        f"summary: {len(got)}/{n} pub/sub responses in {pubsub_s * 1e3:.1f} ms, "
        f"{answers_ok}/{n} request/reply answers, p50 latency {p50:.2f} ms, "
        f"max {max(latencies, default=float('nan')):.2f} ms -> {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1
