"""Coverage-guided fuzzing of the protocol parser with atheris (not collected by pytest).

    pip install atheris   # CPython 3.11 wheels exist; the fuzz extra is not part of the suite
    python tests/fuzz/fuzz_parser.py -max_total_time=300 -max_len=10000 tests/fuzz/corpus

The first five bytes of each input choose the limits and how the rest is cut into reads. The parser
must end every input in events or in ProtocolError (then be dead and hold nothing), never raise
another exception, and never hold more than its bound between reads. libFuzzer options work
(``-max_total_time``, ``-jobs``, ``-timeout``); a crash writes its input to ``crash-*``.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from beluga_nats_sync.errors import ProtocolError
    from beluga_nats_sync.protocol import Parser


def one_input(data: bytes) -> None:
    # five header bytes choose the limits and the read size; the stream follows them, so a seed
    # is 5 bytes then plain protocol (FuzzedDataProvider would take integers from the end)
    head = data[:5].ljust(5, b"\xff")
    limits = {
        "max_control_line": 16 + head[0] * 2,
        "max_info_line": 16 + head[1] * 4,
        "max_payload": head[2] * 32,
        "max_header_allowance": head[3],
    }
    cut = 1 + head[4] % 64
    stream = data[5:]
    p = Parser(lambda *m: None, lambda e: None, **limits)
    bound = max(p.max_info_line, limits["max_payload"] + limits["max_header_allowance"] + 2)
    try:
        for i in range(0, len(stream), cut):
            p.feed(stream[i : i + cut])
            if p.buffered > bound:
                raise AssertionError(f"{p.buffered} bytes kept, over the bound of {bound}")
    except ProtocolError:
        if not p.dead or p.buffered:
            raise AssertionError("the parser raised but is not dead and empty") from None


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
