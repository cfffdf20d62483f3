"""The pynats2 drop-in (beluga_nats_sync.compat.pynats2): its names, errors, signatures and URL checks,
which need no server (its traffic with a real nats-server: tests/integration/test_compat_pynats2.py).

The ``impl`` ones run against the real pynats2 too, when it can be imported, to show the same
observable behaviour.
"""

from __future__ import annotations

import inspect
import socket
import types

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.compat import pynats2 as shim

from shared import ERROR_NAMES, PYNATS2_NAMES, REAL, needs_real


# -- the public surface ------------------------------------------------------------------------
def test_names_match_pynats2() -> None:
    assert sorted(shim.__all__) == shim.__all__ == PYNATS2_NAMES
    for name in PYNATS2_NAMES:
        assert getattr(shim, name).__module__.startswith("beluga_nats_sync.compat")
    if REAL is not None:
        assert sorted(REAL.__all__) == PYNATS2_NAMES


def test_exception_hierarchy_is_pynats2s_plus_builtins() -> None:
    e = shim
    assert issubclass(e.NATSConnectionError, e.NATSError)
    for name in ("NATSTCPConnectionRequiredError", "NATSTLSConnectionRequiredError"):
        assert issubclass(getattr(e, name), e.NATSConnectionError)
    for name in ("NATSInvalidUrlError", "NATSInvalidSchemeError"):
        assert issubclass(getattr(e, name), e.NATSConnectionError)
        assert issubclass(getattr(e, name), ValueError)
    assert issubclass(e.NATSConnectionError, ConnectionError)
    assert issubclass(e.NATSConnectionError, socket.error)
    assert issubclass(e.NATSRequestTimeoutError, TimeoutError)
    assert issubclass(e.NATSRequestTimeoutError, socket.timeout)
    for name in ERROR_NAMES:
        assert issubclass(getattr(e, name), bns.NATSSyncError)
    # pynats2's constructors: the line is kept, and str() now says something
    err = e.NATSConnectionError("connection failed")
    assert err.line == "connection failed" and str(err) == "connection failed"
    assert e.NATSUnexpectedResponse(b"-ERR x\r\n").line == b"-ERR x\r\n"
    assert isinstance(e.NATSRequestTimeoutError(), e.NATSError)


@needs_real
def test_exception_hierarchy_matches_pynats2_exactly_among_its_names() -> None:
    assert REAL is not None
    for a in ERROR_NAMES:
        for b in ERROR_NAMES:
            theirs = issubclass(getattr(REAL, a), getattr(REAL, b))
            assert issubclass(getattr(shim, a), getattr(shim, b)) == theirs, (a, b)


@needs_real
@pytest.mark.parametrize(
    "cls, method",
    [
        (c, m)
        for c in ("NATSClient", "NATSNoSubscribeClient")
        for m in ("__init__", "connect", "close", "reconnect", "ping", "publish", "request")
    ]
    + [("NATSClient", m) for m in ("subscribe", "unsubscribe", "auto_unsubscribe")],
)
def test_signatures_accept_what_pynats2_accepts(cls: str, method: str) -> None:
    assert REAL is not None
    theirs = inspect.signature(getattr(getattr(REAL, cls), method)).parameters
    ours = inspect.signature(getattr(getattr(shim, cls), method)).parameters
    for name, p in theirs.items():
        assert name in ours, f"{cls}.{method} lacks {name}"
        assert ours[name].kind == p.kind, (cls, method, name)
        assert ours[name].default == p.default, (cls, method, name)
    for name in set(ours) - set(theirs):  # our additions never break a pynats2 call
        assert ours[name].default is not inspect.Parameter.empty


def test_message_and_subscription_fields() -> None:
    msg = shim.NATSMessage(sid=1, subject="a", reply="", payload=b"x")
    assert msg == shim.NATSMessage(1, "a", "", b"x")
    sub = shim.NATSSubscription(sid=0, subject="a", queue="", callback=print, max_messages=2)
    assert sub.received_messages == 0 and not sub.is_wasted()
    sub.received_messages = 2
    assert sub.is_wasted()
    assert "_sub" not in repr(sub)


@pytest.mark.parametrize("bad", ["http://127.0.0.1:4222", "ws://127.0.0.1:4222", "127.0.0.1:4222"])
def test_bad_scheme_raises_at_construction(impl: types.ModuleType, bad: str) -> None:
    with pytest.raises(impl.NATSInvalidSchemeError):
        impl.NATSClient(bad)


@pytest.mark.parametrize(
    "bad, match",
    [
        ("nats://127.0.0.1:notaport", "cannot parse"),
        ("nats://[::1", "cannot parse"),
        ("nats://:4222", "no host"),
        ("nats://a:4222/one,nats://b:4222/two", "different vhost"),
        ("nats://a:4222/a/*", "not valid"),
        ("nats://a:4222/a//b", "not valid"),
        (" , ", "no server URL"),
    ],
)
def test_bad_urls_raise_invalid_url_error(bad: str, match: str) -> None:
    with pytest.raises(shim.NATSInvalidUrlError, match=match):
        shim.NATSClient(bad)


# -- what pynats2 got wrong ------------------------------------------------------------------------
