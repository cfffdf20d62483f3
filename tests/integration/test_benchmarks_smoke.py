"""The benchmark suite: a quick run produces well-formed outputs (never judged on its numbers),
and the pieces the numbers go through (percentiles, calibration, ratios, targets) are right."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import __main__ as bench_cli
from benchmarks.harness.clients import (
    CLIENTS,
    OURS,
    PEER_PYTHON_ENV,
    ClientSpec,
    by_key,
    interpreter_for,
    missing_reason,
    probe_interpreter,
)
from benchmarks.harness.measure import Settings, _calibrate, measure_latency, measure_throughput, percentile
from benchmarks.harness.report import compute_ratios, compute_targets, render
from benchmarks.harness.scenario import SCENARIO_MODULES, load

from helpers import ROOT
from scripted_server import Script, ScriptedServer, Trickle

STATUSES = {"ok", "n/a", "skipped", "error"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quick_run_writes_results_plots_and_table(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(PEER_PYTHON_ENV, None)  # the peers needing a newer Python are skipped, with the reason
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--count", "40", "--reps", "2", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the peers' asyncio noise stays in the workers: the run's own output is clean
    for noise in ("Traceback", "Task was destroyed", "Event loop is closed", "Exception ignored"):
        assert noise not in proc.stderr, proc.stderr
    assert "Targets: ratio = beluga_nats_sync / peer" in proc.stdout
    assert "All scenarios" in proc.stdout

    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == 1 and doc["quick"] is True
    for fact in ("cpu_count", "cpu_model", "python", "packages", "platform"):
        assert doc["machine"][fact], fact
    assert doc["server"]["embedded"] is True and doc["server"]["version"]
    assert doc["load_average"]["start"] is not None and doc["load_average"]["end"] is not None

    for key, info in doc["clients"].items():
        if not info["available"]:  # a peer that is not installed is skipped, with the reason printed
            assert info["reason"] and f"skipping {info['label']}: {info['reason']}" in proc.stderr
            assert f"skipped: {info['label']}: {info['reason']}" in proc.stdout
        else:
            assert info["version"], key
            # which interpreter measured it, with its patch level, in results.json and the table
            assert info["python"]["version"].count(".") == 2, info
            assert f"{info['python']['version']} ({info['python']['executable']})" in proc.stdout
    assert doc["clients"][OURS]["available"] and doc["clients"]["natspy"]["available"]
    natscore = doc["clients"]["natscore"]
    if sys.version_info < (3, 13):  # no interpreter given for it: skipped, saying what it needs
        assert not natscore["available"] and "needs Python >= 3.13" in natscore["reason"]

    assert [sc["name"] for sc in doc["scenarios"]] == list(SCENARIO_MODULES)
    for sc in doc["scenarios"]:
        assert sc["points"], sc["name"]
        for point in sc["points"]:
            assert set(point["results"]) == {c.key for c in CLIENTS}
            for key, res in point["results"].items():
                assert res["status"] in STATUSES, (sc["name"], key, res)
                if res["status"] == "ok":
                    value = res[sc["headline"]]
                    assert isinstance(value, float) and math.isfinite(value) and value > 0, (sc["name"], key, res)
                    info = doc["clients"][key]["python"]
                    assert res["python"] == f"{info['implementation']} {info['version']}", (sc["name"], key, res)
                elif not doc["clients"][key]["available"]:  # skipped in every cell it could run, with why
                    assert res["status"] in ("skipped", "n/a"), (sc["name"], key, res)
                    if res["status"] == "skipped":
                        assert res["reason"] == doc["clients"][key]["reason"]
                else:
                    assert res["reason"], (sc["name"], key)
                if key == OURS and sc["unavailable"] is None:
                    assert res["status"] == "ok", (sc["name"], point["label"], res)
    jetstream = next(sc for sc in doc["scenarios"] if sc["name"] == "jetstream")
    if jetstream["unavailable"]:
        assert all(r["reason"] == "JetStream not built" for p in jetstream["points"] for r in p["results"].values())

    # every target against nats-py async, nats-core and the best sync peer (JetStream: no sync peer)
    assert len(doc["targets"]) == 17
    assert {r["against"] for r in doc["targets"]} == {"nats-py async", "nats-core", "best sync peer"}
    for row in doc["targets"]:
        if row["ratio"] is not None:
            assert row["ratio"] > 0 and isinstance(row["met"], bool)
    assert any(r["peer"] == "natspy" for r in doc["ratios"])

    assert sorted(doc["plots"]) == sorted(
        ["throughput_by_payload.png", "latency_percentiles.png", "thread_scaling.png", "ratios.png"]
    )
    for name in doc["plots"]:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name


def test_percentile_interpolates_and_bounds() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 100.0
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99.9) == pytest.approx(99.901)
    assert percentile([7.0], 99.9) == 7.0
    assert math.isnan(percentile([], 50))


def test_calibration_aims_at_the_repetition_time_within_the_cap() -> None:
    s = Settings(reps=3, rep_seconds=0.5, warmup_seconds=0.2, max_count=10_000)
    # a fake workload: 1 microsecond per item, no real time spent
    assert _calibrate(lambda n: n * 1e-6, s, 100) == 10_000  # would want 500k: capped
    s = Settings(reps=3, rep_seconds=0.5, warmup_seconds=0.2, max_count=10_000_000)
    assert _calibrate(lambda n: n * 1e-6, s, 100) == 500_000
    assert _calibrate(lambda n: n * 1.0, s, 100) == 1  # slower than a repetition: one item
    calls: list[int] = []

    def record(n: int) -> float:
        calls.append(n)
        return n * 1e-9

    _calibrate(record, s, 1)
    assert len(calls) <= 12  # the warm-up is bounded even when every run is instant


def test_throughput_and_latency_summaries() -> None:
    s = Settings(reps=3, rep_seconds=0.01, warmup_seconds=0.01, max_count=1000)
    res = measure_throughput(lambda n: n * 1e-5, s)
    assert res["median"] == pytest.approx(1e5) and len(res["samples"]) == 3 and res["count"] == 1000
    lat = measure_latency(lambda n: [1e-4] * n, s)
    assert lat["p50_us"] == pytest.approx(100.0) and lat["p999_us"] == pytest.approx(100.0)
    assert lat["rate_per_s"] == pytest.approx(1e4) and lat["n_samples"] == 3 * lat["count"]


def _doc(ours_pub: float, async_pub: float, sync_pub: float, ours_lat: float, async_lat: float) -> dict[str, Any]:
    def ok(v: float, key: str = "median") -> dict[str, Any]:
        return {"status": "ok", key: v, "min": v, "max": v}

    return {
        "clients": {c.key: {"label": c.label, "available": True, "reason": None} for c in CLIENTS},
        "scenarios": [
            {
                "name": "publish",
                "title": "publish only, 1 thread",
                "unit": "msgs/s",
                "higher_is_better": True,
                "headline": "median",
                "points": [
                    {
                        "params": {"payload": 16},
                        "label": "16 B",
                        "results": {
                            OURS: ok(ours_pub),
                            "natspy": ok(async_pub),
                            "natspysync": ok(sync_pub / 2),
                            "pynats2": ok(sync_pub),
                        },
                    }
                ],
            },
            {
                "name": "request_reply",
                "title": "request/reply latency, 16 B",
                "unit": "us",
                "higher_is_better": False,
                "headline": "p50_us",
                "points": [
                    {
                        "params": {"payload": 16},
                        "label": "p50",
                        "results": {
                            OURS: ok(ours_lat, "p50_us"),
                            "natspy": ok(async_lat, "p50_us"),
                            "natspysync": {"status": "error", "reason": "boom"},
                            "pynats2": {"status": "skipped", "reason": "not installed"},
                        },
                    }
                ],
            },
        ],
    }


def test_ratios_pick_the_best_sync_peer_and_judge_targets_both_ways() -> None:
    doc = _doc(ours_pub=1_000_000, async_pub=500_000, sync_pub=200_000, ours_lat=300, async_lat=150)
    ratios = {(r["scenario"], r["peer"]): r for r in compute_ratios(doc)}
    assert ratios[("publish", "natspy")]["ratio"] == pytest.approx(2.0)
    assert ratios[("publish", "best-sync")]["best"] == "pynats2"  # the faster of the two sync peers
    assert ratios[("publish", "best-sync")]["ratio"] == pytest.approx(5.0)
    assert ratios[("request_reply", "natspy")]["ratio"] == pytest.approx(2.0)
    assert ("request_reply", "best-sync") not in ratios  # neither sync peer has a figure

    doc["ratios"] = list(ratios.values())
    doc["targets"] = compute_targets(doc)
    rows = {(r["target"], r["against"]): r for r in doc["targets"]}
    assert rows[("publish, 1 thread, 16 B", "nats-py async")]["met"] is True  # 2.0 >= 1.0
    assert rows[("publish, 1 thread, 16 B", "best sync peer")]["met"] is False  # 5.0 < 10
    assert rows[("request/reply p50 latency", "nats-py async")]["met"] is False  # 2.0 > 1.0 (lower is better)
    assert rows[("request/reply p50 latency", "best sync peer")]["ratio"] is None
    assert rows[("1 MiB payload MB/s", "nats-py async")]["note"] == "not measured"

    text = render(doc)
    assert "2.00 ok" in text and "5.00 MISS" in text and "error: request_reply/p50/nats-py-sync: boom" in text


def test_a_peer_that_is_not_installed_has_a_reason() -> None:
    ghost = ClientSpec("ghost", "ghost", "no_such_module_for_bench", "no-such-dist", True, "#000000")
    reason = missing_reason(ghost)
    assert reason is not None and "no-such-dist is not installed" in reason and "[bench]" in reason
    assert missing_reason(CLIENTS[0]) is None


def test_every_scenario_declares_an_implementation_or_a_reason() -> None:
    for name in SCENARIO_MODULES:
        sc = load(name)
        assert sc.name == name and sc.points(True) and sc.points(False)
        for c in CLIENTS:
            for point in sc.points(False):
                label = sc.label(point)
                covered = c.key in sc.impls or sc.unsupported.get(c.key) or sc.unsupported.get(f"{c.key}/{label}")
                assert covered, (name, c.key, label)
        assert OURS in sc.impls


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--reps", "0"], "expected a whole number >= 1"),
        (["--seconds", "-1"], "expected a number of seconds > 0"),
        (["--scenarios", "publish,nope"], "unknown scenario nope; choose from publish"),
        (["--clients", "nats"], "unknown client nats; choose from beluga"),
    ],
)
def test_bad_arguments_are_refused_with_what_is_accepted(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        bench_cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_pin_reaches_the_worker_process() -> None:
    cpu = sorted(os.sched_getaffinity(0))[-1]
    settings = Settings(reps=1, rep_seconds=0.01).to_json()
    job = {"scenario": "publish", "client": OURS, "url": "nats://127.0.0.1:1", "points": [], "settings": settings}
    job["affinity"] = [cpu]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.harness.worker", json.dumps(job)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    start = json.loads(proc.stdout.splitlines()[0].removeprefix("@@bench "))
    assert start["kind"] == "start" and start["affinity"] == [cpu]


def test_a_client_that_is_not_installed_is_skipped_in_every_cell(tmp_path: Path) -> None:
    from benchmarks.harness.runner import QUICK, Config, _plan

    cfg = Config(out=tmp_path, quick=True, settings=QUICK, scenarios=["publish", "delivery"], rounds=2)
    clients = {c.key: {"label": c.label, "available": True, "reason": None} for c in CLIENTS}
    clients["pynats2"].update(available=False, reason="pynats2 is not installed (pip install 'x[bench]')")
    doc: dict[str, Any] = {"clients": clients, "scenarios": []}
    jobs = _plan(cfg, doc)
    assert {j.client for j in jobs} == {OURS, "natspy", "natscore", "natspysync"}
    assert len(jobs) == 2 * len({(j.sc.name, j.client) for j in jobs})  # every job once per round
    for sc in doc["scenarios"]:
        for point in sc["points"]:
            res = point["results"]["pynats2"]
            if res["status"] == "skipped":
                assert res["reason"].startswith("pynats2 is not installed")
            else:  # what pynats2 cannot do is said as such, installed or not
                assert res["status"] == "n/a" and point["label"] == "pull"


def test_a_peer_needing_a_newer_python_says_what_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PEER_PYTHON_ENV, raising=False)
    spec = ClientSpec("future", "future", "no_such_module_for_bench", "future-client", False, "#000", (99, 0))
    interp, version, reason = interpreter_for(spec, None)
    assert interp is None and version is None
    assert reason is not None and "future-client needs Python >= 99.0" in reason and "--peer-python" in reason
    assert PEER_PYTHON_ENV in reason

    # an interpreter too old for it: named, with its version
    interp, _, reason = interpreter_for(spec, sys.executable)
    assert interp is not None and interp.version.count(".") == 2
    assert reason == f"future-client needs Python >= 99.0; {sys.executable} is Python {interp.version}"

    # one that cannot be run at all
    missing = str(tmp_path / "no-python")
    monkeypatch.setenv(PEER_PYTHON_ENV, missing)
    interp, _, reason = interpreter_for(spec, None)
    assert interp is None and reason is not None and f"cannot run {missing}" in reason

    # new enough, but without the package: how to install it there
    spec = ClientSpec("now", "now", "no_such_module_for_bench", "now-client", False, "#000", (3, 0), install="pip x")
    interp, found, _, why = probe_interpreter(sys.executable, spec)
    assert interp is not None and found is False and why is None
    _, _, reason = interpreter_for(spec, None)
    assert reason == "now-client is not installed (pip x)"  # this interpreter is new enough: it runs here


def test_nats_core_unavailable_is_skipped_in_every_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.harness.runner import QUICK, Config, _plan

    monkeypatch.delenv(PEER_PYTHON_ENV, raising=False)
    spec = by_key("natscore")
    interp, _, reason = interpreter_for(spec, str(tmp_path / "no-python"))
    if sys.version_info >= (3, 13):  # new enough: it would run here, so only its absence skips it
        if reason is None:
            pytest.skip("nats-core is installed under this interpreter")
        assert interp is not None and reason.startswith("nats-core is not installed")
    else:
        assert interp is None and reason is not None and reason.startswith("nats-core needs Python >= 3.13")
    cfg = Config(out=tmp_path, quick=True, settings=QUICK, scenarios=["publish", "delivery", "request_reply"])
    clients = {c.key: {"label": c.label, "available": True, "reason": None} for c in CLIENTS}
    clients["natscore"].update(available=False, reason=reason)
    doc: dict[str, Any] = {"clients": clients, "scenarios": []}
    jobs = _plan(cfg, doc)
    assert "natscore" not in {j.client for j in jobs}
    cells = [p["results"]["natscore"] for sc in doc["scenarios"] for p in sc["points"]]
    assert len(cells) == 5 + 2 + 1 and all(c == {"status": "skipped", "reason": reason} for c in cells)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get(PEER_PYTHON_ENV), reason=f"no peer interpreter given ({PEER_PYTHON_ENV})")
def test_nats_core_runs_under_the_peer_interpreter(tmp_path: Path) -> None:
    if sys.version_info >= (3, 13):
        pytest.skip("this run is on Python 3.13 or later: nats-core runs under it, not under a peer")
    peer = os.environ[PEER_PYTHON_ENV]
    interp, found, _, why = probe_interpreter(peer, by_key("natscore"))
    if interp is None or not found or interp.as_tuple() < (3, 13):
        pytest.skip(f"{peer} cannot run nats-core: {why or 'not installed or too old'}")
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--count", "40", "--reps", "1", "--out", str(out)]
        + ["--scenarios", "publish,request_reply", "--clients", "natscore", "--no-plots", "--peer-python", peer],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["clients"]["natscore"]["python"]["version"] == interp.version
    assert doc["clients"]["natscore"]["version"] == doc["machine"]["packages"]["nats-core"]
    for sc in doc["scenarios"]:
        for point in sc["points"]:
            res = point["results"]["natscore"]
            assert res["status"] == "ok" and res["python"] == f"CPython {interp.version}", (sc["name"], res)
            assert point["results"][OURS]["python"] == f"CPython {doc['clients'][OURS]['python']['version']}"
    assert f"nats-core          CPython {interp.version} ({interp.executable})" in proc.stdout
    assert any(r["peer"] == "natscore" for r in doc["ratios"])


def test_the_raw_floor_reads_a_frame_that_arrives_in_pieces() -> None:
    """The floor's hand-written reader: a socket timeout in the middle of a frame loses nothing,
    and a server PING on the way is answered."""
    from benchmarks.harness.raw import RawConnection

    frame = b"PING\r\nMSG a.b 1 r 16\r\n0123456789abcdef\r\n"
    with ScriptedServer(Script(on_sub=[Trickle(frame, chunk=7, interval=0.03)])) as srv:
        conn = RawConnection(srv.url, "floor-test")
        try:
            conn.sock.sendall(b"SUB a.* 1\r\n")
            conn.sock.settimeout(0.01)
            timeouts = 0
            got = None
            for _ in range(1000):
                try:
                    got = conn.next_msg()
                    break
                except TimeoutError:
                    timeouts += 1
            assert got == (b"a.b", b"r", b"0123456789abcdef")
            assert timeouts > 0  # it did arrive in pieces
            srv.wait_until(lambda s: bool(s.commands_of("PONG")), what="the PONG for the server's PING")
        finally:
            conn.close()
