"""The main job: the Go guide's scenario, played by synchronous agents.

A worker agent answers each message on ``agent.requests`` with one on ``agent.responses``; a
planner agent publishes requests and collects the responses; an asker agent uses request/reply
on ``agent.rpc`` with a timeout. Runs against ``$NATS_URL`` or, when nothing answers there, an
embedded ``nats-server``.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._client import Client, connect
from ._core.msg import Msg
from .errors import ConnectError

__all__ = ["run_demo"]


@contextlib.contextmanager
def _server(url: str | None, context: str | None, say: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    """Where the agents connect: the server the settings name (a NATS context's included), else an
    embedded one."""
    probe = Client(url, context=context)  # the settings, resolved; nothing connected yet
    where = ", ".join(probe.options.redacted_servers)
    if probe.context is not None:
        where += f" (NATS context {probe.context.name!r})"
    try:
        probe.connect(1.0)
    except ConnectError:
        pass
    else:
        probe.close()
        say(f"using the NATS server at {where}")
        yield {"servers": url, "context": context}
        return
    from .server import EmbeddedServer

    with EmbeddedServer() as srv:
        say(f"no server answered at {where}; started an embedded nats-server at {srv.url}")
        yield {"servers": srv.url}


def run_demo(
    url: str | None = None, requests: int = 20, say: Callable[[str], None] = print, context: str | None = None
) -> int:
    """Run the scenario and print what happens; return 0 when every message made it."""
    with _server(url, context, say) as where:
        worker = connect(name="worker-agent", **where)
        planner = connect(name="planner-agent", **where)
        asker = connect(name="asker-agent", **where)
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
