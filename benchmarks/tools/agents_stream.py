"""What the agent protocol costs: chunks per second through one prompt, prompts per second to one host.

    python -m benchmarks.tools.agents_stream [--chunks N] [--size BYTES] [--prompts N] [--threads T] [--reps R]

One process, one embedded nats-server, a host client and a caller client. ``stream``: the handler
sends N response chunks of SIZE bytes as fast as it can and the caller iterates them to the
terminator (chunks/s and MB/s of text, timed from ``prompt()`` to the end). ``prompts``: N
one-chunk prompts in a row from one thread (prompts/s and the p50 of one prompt's round trip:
request, ack, response, terminator), then from T threads at once. When the official async SDKs
are installed (Python >= 3.11), the same two measures run with their caller and their host on an
asyncio loop, as the peer. Medians of R runs are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import beluga_nats_sync as bns
from beluga_nats_sync.agents import Agent, Agents, AgentService, Envelope, PromptStream
from beluga_nats_sync.server import EmbeddedServer


def ours_stream(agent: Agent, chunks: int) -> float:
    t0 = time.perf_counter()
    n = sum(1 for c in agent.prompt(f"stream {chunks}", timeout=30.0) if isinstance(c, bns.ResponseChunk))
    elapsed = time.perf_counter() - t0
    assert n == chunks, n
    return chunks / elapsed


def ours_prompts(agent: Agent, count: int) -> tuple[float, float]:
    lat: list[int] = []
    t0 = time.perf_counter()
    for _ in range(count):
        s = time.perf_counter_ns()
        agent.prompt_text("one", timeout=30.0)
        lat.append(time.perf_counter_ns() - s)
    return count / (time.perf_counter() - t0), statistics.median(lat) / 1e3


def ours_parallel(agent: Agent, count: int, threads: int) -> float:
    with ThreadPoolExecutor(threads) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda _: agent.prompt_text("one", timeout=30.0), range(count)))
        return count / (time.perf_counter() - t0)


def run_ours(url: str, args: argparse.Namespace) -> dict[str, list[float]]:
    chunk = "x" * args.size
    out: dict[str, list[float]] = {"chunks/s": [], "prompts/s": [], "p50 us": [], f"prompts/s x{args.threads}": []}
    with bns.connect(url) as host_nc, bns.connect(url) as nc:

        def handler(envelope: Envelope, stream: PromptStream) -> None:
            if envelope.prompt.startswith("stream "):
                for _ in range(int(envelope.prompt.split()[1])):
                    stream.send(chunk)
            else:
                stream.send(envelope.prompt)

        svc = AgentService(nc=host_nc, agent="bench", owner="ours", max_concurrent=max(8, args.threads))
        svc.on_prompt(handler)
        with svc, Agents(nc) as agents:
            (agent,) = agents.discover(agent="bench", owner="ours")
            ours_stream(agent, min(1000, args.chunks))  # warm-up
            ours_prompts(agent, min(100, args.prompts))
            for _ in range(args.reps):
                out["chunks/s"].append(ours_stream(agent, args.chunks))
                rate, p50 = ours_prompts(agent, args.prompts)
                out["prompts/s"].append(rate)
                out["p50 us"].append(p50)
                out[f"prompts/s x{args.threads}"].append(ours_parallel(agent, args.prompts, args.threads))
    return out


def run_official(url: str, args: argparse.Namespace) -> dict[str, list[float]] | None:
    try:
        import nats
        from synadia_ai import agent_service as their_host
        from synadia_ai import agents as their
    except ImportError:
        return None
    chunk = "x" * args.size
    out: dict[str, list[float]] = {"chunks/s": [], "prompts/s": [], "p50 us": [], f"prompts/s x{args.threads}": []}

    async def main() -> None:
        host_nc = await nats.connect(url)
        nc = await nats.connect(url)

        async def handler(envelope: Any, stream: Any) -> None:
            if envelope.prompt.startswith("stream "):
                for _ in range(int(envelope.prompt.split()[1])):
                    await stream.send(chunk)
            else:
                await stream.send(envelope.prompt)

        svc = their_host.AgentService(
            agent="bench", owner="official", session_name="default", nc=host_nc, max_concurrent_prompts=args.threads
        )
        svc.on_prompt(handler)
        await svc.start()
        agents = their.Agents(nc=nc)
        (agent,) = await agents.discover(filter=their.DiscoverFilter(agent="bench", owner="official"))

        async def stream(n: int) -> float:
            t0 = time.perf_counter()
            got = 0
            async for c in agent.prompt(f"stream {n}", timeout=30.0):
                got += isinstance(c, their.ResponseChunk)
            assert got == n, got
            return n / (time.perf_counter() - t0)

        async def one() -> None:
            async for _ in agent.prompt("one", timeout=30.0):
                pass

        async def prompts(n: int) -> tuple[float, float]:
            lat: list[int] = []
            t0 = time.perf_counter()
            for _ in range(n):
                s = time.perf_counter_ns()
                await one()
                lat.append(time.perf_counter_ns() - s)
            return n / (time.perf_counter() - t0), statistics.median(lat) / 1e3

        async def parallel(n: int) -> float:
            t0 = time.perf_counter()
            for start in range(0, n, args.threads):
                await asyncio.gather(*(one() for _ in range(min(args.threads, n - start))))
            return n / (time.perf_counter() - t0)

        await stream(min(1000, args.chunks))
        await prompts(min(100, args.prompts))
        for _ in range(args.reps):
            out["chunks/s"].append(await stream(args.chunks))
            rate, p50 = await prompts(args.prompts)
            out["prompts/s"].append(rate)
            out["p50 us"].append(p50)
            out[f"prompts/s x{args.threads}"].append(await parallel(args.prompts))
        await agents.close()
        await svc.stop()
        await nc.close()
        await host_nc.close()

    asyncio.run(main())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=20_000, help="chunks in the streaming prompt (default 20000)")
    ap.add_argument("--size", type=int, default=64, help="characters per chunk (default 64)")
    ap.add_argument("--prompts", type=int, default=1_000, help="prompts per run (default 1000)")
    ap.add_argument("--threads", type=int, default=8, help="callers at once in the parallel run (default 8)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each measure (default 3)")
    ap.add_argument("--no-peer", action="store_true", help="skip the official SDKs even when installed")
    args = ap.parse_args()
    with EmbeddedServer(jetstream=False) as srv:
        results: dict[str, dict[str, list[float]] | None] = {"beluga_nats_sync": run_ours(srv.url, args)}
        if not args.no_peer:
            results["official SDKs (async)"] = run_official(srv.url, args)
    print(f"agents: {args.chunks} chunks of {args.size} chars; {args.prompts} prompts; medians of {args.reps} runs")
    keys = ["chunks/s", "prompts/s", "p50 us", f"prompts/s x{args.threads}"]
    print(f"{'':24}" + "".join(f"{k:>16}" for k in keys))
    for name, res in results.items():
        if res is None:
            print(f"{name:24}  (not installed: pip install synadia-ai-agents synadia-ai-agent-service)")
            continue
        print(f"{name:24}" + "".join(f"{statistics.median(res[k]):>16,.0f}" for k in keys))


if __name__ == "__main__":
    main()
