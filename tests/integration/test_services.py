"""NATS services from the command line, against a real nats-server (the services themselves are
tested on the in-memory server: tests/unit/test_services.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import wait_for
from shared import adder, calc, unique_service

ROOT = Path(__file__).resolve().parents[2]
MakeClient = Callable[..., bns.Client]


# -- the command line ------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_service_ls_info_stats(nats_server: EmbeddedServer, make_client: MakeClient, services: list[Any]) -> None:
    name = unique_service("cli")
    ids = set()
    for _ in range(2):
        svc = calc(make_client(), services, name=name)
        svc.add_endpoint("add", adder, subject=f"{name}.add")
        ids.add(svc.id)
    make_client().request(f"{name}.add", b"[5]", timeout=5.0)
    wait_for(lambda: sum(s.stats()["endpoints"][0]["num_requests"] for s in services) == 1)

    r = run_cli("--url", nats_server.url, "service", "ls", name)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "ID", "VERSION"] and len(lines) == 3
    assert {line.split()[1] for line in lines[1:]} == ids and "adds numbers" in r.stdout

    r = run_cli("--url", nats_server.url, "service", "info", name, "--json")
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert {d["id"] for d in docs} == ids and all(d["type"].endswith("info_response") for d in docs)

    r = run_cli("--url", nats_server.url, "service", "stats", name, "--json")
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert sum(d["endpoints"][0]["num_requests"] for d in docs) == 1

    r = run_cli("--url", nats_server.url, "service", "stats", name)
    assert r.returncode == 0 and "REQUESTS" in r.stdout and f"{name}.add" in r.stdout

    r = run_cli("--url", nats_server.url, "service", "info", name)
    assert r.returncode == 0 and f"{name}.add" in r.stdout and "queue q" in r.stdout

    r = run_cli("--url", nats_server.url, "service", "info", unique_service("nobody"), "--timeout", "0.3")
    assert r.returncode == 1 and "no service named" in r.stderr
    r = run_cli("service", "ls", "bad name", "--url", nats_server.url)
    assert r.returncode == 1 and "service name 'bad name'" in r.stderr
    r = run_cli("service", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: beluga-nats service") and "--json" in r.stdout
    r = run_cli("service", "ls", "calc", "--id", "a.b", "--url", nats_server.url)
    assert r.returncode == 1 and "service id 'a.b' is not accepted" in r.stderr


def test_service_overhead_benchmark_runs() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.tools.service_overhead", "--count", "50", "--reps", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "plain subscribe responder:" in r.stdout and "service endpoint:" in r.stdout
    assert "service overhead:" in r.stdout and "Traceback" not in r.stderr


def test_the_coordinator_example_of_the_docs_runs() -> None:
    text = (ROOT / "docs" / "services.md").read_text()
    section = text[text.index("### A coordinator gathering bids") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    code = code[: code.index("```\n")]
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "3 workers: ['cheap', 'fast', 'slow']"
    assert lines[1].endswith("-> winner fast") and lines[2] == "done: {'agent': 'fast', 'task': 'summarise'}"
    assert sorted(lines[3:]) == [
        "cheap {'bid': 1, 'work': 0}",
        "fast {'bid': 1, 'work': 1}",
        "slow {'bid': 1, 'work': 0}",
    ]
