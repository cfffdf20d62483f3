"""The servers a connection tries, in which order, and how long to wait before each try.

Pure: no sockets, no threads, no sleeping. The engine asks :meth:`ServerPool.next` for a server and
the time to wait, sleeps that long itself (interruptibly), tries it, and reports back with
:meth:`ServerPool.connected` or, when a connection it had is lost, :meth:`ServerPool.lost`. Time is
the caller's monotonic clock, passed in; randomness is a ``random.Random`` passed in.

It follows nats.go (``setupServerPool``, ``selectNextServer``, ``processInfo``) and nats-py:

- The explicit servers (the options' URLs) are shuffled unless ``dont_randomize``.
- Each try takes the head of the list and moves it to the end, so a lost server is tried again
  only after the others.
- A server tried less than ``reconnect_wait`` ago waits the rest of it plus a random jitter
  (nats.go: up to 100 ms, up to 1 s for TLS), so many clients do not come back in step.
- A server is tried at most ``1 + max_reconnects`` times in a row without a successful connection
  (its first try and ``max_reconnects`` retries, as nats-py counts), then dropped from the pool;
  ``-1`` keeps it forever. With no server left, :meth:`~ServerPool.next` returns ``None``: the
  client closes.
- Servers announced in INFO's ``connect_urls`` are added as *implicit* entries and dropped again
  when an INFO no longer lists them; the explicit servers and the current one are never dropped
  that way.
- At most :data:`MAX_SERVERS` entries are held, whatever a server announces.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote, urlparse

import attrs

from .._core.options import Options, redact_url
from ..protocol import Info

__all__ = [
    "DEFAULT_JITTER",
    "DEFAULT_JITTER_TLS",
    "MAX_SERVERS",
    "Attempt",
    "Server",
    "ServerPool",
    "parse_connect_url",
]

#: nats.go's ``ReconnectJitter``: the most added at random to a wait, for plain connections
DEFAULT_JITTER = 0.1
#: nats.go's ``ReconnectJitterTLS``: TLS handshakes are costly for a server, so clients spread wider
DEFAULT_JITTER_TLS = 1.0
#: the most servers a pool holds (explicit and discovered together)
MAX_SERVERS = 4096

_DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}
_TLS_SCHEMES = ("tls", "wss")
# a DNS name or an IPv4 address as INFO may announce it: letters, digits, '-', '_' and '.'
_HOST_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _key(host: str, port: int) -> str:
    """The identity of a server in the pool: lower-case host (IPs in their canonical form) and port."""
    host = host.lower()
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))
    return _address(host, port)


@attrs.define(eq=False)
class Server:
    """One server of the pool, with what the pool knows of it.

    ``url`` is the URL as given (it may carry ``user:password@`` or ``token@``: see
    :attr:`user`, :attr:`password`, :attr:`token`); ``repr`` hides the secret part.
    ``reconnects`` counts tries since the last successful connection; ``last_attempt`` is the
    caller's monotonic time of the latest try (``None``: never tried); ``implicit`` marks a server
    learnt from INFO's ``connect_urls``. ``tls_name``: for a discovered server announced by IP
    address, the host name of the server that announced it, which its TLS certificate is
    expected to carry (as nats.go and nats-py do).
    """

    scheme: str
    host: str
    port: int
    url: str = attrs.field(repr=lambda url: repr(redact_url(url)))
    implicit: bool = False
    reconnects: int = 0
    last_attempt: float | None = None
    did_connect: bool = False
    tls_name: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` (``[::1]:4222`` for IPv6), as a server announces it."""
        return _address(self.host, self.port)

    @property
    def key(self) -> str:
        """What two entries for the same server have in common (host case and IP spelling ignored)."""
        return _key(self.host, self.port)

    @property
    def tls(self) -> bool:
        """The URL itself asks for TLS (``tls://`` or ``wss://``)."""
        return self.scheme in _TLS_SCHEMES

    def _userinfo(self) -> tuple[str | None, str | None]:
        parsed = urlparse(self.url if "://" in self.url else f"nats://{self.url}")
        if "@" not in parsed.netloc:
            return None, None
        userinfo = parsed.netloc.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        return unquote(user), (unquote(password) if colon else None)

    @property
    def user(self) -> str | None:
        """The user name in the URL (``nats://user:pass@host``), percent-decoded; None without a password."""
        user, password = self._userinfo()
        return user if password is not None else None

    @property
    def password(self) -> str | None:
        """The password in the URL, percent-decoded."""
        return self._userinfo()[1]

    @property
    def token(self) -> str | None:
        """The token in the URL (``nats://token@host``: user info without a colon), percent-decoded."""
        user, password = self._userinfo()
        return user if password is None and user else None


