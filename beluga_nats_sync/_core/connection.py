"""The connection behind a Client: its state, I/O thread, events, requests and subscriptions.

It holds no reference to the :class:`~beluga_nats_sync.Client` facade, so an unused client can be
garbage collected and its finaliser can close the connection. It never touches a socket: the
protocol engine is the :class:`~.transport.Transport` it is given, driven on the I/O thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import (
    AuthorizationError,
    ClosedError,
    DisconnectedError,
    NATSSyncError,
    NATSTimeoutError,
)
from .dispatch import EventWorker, Worker, in_dispatcher_thread, stop_workers
from .inbox import unique_token
from .lifetime import ConnState, Lifecycle, closed_error, finalize_connection, track
from .msg import Publisher
from .options import Options
from .outbox import Outbox
from .portal import IOLoop, run_on, wait_future
from .protocol import check_timeout
from .requests import Requester, RequestRouter, Waiter
from .stats import Stats
from .subscription import MsgCallback, Subscription, check_subscribe
from .surface import Cancellable
from .transport import Deliver, Transport, TransportEvents

if TYPE_CHECKING:
    from ..protocol.headers import HeadersInput

__all__ = ["Connection", "ConnState", "finalize_connection"]  # the last two from lifetime.py

log = logging.getLogger("beluga_nats_sync")
T = TypeVar("T")
TransportFactory = Callable[[Options, TransportEvents], Transport]


class Connection:
    """Everything a client owns (see the module docstring)."""

    def __init__(self, options: Options, transport_factory: TransportFactory) -> None:
        self.options = options
        self.life = Lifecycle()  # the one state of this connection: everything reads it there
        self._state_lock = threading.Lock()
        self._close_begun = False
        self.loop = IOLoop(name=f"nats-io-{options.name or 'client'}")
        self.events = EventWorker(name=f"nats-events-{options.name or 'client'}")
        self.transport = transport_factory(options, self)
        self.outbox = Outbox(options, self.life, self.loop, self.transport, self.closed_error)
        self.publish = self.outbox.publish  # the hot path, without a hop through this object
        self.server_address: tuple[str, int] | None = None  # for telemetry
        self._ever_connected = False
        self._background_connect = False
        self._up = threading.Event()  # connected with our wiring in place, or closed: flush waits on it
        self._ended = threading.Event()  # close() has finished: every thread is gone
        self._auth_refusals = 0  # in a row, while reconnecting
        self._deferred: list[Subscription] = []  # made before the first connection
        self.forked = False
        track(self)
        self.router = RequestRouter(f"{options.inbox_prefix}.{unique_token()}.")
        self.requests = Requester(self.router, self.outbox, self.loop.guard, options.timeout, self.loop.lead)
        self.request = self.requests.request  # the hot path, without a hop through this object
        self.lead = self.loop.lead  # a waiting thread runs the I/O loop's work itself (portal.py)
        self.subs: dict[int, Subscription] = {}
        # threads owned by add-ons (JetStream consumers, key-value watchers): stopped and
        # joined on close, like subscription dispatchers
        self.workers: set[Worker] = set()
        self._errors = 0
        self._callback_errors = 0
        self._dropped = 0

    # -- state -------------------------------------------------------------------------------
    @property
    def state(self) -> ConnState:
        return self.life.state

    @property
    def is_open(self) -> bool:
        """Publishes and subscriptions are accepted (sent now, or buffered until connected)."""
        return self.life.accepting

    @property
    def connected(self) -> bool:
        """Connected, with the core's own wiring in place (also while closing, to send what is buffered)."""
        return self.life.linked

    @property
    def publisher(self) -> Publisher:
        return self.outbox

    @property
    def max_payload(self) -> int:
        return self.outbox.max_payload

    def closed_error(self, what: str = "client") -> ClosedError:
        return closed_error(what, self.life.state, forked=self.forked)

    def guard(self, what: str) -> None:
        self.loop.guard(what)

    def run(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        """Run ``fn()`` on the I/O thread, blocking at most ``timeout``; our errors only."""
        if not self.is_open:
            raise self.closed_error(what)
        return run_on(self.loop, fn, timeout, what, self.closed_error)

    # -- connect -----------------------------------------------------------------------------
    def connect(self, timeout: float) -> None:
        """Connect within ``timeout``; with ``retry_on_failed_connect``, go on in the background
        after the first round of attempts fails instead of raising."""
        self.life.move(ConnState.CONNECTING)  # publish/subscribe may buffer while a background connect goes on
        self.loop.guard("connect")

        try:
            up = self.transport.connect(timeout)

            def settle() -> None:
                # on the I/O thread, so that a background connect succeeding meanwhile (its
                # on_connected runs there too) is wired exactly once
                if up or self.transport.is_connected:
                    self._wire(background=not up)
                else:
                    self._background_connect = True

            self.loop.run(settle, timeout + 1.0, "connect")
        except BaseException:
            self._teardown(1.0)
            raise

    # -- the transport's events (on the I/O thread) ----------------------------------------------
    def on_connected(self) -> None:
        """Our own wiring, then what waited: the reply subscription, the writer, deferred subscriptions."""
        self._note_server()
        self._ever_connected = True
        if self._background_connect:  # else connect() wires up before it returns
            self._wire(background=True)

    def _wire(self, background: bool) -> None:
        transport = self.transport
        try:
            transport.subscribe(self.router.prefix + "*", "", self.router.deliver)
            self.outbox.start_writer()
            self.life.move(ConnState.CONNECTED)
            self._up.set()
            deferred, self._deferred = self._deferred, []
            for sub in deferred:
                if sub.is_active:
                    self._subscribe_now(sub)
        except NATSSyncError as exc:
            self.report(exc)
        self.outbox.pump(force=True)
        if background and self.options.reconnected_cb is not None:
            self.events.submit(self.options.reconnected_cb)

    def on_connect_failed(self, error: BaseException) -> None:
        if self.life.accepting:
            self.report(error)
            self._close_soon()

    def _close_soon(self) -> None:
        """Close from a thread of its own: not on the I/O thread (close waits for it), and not
        behind the user's event callbacks (one of them may block for a long time)."""
        threading.Thread(target=self.close, args=(2.0,), name="nats-close", daemon=True).start()

    def on_error(self, error: BaseException) -> None:
        if isinstance(error, AuthorizationError) and not self.transport.is_connected:
            # Refused while reconnecting. Like nats.go, give up after the second refusal in a
            # row rather than retry the same credentials max_reconnects times.
            self._auth_refusals += 1
            if self._auth_refusals >= 2 and self.life.accepting:
                self.report(error)
                log.warning("the servers refused the credentials twice while reconnecting; closing")
                self._close_soon()
                return
        self.report(error)

    def on_disconnected(self) -> None:
        self.life.lost()
        self._up.clear()
        if not self.life.accepting:
            return
        # Requests in flight fail now rather than at their timeout: their reply, if any, was
        # on the lost connection. Requests made from now on are buffered with the publishes.
        self.router.fail_all(
            DisconnectedError(
                "the connection was lost while waiting for the reply; the request may or may not have been handled"
            )
        )
        if self.options.disconnected_cb is not None:
            self.events.submit(self.options.disconnected_cb)

    def on_reconnected(self) -> None:
        self._auth_refusals = 0
        self.life.move(ConnState.CONNECTED)  # or DRAINING, when a drain was going on
        self._up.set()
        self._note_server()
        self.outbox.pump()
        if self.options.reconnected_cb is not None:
            self.events.submit(self.options.reconnected_cb)

    def on_closed(self, error: BaseException | None) -> None:
        was_accepting = self.life.accepting
        self.life.lost()
        if was_accepting:
            # Closed by the transport itself: reconnects exhausted, or a fatal -ERR from the
            # server (nats.go closes on those too). From now on nothing is accepted; say why,
            # then finish the job.
            self.life.move(ConnState.CLOSING)
            if error is not None:
                self.report(error)
            self._close_soon()

    def _note_server(self) -> None:
        self.outbox.max_payload = self.transport.max_payload
        self.outbox.max_control_line = self.transport.max_control_line
        addr = self.transport.connected_address
        if addr is not None:
            self.server_address = (addr[1], addr[2])

    def report(self, exc: BaseException) -> None:
        self._errors += 1
        cb = self.options.error_cb
        if cb is not None:
            self.events.submit_error(cb, exc)
        else:
            log.warning("NATS error: %s", exc)

    def count_dropped(self) -> None:
        self._dropped += 1

    def count_callback_error(self) -> None:
        self._callback_errors += 1

    def forget(self, sub: Subscription) -> None:
        self.subs.pop(sub.sid, None)

    def start_request(
        self, subject: str, payload: Any, headers: HeadersInput | None, waiter: Waiter, what: str = "request"
    ) -> str:
        """See :meth:`Requester.start`."""
        return self.requests.start(subject, payload, headers, waiter, what)

    def cancel_request(self, reply: str) -> bool:
        """Forget a request started with :meth:`start_request`; False if its reply already came."""
        return self.router.cancel(reply)

    # -- the surface of features (surface.py) --------------------------------------------------
    def subscribe_raw(self, subject: str, deliver: Deliver, timeout: float, what: str) -> int:
        return self.run(lambda: self.transport.subscribe(subject, "", deliver), timeout, what)

    call = run  # the surface's name for it

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the client is closing
            self.loop.call_soon(fn, *args)

    def call_later(self, delay: float, fn: Callable[[], Any]) -> Cancellable:
        return self.loop.call_later(delay, fn)

    def on_io_thread(self) -> bool:
        return self.loop.in_loop_thread()

    # -- subscribe -----------------------------------------------------------------------------
    def subscribe(
        self,
        subject: str,
        callback: MsgCallback | None,
        queue: str,
        max_msgs: int | None,
        pending_msgs_limit: int | None,
        pending_bytes_limit: int | None,
    ) -> Subscription:
        limits = (pending_msgs_limit, pending_bytes_limit)
        line = self.outbox.max_control_line
        pm, pb = check_subscribe(subject, callback, queue, max_msgs, *limits, self.options, line)
        if not self.life.accepting:
            raise self.closed_error("subscribe")
        sub = Subscription(self, subject, queue, callback, max_msgs, pm, pb)

        def do_subscribe() -> None:
            if not self.life.linked and not self._ever_connected:
                self._deferred.append(sub)  # subscribed for real once connected
                return
            self.outbox.pump(force=True)
            self._subscribe_now(sub)

        self.run(do_subscribe, self.options.timeout, "subscribe")
        return sub

    def _subscribe_now(self, sub: Subscription) -> None:
        sid = self.transport.subscribe(sub.subject, sub.queue, sub._on_parts)
        self.subs[sid] = sub
        if sub.max_msgs is not None:
            self.transport.unsubscribe(sid, sub.max_msgs)
        sub._attach(sid)

    def unsubscribe_sid(self, sid: int, timeout: float, limit: int = 0) -> None:
        self.run(lambda: self.transport.unsubscribe(sid, limit), timeout, "unsubscribe")

    def drain_sid(self, sid: int, timeout: float) -> None:
        if not self.is_open:
            raise self.closed_error("drain")
        self.loop.guard("drain")
        self.transport.drain_subscription(sid, timeout)

    # -- flush / drain / close -------------------------------------------------------------------
    def flush(self, timeout: float | None) -> None:
        t = check_timeout(timeout, self.options.timeout, wait=True)
        if not self.life.accepting:
            raise self.closed_error("flush")

        deadline = time.monotonic() + t
        self.loop.guard("flush")
        if not self._up.wait(t):
            raise NATSTimeoutError(
                f"flush: the client is disconnected and did not reconnect within {t:g} s; what was published "
                "since the connection was lost has not reached a server (it is sent on reconnect)"
            )
        if not self.life.accepting:
            raise self.closed_error("flush")
        left = max(0.001, deadline - time.monotonic())

        if self.outbox.pending:  # what was queued goes to the socket before the PING
            self.run(lambda: self.outbox.pump(force=True), left, "flush")
        self.transport.ping(max(0.001, deadline - time.monotonic()))

    def drain(self, timeout: float | None) -> None:
        t = check_timeout(timeout, self.options.timeout)
        if not self.life.accepting:
            raise self.closed_error("drain")
        deadline = time.monotonic() + t
        error: BaseException | None = None
        self.life.move(ConnState.DRAINING)
        for sub in list(self.subs.values()):
            try:
                sub.drain(max(0.0, deadline - time.monotonic()))
            except NATSSyncError as exc:
                error = error or exc
        self.close(max(0.1, deadline - time.monotonic()))
        if error is not None:
            raise error

    def close(self, timeout: float) -> None:
        if self.forked:
            return  # the parent owns the connection and the threads
        deadline = time.monotonic() + timeout
        if self.life.accepting and self.workers and not self.loop.in_loop_thread():
            # while still open, let workers finish the callback in progress (bounded) so that
            # its acknowledgement is published and then sent by the final flush below
            stop_workers(self.workers, max(0.05, timeout / 2))
        with self._state_lock:
            if self._close_begun or self.life.state is ConnState.CLOSED:
                if not self._in_own_thread():  # another thread is closing: return when it is done
                    self._ended.wait(max(0.0, deadline - time.monotonic()))
                return
            self._close_begun = True
            # accepting, or CLOSING since the transport closed itself: the transport is to be closed
            was_open = self.life.state is not ConnState.NEW
            self.life.move(ConnState.CLOSING)
        # Calls blocked on the server (flush, JetStream, requests) end now with ClosedError
        # rather than at their own timeout: the server may never answer.
        self.loop.fail_waiting(lambda what: ClosedError(f"{what}: the client was closed while waiting for the server"))
        self.router.fail_all(ClosedError("request: the client was closed before a reply arrived"))
        if was_open and self.loop.thread.is_alive() and not self.loop.in_loop_thread():

            def last_pump() -> None:
                self.outbox.pump(force=True)
                self.outbox.stop_writer()

            try:
                wait_future(self.loop.submit(last_pump), max(0.1, deadline - time.monotonic()))
                self.transport.close(max(0.05, deadline - time.monotonic() - 0.2))
            except Exception as exc:
                log.debug("close: %r", exc)
        unsent, unsent_bytes = self.outbox.discard()
        if unsent or unsent_bytes:
            self.report(
                ClosedError(
                    f"close: {unsent} published message(s) and {unsent_bytes} bytes of framed ones "
                    "could not be sent before the close"
                )
            )
        self._teardown(max(0.1, deadline - time.monotonic()), closing=True)

    def _teardown(self, timeout: float, closing: bool = False) -> None:
        deadline = time.monotonic() + timeout
        self.life.move(ConnState.CLOSED)
        self.router.fail_all(ClosedError("request: the client was closed before a reply arrived"))
        subs = list(self.subs.values())
        self.subs.clear()
        for sub in subs:
            sub._shutdown()
        stop_workers(self.workers, max(0.05, (deadline - time.monotonic()) / 2))
        self.loop.stop(max(0.05, deadline - time.monotonic()))
        for sub in subs:
            sub._join_dispatcher(max(0.05, deadline - time.monotonic()))
        if closing and self.options.closed_cb is not None:
            self.events.submit(self.options.closed_cb)
        self.events.stop(max(0.05, deadline - time.monotonic()))
        self._up.set()  # wakes a flush waiting for a reconnection: it sees the client closed
        self._ended.set()

    def after_fork_in_child(self) -> None:
        """The parent's threads do not exist here and the socket is the parent's: unusable."""
        self.forked = True
        self.life.move(ConnState.CLOSED)

    def on_io_or_events_thread(self) -> bool:
        return self.loop.in_loop_thread() or threading.current_thread() is self.events.thread

    def _in_own_thread(self) -> bool:
        """On a thread of this client's (its I/O thread, its event thread, a dispatcher): waiting
        there for the close to finish would wait for itself."""
        return self.on_io_or_events_thread() or in_dispatcher_thread()

    # -- observing -----------------------------------------------------------------------------
    def stats(self) -> Stats:
        in_msgs, in_bytes, reconnects = self.transport.counters()
        return Stats(
            in_msgs=in_msgs,
            in_bytes=in_bytes,
            out_msgs=self.outbox.out_msgs,
            out_bytes=self.outbox.out_bytes,
            reconnects=reconnects,
            errors=self._errors,
            callback_errors=self._callback_errors,
            dropped=self._dropped,
        )
