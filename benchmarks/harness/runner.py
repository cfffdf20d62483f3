"""The run: a server, one worker process per scenario and client, then results.json, plots, table."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

from .clients import CLIENTS, OURS, by_key, interpreter_for
from .machine import affinity, load_average, machine_facts
from .measure import Settings, merge_rounds
from .progress import Progress
from .report import compute_ratios, compute_targets, render
from .scenario import Scenario, load
from .worker import MARK

__all__ = ["FULL", "QUICK", "Config", "run"]

ROOT = Path(__file__).resolve().parents[2]  # the repository
SCHEMA = 1

#: per round; a full run makes 3 rounds, so 6 timed repetitions per point. Repetitions of
#: 0.75 s: large payloads take a good fraction of a second to settle into their steady rate.
FULL = Settings(reps=2, rep_seconds=0.75, warmup_seconds=0.2, rep_deadline=20.0)
QUICK = Settings(reps=2, rep_seconds=0.05, warmup_seconds=0.05, rep_deadline=10.0)

METHOD = (
    "Each scenario runs for each client in a fresh worker process, against one nats-server, in "
    "'rounds' that alternate the clients; the rounds' repetitions are pooled. "
    "Per point: connections and subscriptions are set up untimed; a warm-up on growing counts "
    "estimates the rate; the count is then chosen so one repetition lasts about rep_seconds "
    "(capped at max_count); 'reps' repetitions per round are timed with time.perf_counter. Throughput "
    "figures are the median of the repetitions with their min and max; latency percentiles pool "
    "every repetition's samples. Ratios are this library / peer within this run."
)


@dataclass
class Config:
    out: Path
    url: str | None = None
    quick: bool = False
    settings: Settings = FULL
    scenarios: list[str] = field(default_factory=list)
    clients: list[str] = field(default_factory=lambda: [c.key for c in CLIENTS])
    rounds: int = 3
    pin: bool = False
    plots: bool = True
    #: the interpreter for peers that need a newer Python than this one (nats-core: 3.13)
    peer_python: str | None = None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _worker_env() -> dict[str, str]:
    """Workers import the same benchmarks and beluga_nats_sync as this process."""
    import beluga_nats_sync

    paths = [str(ROOT), str(Path(beluga_nats_sync.__file__).resolve().parent.parent)]
    old = os.environ.get("PYTHONPATH")
    if old:
        paths.append(old)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    env.pop("PYTHONSTARTUP", None)
    return env


def _server_info(url: str) -> dict[str, Any]:
    """The server's INFO line (version, max_payload, jetstream), read from a plain socket."""
    u = urlparse(url if "://" in url else f"nats://{url}")
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 4222), timeout=5.0) as sock:
            data = b""
            while b"\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        line = data.split(b"\r\n", 1)[0]
        if line.startswith(b"INFO "):
            info = json.loads(line[5:])
            return {k: info.get(k) for k in ("version", "go", "max_payload", "jetstream")}
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}
    return {}


@contextlib.contextmanager
def _server(cfg: Config, cpus: list[int] | None) -> Iterator[dict[str, Any]]:
    if cfg.url:
        yield {"url": cfg.url, "embedded": False}
        return
    from beluga_nats_sync.server import EmbeddedServer

    with EmbeddedServer(jetstream=True) as srv:
        info: dict[str, Any] = {"url": srv.url, "embedded": True, "pid": srv.pid}
        if cpus and srv.pid and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(srv.pid, cpus)
        info["affinity"] = affinity(srv.pid or 0)
        yield info


def _pinning(cfg: Config) -> tuple[list[int] | None, list[int] | None]:
    """With --pin and at least two usable CPUs: the server on the first, the workers on the rest."""
    cpus = affinity()
    if not cfg.pin or not cpus or len(cpus) < 2:
        return None, None
    return cpus[:1], cpus[1:]


def _unsupported(sc: Scenario, client: str, label: str) -> str | None:
    return sc.unsupported.get(f"{client}/{label}") or sc.unsupported.get(client)


class _Job:
    def __init__(self, sc: Scenario, client: str, points: list[dict[str, Any]], round_no: int, rounds: int) -> None:
        self.sc = sc
        self.client = client
        self.points = points  # the point records (params, label, results) this job adds a round to
        self.round = round_no
        self.rounds = rounds
        self.worker: dict[str, Any] = {}  # what the worker said at start (pid, affinity)

    def label(self, point: dict[str, Any]) -> str:
        where = f" (round {self.round + 1}/{self.rounds})" if self.rounds > 1 else ""
        return f"{self.sc.name} {point['label']} / {by_key(self.client).label}{where}"

    def add(self, point: dict[str, Any], result: dict[str, Any]) -> None:
        if self.worker.get("python"):  # which interpreter measured it, with its patch level
            result.setdefault("python", self.worker["python"])
        point["_rounds"].setdefault(self.client, []).append(result)