class Attempt(NamedTuple):
    """What :meth:`ServerPool.next` answers: the server to try, after ``wait`` seconds (>= 0)."""

    server: Server
    wait: float


def _explicit(url: str) -> Server:
    parsed = urlparse(url if "://" in url else f"nats://{url}")
    scheme = parsed.scheme
    host = parsed.hostname or ""  # parse_servers already refused a URL without a host
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS.get(scheme, 4222)
    return Server(scheme=scheme, host=host, port=port, url=url)


def parse_connect_url(entry: str) -> tuple[str, int] | None:
    """``(host, port)`` of one INFO ``connect_urls`` entry (``host:port``, ``[v6]:port``), or None
    when it is anything else: no port, a port out of 1-65535, a scheme, user info, a path, a bare
    IPv6 address. INFO is untrusted; such entries are skipped, not fatal."""
    if not isinstance(entry, str) or len(entry) > 300:
        return None
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0 or entry[end + 1 : end + 2] != ":":
            return None
        host, port_text = entry[1:end], entry[end + 2 :]
        try:
            if ipaddress.ip_address(host).version != 6:
                return None
        except ValueError:
            return None
    else:
        host, colon, port_text = entry.rpartition(":")
        if not colon or _HOST_RE.fullmatch(host) is None:
            return None
    if not port_text.isdigit() or not port_text.isascii() or len(port_text) > 5:
        return None
    port = int(port_text)
    if not 1 <= port <= 65535:
        return None
    return host, port


