"""The one check of a callable the user hands us to run on one of our threads.

Subscriptions, the bus, services, JetStream's ``consume``, key-value's ``watch`` and the pynats2
layer all run user code on a dispatcher thread, as a plain call. A coroutine function called there
returns a coroutine that never runs (and an async generator function a generator that never
iterates): the work would be silently dropped, so it is refused when it is handed over, with one
text that names the parameter and says what is accepted.

Built on :mod:`inspect` only (``asyncio.iscoroutinefunction`` is deprecated from Python 3.14).
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["check_handler", "is_async_callable"]

_ACCEPTED = "a plain function, lambda, bound method, functools.partial of one, or an object with a plain __call__"


def is_async_callable(fn: object) -> bool:
    """True when calling ``fn`` gives a coroutine or an async generator instead of doing the work:
    a coroutine function or async generator function, a ``functools.partial`` of one (at any
    depth), or an object whose ``__call__`` is one."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return True
    if inspect.isroutine(fn) or inspect.isclass(fn):
        return False  # a function, method or builtin called as is; a class is constructed
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - an instance's own __call__
    return call is not None and (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))


def check_handler(fn: object, param: str, receives: str, *, optional: bool = False) -> None:
    """Raise :class:`TypeError` unless ``fn`` can run as a plain call on one of our threads.

    ``param`` is the parameter's name as the user wrote it (``callback``, ``handler``);
    ``receives`` says what it is called with (``a Msg``); ``optional``: None is accepted too.
    """
    if fn is None and optional:
        return
    if not callable(fn):
        none = " or None" if optional else ""
        raise TypeError(
            f"{param} must be callable{none} (it receives {receives}); got {type(fn).__name__}. Accepted: {_ACCEPTED}"
        )
    if is_async_callable(fn):
        raise TypeError(
            f"{param} must be a plain function, not a coroutine function (async def) or an async generator "
            "function: "
            f"it is called on its own thread with {receives} and nothing would await it. Accepted: {_ACCEPTED}"
        )
