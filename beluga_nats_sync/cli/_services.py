"""``service``: discovery of NATS services (micro protocol v1)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ._base import CLIError, _connect, _say
from ._options import _seconds_arg
from ._output import _json_line, _service_columns

_SERVICE_VERB = {"ls": "INFO", "info": "INFO", "stats": "STATS"}


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
    from ..services import discover
    from ..services._display import table
    from ..services._protocol import check_service_id, check_service_name

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
