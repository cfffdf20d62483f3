"""What the tests of one feature share between their two homes: ``tests/unit`` (the in-memory
server) and ``tests/integration`` (a real nats-server). The fixtures built on these live in
tests/conftest.py; each home gives the clients they run on (``client``, ``host_client``)."""

from __future__ import annotations

import itertools
import json
import os
import time
import types
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.agents import Agent, Agents, AgentService, Envelope, PromptStream

# -- agents ------------------------------------------------------------------------------------------
_n = itertools.count()

#: an agent's prompt handler
Handler = Callable[[Envelope, PromptStream], Any]


def unique(prefix: str = "a") -> str:
    """An agent name of the test's own (names are tokens: letters and digits)."""
    return f"{prefix}{time.monotonic_ns() % 10**9}x{next(_n)}"


def find(agents: Agents, svc: AgentService) -> Agent:
    found = agents.discover(agent=svc.subject.agent)
    assert len(found) == 1, found
    return found[0]


def echo(envelope: Envelope, stream: PromptStream) -> None:
    stream.send(f"echo: {envelope.prompt}")


# -- services ----------------------------------------------------------------------------------------
def adder(req: bns.ServiceRequest) -> None:
    req.respond(str(sum(json.loads(req.data))).encode())


def calc(nc: bns.Client, made: list[bns.Service], **kwargs: Any) -> bns.Service:
    svc = nc.add_service(
        name=kwargs.pop("name", "calc"),
        version=kwargs.pop("version", "1.0.0"),
        description=kwargs.pop("description", "adds numbers"),
        metadata=kwargs.pop("metadata", {"team": "a"}),
        **kwargs,
    )
    made.append(svc)
    return svc


def unique_service(prefix: str) -> str:
    """A service name of the test's own: the session's server is shared by every test."""
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"


# -- the pynats2 peer --------------------------------------------------------------------------------
PYNATS2_NAMES = [
    "NATSClient",
    "NATSConnectionError",
    "NATSError",
    "NATSInvalidResponse",
    "NATSInvalidSchemeError",
    "NATSInvalidUrlError",
    "NATSMessage",
    "NATSNoSubscribeClient",
    "NATSRequestTimeoutError",
    "NATSSubscription",
    "NATSTCPConnectionRequiredError",
    "NATSTLSConnectionRequiredError",
    "NATSUnexpectedResponse",
]
ERROR_NAMES = [n for n in PYNATS2_NAMES if "Error" in n or "Response" in n]


def _import_pynats2() -> tuple[types.ModuleType | None, str]:
    """pynats2, or None and why it is not there (the skip reason)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources deprecation on newer setuptools
            import pynats2
    except ModuleNotFoundError as exc:
        if exc.name == "pynats2":
            return None, "pynats2 is not installed (it is in the bench extra: pip install -e '.[bench]')"
        if exc.name == "pkg_resources":
            return None, "pynats2 is installed but needs pkg_resources, which setuptools>=81 removed"
        return None, f"pynats2 is installed but does not import: {exc}"
    except Exception as exc:
        return None, f"pynats2 is installed but does not import: {type(exc).__name__}: {exc}"
    return pynats2, ""


REAL, NO_REAL = _import_pynats2()
needs_real = pytest.mark.skipif(REAL is None, reason=NO_REAL)
