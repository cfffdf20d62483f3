"""``beluga-nats`` (also ``python -m beluga_nats_sync``): poke a NATS server from the terminal.

::

    beluga-nats [--url URL] [--json] COMMAND [ARGS]   # COMMAND: pub sub request reply server demo bench

What a command receives (messages, replies) goes to stdout, one line each, or one JSON object per
line with ``--json``; the listening notice, the live progress line, warnings and the closing summary
go to stderr, so a pipe gets only data. An error is one line on stderr and exit status 1; a usage
error exits with 2, and Ctrl-C during ``pub`` or ``request`` with 130 (``sub``, ``reply`` and
``server`` end normally on Ctrl-C, SIGTERM or SIGHUP, with their summary). Control characters in
what is printed for a terminal are escaped (``\x1b``, ``\n``); ``--json`` and a piped ``request``
reply keep the data as it is.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._notebook.display import escape_controls, format_size
from ._progress import Progress, summary_line
from .errors import NATSSyncError
from .protocol.headers import Headers, header_items, headers_dict

if TYPE_CHECKING:
    from ._client import Client
    from ._core.msg import Msg
    from ._core.subscription import Subscription

__all__ = ["CLIError", "build_parser", "main"]

PROG = "beluga-nats"
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
_TICK = 0.25  # how often an idle listener refreshes its progress line and checks its deadline


class CLIError(NATSSyncError):
    """Bad input to the command line, or a command that could not do its job: one line, exit 1."""


# -- small helpers ---------------------------------------------------------------------------------


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    _say(f"{PROG}: warning: {text}")


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _count_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def _seconds_arg(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        s = math.nan
    if not math.isfinite(s) or s <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return s


def _data(text: str) -> bytes:
    """DATA as bytes; ``-`` reads standard input."""
    if text == "-":
        return sys.stdin.buffer.read()
    return text.encode("utf-8", "surrogateescape")  # arguments that were not UTF-8 come back unchanged


def _headers(items: list[str] | None) -> Headers | None:
    """The ``--header NAME=VALUE`` options; a name given twice gets both values, in order."""
    if not items:
        return None
    from ._core.protocol import encode_headers

    headers = Headers()
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CLIError(f"--header {item!r}: expected NAME=VALUE, e.g. --header trace-id=42")
        headers.add(name, value)
    encode_headers(headers)  # refuse a bad name or value now, before connecting
    return headers


def _progress_enabled(args: argparse.Namespace) -> bool:
    if args.progress is not None:
        return bool(args.progress)
    return sys.stderr.isatty()


def _connect(args: argparse.Namespace, name: str) -> Client:
    from ._client import connect

    def on_error(exc: BaseException) -> None:
        _warn(_one_line(exc))

    return connect(args.url, context=args.context, name=name, timeout=args.connect_timeout, error_cb=on_error)


# -- the Message envelope (--message) --------------------------------------------------------------


def _message_class() -> Any:
    try:
        module = importlib.import_module("beluga_nats_sync.message")
    except ImportError as exc:
        raise CLIError(
            f"--message needs the Beluga Message envelope (beluga_nats_sync.message), which cannot be imported: {exc}"
        ) from None
    return module.Message


def _reject_constant(name: str) -> Any:
    raise CLIError(f"DATA is not valid JSON: {name} is not a JSON number (Go agents refuse it)")


def _payload(data: bytes) -> dict[str, Any]:
    """The JSON object given as DATA for a --message payload."""
    example = """e.g. '{"task": "process"}'"""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise CLIError("DATA is not UTF-8 text, so it cannot be a JSON payload") from None
    except json.JSONDecodeError as exc:
        raise CLIError(
            f"DATA is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
            f"the payload of a --message is a JSON object, {example}"
        ) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise CLIError(f"DATA must be a JSON object for the Message payload, got {kind}; {example}")
    return value


def _message_dict(message: Any) -> dict[str, Any]:
    ts = message.timestamp
    return {
        "type": message.type,
        "payload": message.payload,
        "timestamp": ts.isoformat() if hasattr(ts, "isoformat") else str(ts),
        "message_id": message.message_id,
    }


def _message_text(message: Any) -> str:
    d = _message_dict(message)
    payload = json.dumps(d["payload"], ensure_ascii=False, default=str)
    return f"Message type={d['type']!r} id={d['message_id']} at {d['timestamp']}: {payload}"


class _Body:
    """What pub/request/reply send: fixed bytes, or a fresh Message (new id and time) each time."""

    def __init__(self, args: argparse.Namespace) -> None:
        raw = _data(args.data)
        self._fixed = raw
        self._message: Any = None
        self._payload: dict[str, Any] = {}
        self._type = args.type
        if args.message:
            self._payload = _payload(raw or b"{}")
            self._message = _message_class()
            self.make()  # a payload the envelope refuses is reported before connecting
        self.last_id: str | None = None

    def make(self) -> bytes:
        if self._message is None:
            return self._fixed
        m = self._message(type=self._type, payload=self._payload)
        self.last_id = m.message_id
        return bytes(m.to_json())


# -- received messages ----------------------------------------------------------------------------


def _record(seq: int, msg: Msg, decoded: Any = None, error: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "seq": seq,
        "subject": msg.subject,
        "reply": msg.reply or None,
        "headers": headers_dict(msg.headers) if msg.headers else None,
        "size": len(msg.data),
    }
    try:
        rec["data"] = msg.data.decode("utf-8")
    except UnicodeDecodeError:
        rec["data_base64"] = base64.b64encode(msg.data).decode("ascii")
    if decoded is not None:
        rec["message"] = _message_dict(decoded)
    if error is not None:
        rec["error"] = error
    return rec


def _line(seq: int, msg: Msg, decoded: Any = None) -> str:
    """One line for a terminal: bytes that are not UTF-8 and control characters are escaped."""
    head = f"[#{seq}] {msg.subject} ({format_size(len(msg.data))})"
    if msg.reply:
        head += f" reply={msg.reply}"
    if msg.headers:
        head += " [" + ", ".join(f"{k}={v}" for k, v in header_items(msg.headers)) + "]"
    if decoded is not None:
        return escape_controls(f"{head} {_message_text(decoded)}")
    return escape_controls(f"{head}: {msg.data.decode('utf-8', 'backslashreplace')}")


def _json_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


class _Tally:
    count = 0
    nbytes = 0
    invalid = 0
    first_at = 0.0
    last_at = 0.0
    timed_out = False

    @property
    def seconds(self) -> float:
        """From the first message to the last: the rate is about traffic, not about waiting for it."""
        return self.last_at - self.first_at


def _listen(
    sub: Subscription,
    args: argparse.Namespace,
    label: str,
    answer: Callable[[int, Msg, Any], None] | None = None,
    notice: str = "",
) -> _Tally:
    """Print what arrives on ``sub`` until --count, --timeout, Ctrl-C or SIGTERM; return the totals.

    ``notice`` (the "listening" line) is printed once SIGTERM is handled, so that a process
    manager which waits for it can stop the listener cleanly at once.
    """
    message_cls = _message_class() if args.message else None
    progress = Progress(label, args.count, sys.stderr, enabled=_progress_enabled(args))
    tally = _Tally()
    t0 = time.monotonic()
    deadline = t0 + args.timeout if args.timeout else None
    from .errors import ClosedError, NATSTimeoutError

    previous = _stop_on_signals()
    try:
        if notice:
            _say(notice)
        while args.count is None or tally.count < args.count:
            wait = _TICK
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    tally.timed_out = True
                    break
            try:
                msg = sub.next_msg(wait)
            except NATSTimeoutError:
                progress.update(tally.count, tally.nbytes, force=True)
                continue
            except ClosedError:
                break
            tally.last_at = time.monotonic()
            if not tally.count:
                tally.first_at = tally.last_at
            tally.count += 1
            tally.nbytes += len(msg.data)
            decoded, error = None, None
            if message_cls is not None:
                try:
                    decoded = message_cls.from_json(msg.data)
                except ValueError as exc:
                    error = _one_line(exc)
                    tally.invalid += 1
            if not args.quiet:
                progress.clear()
                out = (
                    _json_line(_record(tally.count, msg, decoded, error))
                    if args.json
                    else _line(tally.count, msg, decoded)
                )
                print(out, flush=True)
            if error is not None and not args.json:
                progress.clear()
                _warn(f"[#{tally.count}] on {msg.subject!r} is not a Beluga Message: {error}")
            if answer is not None:
                answer(tally.count, msg, decoded)
            progress.update(tally.count, tally.nbytes)
    except KeyboardInterrupt:
        pass  # Ctrl-C (or SIGTERM, SIGHUP) is how a listener is normally stopped
    finally:
        _restore_signals(previous)
    progress.finish()
    return tally


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _stop_on_signals() -> dict[int, Any]:
    """Make SIGTERM and SIGHUP stop the caller like Ctrl-C; return the handlers they had."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # signals reach the main thread only (main() run from a thread leaves them alone)
    return {sig: signal.signal(sig, _stop_on_signal) for sig in _STOP_SIGNALS}


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _listen_summary(verb: str, tally: _Tally, sub: Subscription, subject: str) -> str:
    text = summary_line(verb, tally.count, tally.nbytes, tally.seconds, f"on {subject!r}")
    if tally.invalid:
        text += f"; {tally.invalid:,} not a Beluga Message"
    if sub.dropped:
        text += f"; {sub.dropped:,} dropped (slow consumer: printing could not keep up)"
    return text


