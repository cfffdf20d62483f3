"""The server pool, without a server: order, backoff with jitter, max_reconnects, discovery from
INFO's connect_urls, lame duck, and the bound on what it holds."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beluga_nats_sync import Options
from beluga_nats_sync.engine.pool import (
    DEFAULT_JITTER,
    DEFAULT_JITTER_TLS,
    MAX_SERVERS,
    Server,
    ServerPool,
    parse_connect_url,
)
from beluga_nats_sync.protocol import Info

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
URLS = ("nats://a:4222", "nats://b:4222", "nats://c:4222", "nats://d:4222")


def pool(*urls: str, rng: random.Random | None = None, **kwargs: Any) -> ServerPool:
    pool_kwargs = {
        k: kwargs.pop(k) for k in ("jitter", "jitter_tls", "ignore_discovered_urls", "max_servers") if k in kwargs
    }
    return ServerPool(Options(servers=list(urls or URLS), **kwargs), rng=rng or random.Random(7), **pool_kwargs)


def addresses(p: ServerPool) -> list[str]:
    return [s.address for s in p.servers]


def connect_first(p: ServerPool, now: float = 0.0) -> Server:
    attempt = p.next(now)
    assert attempt is not None
    p.connected(attempt.server)
    return attempt.server


# -- building the pool ---------------------------------------------------------------------------
def test_servers_keep_their_order_with_dont_randomize() -> None:
    p = pool(*URLS, dont_randomize=True)
    assert addresses(p) == ["a:4222", "b:4222", "c:4222", "d:4222"]
    assert all(not s.implicit and s.reconnects == 0 and s.last_attempt is None and not s.did_connect for s in p.servers)


def test_servers_are_shuffled_by_the_given_random() -> None:
    urls = [f"nats://h{i}:4222" for i in range(20)]
    shuffled = addresses(pool(*urls, rng=random.Random(1)))
    assert sorted(shuffled) == sorted(u.removeprefix("nats://") for u in urls)
    assert shuffled != [u.removeprefix("nats://") for u in urls]
    assert addresses(pool(*urls, rng=random.Random(1))) == shuffled  # reproducible


def test_entries_parse_scheme_host_port_and_default_ports() -> None:
    p = pool("nats://a", "tls://B:4443", "[::1]:4223", "localhost:5000", dont_randomize=True)
    got = [(s.scheme, s.host, s.port, s.address, s.tls) for s in p.servers]
    assert got == [
        ("nats", "a", 4222, "a:4222", False),
        ("tls", "b", 4443, "b:4443", True),
        ("nats", "::1", 4223, "[::1]:4223", False),
        ("nats", "localhost", 5000, "localhost:5000", False),
    ]
    ws = pool("ws://w", "wss://s", dont_randomize=True)
    assert [(s.scheme, s.port, s.tls) for s in ws.servers] == [("ws", 80, False), ("wss", 443, True)]


def test_the_same_server_twice_is_held_once() -> None:
    p = pool("nats://a:4222", "nats://A:4222", "a:4222", "nats://[::1]:1", "nats://[0:0::1]:1", dont_randomize=True)
    assert addresses(p) == ["a:4222", "[::1]:1"]


def test_url_credentials_are_read_and_never_shown() -> None:
    p = pool("nats://alice:s3cr%40t@a:4222", "nats://t0ken-Secret@b:4222", "nats://c:4222", dont_randomize=True)
    a, b, c = p.servers
    assert (a.user, a.password, a.token) == ("alice", "s3cr@t", None)
    assert (b.user, b.password, b.token) == (None, None, "t0ken-Secret")
    assert (c.user, c.password, c.token) == (None, None, None)
    assert a.url == "nats://alice:s3cr%40t@a:4222"  # as given
    shown = repr(p.servers) + repr(p)
    assert "s3cr" not in shown and "t0ken" not in shown and "alice" in shown


def test_bad_pool_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="jitter must be"):
        pool(jitter=-1)
    with pytest.raises(ValueError, match="jitter_tls must be"):
        pool(jitter_tls=float("nan"))
    with pytest.raises(ValueError, match="max_servers must be"):
        pool(max_servers=MAX_SERVERS + 1)
    with pytest.raises(ValueError, match="at most 2 server URLs"):
        pool(*URLS[:3], max_servers=2)
    with pytest.raises(TypeError, match="ignore_discovered_urls must be a bool"):
        pool(ignore_discovered_urls="yes")


# -- choosing the next server --------------------------------------------------------------------
def test_first_pass_tries_every_server_at_once_in_order() -> None:
    p = pool(*URLS, dont_randomize=True)
    attempts = [p.next(10.0) for _ in URLS]
    assert [(a.server.address, a.wait) for a in attempts if a] == [(u[7:], 0.0) for u in URLS]
    assert all(s.reconnects == 1 and s.last_attempt == 10.0 for s in p.servers)


def test_a_server_tried_recently_waits_the_rest_of_reconnect_wait_plus_jitter() -> None:
    p = pool("nats://a:4222", reconnect_wait=2.0, jitter=0.1)
    first = p.next(100.0)
    assert first is not None and first.wait == 0.0
    again = p.next(100.5)
    assert again is not None and again.server is first.server
    assert 1.5 <= again.wait <= 1.6
    assert again.server.last_attempt == 100.5 + again.wait
    later = p.next(again.server.last_attempt + 2.0)  # reconnect_wait after the last try: no wait
    assert later is not None and later.wait == 0.0


@pytest.mark.parametrize(
    ("url", "extra", "bound"),
    [
        ("nats://a:4222", {}, DEFAULT_JITTER),
        ("tls://a:4222", {}, DEFAULT_JITTER_TLS),
        ("nats://a:4222", {"tls_handshake_first": True}, DEFAULT_JITTER_TLS),
    ],
)
def test_jitter_is_wider_for_tls(url: str, extra: dict[str, Any], bound: float) -> None:
    waits = []
    for seed in range(200):
        p = pool(url, rng=random.Random(seed), reconnect_wait=1.0, **extra)
        p.next(0.0)
        attempt = p.next(0.0)
        assert attempt is not None
        waits.append(attempt.wait - 1.0)
    assert all(0.0 <= w <= bound for w in waits)
    assert max(waits) > bound * 0.8  # the whole range is used, not only the narrow one


def test_zero_jitter_and_zero_reconnect_wait() -> None:
    p = pool("nats://a:4222", reconnect_wait=1.0, jitter=0.0)
    p.next(0.0)
    again = p.next(0.25)
    assert again is not None and again.wait == 0.75
    p = pool("nats://a:4222", reconnect_wait=0.0)
    assert [a.wait for a in (p.next(0.0), p.next(0.0)) if a] == [0.0, 0.0]


def test_a_clock_that_goes_back_never_waits_more_than_reconnect_wait_plus_jitter() -> None:
    p = pool("nats://a:4222", reconnect_wait=2.0, jitter=0.1)
    p.next(1000.0)
    attempt = p.next(1.0)
    assert attempt is not None and 2.0 <= attempt.wait <= 2.1


@pytest.mark.parametrize("max_reconnects", [0, 1, 3])
def test_each_server_is_tried_one_plus_max_reconnects_times_then_dropped(max_reconnects: int) -> None:
    p = pool("nats://a:4222", "nats://b:4222", max_reconnects=max_reconnects, dont_randomize=True)
    tried: list[str] = []
    now = 0.0
    for _ in range(100):
        attempt = p.next(now)
        if attempt is None:
            break
        tried.append(attempt.server.address)
        now += attempt.wait
    assert tried == ["a:4222", "b:4222"] * (1 + max_reconnects)
    assert len(p) == 0 and p.next(now) is None


def test_max_reconnects_minus_one_tries_forever() -> None:
    p = pool("nats://a:4222", max_reconnects=-1)
    now = 0.0
    for _ in range(1000):
        attempt = p.next(now)
        assert attempt is not None
        now += attempt.wait
    assert len(p) == 1 and p.servers[0].reconnects == 1000


def test_a_connection_resets_the_count_and_a_lost_one_waits() -> None:
    p = pool("nats://a:4222", max_reconnects=1, reconnect_wait=2.0, jitter=0.0)
    p.next(0.0)
    server = p.next(5.0)
    assert server is not None and server.server.reconnects == 2
    p.connected(server.server)
    assert server.server.did_connect and server.server.reconnects == 0
    p.lost(server.server, 60.0)
    back = p.next(60.0)
    assert back is not None and back.wait == 2.0  # the only server: reconnect_wait after the loss, as nats.go


def test_after_a_loss_the_other_servers_are_tried_first_and_at_once() -> None:
    p = pool(*URLS[:3], dont_randomize=True, reconnect_wait=2.0)
    a = connect_first(p, 0.0)
    p.lost(a, 50.0)
    order = [p.next(50.0) for _ in range(3)]
    assert [(x.server.address, x.wait == 0.0) for x in order if x] == [
        ("b:4222", True),
        ("c:4222", True),
        ("a:4222", False),
    ]


# -- discovery -----------------------------------------------------------------------------------
def test_discovered_servers_are_added_as_implicit_with_the_current_scheme_and_no_credentials() -> None:
    p = pool("tls://alice:pw-Secret@seed.example:4222", dont_randomize=True)
    current = connect_first(p)
    added = p.update_from_info(
        Info({"connect_urls": ["seed.example:4222", "10.0.0.2:4222", "[fd00::3]:4222"]}), current
    )
    assert added is True
    assert addresses(p) == ["seed.example:4222", "10.0.0.2:4222", "[fd00::3]:4222"]
    found = p.servers[1:]
    assert all(s.implicit and s.scheme == "tls" and s.url.startswith("tls://") for s in found)
    assert all(s.user is None and s.password is None and s.token is None and "@" not in s.url for s in found)
    assert [s.tls_name for s in found] == ["seed.example", "seed.example"]  # announced by IP: the seed's name
    assert p.update_from_info({"connect_urls": ["10.0.0.2:4222"]}, current) is False  # nothing new


def test_discovered_host_names_get_no_tls_name_and_ip_seeds_pass_none() -> None:
    p = pool("nats://127.0.0.1:4222")
    current = connect_first(p)
    p.update_from_info({"connect_urls": ["10.0.0.2:4222", "other:4222"]}, current)
    assert {s.address: s.tls_name for s in p.servers if s.implicit} == {"10.0.0.2:4222": None, "other:4222": None}


def test_implicit_servers_no_longer_listed_are_dropped_but_never_explicit_or_current() -> None:
    p = pool("nats://a:4222", "nats://b:4222", dont_randomize=True)
    a = connect_first(p)
    p.update_from_info({"connect_urls": ["x:4222", "y:4222", "z:4222"]}, a)
    x = next(s for s in p.servers if s.address == "x:4222")
    p.update_from_info({"connect_urls": ["y:4222"]}, x)  # now connected to x, which is no longer listed
    assert sorted(addresses(p)) == ["a:4222", "b:4222", "x:4222", "y:4222"]
    assert all(not s.implicit for s in p.servers if s.address in ("a:4222", "b:4222"))


def test_an_info_without_connect_urls_changes_nothing() -> None:
    p = pool("nats://a:4222")
    a = connect_first(p)
    p.update_from_info({"connect_urls": ["x:4222"]}, a)
    for info in ({}, {"connect_urls": []}, {"connect_urls": ["not a url", "x", "x:0", "x:65536", "h:-1"]}):
        assert p.update_from_info(info, a) is False
        assert sorted(addresses(p)) == ["a:4222", "x:4222"]


def test_ignore_discovered_urls_keeps_the_explicit_servers_only() -> None:
    p = pool("nats://a:4222", ignore_discovered_urls=True)
    a = connect_first(p)
    assert p.update_from_info({"connect_urls": ["x:4222"]}, a) is False
    assert addresses(p) == ["a:4222"]


def test_new_servers_are_shuffled_unless_dont_randomize() -> None:
    urls = [f"h{i}:4222" for i in range(30)]
    for randomize in (False, True):
        p = pool("nats://a:4222", dont_randomize=not randomize, rng=random.Random(3))
        a = connect_first(p)
        p.update_from_info({"connect_urls": urls}, a)
        assert addresses(p)[0] == "a:4222"  # what was held keeps its place
        assert (addresses(p)[1:] == urls) is not randomize
        assert sorted(addresses(p)[1:]) == sorted(urls)


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("h:4222", ("h", 4222)),
        ("10.1.2.3:1", ("10.1.2.3", 1)),
        ("[::1]:65535", ("::1", 65535)),
        ("my-host.example.com:4222", ("my-host.example.com", 4222)),
        ("h", None),
        ("h:", None),
        (":4222", None),
        ("h:0", None),
        ("h:65536", None),
        ("h:42a", None),
        ("h:\u0664\u0662", None),  # Arabic-Indic digits: str.isdigit says yes, a port says no
        ("::1:4222", None),
        ("[::1]", None),
        ("[10.0.0.1]:4222", None),
        ("[zz]:4222", None),
        ("nats://h:4222", None),
        ("user:pw@h:4222", None),
        ("h/path:4222", None),
        ("-h:4222", None),
        ("h" * 400 + ":4222", None),
    ],
)
def test_connect_url_entries(entry: str, parsed: tuple[str, int] | None) -> None:
    assert parse_connect_url(entry) == parsed


def test_the_pool_holds_at_most_max_servers() -> None:
    p = pool("nats://a:4222")
    a = connect_first(p)
    for batch in range(3):
        p.update_from_info({"connect_urls": [f"h{batch}-{i}:4222" for i in range(4096)]}, a)
        assert len(p) == MAX_SERVERS
        assert "a:4222" in addresses(p)


# -- lame duck -----------------------------------------------------------------------------------
def test_lame_duck_says_whether_another_server_is_known_and_moves_current_last() -> None:
    alone = pool("nats://a:4222")
    assert alone.lame_duck(connect_first(alone)) is False
    p = pool("nats://a:4222", "nats://b:4222", "nats://c:4222", dont_randomize=True)
    a = connect_first(p)
    p.update_from_info({"connect_urls": ["x:4222"]}, a)
    assert p.lame_duck(a) is True
    assert addresses(p)[-1] == "a:4222"
    attempt = p.next(1.0)
    assert attempt is not None and attempt.server is not a


def test_lame_duck_does_not_count_a_server_whose_tries_are_used_up() -> None:
    p = pool("nats://a:4222", "nats://b:4222", max_reconnects=0, dont_randomize=True)
    a = connect_first(p)
    b = p.next(1.0)  # b's one try
    assert b is not None and b.server.address == "b:4222"
    assert p.lame_duck(a) is False


def test_lame_duck_with_only_the_current_server_discovered_again() -> None:
    p = pool("nats://127.0.0.1:4222")
    current = connect_first(p)
    p.update_from_info({"connect_urls": ["127.0.0.1:4222"]}, current)
    assert p.lame_duck(current) is False


# -- properties ------------------------------------------------------------------------------------
hosts = st.sampled_from(["a", "b", "c", "x", "y", "10.0.0.1", "[::1]", "[fd00::2]"])
entries = st.one_of(
    st.builds(lambda h, p: f"{h}:{p}", hosts, st.sampled_from([4222, 4223, 1, 65535])),
    st.text(max_size=12),  # anything at all: INFO is untrusted
)
infos = st.lists(st.lists(entries, max_size=12), max_size=8)


@SETTINGS
@given(infos, st.integers(1, 12), st.booleans())
def test_any_infos_keep_the_pool_bounded_and_explicit_and_current_servers(
    sequence: list[list[str]], max_servers: int, randomize: bool
) -> None:
    explicit = ["nats://a:4222", "nats://b:4222"][: min(2, max_servers)]
    p = pool(*explicit, max_servers=max_servers, dont_randomize=not randomize, rng=random.Random(0))
    current = connect_first(p)
    for urls in sequence:
        p.update_from_info({"connect_urls": urls}, current)
        assert len(p) <= max_servers
        held = p.servers
        assert current in held
        assert {s.address for s in held if not s.implicit} == {u[7:] for u in explicit}
        assert len({s.key for s in held}) == len(held)
        if p.lame_duck(current) and len(held) > 1:
            nxt = p.next(0.0)
            assert nxt is not None
            current = nxt.server
            p.connected(current)


@SETTINGS
@given(
    st.floats(0.0, 30.0),
    st.floats(0.0, 2.0),
    st.lists(st.floats(-100.0, 100.0), min_size=1, max_size=30),
    st.sampled_from(["nats://a:4222", "tls://a:4222"]),
    st.integers(0, 2**32),
)
def test_waits_are_never_negative_nor_longer_than_reconnect_wait_plus_jitter(
    reconnect_wait: float, jitter: float, steps: list[float], url: str, seed: int
) -> None:
    p = ServerPool(
        Options(servers=[url, "nats://b:4222"], reconnect_wait=reconnect_wait, max_reconnects=-1),
        jitter=jitter,
        jitter_tls=jitter,
        rng=random.Random(seed),
    )
    now = 1000.0
    for step in steps:
        now += step  # a clock that stands still, jumps, or even goes back
        attempt = p.next(now)
        assert attempt is not None
        assert 0.0 <= attempt.wait <= reconnect_wait + jitter


@SETTINGS
@given(
    st.one_of(st.text(max_size=40), st.builds(lambda h, p: f"{h}:{p}", st.text(max_size=12), st.integers(-5, 70000)))
)
def test_any_connect_url_entry_parses_to_a_host_and_port_or_to_none(entry: str) -> None:
    parsed = parse_connect_url(entry)
    if parsed is not None:
        host, port = parsed
        assert 1 <= port <= 65535 and host and not any(c in host for c in "@/ \t\r\n[]")
        assert entry.endswith(f":{port}")