def _run_job(
    job: _Job,
    cfg: Config,
    url: str,
    env: dict[str, str],
    cpus: list[int] | None,
    progress: Progress,
    python: str = sys.executable,
) -> str | None:
    """Run one worker under ``python``; fill its points. Return a reason if the client turned out
    not importable."""
    s = cfg.settings
    spec = {
        "scenario": job.sc.name,
        "client": job.client,
        "url": url,
        "points": [p["params"] for p in job.points],
        "settings": s.to_json(),
        "affinity": cpus,
    }
    per_point = job.sc.slack_seconds + 3 * (s.warmup_seconds + s.reps * s.rep_seconds) + s.rep_deadline
    deadline = time.monotonic() + 15.0 + per_point * len(job.points)
    lines: queue.Queue[str | None] = queue.Queue()
    filled: set[int] = set()
    skip: str | None = None
    progress.start(job.label(job.points[0]))
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(
            [python, "-m", "benchmarks.harness.worker", json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=str(ROOT),
            env=env,
            text=True,
        )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        reader = threading.Thread(target=read, name="bench-worker-reader", daemon=True)
        reader.start()
        timed_out = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                try:
                    line = lines.get(timeout=remaining)
                except queue.Empty:
                    continue
                if line is None:
                    break
                if not line.startswith(MARK):
                    continue
                msg = json.loads(line[len(MARK) :])
                if msg["kind"] == "start":
                    job.worker = msg
                elif msg["kind"] == "skip":
                    skip = msg["reason"]
                    break
                elif msg["kind"] == "point":
                    i = msg["index"]
                    point = job.points[i]
                    job.add(point, msg["result"])
                    filled.add(i)
                    progress.step(job.label(point), _outcome(job.sc, msg["result"]))
                    if i + 1 < len(job.points):
                        progress.start(job.label(job.points[i + 1]))
        finally:
            if proc.poll() is None:
                if not timed_out and skip is None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(10.0)
                if proc.poll() is None:
                    proc.kill()
            proc.wait()
            reader.join(5.0)
        err.seek(0)
        stderr_tail = "".join(err.readlines()[-15:]).rstrip()
    if skip is not None:
        return skip
    for i, point in enumerate(job.points):
        if i in filled:
            continue
        why = (
            f"timed out after {per_point * len(job.points) + 15:.0f} s"
            if timed_out
            else (f"the worker exited with code {proc.returncode}")
        )
        job.add(point, {"status": "error", "reason": why})
        progress.step(job.label(point), "error")
    failed = [p for p in job.points if p["_rounds"][job.client][-1].get("status") == "error"]
    if failed and stderr_tail:
        progress.note(f"{job.sc.name} / {by_key(job.client).label}: worker output:\n{stderr_tail}")
    return None


def _outcome(sc: Scenario, result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return f"error: {result.get('reason')}"
    from .report import fmt_value

    value = result.get(sc.headline)
    return fmt_value(float(value), sc.unit) if isinstance(value, (int, float)) else "ok"


def _plan(cfg: Config, doc: dict[str, Any]) -> list[_Job]:
    jobs: list[_Job] = []
    for name in cfg.scenarios:
        sc = load(name)
        why_not = sc.unavailable()
        points: list[dict[str, Any]] = [
            {"params": p, "label": sc.label(p), "results": {}, "_rounds": {}} for p in sc.points(cfg.quick)
        ]
        doc["scenarios"].append(
            {
                "name": sc.name,
                "title": sc.title,
                "unit": sc.unit,
                "higher_is_better": sc.higher_is_better,
                "headline": sc.headline,
                "notes": {k: v for k, v in sc.notes.items() if k in cfg.clients},
                "unavailable": why_not,
                "points": points,
            }
        )
        groups = []
        for key in cfg.clients:
            todo = []
            for point in points:
                reason = why_not or _unsupported(sc, key, point["label"])
                if reason is None and key not in sc.impls:
                    reason = "not measured for this client"
                if reason is not None:
                    point["results"][key] = {"status": "n/a", "reason": reason}
                elif not doc["clients"][key]["available"]:
                    point["results"][key] = {"status": "skipped", "reason": doc["clients"][key]["reason"]}
                else:
                    todo.append(point)
            if todo:
                groups.append((key, todo))
        # rounds alternate the clients, so a burst of load elsewhere on the machine lands on
        # several of them rather than on one, and the ratios stay comparable
        for round_no in range(cfg.rounds):
            jobs.extend(_Job(sc, key, todo, round_no, cfg.rounds) for key, todo in groups)
    return jobs


def _merge(doc: dict[str, Any]) -> None:
    """Each cell's rounds become its result; a round that failed makes the cell an error."""
    for sc in doc["scenarios"]:
        for point in sc["points"]:
            for key, rounds in point.pop("_rounds", {}).items():
                if key in point["results"]:  # skipped after all (pynats2 failing to import)
                    continue
                bad = [r for r in rounds if r.get("status") != "ok"]
                if bad:
                    result = dict(bad[0], rounds_ok=len(rounds) - len(bad), rounds=len(rounds))
                else:
                    result = merge_rounds(rounds)
                    result["rounds"] = len(rounds)
                pythons = sorted({str(r["python"]) for r in rounds if r.get("python")})
                if pythons:
                    result["python"] = ", ".join(pythons)
                result.pop("raw_us", None)  # pooled into the percentiles; too bulky to keep
                point["results"][key] = result
            for key in doc["clients"]:
                if key not in point["results"]:
                    why = "not run: the run was interrupted" if doc.get("interrupted") else "not run"
                    point["results"][key] = {"status": "error", "reason": why}


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)


def run(cfg: Config, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the suite; return the exit status (0: done; 1: this library's own cells failed)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    cfg.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "started": _now(),
        "quick": cfg.quick,
        "settings": dict(cfg.settings.to_json(), rounds=cfg.rounds),
        "method": METHOD,
        "load_average": {"start": load_average()},
        "machine": machine_facts(ROOT),
        "clients": {},
        "scenarios": [],
    }
    for key in cfg.clients:
        spec = by_key(key)
        interp, version, reason = interpreter_for(spec, cfg.peer_python)
        doc["clients"][key] = {
            "label": spec.label,
            "version": version if key != OURS else doc["machine"]["packages"]["beluga-nats-sync"],
            "available": reason is None,
            "reason": reason,
            "python": interp.to_json() if interp is not None else None,
        }
        if version and key != OURS and not spec.floor:  # a peer under another interpreter: its version from there
            doc["machine"]["packages"][spec.dist] = version
    jobs = _plan(cfg, doc)
    progress = Progress(sum(len(j.points) for j in jobs), err)
    for info in doc["clients"].values():
        if not info["available"]:
            progress.note(f"skipping {info['label']}: {info['reason']}")
    server_cpus, worker_cpus = _pinning(cfg)
    status = 0
    try:
        with _server(cfg, server_cpus) as server:
            server.update(_server_info(server["url"]))
            doc["server"] = server
            doc["pinning"] = {"server": server_cpus, "workers": worker_cpus, "workers_seen": []}
            mode = "quick" if cfg.quick else "full"
            progress.note(
                f"benchmarks ({mode}): nats-server {server.get('version')} at {server['url']}, "
                f"{progress.total} points; results in {cfg.out}"
            )
            env = _worker_env()
            for job in jobs:
                client_info = doc["clients"][job.client]
                if not client_info["available"]:
                    for point in job.points:
                        point["results"][job.client] = {"status": "skipped", "reason": client_info["reason"]}
                        progress.step(job.label(point), "skipped")
                    continue
                python = (client_info.get("python") or {}).get("executable") or sys.executable
                reason = _run_job(job, cfg, server["url"], env, worker_cpus, progress, python)
                if reason is not None:
                    doc["clients"][job.client].update(available=False, reason=reason)
                    progress.note(f"skipping {by_key(job.client).label}: {reason}")
                    for point in job.points:
                        point["results"][job.client] = {"status": "skipped", "reason": reason}
                        progress.step(job.label(point), "skipped")
                seen = job.worker.get("affinity")
                if seen is not None and seen not in doc["pinning"]["workers_seen"]:
                    doc["pinning"]["workers_seen"].append(seen)
    except KeyboardInterrupt:
        doc["interrupted"] = True
        status = 130
    except Exception as exc:  # the server would not start, the out dir is not writable, ...
        progress.close()
        print(f"benchmarks: error: {type(exc).__name__}: {exc}", file=err)
        doc["error"] = f"{type(exc).__name__}: {exc}"
        status = 1
    finally:
        progress.close()
    _merge(doc)
    doc["finished"] = _now()
    doc["duration_s"] = round(time.monotonic() - started, 1)
    doc["load_average"]["end"] = load_average()
    doc["ratios"] = compute_ratios(doc)
    doc["targets"] = compute_targets(doc)
    doc["plots"] = []
    results = cfg.out / "results.json"
    _write_json(results, doc)
    if cfg.plots and doc["scenarios"]:
        written, why = _plot(doc, cfg.out)
        doc["plots"] = written
        if why:
            doc["plots_skipped"] = why
            print(f"plots skipped: {why}", file=err)
        _write_json(results, doc)
    print(render(doc), file=out)
    if doc.get("interrupted"):
        print("\ninterrupted: the results are partial", file=out)
    where = ", ".join([results.name, *doc["plots"]])
    print(f"\nwritten to {cfg.out}: {where}  ({doc['duration_s']:.0f} s; load {doc['load_average']})", file=out)
    if status == 0 and any(
        (p["results"].get(OURS) or {}).get("status") == "error" for sc in doc["scenarios"] for p in sc["points"]
    ):
        status = 1
    return status


def _plot(doc: dict[str, Any], out: Path) -> tuple[list[str], str | None]:
    from .plots import plot_all

    return plot_all(doc, out)