def _check_listen_end(args: argparse.Namespace, tally: _Tally, nc: Client, what: str) -> int:
    if nc.is_closed:
        raise CLIError("the connection to the server was closed")
    if args.count is not None and tally.count < args.count and tally.timed_out:
        raise CLIError(f"{what} {tally.count} of {args.count} messages within {args.timeout:g} s")
    return 0


# -- commands --------------------------------------------------------------------------------------


def _cmd_pub(args: argparse.Namespace) -> int:
    from ._core.protocol import check_subject

    check_subject(args.subject)
    if args.reply:
        check_subject(args.reply, what="--reply")
    headers = _headers(args.header)
    body = _Body(args)
    nc = _connect(args, "beluga-nats-pub")
    progress = Progress(f"pub {args.subject}", args.count, sys.stderr, enabled=_progress_enabled(args))
    sent = nbytes = 0
    interrupted = False
    t0 = time.monotonic()
    try:
        try:
            for _ in range(args.count):
                data = body.make()
                nc.publish(args.subject, data, reply=args.reply, headers=headers)
                sent += 1
                nbytes += len(data)
                progress.update(sent, nbytes)
            progress.update(sent, nbytes, force=True)
            nc.flush(args.timeout)  # the server has them all: the summary is about delivered messages
        except KeyboardInterrupt:
            interrupted = True
        elapsed = time.monotonic() - t0
        progress.finish()
    finally:
        nc.close(5.0)
    if args.json:
        out: dict[str, Any] = {
            "subject": args.subject,
            "count": sent,
            "bytes": nbytes,
            "seconds": round(elapsed, 6),
            "msgs_per_s": round(sent / elapsed, 1) if elapsed > 0 else None,
            "interrupted": interrupted,
        }
        if body.last_id is not None and sent == 1:
            out["message_id"] = body.last_id
        print(_json_line(out), flush=True)
    else:
        _say(summary_line("published", sent, nbytes, elapsed, f"to {args.subject!r}"))
    return EXIT_INTERRUPTED if interrupted else 0


