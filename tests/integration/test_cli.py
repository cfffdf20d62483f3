"""The ``beluga-nats`` command line, driven in subprocesses against a real nats-server."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.server import EmbeddedServer

from helpers import ROOT, wait_for

RUN_TIMEOUT = 60.0

try:
    from beluga_nats_sync.message import Message
except ImportError as exc:  # the envelope is built separately; these tests wait for it
    Message = None
    _NO_MESSAGE = f"beluga_nats_sync.message cannot be imported in this checkout: {exc}"
else:
    _NO_MESSAGE = ""
needs_message = pytest.mark.skipif(Message is None, reason=_NO_MESSAGE)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's package, whatever is installed
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, stdin: str | None = None) -> Any:
    """Run ``python -m beluga_nats_sync ARGS`` to completion (bounded) and return the result."""
    return subprocess.run(
        [sys.executable, "-m", "beluga_nats_sync", *args],
        cwd=cwd,
        env=env or _env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


class Running:
    """A CLI process that keeps running (sub, reply, server): its output lines arrive in queues."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "beluga_nats_sync", *args],
            cwd=ROOT,
            env=env or _env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out", self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err", self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream: Any, name: str, into: list[str]) -> None:
        for line in stream:
            into.append(line)
            self._lines.put((name, line))

    def wait_line(self, text: str, timeout: float = 30.0) -> str:
        """Block until a line (stdout or stderr) containing ``text`` appears."""
        deadline = time.monotonic() + timeout
        for line in self.out + self.err:
            if text in line:
                return line
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None and self._lines.empty():
                raise AssertionError(f"no line with {text!r}; stdout={self.out!r} stderr={self.err!r}")
            try:
                _, line = self._lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if text in line:
                return line

    def finish(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(5.0)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish(10.0)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """Collects the long-running CLI processes a test starts, and kills the leftovers."""
    procs: list[Running] = []
    yield procs
    for p in procs:
        p.kill()


def start(procs: list[Running], *args: str, env: dict[str, str] | None = None) -> Running:
    p = Running(*args, env=env)
    procs.append(p)
    return p


def one_error_line(result: Any) -> str:
    """The CLI failed with exactly one line on stderr, without a traceback; return it."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("beluga-nats: error: ")
    return str(lines[0])


# -- pub ------------------------------------------------------------------------------------------


def test_pub_sends_count_messages_with_headers(nats_server: EmbeddedServer, client: bns.Client) -> None:
    sub = client.subscribe("cli.pub")
    client.flush(5.0)
    r = cli("--url", nats_server.url, "pub", "cli.pub", "hello", "--count", "3", "--header", "k=v", "--header", "a=b")
    assert r.returncode == 0, r.stderr
    msgs = [sub.next_msg(5.0) for _ in range(3)]
    assert [m.data for m in msgs] == [b"hello"] * 3
    assert all(dict(m.headers or {}) == {"k": "v", "a": "b"} for m in msgs)
    assert r.stdout == ""
    assert "published 3 messages (15 B) to 'cli.pub' in " in r.stderr
    assert "msgs/s" not in r.stderr  # three messages make no rate


def test_pub_json_summary_and_url_after_the_command(nats_server: EmbeddedServer, client: bns.Client) -> None:
    sub = client.subscribe("cli.pubjson")
    client.flush(5.0)
    r = cli("pub", "cli.pubjson", "x" * 10, "--count", "5", "--json", "--url", nats_server.url)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["subject"] == "cli.pubjson" and summary["count"] == 5 and summary["bytes"] == 50
    assert summary["interrupted"] is False and summary["seconds"] > 0
    assert len(list(sub.messages(timeout=2.0, limit=5))) == 5


def test_nats_url_from_the_environment_and_stdin_data(nats_server: EmbeddedServer, client: bns.Client) -> None:
    sub = client.subscribe("cli.env")
    client.flush(5.0)
    r = cli("pub", "cli.env", "-", env=_env(NATS_URL=nats_server.url), stdin="from stdin\n")
    assert r.returncode == 0, r.stderr
    assert sub.next_msg(5.0).data == b"from stdin\n"


def test_pub_progress_line_shows_rates(nats_server: EmbeddedServer) -> None:
    r = cli("--url", nats_server.url, "pub", "cli.progress", "x", "--count", "2000", "--progress")
    assert r.returncode == 0, r.stderr
    assert "\x1b[K" in r.stderr  # redrawn in place: carriage return, erase line (text mode shows \r as \n)
    assert "2,000/2,000" in r.stderr and "msgs/s" in r.stderr and "[########################]" in r.stderr
    assert r.stderr.rstrip().endswith("KiB/s")  # the summary comes last, on its own line


# -- sub ------------------------------------------------------------------------------------------


def test_sub_prints_count_messages_then_a_summary(
    nats_server: EmbeddedServer, client: bns.Client, running: list[Running]
) -> None:
    p = start(running, "--url", nats_server.url, "sub", "cli.sub.>", "--count", "3")
    p.wait_line("listening on 'cli.sub.>'")
    client.publish("cli.sub.a", b"one", headers={"h": "1"})
    client.publish("cli.sub.b", b"two")
    client.publish("cli.sub.c", b"\xff\x00")
    assert p.finish() == 0, p.err
    assert p.out == [
        "[#1] cli.sub.a (3 B) [h=1]: one\n",
        "[#2] cli.sub.b (3 B): two\n",
        "[#3] cli.sub.c (2 B): \\xff\\x00\n",
    ]
    assert "received 3 messages (8 B) on 'cli.sub.>'" in p.err[-1]


def test_sub_json_lines(nats_server: EmbeddedServer, client: bns.Client, running: list[Running]) -> None:
    p = start(running, "--url", nats_server.url, "--json", "sub", "cli.subjson", "--count", "2")
    p.wait_line("listening")
    client.publish("cli.subjson", json.dumps({"a": 1}).encode(), reply="cli.back")
    client.publish("cli.subjson", b"\x00\xff")
    assert p.finish() == 0, p.err
    first, second = (json.loads(line) for line in p.out)
    assert first == {
        "seq": 1,
        "subject": "cli.subjson",
        "reply": "cli.back",
        "headers": None,
        "size": 8,
        "data": '{"a": 1}',
    }
    assert second["data_base64"] == "AP8=" and "data" not in second


def test_sub_with_a_queue_group_shares_the_messages(
    nats_server: EmbeddedServer, client: bns.Client, running: list[Running]
) -> None:
    mine = client.subscribe("cli.q", queue="workers")
    p = start(running, "--url", nats_server.url, "sub", "cli.q", "--queue", "workers", "--timeout", "3", "--quiet")
    p.wait_line("in queue group 'workers'")
    for i in range(40):
        client.publish("cli.q", str(i).encode())
    client.flush(5.0)
    assert p.finish() == 0, p.err
    summary = p.err[-1]
    theirs = int(summary.split("received ", 1)[1].split(" ", 1)[0])
    ours = len(list(mine.messages(timeout=0.5)))
    assert ours + theirs == 40 and ours > 0 and theirs > 0  # each message went to one member
    assert p.out == []  # --quiet


def test_sub_count_not_reached_within_timeout_fails(nats_server: EmbeddedServer) -> None:
    r = cli("--url", nats_server.url, "sub", "cli.never", "--count", "2", "--timeout", "0.5")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "beluga-nats: error: received 0 of 2 messages within 0.5 s"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sub_stops_promptly_with_its_summary(
    nats_server: EmbeddedServer, client: bns.Client, running: list[Running], sig: signal.Signals
) -> None:
    p = start(running, "--url", nats_server.url, "sub", "cli.forever", "--progress")
    p.wait_line("listening")
    client.publish("cli.forever", b"one")
    p.wait_line("[#1] cli.forever")
    sent = time.monotonic()
    p.proc.send_signal(sig)
    assert p.finish() == 0, p.err
    took = time.monotonic() - sent
    assert "received 1 message (3 B) on 'cli.forever'" in p.err[-1]
    assert "Traceback" not in "".join(p.err)
    assert took < 1.5, f"sub took {took:.2f} s to stop"  # measured ~0.1 s; next_msg waits 0.25 s at most


def test_reply_prints_its_summary_on_sigterm(nats_server: EmbeddedServer, running: list[Running]) -> None:
    p = start(running, "--url", nats_server.url, "reply", "cli.term", "ok")
    p.wait_line("answering requests")
    p.proc.terminate()
    assert p.finish() == 0, p.err
    assert "received 0 messages (0 B) on 'cli.term'; answered 0" in p.err[-1]


def test_control_characters_are_escaped_for_the_terminal(
    nats_server: EmbeddedServer, client: bns.Client, running: list[Running]
) -> None:
    p = start(running, "--url", nats_server.url, "sub", "cli.ctl", "--count", "1")
    p.wait_line("listening")
    client.publish("cli.ctl", "\x1b[2Jtwo\nlines\x07 \x9b1m é".encode(), headers={"h": "a\x1bb"})
    assert p.finish() == 0, p.err
    assert p.out == ["[#1] cli.ctl (22 B) [h=a\\x1bb]: \\x1b[2Jtwo\\nlines\\x07 \\x9b1m é\n"]


def test_a_reply_shown_on_a_terminal_is_escaped_and_a_piped_one_is_not(
    nats_server: EmbeddedServer, client: bns.Client
) -> None:
    import pty

    client.subscribe("cli.ctlrpc", lambda m: m.respond(b"\x1b]0;title\x07ok\n"))
    client.flush(5.0)
    piped = cli("--url", nats_server.url, "request", "cli.ctlrpc", "")
    assert piped.returncode == 0 and piped.stdout == "\x1b]0;title\x07ok\n"
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "beluga_nats_sync", "--url", nats_server.url, "request", "cli.ctlrpc", ""],
            cwd=ROOT,
            env=_env(),
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=RUN_TIMEOUT,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:  # bounded: the child has exited, so the terminal ends with what it wrote
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0, proc.stderr
    assert shown.replace(b"\r\n", b"\n") == b"\\x1b]0;title\\x07ok\n"


# -- request / reply --------------------------------------------------------------------------------


def test_request_prints_the_reply(nats_server: EmbeddedServer, client: bns.Client) -> None:
    client.subscribe("cli.rpc", lambda m: m.respond(b"answer to " + m.data, headers={"from": "test"}))
    client.flush(5.0)
    r = cli("--url", nats_server.url, "request", "cli.rpc", "question", "--header", "x=1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "answer to question\n"
    assert "reply from 'cli.rpc' in" in r.stderr
    r = cli("--url", nats_server.url, "--json", "request", "cli.rpc", "q2")
    rec = json.loads(r.stdout)
    assert rec["data"] == "answer to q2" and rec["headers"] == {"from": "test"} and rec["elapsed_ms"] > 0


def test_request_without_responders_or_reply_is_one_line(nats_server: EmbeddedServer, client: bns.Client) -> None:
    line = one_error_line(cli("--url", nats_server.url, "request", "cli.nobody", "x"))
    assert "no responders on 'cli.nobody'" in line
    client.subscribe("cli.silent")  # listens, never answers
    client.flush(5.0)
    line = one_error_line(cli("--url", nats_server.url, "request", "cli.silent", "x", "--timeout", "0.3"))
    assert "no reply to the request on 'cli.silent' within 0.3 s" in line


def test_reply_answers_requests(nats_server: EmbeddedServer, client: bns.Client, running: list[Running]) -> None:
    p = start(running, "--url", nats_server.url, "reply", "cli.svc", "pong", "--count", "3", "--header", "by=cli")
    p.wait_line("answering requests on 'cli.svc'")
    for i in range(2):
        rep = client.request("cli.svc", f"ping {i}".encode(), timeout=5.0)
        assert rep.data == b"pong" and dict(rep.headers or {}) == {"by": "cli"}
    client.publish("cli.svc", b"no reply wanted")
    assert p.finish() == 0, p.err
    assert [line.split(": ", 1)[1] for line in p.out] == ["ping 0\n", "ping 1\n", "no reply wanted\n"]
    assert any("has no reply subject" in line for line in p.err)
    assert "answered 2" in p.err[-1]


# -- errors ---------------------------------------------------------------------------------------


def test_unreachable_server_is_one_line() -> None:
    line = one_error_line(cli("--url", "nats://127.0.0.1:1", "--connect-timeout", "2", "pub", "a", "b"))
    assert "cannot connect to nats://127.0.0.1:1" in line and "is nats-server running?" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("pub", "a..b", "x"), "subject 'a..b' has an empty token"),
        (("pub", "a.*", "x"), "wildcards are accepted in subscriptions, not when publishing"),
        (("sub", "a.>.b"), "'>' is accepted only as the last token"),
        (("request", "a b", "x"), "contains whitespace"),
        (("pub", "a", "x", "--header", "novalue"), "--header 'novalue': expected NAME=VALUE"),
        (("pub", "a", "--message", "{bad"), "DATA is not valid JSON: Expecting property name"),
        (("pub", "a", "--message", "[1, 2]"), "DATA must be a JSON object for the Message payload, got an array"),
        (("pub", "a", "--message", '{"x": NaN}'), "NaN is not a JSON number"),
        (("--url", "http://x", "pub", "a", "b"), "unsupported scheme in 'http://x'"),
        (("--url", "htp:/nope", "sub", "a"), "'htp:/nope' is not a server URL (a scheme ends with '://')"),
    ],
)
def test_bad_input_is_one_line_before_connecting(args: tuple[str, ...], expected: str) -> None:
    # nothing listens on port 1: a check made after connecting would report the connection instead
    line = one_error_line(cli("--url", "nats://127.0.0.1:1", *args))
    assert expected in line


def test_usage_errors_exit_2() -> None:
    r = cli("pub", "a", "b", "--count", "0")
    assert r.returncode == 2 and "expected a whole number >= 1, got '0'" in r.stderr
    r = cli("sub", "a", "--bogus")
    assert r.returncode == 2 and "unrecognized arguments: --bogus" in r.stderr


@pytest.mark.parametrize("command", ["pub", "sub", "request", "reply", "server", "demo"])
def test_every_command_has_help(command: str) -> None:
    r = cli(command, "--help")
    assert r.returncode == 0 and r.stdout.startswith(f"usage: beluga-nats {command}")
    assert "--url" in r.stdout and "--json" in r.stdout


def test_top_level_help_lists_every_command() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for command in ("pub", "sub", "request", "reply", "server", "demo", "bench"):
        assert f"    {command} " in r.stdout


# -- server and bench -----------------------------------------------------------------------------


def test_server_runs_until_ctrl_c(running: list[Running]) -> None:
    p = start(running, "server", "--port", "0")  # never 4222: it may be another's (test_cli_server.py)
    line = p.wait_line("nats-server running at")
    url = line.split(" at ", 1)[1].split(" ", 1)[0]
    with bns.connect(url, timeout=5.0) as nc:
        assert nc.is_connected
    p.proc.send_signal(signal.SIGINT)
    assert p.finish() == 0, p.err
    with pytest.raises(bns.ConnectError):
        bns.connect(url, timeout=1.0)  # nats-server was stopped with it


def test_server_reaps_nats_server_on_sigterm(running: list[Running]) -> None:
    p = start(running, "--json", "server", "--port", "0")
    info = json.loads(p.wait_line('"url"'))
    p.proc.terminate()
    assert p.finish() == 0, p.err

    def gone() -> bool:
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, 10.0, "nats-server to exit")


def test_bench_forwards_its_arguments_to_the_suite(tmp_path: Path) -> None:
    pkg = tmp_path / "benchmarks"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import json\ndef main(argv):\n    print(json.dumps(argv))\n    return 3\n"
        "if __name__ == '__main__':\n    raise SystemExit('not run as a script here')\n"
    )
    r = cli("bench", "--rounds", "2", "pubsub", "--help", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert json.loads(r.stdout) == ["--rounds", "2", "pubsub", "--help"]


def test_bench_says_how_to_get_the_suite_when_it_is_not_installed(tmp_path: Path) -> None:
    # an installed package: beluga_nats_sync importable, no benchmarks package anywhere on the path
    site = tmp_path / "site"
    site.mkdir()
    (site / "beluga_nats_sync").symlink_to(ROOT / "beluga_nats_sync")
    work = tmp_path / "work"
    work.mkdir()
    line = one_error_line(cli("bench", cwd=work, env=_env(PYTHONPATH=str(site))))
    assert "not installed with the package" in line and "source distribution" in line
    assert "pip install -e '.[bench]'" in line


def test_bench_without_the_suite_is_one_line(tmp_path: Path) -> None:
    # a benchmarks package that cannot be imported shadows the checkout's (the cwd comes first)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "__init__.py").write_text("raise ImportError('matplotlib is missing')\n")
    line = one_error_line(cli("bench", cwd=tmp_path))
    assert "the benchmark suite is not importable" in line and "benchmarks/" in line


# -- the Message envelope ---------------------------------------------------------------------------


@needs_message
def test_pub_message_sends_the_envelope(nats_server: EmbeddedServer, client: bns.Client) -> None:
    assert Message is not None
    sub = client.subscribe("cli.msg")
    client.flush(5.0)
    r = cli("--url", nats_server.url, "--json", "pub", "cli.msg", '{"task": "process"}', "--message", "--count", "2")
    assert r.returncode == 0, r.stderr
    a, b = (Message.from_json(sub.next_msg(5.0).data) for _ in range(2))
    assert a.type == "event" and a.payload == {"task": "process"}
    assert a.message_id != b.message_id  # a fresh envelope per message
    r = cli("--url", nats_server.url, "--json", "pub", "cli.msg", "{}", "--message", "--type", "ping")
    sent = json.loads(r.stdout)
    got = Message.from_json(sub.next_msg(5.0).data)
    assert got.type == "ping" and got.payload == {} and got.message_id == sent["message_id"]


@needs_message
def test_sub_message_decodes_and_survives_garbage(
    nats_server: EmbeddedServer, client: bns.Client, running: list[Running]
) -> None:
    assert Message is not None
    p = start(running, "--url", nats_server.url, "sub", "cli.msgsub", "--message", "--count", "3")
    p.wait_line("listening")
    m1 = Message(type="request", payload={"task": "a"})
    client.publish("cli.msgsub", m1.to_json())
    client.publish("cli.msgsub", b"not json")
    client.publish("cli.msgsub", Message(type="done", payload={}).to_json())
    assert p.finish() == 0, p.err
    assert f"Message type='request' id={m1.message_id}" in p.out[0] and '{"task": "a"}' in p.out[0]
    assert p.out[1].endswith(": not json\n")
    assert "Message type='done'" in p.out[2]
    assert any("[#2] on 'cli.msgsub' is not a Beluga Message" in line for line in p.err)
    assert "1 not a Beluga Message" in p.err[-1]


@needs_message
def test_sub_message_json(nats_server: EmbeddedServer, client: bns.Client, running: list[Running]) -> None:
    assert Message is not None
    p = start(running, "--url", nats_server.url, "--json", "sub", "cli.msgjson", "--message", "--count", "2")
    p.wait_line("listening")
    m = Message(type="t", payload={"n": [1, 2]})
    client.publish("cli.msgjson", m.to_json())
    client.publish("cli.msgjson", b"[]")
    assert p.finish() == 0, p.err
    good, bad = (json.loads(line) for line in p.out)
    assert good["message"]["type"] == "t" and good["message"]["payload"] == {"n": [1, 2]}
    assert good["message"]["message_id"] == m.message_id
    assert "message" not in bad and bad["error"]


@needs_message
def test_request_and_reply_with_messages(nats_server: EmbeddedServer, running: list[Running]) -> None:
    assert Message is not None
    p = start(running, "--url", nats_server.url, "reply", "cli.msgrpc", '{"answer": 42}', "--message", "--count", "1")
    p.wait_line("answering requests")
    r = cli("--url", nats_server.url, "--json", "request", "cli.msgrpc", '{"q": 1}', "--message")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["message"]["type"] == "response" and rec["message"]["payload"] == {"answer": 42}
    assert p.finish() == 0, p.err
    assert "Message type='request'" in p.out[0] and '{"q": 1}' in p.out[0]


@needs_message
def test_request_message_with_a_reply_that_is_not_a_message(nats_server: EmbeddedServer, client: bns.Client) -> None:
    client.subscribe("cli.rawrpc", lambda m: m.respond(b"plain"))
    client.flush(5.0)
    r = cli("--url", nats_server.url, "request", "cli.rawrpc", "{}", "--message")
    assert r.stdout == "plain\n"
    assert r.returncode == 1 and "the reply is not a Beluga Message" in r.stderr


# -- the progress line and the summary ------------------------------------------------------------


def test_summary_line_gives_a_rate_only_with_a_duration() -> None:
    from beluga_nats_sync._progress import summary_line

    assert summary_line("received", 1, 3, 0.0, "on 'a'") == "received 1 message (3 B) on 'a'"
    assert (
        summary_line("published", 2000, 4096, 0.5, "to 'a'")
        == "published 2,000 messages (4.0 KiB) to 'a' in 500.0 ms: 4,000 msgs/s, 8.0 KiB/s"
    )
    assert (
        summary_line("received", 20_000, 40_960, 2.5, "on 'a'")
        == "received 20,000 messages (40.0 KiB) on 'a' in 2.500 s: 8,000 msgs/s, 16.0 KiB/s"
    )


@pytest.mark.parametrize(
    ("count", "seconds", "expected"),
    [
        (3, 0.0000326, "received 3 messages (30 B) on 'a' in 33 us"),  # a burst: no rate to speak of
        (9, 4.0, "received 9 messages (30 B) on 'a' in 4.000 s"),
        (50, 0.0004, "received 50 messages (30 B) on 'a' in 400 us"),
    ],
)
def test_summary_line_gives_no_rate_for_a_few_messages_or_no_time(count: int, seconds: float, expected: str) -> None:
    from beluga_nats_sync._progress import summary_line

    assert summary_line("received", count, 30, seconds, "on 'a'") == expected


def test_progress_line_and_a_disabled_progress() -> None:
    import io

    from beluga_nats_sync._progress import Progress

    quiet = io.StringIO()
    off = Progress("pub a", 10, quiet, enabled=False)
    off.update(5, 50, force=True)
    off.finish()
    assert quiet.getvalue() == ""

    out = io.StringIO()
    bar = Progress("pub a", 8, out, enabled=True)
    bar.update(2, 20, force=True)
    assert out.getvalue().startswith("\r\x1b[Kpub a  [######------------------] 2/8  20 B  ")
    bar.finish()
    assert out.getvalue().endswith("\r\x1b[K")  # the line is erased for the summary
    assert "12 msgs" in Progress("sub a", None, out, enabled=True).line(12, 100)