class ServerPool:
    """The list of servers a connection tries (see the module's text for the rules).

    ``jitter`` and ``jitter_tls`` bound the random time added to a wait (``jitter_tls`` when the
    server's URL or the options ask for TLS). ``rng`` makes the shuffles and jitter reproducible
    in tests. ``ignore_discovered_urls`` (nats.go's ``IgnoreDiscoveredServers``) keeps the pool to
    the explicit servers. ``max_servers`` (at most :data:`MAX_SERVERS`) bounds the pool.

    Credentials and discovered servers: a discovered server's entry carries no user info, even
    when the URL of the server that announced it does (nats.go copies the current URL's user
    info; nats-py does not, and neither do we: a server, or whatever rewrites its INFO, could
    otherwise name a host of its choice and receive the URL's password). Credentials given in
    the options (user/password, token, NKey seed, credentials file) are used with every server,
    discovered ones included; credentials given only in a URL are used with that URL's server.
    """

    def __init__(
        self,
        options: Options,
        *,
        jitter: float = DEFAULT_JITTER,
        jitter_tls: float = DEFAULT_JITTER_TLS,
        rng: random.Random | None = None,
        ignore_discovered_urls: bool = False,
        max_servers: int = MAX_SERVERS,
    ) -> None:
        for name, value in (("jitter", jitter), ("jitter_tls", jitter_tls)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
                raise ValueError(f"{name} must be a number of seconds from 0 to 3600, got {value!r}")
        if isinstance(max_servers, bool) or not isinstance(max_servers, int) or not 1 <= max_servers <= MAX_SERVERS:
            raise ValueError(f"max_servers must be an int from 1 to {MAX_SERVERS}, got {max_servers!r}")
        if not isinstance(ignore_discovered_urls, bool):
            raise TypeError(f"ignore_discovered_urls must be a bool, got {type(ignore_discovered_urls).__name__}")
        self._max_servers = max_servers
        self._rng = rng if rng is not None else random.Random()
        self._reconnect_wait = float(options.reconnect_wait)
        self._max_reconnects = options.max_reconnects
        self._randomize = not options.dont_randomize
        self._ignore_discovered = ignore_discovered_urls
        self._jitter = float(jitter)
        self._jitter_tls = float(jitter_tls)
        # the options ask every connection to be encrypted (see handshake.py's _tls_asked)
        self._tls_options = bool(options.tls is not None or options.tls_ca_file or options.tls_cert_file)
        self._tls_options = self._tls_options or options.tls_handshake_first
        if len(options.servers) > max_servers:
            raise ValueError(f"servers: at most {max_servers} server URLs, got {len(options.servers)}")
        servers: list[Server] = []
        seen: set[str] = set()
        for url in options.servers:
            server = _explicit(url)
            if server.key not in seen:  # the same server twice would only be tried twice as often
                seen.add(server.key)
                servers.append(server)
        if self._randomize:
            self._rng.shuffle(servers)
        self._servers = servers

    # -- reading ---------------------------------------------------------------------------------
    @property
    def servers(self) -> tuple[Server, ...]:
        """The servers held, in the order they will be tried."""
        return tuple(self._servers)

    def __len__(self) -> int:
        return len(self._servers)

    def __repr__(self) -> str:
        return f"ServerPool({[s.address for s in self._servers]!r})"

    # -- choosing --------------------------------------------------------------------------------
    def next(self, now: float) -> Attempt | None:
        """The next server to try and how long to wait before trying it; None when none is left.

        ``now`` is the caller's monotonic clock. The try is counted (``reconnects``) and stamped
        (``last_attempt = now + wait``) here: the caller is expected to try after ``wait``.
        """
        while self._servers:
            server = self._servers.pop(0)
            if not self._eligible(server):
                continue  # tried 1 + max_reconnects times in a row without success: dropped
            self._servers.append(server)
            wait = self._wait(server, now)
            server.reconnects += 1
            server.last_attempt = now + wait
            return Attempt(server, wait)
        return None

    def _eligible(self, server: Server) -> bool:
        return self._max_reconnects < 0 or server.reconnects <= self._max_reconnects

    def _wait(self, server: Server, now: float) -> float:
        if server.last_attempt is None or self._reconnect_wait <= 0:
            return 0.0
        rest = min(self._reconnect_wait, server.last_attempt + self._reconnect_wait - now)
        if rest <= 0:
            return 0.0
        jitter = self._jitter_tls if (server.tls or self._tls_options) else self._jitter
        return rest + (self._rng.uniform(0.0, jitter) if jitter > 0 else 0.0)

    def connected(self, server: Server) -> None:
        """A connection to ``server`` was made (handshake done): its count of tries starts again."""
        server.did_connect = True
        server.reconnects = 0

    def lost(self, server: Server, now: float) -> None:
        """The connection to ``server`` was lost at ``now``: it waits ``reconnect_wait`` (plus jitter)
        before it is tried again, while the other servers are tried at once (as nats.go, which
        sleeps only once every server was tried)."""
        server.last_attempt = now

    # -- what the servers tell us ----------------------------------------------------------------
    def update_from_info(self, info: Info | Mapping[str, Any], current: Server) -> bool:
        """Learn the cluster's servers from an INFO's ``connect_urls``; True when one was added.

        ``info`` is the checked INFO (:class:`~beluga_nats_sync.protocol.Info` or its dict);
        ``current`` the server it came from. Unknown servers are added as implicit entries with the
        current server's scheme (TLS stays TLS), shuffled unless ``dont_randomize``; implicit
        entries the INFO no longer lists are dropped, except ``current``. An INFO without
        ``connect_urls`` (or with an empty list) changes nothing, as in nats.go: a server that
        does not advertise says nothing about the others. Entries that are not ``host:port`` are
        skipped. The pool never grows past ``max_servers``.
        """
        fields = info.info if isinstance(info, Info) else info
        urls = fields.get("connect_urls") if isinstance(fields, Mapping) else None
        if self._ignore_discovered or not isinstance(urls, list) or not urls:
            return False
        announced: dict[str, tuple[str, int]] = {}
        for entry in urls[: 4 * MAX_SERVERS]:  # parse_info allows 4096; a bound of our own anyway
            parsed = parse_connect_url(entry)
            if parsed is not None:
                announced.setdefault(_key(*parsed), parsed)
        if not announced:
            return False  # nothing usable: keep what we have rather than empty the pool
        self._servers = [
            s for s in self._servers if not s.implicit or s is current or s.key == current.key or s.key in announced
        ]
        held = {s.key for s in self._servers}
        fresh: list[Server] = []
        room = self._max_servers - len(self._servers)
        for key, (host, port) in announced.items():
            if key in held or len(fresh) >= room:
                continue
            held.add(key)
            tls_name = None
            if _is_ip(host) and not _is_ip(current.host):
                tls_name = current.tls_name or current.host
            url = f"{current.scheme}://{_address(host, port)}"
            fresh.append(Server(scheme=current.scheme, host=host, port=port, url=url, implicit=True, tls_name=tls_name))
        if self._randomize:
            self._rng.shuffle(fresh)
        self._servers.extend(fresh)
        return bool(fresh)

    def lame_duck(self, current: Server) -> bool:
        """``current`` announced lame-duck mode (INFO ``ldm: true``): it will close its clients soon.

        True when another server is known to move to, one whose tries are not used up (the
        engine should then reconnect, as a lost connection does). ``current`` goes to the end of
        the list so it is tried last.
        """
        if current in self._servers:
            self._servers.remove(current)
            self._servers.append(current)
        return any(s is not current and s.key != current.key and self._eligible(s) for s in self._servers)