def _listening(nc: Client, args: argparse.Namespace, what: str) -> str:
    group = f" in queue group {args.queue!r}" if args.queue else ""
    return f"{what} on {args.subject!r}{group} at {nc.connected_url} (Ctrl-C to stop)"


def _cmd_sub(args: argparse.Namespace) -> int:
    from ._core.protocol import check_queue, check_subject

    check_subject(args.subject, wildcards=True)
    check_queue(args.queue)
    if args.message:
        _message_class()
    nc = _connect(args, "beluga-nats-sub")
    try:
        sub = nc.subscribe(args.subject, queue=args.queue)
        nc.flush(args.connect_timeout)  # the server knows the subscription before we say we listen
        tally = _listen(sub, args, f"sub {args.subject}", notice=_listening(nc, args, "listening"))
        _say(_listen_summary("received", tally, sub, args.subject))
        return _check_listen_end(args, tally, nc, "received")
    finally:
        nc.close(5.0)


def _cmd_reply(args: argparse.Namespace) -> int:
    from ._core.protocol import check_queue, check_subject

    check_subject(args.subject, wildcards=True)
    check_queue(args.queue)
    headers = _headers(args.header)
    body = _Body(args)
    answered = 0

    def answer(seq: int, msg: Msg, _decoded: Any) -> None:
        nonlocal answered
        if not msg.reply:
            _warn(f"[#{seq}] on {msg.subject!r} has no reply subject (it was published, not requested); not answered")
            return
        msg.respond(body.make(), headers=headers)
        answered += 1

    nc = _connect(args, "beluga-nats-reply")
    try:
        sub = nc.subscribe(args.subject, queue=args.queue)
        nc.flush(args.connect_timeout)
        tally = _listen(sub, args, f"reply {args.subject}", answer, _listening(nc, args, "answering requests"))
        nc.flush(5.0)  # the last answers are sent before we leave
        _say(_listen_summary("received", tally, sub, args.subject) + f"; answered {answered:,}")
        return _check_listen_end(args, tally, nc, "received")
    finally:
        nc.close(5.0)


