"""``beluga-nats server`` serves where clients look by default: 4222 (or $NATS_URL's port), else a free one.

The tests never take 4222 from whoever else may use it on this machine: the preferred port is
steered through ``$NATS_URL`` (which clients read too), and ports are occupied by the tests
themselves where a taken port is the case under test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.cli._server import _clients_port

from helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]  # the checkout


class Server:
    """``python -m beluga_nats_sync --json server ARGS`` in the background; its first line parsed."""

    def __init__(self, *args: str, nats_url: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
        env["PYTHONPATH"] = str(ROOT)
        if nats_url is not None:
            env["NATS_URL"] = nats_url
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "beluga_nats_sync", "--json", "server", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def info(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # bounded: the server prints its URL or exits (EOF)
        assert line, self.stop()
        info: dict[str, object] = json.loads(line)
        return info

    def stop(self) -> str:
        """End it (SIGINT, as Ctrl-C); return its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return err


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for s in made:
        s.stop()


def _port_of(url: object) -> int:
    assert isinstance(url, str)
    return int(url.rsplit(":", 1)[1])


def test_serves_on_the_port_clients_look_at(servers: list[Server], monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    servers.append(s := Server(nats_url=url))
    assert s.info()["url"] == url
    monkeypatch.setenv("NATS_URL", f"nats://localhost:{port}")
    with bns.connect(timeout=5.0) as nc:  # a client with no URL of its own finds it
        nc.flush(5.0)
    assert "taken" not in s.stop()


def test_a_taken_port_falls_back_to_a_free_one_and_says_so(servers: list[Server]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        servers.append(s := Server(nats_url=f"nats://127.0.0.1:{taken}"))
        info = s.info()
        port = _port_of(info["url"])
        assert port != taken
        with bns.connect(str(info["url"]), timeout=5.0) as nc:
            nc.flush(5.0)
        err = s.stop()
    assert f"port {taken} is taken" in err and f"NATS_URL=nats://127.0.0.1:{port}" in err, err


def test_port_zero_asks_for_a_free_one(servers: list[Server]) -> None:
    preferred = free_port()
    servers.append(s := Server("--port", "0", nats_url=f"nats://127.0.0.1:{preferred}"))
    port = _port_of(s.info()["url"])
    assert port not in (preferred, 4222, 0)
    assert "taken" not in s.stop()


def test_an_explicit_port_is_served_or_refused(servers: list[Server]) -> None:
    port = free_port()
    servers.append(s := Server("--port", str(port), nats_url=None))
    assert _port_of(s.info()["url"]) == port
    # the same port again, asked for explicitly: an error, not a silent move elsewhere
    second = subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", "server", "--port", str(port)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1, second
    lines = second.stderr.strip().splitlines()
    assert lines == [f"beluga-nats: error: port {port} is taken by another process; --port 0 picks a free one"]


@pytest.mark.parametrize("bad", ["-1", "65536", "http", "4222.5"])
def test_bad_ports_are_refused(bad: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", "server", "--port", bad],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "expected a port from 1 to 65535, or 0 for a free one" in r.stderr, r.stderr


def test_without_nats_url_it_is_4222_unless_that_is_taken(servers: list[Server]) -> None:
    # 4222 may belong to someone else on this machine: both outcomes are checked, never forced
    servers.append(s := Server(nats_url=None))
    port = _port_of(s.info()["url"])
    err = s.stop()
    if port != 4222:
        assert "port 4222 is taken" in err, err
    else:
        assert "taken" not in err
    wait_for(lambda: s.proc.poll() is not None, 10.0, "the server command to end")


@pytest.mark.parametrize(
    ("url", "port"),
    [
        (None, 4222),
        ("nats://localhost:5000", 5000),
        ("nats://127.0.0.1", 4222),
        ("127.0.0.1:6000", 6000),
        ("tls://127.0.0.2:7000", 7000),
        ("nats://[::1]:8000", 8000),
        ("nats://user:pw@localhost:9000", 9000),
        ("nats://10.1.2.3:5000", 4222),  # another machine: clients of this one look at 4222
        ("nats://localhost:5000,nats://localhost:5001", 4222),
        ("nats://localhost:notaport", 4222),
    ],
)
def test_the_port_clients_look_at(url: str | None, port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    assert _clients_port(url) == port
    if url is not None:
        monkeypatch.setenv("NATS_URL", url)
        assert _clients_port(None) == port
