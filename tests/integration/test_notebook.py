"""The client in a real Jupyter kernel: the quickstart notebook, interrupts, re-run cells, shutdown.

Kernels are real ``ipykernel`` processes started through ``jupyter_client`` (what ``nbclient`` and
Jupyter itself use), with this checkout on their ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import signal
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from beluga_nats_sync.server import EmbeddedServer

from helpers import ROOT, pause_process

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
jupyter_client = pytest.importorskip("jupyter_client")

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
BUS_TAG = "bus"  # cells that need beluga_nats_sync.bus and beluga_nats_sync.message

pytestmark = pytest.mark.slow


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _missing_bus() -> str:
    for name in ("beluga_nats_sync.bus", "beluga_nats_sync.message"):
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            spec = None
        # from this checkout only: an install of another tree would mix its bus with this client
        if spec is None or spec.origin is None or not Path(spec.origin).resolve().is_relative_to(ROOT):
            return f"{name} cannot be imported from this checkout yet"
    return ""


def run_notebook(nb: Any) -> Any:
    client = nbclient.NotebookClient(nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    return client.execute(env=kernel_env())


def test_quickstart_runs_in_a_real_kernel_without_the_bus_cells() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    kept = [c for c in nb.cells if BUS_TAG not in c.metadata.get("tags", [])]
    assert len(kept) < len(nb.cells), "the bus cells are tagged"
    nb.cells = kept
    run_notebook(nb)  # raises CellExecutionError on any cell error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "beluga_nats_sync.Client" in html and "Subscription" in html and "Msg" in html
    assert "tail agent.metrics.&gt;" in html
    text = "".join(o.get("text", "") for o in outputs)
    assert "raised at once: no responders on 'agent.nobody'" in text


def test_the_whole_quickstart_runs_in_a_real_kernel() -> None:
    missing = _missing_bus()
    if missing:
        pytest.skip(f"the Message bus and tracing cells need the bus: {missing}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    run_notebook(nb)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "nats.process" in text and "tracing skipped" not in text


def test_the_quickstart_runs_without_the_opentelemetry_sdk(tmp_path: Path) -> None:
    """What `pip install beluga-nats-sync[server]` gives: no SDK, and the tracing cells say so."""
    missing = _missing_bus()
    if missing:
        pytest.skip(f"the Message bus cells need the bus: {missing}")
    hidden = tmp_path / "opentelemetry" / "sdk"  # first on the path, it shadows the installed SDK
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'opentelemetry.sdk'\")\n")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = kernel_env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    client = nbclient.NotebookClient(nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.execute(env=env)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "tracing skipped: the OpenTelemetry SDK is not installed (pip install opentelemetry-sdk)" in text
    assert "nats.process" not in text


# -- a kernel driven cell by cell -------------------------------------------------------------------


class Cell:
    def __init__(self, msg_id: str) -> None:
        self.msg_id = msg_id
        self.stdout = ""
        #: what other cells printed meanwhile (a kernel may route a thread's output to the cell
        #: that started the thread), by their msg_id
        self.elsewhere: dict[str, str] = {}
        self.error: tuple[str, str] | None = None
        self.interrupted_at: float | None = None
        self.finished_at = 0.0


class Kernel:
    """A real ipykernel process; ``run`` executes code and collects that cell's output."""

    def __init__(self) -> None:
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel(env=kernel_env(), cwd=str(ROOT))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, *, interrupt_on: str | None = None, timeout: float = 60.0) -> Cell:
        """Run ``code``; with ``interrupt_on``, interrupt the kernel once that text was printed."""
        msg_id = self.kc.execute(code)
        cell = Cell(msg_id)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"cell did not finish within {timeout} s: {code!r}; output {cell.stdout!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            kind, content = msg["msg_type"], msg["content"]
            parent = msg["parent_header"].get("msg_id")
            if parent != msg_id:
                if kind == "stream" and parent:
                    cell.elsewhere[parent] = cell.elsewhere.get(parent, "") + content["text"]
                continue
            if kind == "stream":
                cell.stdout += content["text"]
                if interrupt_on is not None and cell.interrupted_at is None and interrupt_on in cell.stdout:
                    cell.interrupted_at = time.monotonic()
                    self.km.interrupt_kernel()
            elif kind == "error":
                cell.error = (content["ename"], content["evalue"])
            elif kind == "status" and content["execution_state"] == "idle":
                cell.finished_at = time.monotonic()
                return cell

    def ok(self, code: str) -> str:
        cell = self.run(code)
        assert cell.error is None, (cell.error, cell.stdout)
        return cell.stdout

    @property
    def process(self) -> Any:
        return self.km.provisioner.process  # type: ignore[union-attr]

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    try:
        yield k
    finally:
        k.close()


# Prints "blocked in NAME" from a helper thread once the main thread is parked inside NAME: the
# moment to press "interrupt" (the print shows up in the running cell).
ANNOUNCE = """
import sys, threading, time

def announce_when_blocked(name):
    main = threading.main_thread().ident
    def watch():
        deadline, previous = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(main)
            names, f = set(), frame
            while f is not None:
                names.add(f.f_code.co_name)
                f = f.f_back
            here = (frame.f_code.co_name, frame.f_lineno) if frame is not None else None
            if name in names and here == previous:
                print(f"blocked in {name}", flush=True)
                return
            previous = here if name in names else None
            time.sleep(0.005)
    threading.Thread(target=watch, daemon=True).start()
"""


