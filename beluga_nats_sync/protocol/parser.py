"""The parser of everything a NATS server sends: fed bytes in any chunks, it calls back per frame.

Output: ``on_msg(sid, subject, reply, payload, headers)`` for each MSG/HMSG and
``on_control(event)`` for PING, PONG, +OK, -ERR and INFO (see :mod:`.events`), in wire order.
A callback per message, not a list of tuples: a reader thread routes each message by ``sid`` as it
is parsed, so no per-message container is built and none stays alive across a whole read (a read
of 16 B messages holds ~1,600 of them; keeping them alive triggers the cyclic collector; measured
in ``benchmarks/tools/parse.py``: the callback is the faster of the two). ``subject`` and
``reply`` are str (``reply`` is ``None`` when absent), ``payload`` is bytes and ``headers`` a
:class:`~.headers.Headers` (HMSG) or ``None`` (MSG).

Speed: a read is split on CRLF once and the pieces are walked; a payload without CRLF inside is
its own piece (no further copy). Parsed MSG control lines are kept in a bounded cache keyed by the
line's bytes, and the previous line is compared first, so runs of identical lines (one
subscription, one size) cost one comparison each.

Bounds: a line without CRLF longer than ``max_control_line`` (an INFO line: ``max_info_line``),
a MSG larger than ``max_payload`` or an HMSG larger than ``max_payload + max_header_allowance``
raises :class:`~beluga_nats_sync.errors.ProtocolError` before its bytes are kept (a partial
payload is kept as a view of the read it came in, not copied: that read stays alive). Nothing else
escapes ``feed`` but an exception raised by a callback. Work is linear: a partial line is
scanned once (only the new bytes are searched), a partial payload is collected in a list and
joined once. After any error the parser is dead: every later ``feed`` raises; use a new parser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ProtocolError
from .events import OK, PING, PONG, ControlEvent, Info, ServerError, parse_info
from .headers import Headers, decode_headers

__all__ = ["DEFAULT_MAX_PAYLOAD", "MsgCallback", "Parser"]

#: nats-server's default max_payload, used until the server's INFO says otherwise
DEFAULT_MAX_PAYLOAD = 1024 * 1024
_MAX_DIGITS = 10  # sizes and sids: enough for any sane value, refuses a 10,000-digit number
_CACHE_SIZE = 512
_CACHED_LINE = 256  # longer lines are parsed each time: the cache stays under 128 KiB of keys
_MIN_HDR = len(b"NATS/1.0\r\n\r\n")
_LARGE = 2048  # a payload this large is stepped over rather than split

MsgCallback = Callable[[int, str, str | None, bytes, Headers | None], Any]
# (sid, subject, reply, size, header length or 0 for MSG)
_Args = tuple[int, str, str | None, int, int]
_Chunk = bytes | bytearray | memoryview


class Parser:
    """Parse a server's byte stream; see the module docstring for the contract."""

    def __init__(
        self,
        on_msg: MsgCallback,
        on_control: Callable[[ControlEvent], Any],
        *,
        max_control_line: int = 4096,
        max_info_line: int = 64 * 1024,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        max_header_allowance: int = 8 * 1024,
        follow_info: bool = True,
    ) -> None:
        self._on_msg = on_msg
        self._on_control = on_control
        self.max_control_line = max_control_line
        self.max_info_line = max(max_info_line, max_control_line)
        self.max_payload = max_payload
        self.max_header_allowance = max_header_allowance
        self._follow_info = follow_info
        self._cache: dict[bytes, _Args] = {}
        self._pending: list[bytes | memoryview] = []  # a partial line, or a partial payload when _args is set
        self._pending_len = 0
        self._args: _Args | None = None
        self._cr = False  # the partial line ends with b"\r"
        self._line_limit = 0  # the limit of the partial line, once known
        self._error: ProtocolError | None = None
        #: bytes handed to a search (split or find) so far: the measure of the parser's work
        self.bytes_scanned = 0

    def set_limits(self, *, max_control_line: int | None = None, max_payload: int | None = None) -> None:
        """Change the limits (the engine does it from options; INFO's max_payload is followed itself)."""
        if max_control_line is not None:
            self.max_control_line = max_control_line
            self.max_info_line = max(self.max_info_line, max_control_line)
        if max_payload is not None:
            self.max_payload = max_payload
        self._cache.clear()  # cached lines were checked against the old limits

    @property
    def buffered(self) -> int:
        """Bytes held between calls (a partial line or payload)."""
        return self._pending_len

    @property
    def dead(self) -> bool:
        return self._error is not None

    def feed(self, data: _Chunk) -> None:
        """Parse ``data`` (bytes, bytearray or memoryview: copied when not bytes) and call back."""
        if self._error is not None:
            raise ProtocolError(f"the parser stopped at an earlier error ({self._error.reason}); use a new one")
        if type(data) is not bytes:
            data = bytes(data)
        try:
            start = 0
            if self._pending_len or self._args is not None:
                data, start = self._resume(data)
            if start < len(data):
                self._walk(data, start)
        except ProtocolError as exc:
            self._die(exc)
            raise
        except BaseException:
            self._die(ProtocolError("a callback raised while a read was parsed"))
            raise

    def _die(self, exc: ProtocolError) -> None:
        self._error = exc
        self._pending = []
        self._pending_len = 0
        self._cache.clear()

    def _resume(self, data: bytes) -> tuple[bytes, int]:
        """Complete what the previous feed left; return the bytes to walk and where to start."""
        args = self._args
        if args is not None:  # a payload is being collected
            need = args[3] + 2
            have = self._pending_len
            if have + len(data) < need:
                self._pending.append(data)
                self._pending_len = have + len(data)
                return data, len(data)
            cut = need - have
            if cut >= 2:
                self._pending.append(memoryview(data)[: cut - 2])
                payload = b"".join(self._pending)
                crlf = data[cut - 2 : cut]
            else:  # the kept bytes hold the whole payload and its CR
                kept = b"".join(self._pending)
                payload, crlf = kept[:-1], kept[-1:] + data[:1]
            self._pending = []
            self._pending_len = 0
            self._args = None
            if crlf != b"\r\n":
                raise ProtocolError("a message's payload is not followed by CRLF", crlf)
            self._deliver(args, payload)
            return data, cut
        # a control line is being collected: search only the new bytes
        self.bytes_scanned += len(data)
        if not ((self._cr and data[:1] == b"\n") or data.find(b"\r\n") >= 0):
            total = self._pending_len + len(data)
            if total > self._limit_of_pending(data):
                raise ProtocolError(
                    f"a protocol line has no CRLF within {self._line_limit} bytes (max_control_line)",
                    b"".join(self._pending)[:64],
                )
            self._pending.append(data)
            self._pending_len = total
            self._cr = data[-1:] == b"\r"
            return data, len(data)
        self._pending.append(data)
        data = b"".join(self._pending)
        self._pending = []
        self._pending_len = 0
        self._line_limit = 0
        return data, 0

    def _limit_of_pending(self, data: bytes) -> int:
        if not self._line_limit:
            head = (b"".join(self._pending) + data[:4])[:4]
            if len(head) < 4:
                return self.max_control_line  # too short to tell, and far below any limit
            self._line_limit = self.max_info_line if head == b"INFO" else self.max_control_line
        return self._line_limit

    def _step(self, buf: bytes, start: int) -> int:
        """Deliver the large messages at ``start`` one by one, without copying the rest of ``buf``
        (what follows a large payload is mostly the next large payload); return where small
        frames begin, or ``len(buf)`` when all was used or kept."""
        end_of_buf = len(buf)
        while start < end_of_buf:
            eol = buf.find(b"\r\n", start)
            if eol < 0:
                return start
            self.bytes_scanned += eol + 2 - start
            line = buf[start:eol]
            args = self._cache.get(line)
            if args is None:
                args = self._control(line)
                if args is None:
                    start = eol + 2
                    continue
            size = args[3]
            if size < _LARGE:
                return start
            begin = eol + 2
            end = begin + size
            if end + 2 > end_of_buf:  # keep a view of the partial payload: no copy
                self._args = args
                partial = memoryview(buf)[begin:]
                self._pending = [partial]
                self._pending_len = len(partial)
                return end_of_buf
            if buf[end : end + 2] != b"\r\n":
                raise ProtocolError("a message's payload is not followed by CRLF", buf[end : end + 64])
            self._deliver(args, buf[begin:end])
            start = end + 2
        return start

    def _walk(self, buf: bytes, start: int) -> None:
        """Parse the complete frames of ``buf`` from ``start`` (a frame's beginning), keep its tail."""
        start = self._step(buf, start)
        if start >= len(buf):
            return
        if start:
            buf = buf[start:]
        self.bytes_scanned += len(buf)
        pieces = buf.split(b"\r\n")
        last = len(pieces) - 1  # pieces[last] is not followed by CRLF: an incomplete tail
        cache = self._cache
        on_msg = self._on_msg
        prev_line: bytes | None = None
        args: _Args = (0, "", None, 0, 0)
        sid, subject, reply, size, hdr_len = args
        i = 0
        pos = pos_i = 0  # pieces[pos_i] starts at buf[pos]: brought forward only when needed
        while i < last:
            line = pieces[i]
            if line != prev_line:  # a run of one subscription and size costs this comparison
                found = cache.get(line)
                if found is None:
                    found = self._control(line)
                    if found is None:  # a control event, already handed over
                        i += 1
                        continue
                args = found
                prev_line = line
                sid, subject, reply, size, hdr_len = args
            i += 1
            if i < last and len(pieces[i]) == size:
                payload = pieces[i]  # the common case: no CRLF inside the payload, no copy
                i += 1
            else:
                while pos_i < i:  # each piece is counted once per read: linear
                    pos += len(pieces[pos_i]) + 2
                    pos_i += 1
                end = pos + size
                if end + 2 > len(buf):  # the payload has not fully arrived
                    self._args = args
                    partial = memoryview(buf)[pos:]
                    self._pending = [partial]
                    self._pending_len = len(partial)
                    return
                if buf[end : end + 2] != b"\r\n":
                    raise ProtocolError("a message's payload is not followed by CRLF", buf[end : end + 64])
                payload = buf[pos:end]
                end += 2
                while pos < end:  # skip the pieces the payload spans
                    pos += len(pieces[pos_i]) + 2
                    pos_i += 1
                i = pos_i
            if hdr_len:
                self._deliver(args, payload)
            else:
                on_msg(sid, subject, reply, payload, None)
        tail = pieces[last]
        if tail:
            limit = self.max_info_line if tail[:4] == b"INFO" else self.max_control_line
            if len(tail) > limit:
                raise ProtocolError(f"a protocol line has no CRLF within {limit} bytes (max_control_line)", tail[:64])
            self._pending = [tail]
            self._pending_len = len(tail)
            self._cr = tail[-1:] == b"\r"

    def _deliver(self, args: _Args, payload: bytes) -> None:
        hdr_len = args[4]
        if not hdr_len:
            self._on_msg(args[0], args[1], args[2], payload, None)
            return
        headers = decode_headers(payload[:hdr_len])
        self._on_msg(args[0], args[1], args[2], payload[hdr_len:], headers)

    def _control(self, line: bytes) -> _Args | None:
        """Parse a control line not in the cache: MSG/HMSG arguments (cached), or hand over an event."""
        limit = self.max_info_line if line[:4] == b"INFO" else self.max_control_line
        if len(line) > limit:
            raise ProtocolError(f"a protocol line is longer than {limit} bytes", line[:64])
        if line[:4] == b"MSG ":
            args = self._msg_args(line, line.split(), hmsg=False)
        elif line[:5] == b"HMSG ":
            args = self._msg_args(line, line.split(), hmsg=True)
        else:
            self._event(line)
            return None
        if len(line) <= _CACHED_LINE:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[line] = args
        return args

    def _msg_args(self, line: bytes, parts: list[bytes], *, hmsg: bool) -> _Args:
        n = len(parts) - (1 if hmsg else 0)
        if n == 4:
            reply_raw = None
        elif n == 5:
            reply_raw = parts[3]
        else:
            what = (
                "HMSG <subject> <sid> [reply] <header size> <total size>"
                if hmsg
                else "MSG <subject> <sid> [reply] <size>"
            )
            raise ProtocolError(f"a message line must be {what}", line[:64])
        for field in parts[2:3] + parts[-2 if hmsg else -1 :]:
            if not field.isdigit() or len(field) > _MAX_DIGITS:
                raise ProtocolError("a message line's sid and sizes must be decimal numbers", line[:64])
        sid = int(parts[2])
        size = int(parts[-1])
        hdr_len = 0
        if hmsg:
            hdr_len = int(parts[-2])
            if hdr_len > size or hdr_len < _MIN_HDR:
                raise ProtocolError(
                    f"HMSG header size {hdr_len} is not within {_MIN_HDR} and the total {size}", line[:64]
                )
            if size > self.max_payload + self.max_header_allowance:
                raise ProtocolError(
                    f"HMSG of {size} bytes exceeds max_payload {self.max_payload} plus "
                    f"{self.max_header_allowance} bytes of server headers",
                    line[:64],
                )
        elif size > self.max_payload:
            raise ProtocolError(f"MSG of {size} bytes exceeds max_payload {self.max_payload}", line[:64])
        subject = _name(parts[1], "subject", line)
        reply = None if reply_raw is None else _name(reply_raw, "reply subject", line)
        return (sid, subject, reply, size, hdr_len)

    def _event(self, line: bytes) -> None:
        word = line[:5]
        if word == b"PING" or word == b"PING ":
            event: ControlEvent = PING
            if line.rstrip() != b"PING":
                raise ProtocolError("unknown protocol line", line[:64])
        elif word == b"PONG" or word == b"PONG ":
            event = PONG
            if line.rstrip() != b"PONG":
                raise ProtocolError("unknown protocol line", line[:64])
        elif line.rstrip() == b"+OK":
            event = OK
        elif word == b"-ERR" or word == b"-ERR ":
            text = line[4:].strip()
            if len(text) >= 2 and text[:1] == b"'" and text[-1:] == b"'":
                text = text[1:-1]
            try:
                event = ServerError(text.decode())
            except UnicodeDecodeError:  # nats-server's error texts are ASCII
                raise ProtocolError("-ERR text is not valid UTF-8", line[:64]) from None
        elif word == b"INFO " or word == b"INFO\t":
            event = parse_info(line[5:])
            self._follow(event)
        else:
            raise ProtocolError("unknown protocol line", line[:64])
        self._on_control(event)

    def _follow(self, event: Info) -> None:
        mp = event.info.get("max_payload")
        if self._follow_info and mp is not None and mp != self.max_payload:
            self.set_limits(max_payload=mp)


def _name(raw: bytes, what: str, line: bytes) -> str:
    if b"\x00" in raw:
        raise ProtocolError(f"a message's {what} contains a NUL byte", line[:64])
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ProtocolError(f"a message's {what} is not valid UTF-8", line[:64]) from None
