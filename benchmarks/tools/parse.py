"""Parse only: our protocol parser against nats-py's, on the same byte streams, no server.

    python -m benchmarks.tools.parse [--rounds R] [--mb MB] [--chunk BYTES]

Streams (each about --mb MiB, fed in --chunk byte reads, as a socket reader would):

- ``msg16``: MSG frames with 16 B payloads on one subscription;
- ``hmsg2``: HMSG frames with two headers (a ``traceparent`` and a ``Nats-Msg-Id``), headers decoded;
- ``msg64k``: MSG frames with 64 KiB payloads.

Both parsers hand each message to a routing function that does what a reader thread must do
before a message reaches a user: look the subscription up by sid, and have subject and reply as
str. nats-py's parser yields bytes, so its side decodes them, as nats-py's ``_build_message``
does; its headers are decoded by nats-py's own client code (``Client._process_headers``, on an
unconnected ``Client``: the one use of a nats-py private, in a benchmark only). nats-py's
``parse`` is a coroutine that never suspends here, so it is stepped directly, without an event
loop. Time is the thread's CPU time; each round runs both parsers, alternating, and the figure is
the ratio of their times in that round; printed: median [min-max] over rounds.

``--shape`` also compares two output shapes of our parser for 16 B messages: the callback per
message it has, against collecting a list of tuples and routing it after the read.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from beluga_nats_sync.protocol import Parser

SID = 7
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _stream(kind: str, total: int) -> tuple[bytes, int]:
    if kind == "msg16":
        frame = b"MSG bench.sub.1 7 16\r\n" + b"x" * 16 + b"\r\n"
    elif kind == "hmsg2":
        hdr = f"NATS/1.0\r\ntraceparent: {TRACEPARENT}\r\nNats-Msg-Id: 5f1c\r\n\r\n".encode()
        frame = b"HMSG bench.sub.1 7 %d %d\r\n%b%b\r\n" % (len(hdr), len(hdr) + 16, hdr, b"x" * 16)
    elif kind == "msg64k":
        frame = b"MSG bench.sub.1 7 65536\r\n" + b"x" * 65536 + b"\r\n"
    else:
        raise ValueError(kind)
    n = max(1, total // len(frame))
    return frame * n, n


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run_ours(chunks: list[bytes], expect: int) -> float:
    subs: dict[int, list[int]] = {SID: [0]}

    def on_msg(sid: int, subject: str, reply: str | None, payload: bytes, headers: Any) -> None:
        subs[sid][0] += 1

    p = Parser(on_msg, lambda e: None, max_payload=1 << 20)
    t0 = time.thread_time()
    feed = p.feed
    for c in chunks:
        feed(c)
    dt = time.thread_time() - t0
    assert subs[SID][0] == expect, subs
    return dt


def run_ours_list(chunks: list[bytes], expect: int) -> float:
    """The other output shape: each read yields a list of tuples, routed afterwards."""
    subs: dict[int, list[int]] = {SID: [0]}
    out: list[tuple[Any, ...]] = []
    p = Parser(lambda *m: out.append(m), lambda e: None, max_payload=1 << 20)
    t0 = time.thread_time()
    for c in chunks:
        p.feed(c)
        for m in out:
            subs[m[0]][0] += 1
        out.clear()
    dt = time.thread_time() - t0
    assert subs[SID][0] == expect
    return dt


def _nats_py(decode_headers: bool) -> Callable[[list[bytes], int], float]:
    from nats.aio.client import Client
    from nats.protocol.parser import Parser as NatsParser

    client = Client()

    class Routing:
        def __init__(self) -> None:
            self.subs: dict[int, list[int]] = {SID: [0]}

        async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, hdr: Any) -> None:
            subject.decode()
            if reply:
                reply.decode()
            if hdr is not None and decode_headers:
                await client._process_headers(hdr)
            self.subs[sid][0] += 1

        async def _process_ping(self) -> None:
            pass

        async def _process_pong(self) -> None:
            pass

        async def _process_err(self, err: Any) -> None:
            pass

        async def _process_info(self, info: Any) -> None:
            pass

    def run(chunks: list[bytes], expect: int) -> float:
        nc = Routing()
        p = NatsParser(nc)
        t0 = time.thread_time()
        for c in chunks:
            coro = p.parse(c)
            try:
                coro.send(None)
            except StopIteration:
                pass
            else:
                raise RuntimeError("nats-py's parser suspended")
        dt = time.thread_time() - t0
        assert nc.subs[SID][0] == expect, nc.subs
        return dt

    return run


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mb", type=float, default=8.0)
    ap.add_argument("--chunk", type=int, default=64 * 1024)
    ap.add_argument("--shape", action="store_true", help="also compare callback and list-of-tuples output")
    args = ap.parse_args()
    nats_py = _nats_py(decode_headers=True)
    print(f"parse only, {args.mb:g} MiB per stream in {args.chunk} B reads, {args.rounds} rounds; CPU time")
    for kind in ("msg16", "hmsg2", "msg64k"):
        data, n = _stream(kind, int(args.mb * 1024 * 1024))
        chunks = _chunks(data, args.chunk)
        run_ours(chunks, n)  # warm-up: imports, caches
        nats_py(chunks, n)
        ratios, ours_us, theirs_us = [], [], []
        for r in range(args.rounds):
            if r % 2:
                theirs, ours = nats_py(chunks, n), run_ours(chunks, n)
            else:
                ours, theirs = run_ours(chunks, n), nats_py(chunks, n)
            ratios.append(theirs / ours)
            ours_us.append(ours / n * 1e6)
            theirs_us.append(theirs / n * 1e6)
        print(
            f"  {kind:7} {n:>7} msgs: ours {statistics.median(ours_us):7.3f} us/msg, "
            f"nats-py {statistics.median(theirs_us):7.3f} us/msg, speed-up {_spread(ratios)}"
        )
        if args.shape and kind == "msg16":
            shape = []
            for _ in range(args.rounds):
                shape.append(run_ours_list(chunks, n) / run_ours(chunks, n))
            print(f"  msg16 output shape: list of tuples / callback CPU time {_spread(shape)}")


if __name__ == "__main__":
    main()
