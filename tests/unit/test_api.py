"""The public surface: __all__ is sorted and complete, and names resolve."""

from __future__ import annotations

import beluga_nats_sync as bns
from beluga_nats_sync import errors


def test_all_is_sorted_and_resolves() -> None:
    assert list(bns.__all__) == sorted(bns.__all__)
    for name in bns.__all__:
        assert hasattr(bns, name), name


def test_dir_shows_the_public_names_and_modules_only() -> None:
    import types

    shown = [n for n in dir(bns) if not n.startswith("_")]
    assert "annotations" not in shown
    extra = [n for n in shown if n not in bns.__all__ and not isinstance(getattr(bns, n), types.ModuleType)]
    assert extra == []


def test_every_error_is_exported_at_top_level() -> None:
    for name in errors.__all__:
        assert getattr(bns, name) is getattr(errors, name)


def test_error_tree() -> None:
    assert issubclass(bns.RequestTimeoutError, TimeoutError)
    assert issubclass(bns.RequestTimeoutError, bns.NATSTimeoutError)
    assert issubclass(bns.InvalidSubjectError, ValueError)
    assert issubclass(bns.MessageDecodeError, ValueError)
    assert issubclass(bns.PayloadTooLargeError, ValueError)
    assert issubclass(bns.ConnectError, ConnectionError)
    assert issubclass(bns.AuthorizationError, bns.ConnectError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), bns.NATSSyncError)


def test_msg_is_a_frozen_value() -> None:
    import attrs
    import pytest

    m = bns.Msg("a", b"x", headers={"k": "v"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.data = b"y"  # type: ignore[misc]
    assert m == bns.Msg("a", b"x", headers={"k": "v"})
    assert "a" in repr(m)