def interrupt(kernel: Kernel, name: str, call: str) -> None:
    cell = kernel.run(f"announce_when_blocked({name!r})\n{call}", interrupt_on=f"blocked in {name}")
    assert cell.interrupted_at is not None, f"never blocked in {name}: {cell.stdout!r} {cell.error}"
    assert cell.error is not None and cell.error[0] == "KeyboardInterrupt", cell.error
    took = cell.finished_at - cell.interrupted_at
    assert took < 5.0, f"{name} took {took:.2f} s to stop after the interrupt"


def test_interrupting_blocking_calls_in_a_kernel(kernel: Kernel, fresh_server: EmbeddedServer) -> None:
    kernel.ok(ANNOUNCE)
    kernel.ok(
        "import beluga_nats_sync as bns\n"
        f"nc = bns.connect({fresh_server.url!r}, timeout=5)\n"
        "nc.subscribe('nb.silent')\n"  # listens and never answers: a request waits
        "nc.subscribe('nb.rpc', lambda m: m.respond(b'pong:' + m.data))\n"
        "pull = nc.subscribe('nb.pull')\n"
        "nc.flush(5)"
    )
    interrupt(kernel, "request", "nc.request('nb.silent', b'?', timeout=60)")
    assert kernel.ok("print(nc.request('nb.rpc', b'1', timeout=5).data)") == "b'pong:1'\n"

    interrupt(kernel, "next_msg", "pull.next_msg(timeout=60)")
    assert kernel.ok("nc.publish('nb.pull', b'after'); print(pull.next_msg(timeout=5).data)") == "b'after'\n"

    assert fresh_server.pid is not None
    pause_process(fresh_server.pid)  # the server stops answering: flush waits
    try:
        interrupt(kernel, "flush", "nc.flush(timeout=60)")
    finally:
        os.kill(fresh_server.pid, signal.SIGCONT)
    assert kernel.ok("nc.flush(10); print(nc.request('nb.rpc', b'2', timeout=5).data)") == "b'pong:2'\n"
    kernel.ok("nc.close()")


NATS_THREADS = "sorted(t.name for t in threading.enumerate() if t.name.startswith('nats-'))"


def test_rerunning_a_cell_that_makes_a_client_leaves_no_orphan_threads(
    kernel: Kernel, nats_server: EmbeddedServer
) -> None:
    kernel.ok("import gc, threading\nimport beluga_nats_sync as bns")
    make = (
        f"nc = bns.connect({nats_server.url!r}, name='rerun')\n"
        "sub = nc.subscribe('nb.rerun', lambda m: None)\n"
        "nc.publish('nb.rerun', b'x')\n"
        "nc.flush(5)"
    )
    for _ in range(3):
        kernel.ok(make)
    out = kernel.ok(f"gc.collect()\nprint({NATS_THREADS})")
    assert out.strip() == "['nats-dispatch-nb.rerun', 'nats-events-rerun', 'nats-io-rerun']"  # one client's
    assert kernel.ok(f"nc.close()\nprint({NATS_THREADS})").strip() == "[]"


def test_prints_from_callbacks_show_in_a_cell(kernel: Kernel, nats_server: EmbeddedServer) -> None:
    """Where a callback's print shows is the kernel's choice (docs/notebooks.md): ipykernel 7
    shows it in the cell running at that moment, ipykernel 6 under the cell that started the
    subscription's thread. Either way it is shown, whole, from the dispatcher thread."""
    subscribe = kernel.run(
        "import threading\nimport beluga_nats_sync as bns\n"
        f"nc = bns.connect({nats_server.url!r})\n"
        "printed = threading.Event()\n"
        "def shout(msg):\n"
        "    print('callback got', msg.data.decode(), 'on', threading.current_thread().name, flush=True)\n"
        "    printed.set()\n"
        "nc.subscribe('nb.print', shout)\nnc.flush(5)"
    )
    assert subscribe.error is None, subscribe.error
    cell = kernel.run("nc.publish('nb.print', b'hello')\nassert printed.wait(5)\nprint('cell done')")
    assert cell.error is None, (cell.error, cell.stdout)
    shout = "callback got hello on nats-dispatch-nb.print\n"
    if int(version("ipykernel").split(".")[0]) >= 7:
        assert shout in cell.stdout and "cell done" in cell.stdout, cell.stdout
    else:
        assert cell.stdout == "cell done\n" and shout in cell.elsewhere.get(subscribe.msg_id, ""), cell.elsewhere
    kernel.ok("nc.close()")


def test_restart_and_shutdown_with_live_clients_do_not_hang(kernel: Kernel, nats_server: EmbeddedServer) -> None:
    live = (
        "import beluga_nats_sync as bns\n"
        f"clients = [bns.connect({nats_server.url!r}) for _ in range(3)]\n"
        "subs = [c.subscribe('nb.live', lambda m: None) for c in clients]\n"
        "pull = clients[0].subscribe('nb.pull')\n"
        "for c in clients: c.publish('nb.live', b'x')"
    )
    kernel.ok(live)
    kernel.km.shutdown_wait_time = 30.0  # jupyter_client kills a kernel that has not exited by then
    before = kernel.process
    kernel.km.restart_kernel(now=False)
    assert before.wait(1.0) == 0, "the kernel had to be killed on restart"
    kernel.kc.wait_for_ready(timeout=60)
    kernel.ok(live)
    process = kernel.process
    kernel.km.shutdown_kernel(now=False)
    assert process.wait(1.0) == 0, "the kernel had to be killed on shutdown"
