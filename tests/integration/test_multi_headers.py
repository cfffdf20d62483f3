"""Repeated header values survive JetStream (publish, fetch, consume and its dead letters) and the
command line, on a real nats-server (the client's own paths: tests/unit/test_multi_headers.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.jetstream import JetStream, JetStreamMsg
from beluga_nats_sync.server import EmbeddedServer

from helpers import ROOT

TAGS = ["a", "b, with a comma", " c"]  # leading spaces are dropped on the way in, as nats.go does
TAGS_IN = ["a", "b, with a comma", "c"]


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


@pytest.fixture
def js(client: bns.Client) -> Iterator[tuple[JetStream, str]]:
    js = client.jetstream(timeout=5.0)
    name = f"MH_{uuid.uuid4().hex[:8]}"
    js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    yield js, name
    if client.is_connected:
        js.delete_stream(name)


def test_jetstream_stores_and_delivers_every_value(js: tuple[JetStream, str]) -> None:
    j, name = js
    p = name.lower()
    ack = j.publish(f"{p}.a", b"one", headers={"Tag": ["x", "y"], "Plain": "p"}, msg_id="mh-1")
    fut = j.publish_async(f"{p}.a", b"two", headers=bns.Headers([("Tag", "z"), ("Tag", "w")]))
    assert ack.seq == 1 and fut.result(5.0).seq == 2
    got = j.pull_subscribe(f"{p}.a", durable="reader").fetch(2, timeout=5.0)
    assert [m.data for m in got] == [b"one", b"two"]
    first, second = got
    assert first.headers is not None and second.headers is not None
    assert first.headers.get_all("Tag") == ["x", "y"]  # msg_id added to them, none lost
    assert first.headers["Nats-Msg-Id"] == "mh-1" and first.headers["Plain"] == "p"
    assert second.headers.get_all("Tag") == ["z", "w"]

    seen: list[list[str]] = []
    done = threading.Event()

    def handle(msg: JetStreamMsg) -> None:
        assert msg.headers is not None
        seen.append(msg.headers.get_all("Tag"))
        if len(seen) == 2:
            done.set()

    with j.consume(f"{p}.a", durable="pusher", callback=handle):
        assert done.wait(10.0), seen
    assert seen == [["x", "y"], ["z", "w"]]


def test_jetstream_dead_letters_keep_every_value(client: bns.Client, js: tuple[JetStream, str]) -> None:
    j, name = js
    p = name.lower()
    dlq = client.subscribe(f"{p}-dlq")

    def always_fails(msg: JetStreamMsg) -> None:
        raise ValueError("no")

    j.publish(f"{p}.bad", b"poison", headers={"Tag": ["x", "y", "z"]}, msg_id="orig")
    with j.consume(f"{p}.bad", durable="dl", callback=always_fails, max_deliver=1, dead_letter_subject=f"{p}-dlq"):
        dead = dlq.next_msg(10.0)
    assert dead.headers is not None
    assert dead.headers.get_all("Tag") == ["x", "y", "z"]
    assert dead.headers["Beluga-Msg-Id"] == "orig" and "Nats-Msg-Id" not in dead.headers
    assert dead.headers.get_all("Beluga-Message-Id") == ["orig"]  # the one vocabulary, written once
    assert (dead.headers["Beluga-Error"], dead.headers["Beluga-Error-Type"]) == ("no", "ValueError")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60.0,
    )


def test_cli_header_given_twice_sends_both_values(nats_server: EmbeddedServer, client: bns.Client) -> None:
    subject = unique("mh.cli")
    sub = client.subscribe(subject)
    client.flush(5.0)
    r = _cli("--url", nats_server.url, "pub", subject, "x", "--header", "k=1", "--header", "o=x", "--header", "k=2")
    assert r.returncode == 0, r.stderr
    msg = sub.next_msg(5.0)
    assert msg.headers is not None and msg.headers.get_all("k") == ["1", "2"] and msg.headers["o"] == "x"


def test_cli_request_shows_every_value(nats_server: EmbeddedServer, client: bns.Client) -> None:
    subject = unique("mh.clireq")
    client.subscribe(subject, lambda m: m.respond(b"ok", headers={"Got": m.headers.get_all("q") if m.headers else []}))
    client.flush(5.0)
    r = _cli("--url", nats_server.url, "--json", "request", subject, "", "--header", "q=1", "--header", "q=2")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout.splitlines()[-1])
    assert rec["headers"] == {"Got": ["1", "2"]}


def test_cli_sub_shows_every_value(nats_server: EmbeddedServer, client: bns.Client) -> None:
    subject = unique("mh.clisub")
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    args = [sys.executable, "-m", "beluga_nats_sync", "--url", nats_server.url, "sub", subject, "--count", "1"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listening = threading.Event()

        def watch() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if "listening" in line:
                    listening.set()
                    return

        threading.Thread(target=watch, daemon=True).start()
        assert listening.wait(30.0), "the sub command never said it was listening"
        client.publish(subject, b"hi", headers={"T": ["3", "4"]})
        out, _ = proc.communicate(timeout=30.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert out == f"[#1] {subject} (2 B) [T=3, T=4]: hi\n"
