"""The ``beluga-nats`` argument parser: each command and its options."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ._agents import _add_agents_command
from ._base import PROG
from ._bench import _cmd_bench
from ._options import _add_message_options, _common, _count_arg, _seconds_arg
from ._pubsub import _cmd_pub, _cmd_reply, _cmd_request, _cmd_sub
from ._server import _cmd_demo, _cmd_server, _port_arg
from ._services import _add_service_command

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
