"""Setting up one connection to one server: TCP, TLS, INFO, CONNECT, PING/PONG.

Blocking, on the thread that connects (the caller of ``connect``, or the transport's reconnecting
thread), each step bounded by the attempt's deadline. What a server may send between CONNECT's
PING and its PONG (``+OK``, PING, INFO, ``-ERR``) is handled as the protocol means it. On success
the socket and its parser are handed to the I/O thread, which reads on from where the setup
stopped: the parser keeps what it already holds.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

from .._core.options import Options
from ..errors import ConnectError, ProtocolError
from ..protocol.events import Info, Ping, Pong, ServerError
from ..protocol.framing import PING_FRAME, PONG_FRAME, frame_connect
from ..protocol.parser import MsgCallback, Parser
from .explain import explain_failure, refused
from .handshake import connect_options, tls_wanted
from .pool import Server, ServerPool
from .wire import Wire

__all__ = ["Opener"]

_MAX_INFO_LINE = 1024 * 1024  # a cluster's INFO with many connect_urls stays well below


class _Handshake(Exception):
    """A connection attempt failed; ``error`` is the one of ours to report."""

    def __init__(self, error: ConnectError) -> None:
        super().__init__(str(error))
        self.error = error


class Opener:
    """Sets up the connections of one transport, one at a time, over its :class:`~.wire.Wire`."""

    def __init__(
        self,
        options: Options,
        pool: ServerPool,
        wire: Wire,
        on_msg: MsgCallback,
        on_control: Callable[[Any], None],
    ) -> None:
        self._o = options
        self._pool = pool
        self._wire = wire
        self._on_msg = on_msg
        self._on_control = on_control
        self._ssl_context: ssl.SSLContext | None = None
        #: the server's INFO, from the last attempt (and updated by later INFOs while it is set up)
        self.info: dict[str, Any] = {}
        self._events: list[Any] | None = None  # control events while a connection is set up
        #: control events read behind the handshake's PONG
        self.leftover: list[Any] = []

    def set_ssl_context(self, context: ssl.SSLContext | None) -> None:
        self._ssl_context = context

    def open(self, server: Server, timeout: float, version: str) -> Parser:
        """Connect to ``server`` within ``timeout``; the parser the I/O thread reads on with.
        Raises :class:`_Handshake` with our error."""
        try:
            return self._setup(server, time.monotonic() + timeout, version)
        except BaseException as exc:
            tls_used = self._wire.tls
            self._wire.close()  # not live yet: nothing of the I/O thread's to undo
            self._events = None
            if isinstance(exc, _Handshake):
                raise
            error = explain_failure(exc, self._o, server.url, tls_used)
            if error is None:
                raise
            raise _Handshake(error) from None

    def _control(self, event: Any) -> None:
        if self._events is not None:
            self._events.append(event)
        else:
            self._on_control(event)

    def _setup(self, server: Server, deadline: float, version: str) -> Parser:
        wire = self._wire
        wire.open(server.host, server.port, deadline)
        parser = Parser(self._on_msg, self._control, max_info_line=_MAX_INFO_LINE)
        self._events = []
        tls_first = self._o.tls_handshake_first and (self._ssl_context is not None or server.tls)
        if tls_first:
            self._start_tls(server, deadline)
        info = self._expect_info(parser, deadline)
        self.info = info
        self._pool.update_from_info(info, server)
        if not tls_first and tls_wanted(self._o, server, info):
            self._start_tls(server, deadline)
        opts = connect_options(self._o, info, server, lang_version=version)
        wire.send_blocking(frame_connect(opts) + PING_FRAME, deadline)
        self._expect_pong(parser, server, deadline)
        # read behind the PONG (a PING, an INFO): the transport handles it once it has the connection
        self.leftover, self._events = self._events, None
        return parser

    def _start_tls(self, server: Server, deadline: float) -> None:
        context = self._ssl_context or ssl.create_default_context()
        self._wire.start_tls(context, self._o.tls_hostname or server.tls_name or server.host, deadline)

    def _next_event(self, parser: Parser, deadline: float) -> Any:
        events = self._events
        assert events is not None
        while not events:
            parser.feed(self._wire.recv_blocking(deadline))
        return events.pop(0)

    def _expect_info(self, parser: Parser, deadline: float) -> dict[str, Any]:
        event = self._next_event(parser, deadline)
        if not isinstance(event, Info):
            raise ProtocolError(f"the server's first frame must be INFO, got {type(event).__name__.upper()}")
        return event.info

    def _expect_pong(self, parser: Parser, server: Server, deadline: float) -> None:
        while True:
            event = self._next_event(parser, deadline)
            if isinstance(event, Pong):
                return
            if isinstance(event, Ping):
                self._wire.send_blocking(PONG_FRAME, deadline)
            elif isinstance(event, Info):
                self.info = event.info
                self._pool.update_from_info(event.info, server)
            elif isinstance(event, ServerError):
                raise _Handshake(refused(event.text, self._o, server.url))
