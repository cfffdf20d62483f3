"""``agents``: the Synadia Agent Protocol (ls, prompt, serve-echo)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ._base import _TICK, EXIT_INTERRUPTED, PROG, CLIError, _connect, _say
from ._options import _common, _seconds_arg
from ._output import _json_line, _service_columns


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
    from .._notebook.agents import AGENT_COLUMNS, agent_rows
    from ..agents import Agents

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
    from ..agents import Agents, Attachment, QueryChunk, ResponseChunk, StatusChunk

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
    from ..agents import AgentService, Envelope, PromptStream

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