def _cmd_request(args: argparse.Namespace) -> int:
    from ._core.protocol import check_subject

    check_subject(args.subject)
    headers = _headers(args.header)
    body = _Body(args)
    message_cls = _message_class() if args.message else None
    nc = _connect(args, "beluga-nats-request")
    try:
        t0 = time.perf_counter()
        rep = nc.request(args.subject, body.make(), timeout=args.timeout, headers=headers)
        elapsed_ms = (time.perf_counter() - t0) * 1e3
    finally:
        nc.close(5.0)
    decoded, error = None, None
    if message_cls is not None:
        try:
            decoded = message_cls.from_json(rep.data)
        except ValueError as exc:
            error = _one_line(exc)
    if args.json:
        rec = _record(1, rep, decoded, error)
        del rec["seq"]
        rec["elapsed_ms"] = round(elapsed_ms, 3)
        print(_json_line(rec), flush=True)
    elif decoded is not None:
        print(_message_text(decoded), flush=True)
    elif sys.stdout.isatty():
        text = rep.data.decode("utf-8", "backslashreplace").removesuffix("\n")
        print(escape_controls(text), flush=True)
    else:  # a pipe or a file gets the reply's bytes as they are
        out = sys.stdout.buffer
        out.write(rep.data if rep.data.endswith(b"\n") else rep.data + b"\n")
        out.flush()
    _say(f"reply from {args.subject!r} in {elapsed_ms:.2f} ms ({format_size(len(rep.data))})")
    if error is not None:
        raise CLIError(f"the reply is not a Beluga Message: {error}")
    return 0


def _stop_on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM/SIGHUP end the server like Ctrl-C: nats-server is stopped and reaped


_DEFAULT_PORT = 4222
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, or 0 for a free one; got {text!r}")
    return port


def _clients_port(url: str | None) -> int:
    """The port clients reach by default: that of ``--url``/``$NATS_URL`` when it is one URL on this
    machine, else NATS's 4222."""
    from urllib.parse import urlsplit

    url = url or os.environ.get("NATS_URL") or ""
    if not url or "," in url:
        return _DEFAULT_PORT
    try:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return _DEFAULT_PORT
    if host in _LOOPBACK or host.startswith("127."):
        return port or _DEFAULT_PORT
    return _DEFAULT_PORT


def _cmd_server(args: argparse.Namespace) -> int:
    from .server import EmbeddedServer, PortInUseError

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_on_signal)
    if args.port is not None:  # asked for: that port (0: a free one), or an error
        try:
            srv = EmbeddedServer(port=args.port).start()
        except PortInUseError as exc:
            raise CLIError(f"port {exc.port} is taken by another process; --port 0 picks a free one") from None
    else:  # where clients look by default, unless it is taken
        url = args.url
        if url is None and args.context is not None:  # the port that context's clients reach
            from ._context import load_context

            url = load_context(args.context).options["servers"]
        preferred = _clients_port(url)
        try:
            srv = EmbeddedServer(port=preferred).start()
        except PortInUseError:
            srv = EmbeddedServer().start()
            _warn(
                f"port {preferred} is taken (another nats-server?); serving on port {srv.port} instead: "
                f"give clients --url {srv.url} or NATS_URL={srv.url}"
            )
    with srv:
        try:
            if args.json:
                print(_json_line({"url": srv.url, "pid": srv.pid}), flush=True)
            else:
                print(f"nats-server running at {srv.url} (Ctrl-C to stop)", flush=True)
            while srv.is_running:
                time.sleep(_TICK)  # idle until Ctrl-C, checking that the server is still alive
        except KeyboardInterrupt:
            _say("stopping nats-server")
            return 0
        raise CLIError(f"nats-server exited on its own; the end of its log: {srv.log_text()[-300:]}")


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args.url, requests=args.requests, context=args.context)


def _bench_main() -> Callable[[list[str]], Any]:
    try:
        module = importlib.import_module("benchmarks.__main__")
    except ImportError as exc:
        # The suite lives in the repository, not in the installed package: from a checkout, the
        # console script does not have the working directory on sys.path, `python -m` does.
        here = os.getcwd()
        if here in sys.path or not os.path.isfile(os.path.join(here, "benchmarks", "__main__.py")):
            if isinstance(exc, ModuleNotFoundError) and exc.name == "benchmarks":
                raise CLIError(
                    "the benchmark suite is not importable: it is not installed with the package. It is "
                    "the benchmarks/ folder of the source distribution (`pip download --no-binary :all: "
                    "--no-deps beluga-nats-sync`, then unpack it) or of a checkout; in that folder run "
                    "`pip install -e '.[bench]'` and `python -m beluga_nats_sync bench`"
                ) from None
            raise CLIError(
                f"the benchmark suite is not importable ({exc}); it is the benchmarks/ folder of the "
                "repository: run `pip install -e '.[bench]'` and `python -m beluga_nats_sync bench` there"
            ) from None
        sys.path.insert(0, here)
        return _bench_main()
    entry = getattr(module, "main", None)
    if not callable(entry):
        raise CLIError("benchmarks.__main__ has no main(argv) function to run")
    return entry  # type: ignore[no-any-return]


