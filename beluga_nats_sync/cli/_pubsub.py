"""``pub``, ``sub``, ``request`` and ``reply``: the listen loop, and the signals that stop it."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._progress import Progress, summary_line
from .._text import format_size
from ._base import (
    _TICK,
    EXIT_INTERRUPTED,
    CLIError,
    _connect,
    _one_line,
    _progress_enabled,
    _say,
    _stop_on_signal,
    _warn,
)
from ._input import _Body, _headers, _message_class
from ._output import _json_line, _line, _message_text, _record, escape_controls

if TYPE_CHECKING:
    from .._client import Client
    from .._core.msg import Msg
    from .._core.subscription import Subscription


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
    from ..errors import ClosedError, NATSTimeoutError

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
    from .._core.protocol import check_subject

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
    from .._core.protocol import check_queue, check_subject

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
    from .._core.protocol import check_queue, check_subject

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
    from .._core.protocol import check_subject

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
