"""The contract check: every private member of nats-py the seam relies on, verified before the
first connection, so that a nats-py release that renames or changes one is refused with one
clear error instead of failing silently (or, for the TLS guard, insecurely).

The supported range is :data:`SUPPORTED`; the check looks at what the installed release really
has rather than trusting its version number, and names both in its error.

JetStream and key-value take nothing from nats-py: they send their own requests over the core,
and their configuration and information types are their own (``beluga_nats_sync.jetstream.types``).

The privates of asyncio's socket transport that callers' direct writes rely on are checked by
:func:`direct_write_problems`: without them the client works as well, with the I/O thread as the
socket's one writer, so they switch that path off rather than refuse nats-py.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable
from typing import Any

from .._core.handlers import is_async_callable

__all__ = ["SUPPORTED", "NatsPyContractError", "check", "direct_write_problems", "require"]

#: the nats-py releases this package is tested with (keep in step with setup.cfg)
SUPPORTED = ">=2.15,<3"


class NatsPyContractError(ImportError):
    """The installed nats-py lacks, or has changed, something this package relies on."""


def _version() -> str:
    try:
        return importlib.metadata.version("nats-py")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _coroutine(owner: Any, name: str, params: tuple[str, ...] = ()) -> str | None:
    fn = getattr(owner, name, None)
    label = f"{getattr(owner, '__name__', owner)}.{name}"
    if fn is None:
        return f"{label} is missing"
    if not is_async_callable(fn):
        return f"{label} is not a coroutine function"
    got = list(inspect.signature(fn).parameters)
    if params and [p for p in got if p != "self"][: len(params)] != list(params):
        return f"{label} takes {got}, expected {['self', *params]}"
    return None


def _accepts(fn: Callable[..., Any], label: str, names: tuple[str, ...]) -> list[str]:
    params = inspect.signature(fn).parameters
    return [f"{label} has no {n!r} argument" for n in names if n not in params]


def _sets(cls: type, attrs: tuple[str, ...]) -> list[str]:
    """The attributes ``cls.__init__`` is expected to assign, by the names its code uses."""
    code = getattr(vars(cls).get("__init__"), "__code__", None)
    names = set(code.co_names) if code is not None else set()
    return [f"{cls.__name__} no longer sets {a}" for a in attrs if a not in names]


def problems() -> list[str]:
    """What the installed nats-py lacks; empty when it can be driven."""
    try:
        from nats.aio.client import Client
        from nats.aio.subscription import Subscription
        from nats.aio.transport import TcpTransport
    except ImportError as exc:
        return [f"cannot import nats-py's client ({exc})"]
    found: list[str] = []
    for name, params in (
        ("_process_msg", ("sid", "subject", "reply", "data", "headers")),  # fast delivery
        ("_process_headers", ("headers",)),
        ("_process_info", ("info", "initial_connection")),  # the TLS guard: must be awaited to hold
        ("_send_ping", ("future",)),  # ping without nats-py's cancelling flush
        ("force_reconnect", ()),  # lame-duck moves
        ("connect", ()),
        ("flush", ()),
        ("close", ()),
        ("subscribe", ()),
    ):
        if (p := _coroutine(Client, name, params)) is not None:
            found.append(p)
    if not found:
        found += _accepts(
            Client.connect,
            "Client.connect",
            ("lame_duck_mode_cb", "pending_size", "inbox_prefix", "tls_handshake_first", "nkeys_seed_str"),
        )
    try:
        nc = Client()
    except Exception as exc:  # a constructor that cannot run without arguments is a change too
        return [*found, f"Client() failed: {exc!r}"]
    for attr, kind in (
        ("_subs", dict),
        ("_pending", list),
        ("_pending_data_size", int),
        ("_status", int),  # direct writes: only while CONNECTED
        ("_server_info", dict),
        ("_server_pool", list),
        ("stats", dict),
    ):
        if not isinstance(getattr(nc, attr, None), kind):
            found.append(f"Client().{attr} is not a {kind.__name__}")
    optional = ("_flush_queue", "_transport", "_reading_task", "_flusher_task", "_current_server", "_err", "_error_cb")
    for attr in optional:
        if not hasattr(nc, attr):
            found.append(f"Client().{attr} is missing")
    stats = getattr(nc, "stats", {})
    found += [f"Client().stats has no {k!r}" for k in ("in_msgs", "in_bytes", "reconnects") if k not in stats]
    found += _sets(Subscription, ("_id", "_received", "_max_msgs"))
    found += _sets(TcpTransport, ("_io_writer",))
    for name in ("unsubscribe", "drain"):
        if not callable(getattr(Subscription, name, None)):
            found.append(f"Subscription.{name} is missing")
    return found


def _direct_write_problems() -> list[str]:
    from asyncio import selector_events

    cls = getattr(selector_events, "_SelectorSocketTransport", None)
    base = getattr(selector_events, "_SelectorTransport", None)
    if cls is None or base is None:
        return ["asyncio.selector_events has no _SelectorSocketTransport"]
    found = _sets(base, ("_sock", "_buffer", "_conn_lost", "_closing"))
    if not cls.__dictoffset__:
        found.append("_SelectorSocketTransport instances cannot have their write methods wrapped")
    for name in ("write", "writelines", "is_closing"):
        if not callable(getattr(cls, name, None)):
            found.append(f"_SelectorSocketTransport.{name} is missing")
    code = getattr(vars(cls).get("__init__"), "__code__", None)
    if not callable(getattr(cls, "_write_ready", None)) and "_write_ready" not in getattr(code, "co_names", ()):
        found.append("_SelectorSocketTransport has no _write_ready")
    return found


_direct_checked: list[str] | None = None


def direct_write_problems() -> list[str]:
    """What asyncio lacks for callers' direct writes into the socket (cached); empty when they can."""
    global _direct_checked
    if _direct_checked is None:
        _direct_checked = _direct_write_problems()
    return _direct_checked


_checked: list[str] | None = None


def check() -> None:
    """Raise :class:`NatsPyContractError` if the installed nats-py cannot be driven (cached)."""
    global _checked
    if _checked is None:
        _checked = problems()
    if _checked:
        raise NatsPyContractError(
            f"beluga_nats_sync supports nats-py {SUPPORTED}, and the installed nats-py {_version()} does not "
            f"have what it relies on: {'; '.join(_checked)}. Install a supported release: "
            f"pip install 'nats-py{SUPPORTED}'"
        )


def require() -> None:
    """Re-check now (after nats-py or asyncio was changed in this process, as the tests do)."""
    global _checked, _direct_checked
    _checked = None
    _direct_checked = None
    check()
