"""The one check of a user callable that will run on one of our threads (``_core/handlers.py``)."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from beluga_nats_sync._core.handlers import check_handler, is_async_callable


def plain(msg: object) -> None:
    return None


async def coro(msg: object) -> None:
    return None


async def agen(msg: object) -> AsyncIterator[object]:
    yield msg


class PlainCall:
    def __call__(self, msg: object) -> None:
        return None

    def method(self, msg: object) -> None:
        return None

    async def amethod(self, msg: object) -> None:
        return None


class AsyncCall:
    async def __call__(self, msg: object) -> None:
        return None


class AsyncGenCall:
    async def __call__(self, msg: object) -> AsyncIterator[object]:
        yield msg


PLAIN: dict[str, Any] = {
    "function": plain,
    "lambda": lambda m: None,
    "builtin": print,
    "bound method": PlainCall().method,
    "object with plain __call__": PlainCall(),
    "class": PlainCall,
    "partial of a function": functools.partial(plain),
    "partial of a partial": functools.partial(functools.partial(plain)),
}

ASYNC: dict[str, Any] = {
    "async def": coro,
    "async generator function": agen,
    "async bound method": PlainCall().amethod,
    "object with async __call__": AsyncCall(),
    "object with async generator __call__": AsyncGenCall(),
    "partial of async def": functools.partial(coro),
    "partial of a partial of async def": functools.partial(functools.partial(coro)),
    "partial of an object with async __call__": functools.partial(AsyncCall()),
}
if sys.version_info >= (3, 12):
    ASYNC["marked coroutine function"] = inspect.markcoroutinefunction(lambda m: None)


@pytest.mark.parametrize("kind", list(PLAIN))
def test_plain_callables_are_accepted(kind: str) -> None:
    assert not is_async_callable(PLAIN[kind])
    check_handler(PLAIN[kind], "callback", "a Msg")


@pytest.mark.parametrize("kind", list(ASYNC))
def test_async_callables_are_refused_with_one_text(kind: str) -> None:
    assert is_async_callable(ASYNC[kind])
    with pytest.raises(TypeError) as info:
        check_handler(ASYNC[kind], "handler", "a Message")
    text = str(info.value)
    assert text.startswith("handler must be a plain function, not a coroutine function (async def)")
    assert "with a Message" in text and "Accepted: a plain function" in text


@pytest.mark.parametrize("value", [None, 3, "fn", b"x", [plain]])
def test_what_is_not_callable_is_refused_naming_the_parameter(value: object) -> None:
    expected = rf"^callback must be callable \(it receives a Msg\); got {type(value).__name__}\. Accepted: "
    with pytest.raises(TypeError, match=expected):
        check_handler(value, "callback", "a Msg")


def test_async_option_callbacks_are_refused() -> None:
    from beluga_nats_sync import Options

    with pytest.raises(TypeError, match=r"^error_cb must be a plain function, not a coroutine function"):
        Options(error_cb=coro)
    with pytest.raises(TypeError, match=r"^closed_cb must be callable or None"):
        Options(closed_cb="print")
    Options(error_cb=plain, closed_cb=None)


def test_none_is_accepted_only_where_optional() -> None:
    check_handler(None, "callback", "a Msg", optional=True)
    with pytest.raises(TypeError, match=r"^callback must be callable or None \(it receives a Msg\); got int"):
        check_handler(3, "callback", "a Msg", optional=True)


def test_no_coroutine_is_created_while_checking() -> None:
    calls: list[object] = []

    async def spy(m: object) -> None:
        calls.append(m)

    wrapped: Callable[..., Any] = functools.partial(spy, 1)
    assert is_async_callable(wrapped)
    assert calls == []
