"""The guard between an :class:`~beluga_nats_sync.server.EmbeddedServer` and its ``nats-server``.

Run by path with the owner's interpreter (``python -I -S _server_guard.py DIR -- nats-server ...``),
so it imports nothing but the standard library. It starts ``nats-server`` as its own child, says
``pid N`` on stdout, then watches two things:

- its stdin, the owner's end of a pipe. ``stop SECONDS`` stops the server (SIGTERM, SIGKILL past
  SECONDS) and ``kill`` kills it; end of file means the owner process is gone, however it died
  (SIGKILL included, which runs no handler of the owner's): the server is stopped the same way
  and ``DIR`` (the server's temporary directory, its store included) is removed.
- the server: when it exits on its own, the guard exits too, with its status.

A pipe rather than ``prctl(PR_SET_PDEATHSIG)`` in ``nats-server`` itself: the kernel sends that
signal when the *thread* that spawned the child exits, so a server started from a short-lived
thread would die with the thread. The guard is single-threaded, so it does set that signal for
its own child: a guard killed outright takes its server with it.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys

#: How long a server is given to stop on SIGTERM when the owner is gone.
OWNER_GONE_GRACE = 5.0
_PR_SET_PDEATHSIG = 1


def _die_with_the_guard() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # no prctl: the pipe alone guards the server


def _stop(child: subprocess.Popen[bytes], grace: float) -> None:
    if child.poll() is not None:
        return
    try:
        child.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        child.terminate()
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _status(child: subprocess.Popen[bytes]) -> int:
    code = child.wait()
    return 128 - code if code < 0 else code  # killed by signal N: 128+N, as a shell reports it


def _owner_gone(child: subprocess.Popen[bytes], cleanup: str) -> int:
    _stop(child, OWNER_GONE_GRACE)
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
    return _status(child)


def _stdin_at_eof() -> bool:
    try:
        ready, _, _ = select.select([0], [], [], 0)
        return bool(ready) and os.read(0, 1) == b""
    except OSError:
        return True


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: _server_guard.py CLEANUP_DIR -- NATS_SERVER [ARGS...]", file=sys.stderr)
        return 2
    cleanup, cmd = argv[1], argv[3:]
    # Ctrl-C in a terminal reaches nats-server itself; the guard stays to report its exit
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        child = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=2, stderr=2, preexec_fn=_die_with_the_guard, close_fds=True
        )
    except OSError as exc:
        print(f"cannot start {cmd[0]}: {exc}", file=sys.stderr, flush=True)
        return 127
    signal.signal(signal.SIGTERM, lambda signum, frame: _stop(child, OWNER_GONE_GRACE))
    os.write(1, b"pid %d\n" % child.pid)
    try:
        exited: int | None = os.pidfd_open(child.pid)
    except (AttributeError, OSError):
        exited = None  # no pidfd: poll the child between reads
    watched = [0] if exited is None else [0, exited]
    pending = b""
    while True:
        try:
            ready, _, _ = select.select(watched, [], [], 0.05 if exited is None else None)
        except InterruptedError:
            ready = []
        if child.poll() is not None:
            # it ended on its own (or on SIGTERM): if the owner went too, its directory goes
            return _owner_gone(child, cleanup) if _stdin_at_eof() else _status(child)
        if 0 not in ready:
            continue
        chunk = os.read(0, 4096)
        if not chunk:
            return _owner_gone(child, cleanup)
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            command, _, arg = line.decode(errors="replace").partition(" ")
            if command == "stop":
                _stop(child, float(arg or OWNER_GONE_GRACE))
                return _status(child)
            if command == "kill":
                child.kill()
                return _status(child)
            print(f"guard: unknown command {line!r}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
