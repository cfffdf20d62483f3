"""The seam's contract check: a nats-py without a private the seam relies on is refused with one
clear error, before any connection (so no guard can silently vanish)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nats.aio.client import Client as NatsClient

import beluga_nats_sync as bns
from beluga_nats_sync._natspy import contract

from helpers import ON_NATSPY


@pytest.fixture(autouse=True)
def recheck() -> Iterator[None]:
    yield
    contract.require()  # the real nats-py again, for the tests that follow


def test_the_installed_nats_py_passes() -> None:
    assert contract.problems() == []
    contract.require()


@pytest.mark.parametrize("private", ["_send_ping", "_process_msg", "_process_headers", "force_reconnect"])
def test_a_missing_private_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, private: str) -> None:
    monkeypatch.delattr(NatsClient, private)
    with pytest.raises(contract.NatsPyContractError) as info:
        contract.require()
    text = str(info.value)
    assert private in text and contract.SUPPORTED in text and "installed nats-py" in text
    if ON_NATSPY:
        with pytest.raises(contract.NatsPyContractError):  # and no client connects with it
            bns.connect("nats://127.0.0.1:1", timeout=0.5)


def test_the_tls_guard_fails_closed_when_its_hook_is_not_a_coroutine(monkeypatch: pytest.MonkeyPatch) -> None:
    # nats-py 2.9's _process_info was synchronous: a replacement coroutine would never be awaited,
    # and a tls:// URL could then send credentials in clear
    def process_info(self: object, info: dict[str, object], initial_connection: bool = False) -> None:
        return None

    monkeypatch.setattr(NatsClient, "_process_info", process_info)
    with pytest.raises(contract.NatsPyContractError, match="_process_info is not a coroutine"):
        contract.require()


def test_a_changed_signature_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def process_msg(self: object, sid: int, subject: bytes, data: bytes) -> None:
        return None

    monkeypatch.setattr(NatsClient, "_process_msg", process_msg)
    with pytest.raises(contract.NatsPyContractError, match="_process_msg takes"):
        contract.require()


def test_a_missing_instance_attribute_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    original = NatsClient.__init__

    def init(self: NatsClient, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        del self._pending_data_size

    monkeypatch.setattr(NatsClient, "__init__", init)
    with pytest.raises(contract.NatsPyContractError, match="_pending_data_size"):
        contract.require()


def test_a_missing_connection_status_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    original = NatsClient.__init__

    def init(self: NatsClient, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        del self._status

    monkeypatch.setattr(NatsClient, "__init__", init)
    with pytest.raises(contract.NatsPyContractError, match="_status"):
        contract.require()


@pytest.mark.parametrize("private", ["_sock", "_buffer", "_conn_lost", "_closing"])
def test_an_asyncio_without_a_direct_write_private_turns_direct_writes_off(
    monkeypatch: pytest.MonkeyPatch, private: str
) -> None:
    from asyncio import selector_events

    base = selector_events._SelectorTransport  # type: ignore[attr-defined]
    names = set(base.__init__.__code__.co_names) - {private}

    def init(self: object, *args: object, **kwargs: object) -> None:  # names every attribute but one
        pass

    init.__code__ = init.__code__.replace(co_names=tuple(sorted(names)))
    monkeypatch.setattr(base, "__init__", init)
    contract.require()  # nats-py itself is still fine: no refusal
    assert contract.problems() == []
    problems = contract.direct_write_problems()
    assert problems and private in problems[0]
