"""One error tree: every exception class the package defines derives from ``NATSSyncError``, so
``except bns.NATSSyncError`` catches whatever the library raises on purpose, while the built-in
base a class had (``TypeError``, ``RuntimeError``, ...) still catches it as before."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.bus import HandlerResultError
from beluga_nats_sync.cli import CLIError
from beluga_nats_sync.server import PortInUseError, ServerNotFoundError
from beluga_nats_sync.services import ServiceError

#: Private signals that never leave the module that raises them: each is caught there and turned
#: into one of the tree's errors (or a retry). Named one by one, with where they are caught, so a
#: new class outside the tree fails the test instead of being skipped.
INTERNAL_SIGNALS = {
    "beluga_nats_sync.engine.opener._Handshake": "a failed connection attempt; carries the ConnectError to report",
    "beluga_nats_sync.jetstream._read._Gap": "a read that saw a gap in the sequence; the read is retried",
    "beluga_nats_sync._gocodec._PathError": "a bad payload value; re-raised as its TypeError or ValueError with a path",
}


def all_modules() -> list[ModuleType]:
    """Every module of the package, imported; one that cannot be imported fails the test."""
    found = [bns]
    failures = []
    for info in pkgutil.walk_packages(bns.__path__, bns.__name__ + ".", onerror=failures.append):
        try:
            found.append(importlib.import_module(info.name))
        except Exception as exc:  # named in the failure below, never skipped
            failures.append(f"{info.name}: {type(exc).__name__}: {exc}")
    assert failures == [], "modules that cannot be imported"
    return found


def defined_exceptions() -> dict[str, type[BaseException]]:
    out: dict[str, type[BaseException]] = {}
    for module in all_modules():
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                out[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return out


def test_the_walk_sees_every_part_of_the_package() -> None:
    names = {m.__name__ for m in all_modules()}
    for part in ("agents", "bus", "compat", "engine", "jetstream", "protocol", "services", "_core", "_notebook"):
        assert any(n.startswith(f"beluga_nats_sync.{part}.") for n in names), part
    for module in ("cli", "server", "errors", "_server_guard"):
        assert f"beluga_nats_sync.{module}" in names


def test_every_exception_class_of_the_package_is_a_nats_sync_error() -> None:
    classes = defined_exceptions()
    assert len(classes) > 40  # the walk found the errors module, the agents', JetStream's, pynats2's ...
    outside = sorted(
        name for name, cls in classes.items() if not issubclass(cls, bns.NATSSyncError) and name not in INTERNAL_SIGNALS
    )
    assert outside == [], "exception classes outside the NATSSyncError tree"


def test_the_internal_signals_are_private_and_still_exist() -> None:
    classes = defined_exceptions()
    for name in INTERNAL_SIGNALS:
        assert name in classes, f"{name} is gone: drop it from INTERNAL_SIGNALS"
        assert name.rsplit(".", 1)[1].startswith("_"), f"{name} is public, so it belongs in the tree"
        assert not issubclass(classes[name], bns.NATSSyncError), f"{name} joined the tree: drop it from the list"


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (ServerNotFoundError("no nats-server"), RuntimeError),
        (PortInUseError("port 4222 is taken", 4222), RuntimeError),
        (HandlerResultError("a serve() handler must return a Message"), TypeError),
        (CLIError("bad input"), Exception),
        (ServiceError("400", "bad request"), Exception),
    ],
)
def test_the_root_catches_them_and_their_builtin_still_does(error: Exception, builtin: type[Exception]) -> None:
    with pytest.raises(bns.NATSSyncError) as caught:
        raise error
    assert caught.value is error
    with pytest.raises(builtin) as again:
        raise error
    assert again.value is error


def test_the_fields_of_the_moved_classes_are_kept() -> None:
    err = PortInUseError("port 4222 is taken", 4222)
    assert (str(err), err.port) == ("port 4222 is taken", 4222)
    svc = ServiceError(418, "teapot", b"tea")
    assert (str(svc), svc.code, svc.description, svc.data) == ("418:teapot", "418", "teapot", b"tea")
