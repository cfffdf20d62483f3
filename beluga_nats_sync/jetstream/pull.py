"""A durable pull consumer fetched from when you want: :class:`PullSubscription`.

Each fetch is a pull request of our own (``CONSUMER.MSG.NEXT.<stream>.<durable>``) answered on
an inbox of the subscription (``<inbox>.<n>`` for the n-th request, so a status can be told
from the request it ends). Messages are collected on the I/O thread and handed over to the
fetching thread; a message that comes after its fetch gave up is kept for the next fetch.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from .._core.inbox import new_inbox
from .._core.protocol import check_timeout
from ..errors import ClosedError, NATSSyncError, NATSTimeoutError
from .api import JetStreamLike
from .msg import JetStreamMsg
from .types import ConsumerInfo

__all__ = ["PullSubscription"]


class PullSubscription:
    """A durable pull consumer: :meth:`fetch` a batch when you want one. Made by
    :meth:`JetStream.pull_subscribe`.

    Fetch from one thread at a time (concurrent fetches on one subscription take turns). Its
    messages arrive on an inbox of its own (``<inbox>.<n>`` for the n-th pull request); a
    message that comes after its fetch gave up is kept for the next fetch, not dropped.
    """

    def __init__(self, js: JetStreamLike, stream: str, durable: str, subject: str, timeout: float) -> None:
        self._js = js
        self.stream = stream
        self.durable = durable
        self.subject = subject
        self._lock = threading.Lock()
        self._closed = False
        self._next_subject = f"{js.api_prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        engine = js._engine
        self._inbox = new_inbox(engine.options.inbox_prefix)
        self._requests = 0
        # filled on the I/O thread, taken by the fetching thread
        self._cond = threading.Condition(threading.Lock())
        self._msgs: collections.deque[JetStreamMsg] = collections.deque()
        self._ended: set[str] = set()  # pull requests the server has answered with a status
        self._sid: int | None = None
        self._gone = False  # the client closed

        self._sid = engine.subscribe_raw(self._inbox + ".*", self._on_inbox, timeout, "pull_subscribe")

    def _on_inbox(self, subject: str, data: bytes, reply: str, headers: Mapping[str, str] | None) -> None:
        """On the I/O thread: a message of the consumer, or a status ending one pull request."""
        with self._cond:
            if reply:
                self._msgs.append(JetStreamMsg(subject, data, reply, headers, self._js._engine))
            elif (headers or {}).get("Status", "") != "100":  # 404 no messages, 408 expired, 409 ...
                self._ended.add(subject)
            else:
                return
            self._cond.notify_all()

    def fetch(self, batch: int = 1, timeout: float | None = None) -> list[JetStreamMsg]:
        """Return between 1 and ``batch`` messages, waiting at most ``timeout`` seconds
        (default: the JetStream context's timeout) for the batch to fill.

        Raises :class:`NATSTimeoutError` when no message arrived in time. Each message must be
        answered (``ack()``, ``nak()``, ``term()``) before the consumer's ``ack_wait`` runs out,
        or it is delivered again.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        js = self._js
        t = check_timeout(timeout, js.timeout)
        if t <= 0:
            raise ValueError("fetch timeout must be > 0 seconds: it is also how long the server holds the request")
        if self._closed:
            raise ClosedError(f"fetch: the pull subscription {self.durable!r} was unsubscribed")
        engine = js._engine
        engine.guard("fetch")
        if not engine.is_open:
            raise engine.closed_error("fetch")
        deadline = time.monotonic() + t
        if not self._lock.acquire(timeout=t):
            raise NATSTimeoutError(f"fetch: another thread kept fetching from {self.durable!r} for {t:g} s")
        engine.workers.add(self)  # a close wakes the fetch (worker protocol: _shutdown)
        try:
            got = self._take(batch)
            if len(got) < batch:
                # first what is there now (the server answers at once), then wait for the rest
                got += self._pull(batch - len(got), {"no_wait": True}, deadline)
            if not got:
                expires = max(0.01, deadline - time.monotonic() - min(0.1, t / 10))
                got = self._pull(batch, {"expires": int(expires * 1e9)}, deadline)
            if not got:
                raise NATSTimeoutError(
                    f"fetch: no message for durable {self.durable!r} on stream {self.stream!r} within {t:g} s"
                )
            return got
        finally:
            engine.workers.discard(self)
            self._lock.release()

    def _take(self, n: int) -> list[JetStreamMsg]:
        with self._cond:
            msgs = self._msgs
            return [msgs.popleft() for _ in range(min(n, len(msgs)))]

    def _pull(self, n: int, options: dict[str, Any], deadline: float) -> list[JetStreamMsg]:
        """Ask for ``n`` messages and collect them until the batch is full, the server ends the
        request, or ``deadline``."""
        self._requests += 1
        reply = f"{self._inbox}.{self._requests}"
        self._js._engine.publish(self._next_subject, json.dumps({"batch": n, **options}).encode(), reply, None)
        got: list[JetStreamMsg] = []
        cond = self._cond
        with cond:
            while True:
                while self._msgs and len(got) < n:
                    got.append(self._msgs.popleft())
                if len(got) >= n:
                    break
                if reply in self._ended or self._gone or self._closed:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                cond.wait(remaining)
            self._ended.clear()  # statuses of earlier requests are of no use any more
        if self._gone:
            raise self._js._engine.closed_error("fetch")
        if self._closed:
            for m in got:  # unsubscribed meanwhile: let the server deliver them again soon
                with contextlib.suppress(NATSSyncError):
                    m.nak()
            raise ClosedError(f"fetch: the pull subscription {self.durable!r} was unsubscribed")
        return got

    def _shutdown(self) -> None:
        """The client is closing: wake a fetch in progress (worker protocol)."""
        with self._cond:
            self._gone = True
            self._cond.notify_all()

    def _join(self, timeout: float) -> bool:
        return True  # no thread of its own

    def consumer_info(self, timeout: float | None = None) -> ConsumerInfo:
        """The consumer's state on the server (pending, ack pending, redelivered...)."""
        return self._js.consumer_info(self.stream, self.durable, timeout=timeout)

    def unsubscribe(self, timeout: float | None = None) -> None:
        """Stop receiving on this subscription. The durable consumer stays on the server and
        keeps its position; messages fetched and not answered are redelivered after ack_wait."""
        if self._closed:
            return
        self._closed = True
        engine = self._js._engine
        with self._cond:
            self._cond.notify_all()
        sid = self._sid
        if not engine.is_open or sid is None:
            return
        engine.unsubscribe_sid(sid, check_timeout(timeout, self._js.timeout))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "active"
        return f"<PullSubscription durable={self.durable!r} stream={self.stream!r} {self.subject!r} {state}>"
