"""The integration guide's multi-agent scenario, end to end, with the Beluga bus.

    python examples/agents.py            # uses $NATS_URL, else starts an embedded nats-server

A coordinator hands tasks to a queue group of worker agents over publish/subscribe, workers report
results on ``agent.results``, and a planner asks an analyst agent questions over request/reply.
Every operation is traced with OpenTelemetry; set up an SDK to see the spans (printed here with the
console exporter when ``opentelemetry-sdk`` is installed).
"""

from __future__ import annotations

import os
import threading

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer


def setup_tracing() -> None:
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError:
        return
    if os.environ.get("BELUGA_TRACE_CONSOLE"):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(provider)


def run(url: str, tasks: int = 9) -> None:
    results: list[bns.Message] = []
    all_done = threading.Event()

    workers = [bns.NATSMessageBus(url, name=f"worker-{i}") for i in range(3)]
    coordinator = bns.NATSMessageBus(url, name="coordinator")
    analyst = bns.NATSMessageBus(url, name="analyst")
    try:
        for i, w in enumerate(workers):

            def work(task: bns.Message, w: bns.NATSMessageBus = w, i: int = i) -> None:
                result = {"task_id": task.payload["task_id"], "result": task.payload["text"].upper(), "worker": i}
                w.publish("agent.results", bns.Message(type="result", payload=result))

            w.subscribe("agent.tasks", work, queue="workers")

        def collect(msg: bns.Message) -> None:
            results.append(msg)
            if len(results) == tasks:
                all_done.set()

        coordinator.subscribe("agent.results", collect)
        analyst.serve(
            "agent.analyze",
            lambda q: bns.Message(type="analysis", payload={"words": len(str(q.payload.get("text", "")).split())}),
        )
        for b in [*workers, coordinator, analyst]:
            b.client.flush(5.0)

        for n in range(tasks):
            coordinator.publish("agent.tasks", bns.Message(type="task", payload={"task_id": n, "text": f"task {n}"}))
        if not all_done.wait(10.0):
            raise SystemExit(f"only {len(results)} of {tasks} results arrived")
        by_worker: dict[int, int] = {}
        for r in results:
            by_worker[r.payload["worker"]] = by_worker.get(r.payload["worker"], 0) + 1
        print(f"coordinator: {len(results)} results, shared by workers {dict(sorted(by_worker.items()))}")

        answer = coordinator.request(
            "agent.analyze", bns.Message(type="question", payload={"text": "how many words is this"}), timeout=5.0
        )
        print(f"analyst answered: {answer.payload} (message {answer.message_id})")
    finally:
        for b in [*workers, coordinator, analyst]:
            b.close()


def main() -> None:
    setup_tracing()
    url = os.environ.get("NATS_URL")
    if url:
        run(url)
        return
    with EmbeddedServer() as srv:
        print(f"embedded nats-server at {srv.url}")
        run(srv.url)


if __name__ == "__main__":
    main()
