"""An EmbeddedServer never outlives the process that started it, however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer, PortInUseError

from helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]  # the checkout
GONE_WITHIN = 10.0  # the guard gives nats-server 5 s to stop on SIGTERM, then kills it

OWNER = textwrap.dedent(
    """
    import os, sys, threading
    import beluga_nats_sync as bns
    from beluga_nats_sync.server import EmbeddedServer

    mode = sys.argv[1]
    if mode == "thread":
        # started by a thread that ends at once: the server must live on with the process
        box = []
        t = threading.Thread(target=lambda: box.append(EmbeddedServer().start()))
        t.start()
        t.join(30)
        srv = box[0]
        with bns.connect(srv.url, timeout=5) as nc:
            nc.flush(5)
    else:
        srv = EmbeddedServer().start()
    if mode == "fork":
        child = os.fork()
        if child == 0:
            sys.exit(0)  # a normal exit of the child runs its atexit hooks: the server is the parent's
        os.waitpid(child, 0)
    print(srv.pid, srv.workdir, srv.url, flush=True)
    if mode == "raise":
        raise RuntimeError("uncaught, and the server was never stopped")
    sys.stdin.read()  # until killed, or until the test closes stdin
    """
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a parent that never reaps it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _start_owner(mode: str) -> tuple[subprocess.Popen[str], int, Path, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert owner.stdout is not None
    line = owner.stdout.readline()  # bounded: the owner prints at once or dies (then EOF)
    if not line:
        owner.wait(10)
        raise AssertionError(f"the owner failed: {owner.stderr.read() if owner.stderr else ''}")
    pid, workdir, url = line.split()
    return owner, int(pid), Path(workdir), url


def _wait_gone(pid: int, workdir: Path) -> float:
    t0 = time.monotonic()
    wait_for(lambda: not _alive(pid), GONE_WITHIN, f"nats-server (pid {pid}) to exit")
    wait_for(lambda: not workdir.exists(), GONE_WITHIN, f"{workdir} to be removed")
    return time.monotonic() - t0


def _end(owner: subprocess.Popen[str]) -> None:
    if owner.poll() is None:
        owner.kill()
    owner.wait(10)
    for pipe in (owner.stdin, owner.stdout, owner.stderr):
        if pipe is not None:
            pipe.close()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_server_stops_when_its_owner_is_killed(how: str) -> None:
    owner, pid, workdir, url = _start_owner("plain")
    try:
        with bns.connect(url, timeout=5.0) as nc:
            nc.flush(5.0)
        assert _alive(pid) and workdir.is_dir()
        owner.send_signal(getattr(signal, how))
        owner.wait(10)
        took = _wait_gone(pid, workdir)
        print(f"{how}: nats-server and its store gone {took:.3f} s after the owner")
    finally:
        _end(owner)


def test_server_stops_when_its_owner_dies_of_an_uncaught_exception() -> None:
    owner, pid, workdir, _url = _start_owner("raise")
    try:
        assert owner.wait(10) == 1
        _wait_gone(pid, workdir)
    finally:
        _end(owner)


def test_server_started_by_a_short_lived_thread_lives_as_long_as_the_process() -> None:
    owner, pid, workdir, url = _start_owner("thread")
    try:
        with bns.connect(url, timeout=5.0) as nc:  # the thread ended long ago: the server still answers
            nc.flush(5.0)
        assert _alive(pid) and owner.poll() is None
        owner.kill()
        owner.wait(10)
        _wait_gone(pid, workdir)
    finally:
        _end(owner)


def test_a_forked_child_leaves_its_parents_server_alone() -> None:
    owner, pid, workdir, url = _start_owner("fork")
    try:
        assert _alive(pid) and workdir.is_dir()  # the child's exit stopped and removed nothing
        with bns.connect(url, timeout=5.0) as nc:
            nc.flush(5.0)
        assert owner.stdin is not None
        owner.stdin.close()  # the owner exits normally, never having stopped the server: atexit does
        assert owner.wait(10) == 0
        _wait_gone(pid, workdir)
    finally:
        _end(owner)


def test_a_killed_guard_takes_its_server_with_it() -> None:
    srv = EmbeddedServer()
    try:
        srv.start()
        assert srv.pid is not None and srv._proc is not None
        os.kill(srv._proc.pid, signal.SIGKILL)
        pid = srv.pid
        wait_for(lambda: not _alive(pid), GONE_WITHIN, "nats-server to die with its guard")
        wait_for(lambda: not srv.is_running, 5.0, "is_running to say so")
    finally:
        srv.cleanup()


def test_server_killed_from_outside_is_seen_as_stopped() -> None:
    with EmbeddedServer() as srv:
        assert srv.pid is not None
        os.kill(srv.pid, signal.SIGKILL)
        wait_for(lambda: not srv.is_running, 5.0, "is_running to turn false")
        srv.start()  # the same port and store again
        with bns.connect(srv.url, timeout=5.0) as nc:
            nc.flush(5.0)


def test_cleanup_removes_the_store_and_a_new_start_makes_another() -> None:
    srv = EmbeddedServer()
    try:
        srv.start()
        first = srv.workdir
        assert first is not None and Path(srv.store_dir).is_relative_to(first)
        srv.cleanup()
        assert not Path(first).exists()
        srv.start()
        assert srv.workdir != first and Path(srv.store_dir).is_relative_to(str(srv.workdir))
    finally:
        srv.cleanup()


def test_a_taken_port_is_refused_by_name() -> None:
    with EmbeddedServer(jetstream=False) as first:
        assert first.port is not None
        with pytest.raises(PortInUseError, match=f"port {first.port} .* is taken") as info:
            EmbeddedServer(port=first.port, jetstream=False).start()
        assert info.value.port == first.port


def test_port_zero_means_a_free_port() -> None:
    with EmbeddedServer(port=0, jetstream=False) as srv:
        assert srv.port not in (None, 0, 4222)


@pytest.mark.parametrize("port", [-1, 65536, 4222.0, True, "4222"])
def test_bad_ports_are_refused(port: object) -> None:
    with pytest.raises(ValueError, match="port must be an int from 1 to 65535"):
        EmbeddedServer(port=port)  # type: ignore[arg-type]


def test_a_server_nobody_refers_to_lives_as_long_as_the_process() -> None:
    import gc

    url = EmbeddedServer(jetstream=False).start().url
    gc.collect()
    with bns.connect(url, timeout=5.0) as nc:
        nc.flush(5.0)
    from beluga_nats_sync import server

    for srv in [s for s in server._LIVE if s.url == url]:
        srv.cleanup()