def _cmd_bench(args: argparse.Namespace) -> int:
    entry = _bench_main()
    result = entry(list(args.bench_args))
    return int(result or 0)


# -- service: discovery of NATS services (micro protocol v1) ---------------------------------------

_SERVICE_VERB = {"ls": "INFO", "info": "INFO", "stats": "STATS"}


def _service_columns(rows: list[list[str]], header: list[str]) -> list[str]:
    """Rows as aligned text columns (the last one is not padded)."""
    table = [[h.upper() for h in header], *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [
        ("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True)) + "  " + r[-1]).rstrip() for r in table
    ]


def _service_info_text(doc: dict[str, Any]) -> list[str]:
    meta = doc.get("metadata") or {}
    lines = [f"{doc.get('name')} {doc.get('version')}  id {doc.get('id')}  {doc.get('description') or ''}".rstrip()]
    if isinstance(meta, dict) and meta:
        lines.append("  metadata " + " ".join(f"{k}={v}" for k, v in meta.items()))
    endpoints = doc.get("endpoints")
    for e in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(e, dict):
            continue
        line = f"  endpoint {e.get('name')}  subject {e.get('subject')}  queue {e.get('queue_group') or '(none)'}"
        if e.get("metadata"):
            line += "  metadata " + " ".join(f"{k}={v}" for k, v in e["metadata"].items())
        lines.append(line)
    return lines


def _cmd_service(args: argparse.Namespace) -> int:
    from .services import discover
    from .services._display import table
    from .services._protocol import check_service_id, check_service_name

    if args.name is not None:
        check_service_name(args.name)
    if args.id is not None:
        if args.name is None:
            raise CLIError("--id needs the service NAME too: beluga-nats service info NAME --id ID")
        check_service_id(args.id)
    verb = _SERVICE_VERB[args.action]
    nc = _connect(args, f"beluga-nats-service-{args.action}")
    try:
        found = discover(nc, verb, args.name, args.id, timeout=args.timeout, stall=min(0.5, args.timeout))
    finally:
        nc.close(5.0)
    if not found:
        if args.name is None:
            _say(f"no service answered {found.subject} within {args.timeout:g} s")
            return 0
        which = f"{args.name!r}" + (f" with id {args.id!r}" if args.id else "")
        raise CLIError(f"no service named {which} answered {found.subject} within {args.timeout:g} s")
    if args.json:
        for doc in found:
            print(_json_line(doc), flush=True)
    elif args.action == "info":
        print("\n".join(line for doc in found for line in _service_info_text(doc)), flush=True)
    elif args.action == "ls":
        rows = [
            [
                str(d.get("name")),
                str(d.get("id")),
                str(d.get("version")),
                str(len(d.get("endpoints") or [])),
                str(d.get("description") or ""),
            ]
            for d in found
        ]
        print("\n".join(_service_columns(rows, ["name", "id", "version", "endpoints", "description"])), flush=True)
    else:
        columns, rows = table(verb, list(found))
        print("\n".join(_service_columns(rows, columns)), flush=True)
    _say(f"{len(found)} instance(s) answered {found.subject}")
    return 0


def _add_service_command(
    command: Callable[[str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser],
) -> None:
    p = command("service", "list NATS services (micro protocol), their endpoints and stats", _cmd_service)
    p.add_argument(
        "action",
        choices=["ls", "info", "stats"],
        metavar="ls|info|stats",
        help="ls: one line per instance; info: endpoints; stats: counters per endpoint",
    )
    p.add_argument("name", nargs="?", default=None, metavar="NAME", help="only the services of this name")
    p.add_argument("--id", default=None, metavar="ID", help="only the instance with this id (with NAME)")
    p.add_argument(
        "--timeout", type=_seconds_arg, default=2.0, metavar="S", help="wait at most S s for answers (default 2)"
    )


# -- agents: the Synadia Agent Protocol ------------------------------------------------------------


def _agent_doc(agent: Any) -> dict[str, Any]:
    i = agent.info
    return {
        "agent": i.agent,
        "owner": i.owner,
        "session": i.session_name,
        "instance_id": i.instance_id,
        "protocol_version": i.protocol_version,
        "description": i.description,
        "version": i.version,
        "prompt_subject": i.prompt_subject,
        "max_payload": i.max_payload,
        "attachments_ok": i.attachments_ok,
    }


def _agents_ls(args: argparse.Namespace) -> int:
    from ._notebook.agents import AGENT_COLUMNS, agent_rows
    from .agents import Agents

    nc = _connect(args, "beluga-nats-agents-ls")
    try:
        with Agents(nc) as agents:
            found = agents.discover(
                timeout=args.timeout,
                stall=min(0.5, args.timeout),
                agent=args.agent,
                owner=args.owner,
                session=args.session,
            )
    finally:
        nc.close(5.0)
    if args.json:
        for a in found:
            print(_json_line(_agent_doc(a)), flush=True)
    elif found:
        rows = [[str(r[c]) for c in AGENT_COLUMNS] for r in agent_rows(found)]
        print("\n".join(_service_columns(rows, AGENT_COLUMNS)), flush=True)
    _say(f"{len(found)} agent(s) answered $SRV.INFO.agents within {args.timeout:g} s")
    return 0


def _agents_prompt(args: argparse.Namespace) -> int:
    from .agents import Agents, Attachment, QueryChunk, ResponseChunk, StatusChunk

    attachments = [Attachment.from_path(path) for path in args.attach or []]
    nc = _connect(args, "beluga-nats-agents-prompt")
    try:
        with Agents(nc) as agents:
            found = agents.discover(
                timeout=args.discover_timeout,
                stall=min(0.5, args.discover_timeout),
                agent=args.agent,
                owner=args.owner,
                session=args.session,
            )
            if not found:
                raise CLIError(f"no agent {args.agent!r} answered $SRV.INFO.agents (see: {PROG} agents ls)")
            names = sorted({f"{a.info.agent}.{a.info.owner}.{a.info.session_name}" for a in found})
            if len(names) > 1:
                raise CLIError(f"several agents match, choose with --owner and --session: {', '.join(names)}")
            agent = found[0]
            _say(f"prompting {agent.info.prompt_subject} (instance {agent.info.instance_id})")
            ended_line = True
            with agent.prompt(args.text, attachments, timeout=args.timeout, max_wait=args.max_wait) as stream:
                for chunk in stream:
                    if args.json:
                        doc: dict[str, Any] = {"type": type(chunk).__name__.removesuffix("Chunk").lower()}
                        if isinstance(chunk, StatusChunk):
                            doc["status"] = chunk.status
                        elif isinstance(chunk, ResponseChunk):
                            doc["text"] = chunk.text
                            doc["attachments"] = [a.filename for a in chunk.attachments]
                        else:
                            doc["prompt"] = chunk.prompt
                        print(_json_line(doc), flush=True)
                    elif isinstance(chunk, ResponseChunk):
                        print(chunk.text, end="", flush=True)
                        ended_line = chunk.text.endswith("\n")
                        for a in chunk.attachments:
                            _say(f"[attachment {a.filename}, {len(a.data)} bytes]")
                    if isinstance(chunk, QueryChunk):
                        if not ended_line:
                            print(flush=True)
                            ended_line = True
                        _say(f"{agent.info.agent} asks: {chunk.prompt}")
                        answer = sys.stdin.readline()
                        if not answer:
                            raise CLIError(f"the agent asked {chunk.prompt!r} and stdin is closed")
                        chunk.reply(answer.rstrip("\n"))
            if not args.json and not ended_line:
                print(flush=True)
    finally:
        nc.close(5.0)
    return 0


def _agents_serve_echo(args: argparse.Namespace) -> int:
    from .agents import AgentService, Envelope, PromptStream

    prefix: str = args.prefix

    def echo(envelope: Envelope, stream: PromptStream) -> None:
        text = f"{prefix}{envelope.prompt}"
        if envelope.attachments:
            names = ", ".join(a.filename for a in envelope.attachments)
            text += f" [received {len(envelope.attachments)} attachment(s): {names}]"
        stream.send(text)

    nc = _connect(args, "beluga-nats-agents-serve-echo")
    interrupted = False
    try:
        service = AgentService(
            nc=nc,
            agent=args.agent,
            owner=args.owner,
            session_name=args.session,
            description="beluga-nats echo agent",
            heartbeat_interval_s=args.heartbeat_interval,
        )
        service.on_prompt(echo)
        with service:
            _say(f"serving {service.subject.prompt} (instance {service.instance_id}); Ctrl-C to stop")
            deadline = None if args.timeout is None else time.monotonic() + args.timeout
            stop = threading.Event()
            try:
                while deadline is None or time.monotonic() < deadline:
                    stop.wait(_TICK)
            except KeyboardInterrupt:
                interrupted = True
            _say(f"stopping; {service.prompts_served} prompt(s) served")
    finally:
        nc.close(5.0)
    return EXIT_INTERRUPTED if interrupted else 0


def _cmd_agents(args: argparse.Namespace) -> int:
    return {"ls": _agents_ls, "prompt": _agents_prompt, "serve-echo": _agents_serve_echo}[args.agents_command](args)


def _default_owner() -> str:
    user = os.environ.get("USER") or "beluga"
    token = "".join(c if c.isalnum() or c in "-_" else "-" for c in user.lower())
    return token or "beluga"


def _add_agents_command(
    command: Callable[[str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser],
) -> None:
    p = command("agents", "agents of the Synadia Agent Protocol: ls, prompt, serve-echo", _cmd_agents)
    sub = p.add_subparsers(dest="agents_command", required=True, metavar="ls|prompt|serve-echo")

    ls = sub.add_parser("ls", help="list the agents that answer discovery", parents=[_common()])
    ls.add_argument("--agent", default=None, help="only agents of this name")
    ls.add_argument("--owner", default=None, help="only agents of this owner")
    ls.add_argument("--session", default=None, help="only agents serving this session")
    ls.add_argument(
        "--timeout", type=_seconds_arg, default=2.0, metavar="S", help="wait at most S s for answers (default 2)"
    )

    pr = sub.add_parser(
        "prompt", help="prompt AGENT with TEXT and stream the answer (queries are read from stdin)", parents=[_common()]
    )
    pr.add_argument("agent", metavar="AGENT")
    pr.add_argument("text", metavar="TEXT")
    pr.add_argument("--owner", default=None, help="the agent's owner, when several match")
    pr.add_argument("--session", default=None, help="the agent's session, when several match")
    pr.add_argument("--attach", action="append", metavar="FILE", help="send FILE as an attachment; repeat for more")
    pr.add_argument(
        "--timeout", type=_seconds_arg, default=60.0, metavar="S", help="give up after S s without a chunk (default 60)"
    )
    pr.add_argument(
        "--max-wait", type=_seconds_arg, default=600.0, metavar="S", help="give up after S s in all (default 600)"
    )
    pr.add_argument(
        "--discover-timeout", type=_seconds_arg, default=2.0, metavar="S", help="discovery waits S s (default 2)"
    )

    se = sub.add_parser("serve-echo", help="serve a reference echo agent until Ctrl-C", parents=[_common()])
    se.add_argument("--agent", default="echo", help="the agent name (default echo)")
    se.add_argument("--owner", default=_default_owner(), help="the owner token (default: $USER)")
    se.add_argument("--session", default="default", help="the session served (default 'default')")
    se.add_argument("--prefix", default="echo: ", help="put before the echoed prompt (default 'echo: ')")
    se.add_argument(
        "--heartbeat-interval", type=_seconds_arg, default=30.0, metavar="S", help="seconds between heartbeats"
    )
    se.add_argument("--timeout", type=_seconds_arg, default=None, metavar="S", help="stop after S seconds")


# -- the parser ------------------------------------------------------------------------------------

_EPILOG = """\
connection: --url and --context (else $NATS_CONTEXT, $NATS_URL, the selected NATS context, then
nats://localhost:4222) and --connect-timeout go before or after the command. Received data goes
to stdout (--json: one object per line); status, progress and summaries go to stderr.

examples:
  beluga-nats server                                   # a local nats-server, until Ctrl-C
  beluga-nats --url nats://127.0.0.1:4222 pub agent.events hello --count 1000
  beluga-nats sub 'agent.>' --count 10 --json
  beluga-nats reply agent.rpc '{"answer": 42}' --message --type response
  beluga-nats request agent.rpc '{"task": "process"}' --message --timeout 2
"""


def _common() -> argparse.ArgumentParser:
    """Options accepted before and after the command; SUPPRESS keeps a later absence from undoing them."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument(
        "--url", default=argparse.SUPPRESS, help="NATS server URL(s), comma-separated (default: $NATS_URL)"
    )
    group.add_argument(
        "--context",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="use the NATS context NAME, as `nats context` saves them (default: $NATS_CONTEXT, else $NATS_URL, "
        "else the selected context); --url overrides its URL",
    )
    group.add_argument(
        "--connect-timeout",
        type=_seconds_arg,
        default=argparse.SUPPRESS,
        metavar="S",
        help="give up connecting after S seconds (default 5)",
    )
    group.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="write JSON to stdout, one object per line"
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="show a live progress line with rates on stderr (default: when stderr is a terminal)",
    )
    return common


def _add_message_options(p: argparse.ArgumentParser, default_type: str | None, sends: bool) -> None:
    what = "DATA is the JSON object payload of a Beluga Message" if sends else "decode the Beluga Message envelope"
    p.add_argument("--message", action="store_true", help=f"speak the Message JSON envelope: {what}")
    if default_type is not None:
        p.add_argument(
            "--type", default=default_type, help=f"the Message type with --message (default {default_type!r})"
        )


def build_parser() -> argparse.ArgumentParser:
    """The ``beluga-nats`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Talk to NATS from the terminal: publish, subscribe, request, reply, run a local server.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common()],
    )
    parser.set_defaults(url=None, context=None, connect_timeout=5.0, json=False, progress=None)
    cmds = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        # each command gets its own copy: parents share action objects, and the defaults set on
        # the main parser must not leak into them (they would override a --url given first)
        p = cmds.add_parser(name, help=help_text, description=help_text, parents=[_common()])
        p.set_defaults(func=func)
        return p

    p = command("pub", "publish DATA to SUBJECT (--count times)", _cmd_pub)
    p.add_argument("subject", metavar="SUBJECT")
    p.add_argument("data", metavar="DATA", help="the payload ('' for none, '-' reads stdin)")
    p.add_argument("--count", type=_count_arg, default=1, metavar="N", help="publish N times (default 1)")
    p.add_argument("--header", action="append", metavar="K=V", help="a header; repeat it (a name twice sends both)")
    p.add_argument("--reply", default=None, metavar="SUBJECT", help="reply subject to set on the messages")
    p.add_argument(
        "--timeout", type=_seconds_arg, default=10.0, metavar="S", help="wait S s for the server (default 10)"
    )
    _add_message_options(p, "event", sends=True)

    p = command("sub", "print the messages on SUBJECT (wildcards allowed)", _cmd_sub)
    p.add_argument("subject", metavar="SUBJECT")
    p.add_argument("--count", type=_count_arg, default=None, metavar="N", help="stop after N messages")
    p.add_argument("--queue", default="", metavar="GROUP", help="join queue group GROUP")
    p.add_argument("--timeout", type=_seconds_arg, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--quiet", "-q", action="store_true", help="print no messages, only progress and the summary")
    _add_message_options(p, None, sends=False)

    p = command("request", "send DATA to SUBJECT and print the reply", _cmd_request)
    p.add_argument("subject", metavar="SUBJECT")
    p.add_argument("data", metavar="DATA", help="the payload ('' for none, '-' reads stdin)")
    p.add_argument("--timeout", type=_seconds_arg, default=5.0, metavar="S", help="wait S s for the reply (default 5)")
    p.add_argument("--header", action="append", metavar="K=V", help="a header; repeat it (a name twice sends both)")
    _add_message_options(p, "request", sends=True)

    p = command("reply", "answer every request on SUBJECT with DATA", _cmd_reply)
    p.add_argument("subject", metavar="SUBJECT")
    p.add_argument("data", metavar="DATA", help="the answer ('' for none, '-' reads stdin once)")
    p.add_argument("--count", type=_count_arg, default=None, metavar="N", help="stop after N requests")
    p.add_argument("--queue", default="", metavar="GROUP", help="join queue group GROUP (share the load)")
    p.add_argument("--timeout", type=_seconds_arg, default=None, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--header", action="append", metavar="K=V", help="a header on the answers; repeat it (a name twice sends both)"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print no requests, only progress and the summary")
    _add_message_options(p, "response", sends=True)

    p = command("server", "run an embedded nats-server in the foreground until Ctrl-C", _cmd_server)
    p.add_argument(
        "--port",
        type=_port_arg,
        default=None,
        help="port, 0 for a free one (default: that of --url/$NATS_URL on this machine, else 4222; "
        "a free one when that is taken)",
    )

    p = command("demo", "run the agent scenario (starts an embedded server if none answers)", _cmd_demo)
    p.add_argument("--requests", type=_count_arg, default=20, metavar="N", help="messages per pattern (default 20)")

    _add_service_command(command)
    _add_agents_command(command)

    # bench forwards every argument after it, --help included, to the benchmark suite
    p = cmds.add_parser(
        "bench", help="run the benchmark suite (arguments after it go to the suite; try bench --help)", add_help=False
    )
    p.set_defaults(func=_cmd_bench, bench_args=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "bench":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.bench_args = extra
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`| head`): nothing more to say, and nothing to flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (NATSSyncError, ValueError) as exc:  # CLIError and the server's errors among them
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
