"""Argument types and the options every command accepts (connection and output, the envelope)."""

from __future__ import annotations

import argparse
import math


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
