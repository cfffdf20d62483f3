"""Requests: one shared reply subscription, and a waiter per request released by its reply.

Every request of a client gets a reply subject ``<prefix><token>`` under one wildcard
subscription (``<prefix>*``), so a request costs no SUB/UNSUB round trip. The I/O thread routes
each reply to its :class:`Waiter` by token and releases the waiter's lock; the requesting thread
waits on that lock with its timeout (a plain lock wait, which Ctrl-C interrupts). While no other
thread is running the I/O loop's work, the requesting thread runs it itself while it waits
(:meth:`~.portal.IOLoop.lead`): it reads its reply from the socket with no hand-off between threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import NoRespondersError, RequestTimeoutError
from ..protocol.headers import is_no_responders
from .dispatch import Lead
from .msg import Msg
from .outbox import Outbox
from .protocol import check_timeout

if TYPE_CHECKING:
    from ..protocol.headers import HeadersInput

__all__ = ["Reply", "RequestRouter", "Requester", "Waiter"]


class Reply:
    """A reply as it came off the wire."""

    __slots__ = ("data", "headers", "reply", "subject")

    def __init__(self, subject: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        self.subject = subject
        self.data = data
        self.reply = reply
        self.headers = headers

    @property
    def no_responders(self) -> bool:
        return is_no_responders(self.data, self.headers)


class Waiter:
    """One outstanding request; the I/O thread releases ``lock`` once ``msg`` or ``error`` is set."""

    __slots__ = ("error", "lock", "msg")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.msg: Reply | None = None
        self.error: BaseException | None = None

    def done(self) -> bool:
        """The reply or an error is in (the lock is released, or about to be)."""
        return self.msg is not None or self.error is not None

    def wait(self, timeout: float, lead: Lead | None = None) -> bool:
        """Block at most ``timeout`` (0: do not block) for the reply or error; True once it is in.
        With ``lead`` (:meth:`~.portal.IOLoop.lead`), this thread reads the reply itself while no
        other thread runs the I/O loop's work; the whole wait stays within ``timeout``."""
        if timeout > 0 and lead is not None:
            deadline = time.monotonic() + timeout
            lead(self.done, deadline)
            timeout = deadline - time.monotonic()
        return self.lock.acquire(True, timeout) if timeout > 0 else self.lock.acquire(False)


class RequestRouter:
    """The waiters of one client, keyed by the token that ends their reply subject."""

    def __init__(self, prefix: str) -> None:
        #: reply subjects are ``prefix + token``; the shared subscription is ``prefix + "*"``
        self.prefix = prefix
        self._plen = len(prefix)
        self._waiters: dict[str, Waiter] = {}
        self._tokens = itertools.count(1)

    def register(self, waiter: Waiter) -> str:
        """Register ``waiter`` (any thread); return the reply subject of its request."""
        token = str(next(self._tokens))
        self._waiters[token] = waiter
        return self.prefix + token

    def cancel(self, reply_subject: str) -> bool:
        """Forget a request (any thread); False if its reply (or an error) already came."""
        return self._waiters.pop(reply_subject[self._plen :], None) is not None

    def deliver(self, subject: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        """On the I/O thread: a message on the shared reply subscription."""
        waiter = self._waiters.pop(subject[self._plen :], None)
        if waiter is not None:
            waiter.msg = Reply(subject, data, reply, headers)
            waiter.lock.release()

    def fail_all(self, error: BaseException) -> None:
        """Release every waiter with ``error`` (connection lost, client closed)."""
        for token in list(self._waiters):
            w = self._waiters.pop(token, None)
            if w is not None:
                w.error = error
                w.lock.release()

    def __len__(self) -> int:
        return len(self._waiters)


class Requester:
    """``request()``: register a waiter, publish with its reply subject, wait for the reply."""

    def __init__(
        self,
        router: RequestRouter,
        outbox: Outbox,
        guard: Callable[[str], None],
        timeout: float,
        lead: Lead,
    ) -> None:
        self._lead = lead
        self._router = router
        self._outbox = outbox
        self._guard = guard
        self._timeout = timeout

    def start(
        self, subject: str, payload: Any, headers: HeadersInput | None, waiter: Waiter, what: str = "request"
    ) -> str:
        """Publish a request whose reply releases ``waiter`` (on the I/O thread); return its reply
        subject, which :meth:`RequestRouter.cancel` takes. The waiter stays registered until the
        reply comes, the client closes or the request is cancelled."""
        outbox = self._outbox
        if not outbox.open:
            raise outbox.closed_error(what)
        reply = self._router.register(waiter)
        try:
            outbox.publish(subject, payload, reply, headers, True)  # urgent: written at once if it can be
        except BaseException:
            self._router.cancel(reply)
            raise
        return reply

    def request(self, subject: str, payload: Any, timeout: float | None, headers: HeadersInput | None) -> Msg:
        t = check_timeout(timeout, self._timeout, wait=True)
        if not self._outbox.open:
            raise self._outbox.closed_error("request")
        self._guard("request")
        waiter = Waiter()
        reply = self.start(subject, payload, headers, waiter)
        try:
            got = waiter.wait(t, self._lead)
        except BaseException:  # Ctrl-C: forget the request, the client stays usable
            self._router.cancel(reply)
            raise
        if not got:
            self._router.cancel(reply)
            if not waiter.wait(0):  # else the reply raced the timeout: take it
                raise RequestTimeoutError(f"no reply to the request on {subject!r} within {t:g} s")
        if waiter.error is not None:
            raise waiter.error
        r = waiter.msg
        assert r is not None
        if r.no_responders:
            raise NoRespondersError(subject)
        return Msg(r.subject, r.data, r.reply, r.headers, self._outbox)
