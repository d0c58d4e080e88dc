"""The dynamic-client lookup's memory (rlm_cloudos.store.clients) and its network rules
(rlm_cloudos.policy.clients), with the time passed in."""

from __future__ import annotations

import ipaddress
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.config import ModuleSettings
from rlm_cloudos.errors import ConfigError
from rlm_cloudos.policy.clients import allowed, nas_address_problem, parse_networks
from rlm_cloudos.store.authz import AuthzCache
from rlm_cloudos.store.clients import LogLimiter, NegativeCache, Suppressed


# --------------------------------------------------------------------------- NegativeCache
def test_a_refused_address_is_remembered_for_the_interval_then_forgotten() -> None:
    cache = NegativeCache(60)
    assert not cache.refused("192.0.2.1", 100.0)
    assert cache.refuse("192.0.2.1", cache.begin(), 100.0)
    assert cache.refused("192.0.2.1", 100.0)
    assert cache.refused("192.0.2.1", 159.9)
    assert not cache.refused("192.0.2.2", 120.0)  # per address
    assert not cache.refused("192.0.2.1", 160.0)
    assert len(cache) == 0  # an expired entry is dropped when read


def test_forget_all_drops_every_address() -> None:
    cache = NegativeCache(60)
    for n in range(10):
        cache.refuse(f"192.0.2.{n}", cache.begin(), 0.0)
    cache.forget_all()
    assert len(cache) == 0 and not any(cache.refused(f"192.0.2.{n}", 1.0) for n in range(10))


def test_an_answer_read_before_a_nas_change_is_not_kept() -> None:
    """A lookup reads "no NAS", a NAS is added and announced, then the lookup stores its answer:
    storing it would refuse the new NAS for a whole interval."""
    cache = NegativeCache(60)
    token = cache.begin()
    cache.forget_all()  # the N message arrives while the lookup is reading
    assert not cache.refuse("192.0.2.1", token, 0.0)
    assert not cache.refused("192.0.2.1", 1.0)
    assert cache.refuse("192.0.2.1", cache.begin(), 2.0)  # a lookup begun after it is kept


def test_the_cache_is_bounded_and_drops_the_oldest() -> None:
    cache = NegativeCache(60, limit=100)
    for n in range(1_000):
        cache.refuse(str(ipaddress.ip_address("10.0.0.0") + n), cache.begin(), float(n) / 1000)
    assert len(cache) == 100
    assert cache.refused("10.0.3.231", 1.0) and not cache.refused("10.0.0.0", 1.0)  # 999th kept, 1st gone


def test_concurrent_refusals_and_forgets_leave_a_consistent_cache() -> None:
    cache = NegativeCache(60, limit=500)

    def refuse(base: int) -> None:
        for n in range(2_000):
            cache.refuse(f"10.{base}.{n // 256}.{n % 256}", cache.begin(), 0.0)

    def forget() -> None:
        for _ in range(200):
            cache.forget_all()

    threads = [threading.Thread(target=refuse, args=(b,)) for b in range(4)] + [threading.Thread(target=forget)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 500


# --------------------------------------------------------------------------- LogLimiter
def test_one_line_per_key_per_interval() -> None:
    limiter = LogLimiter(60)
    assert limiter.allow("192.0.2.1", 0.0)
    assert not limiter.allow("192.0.2.1", 1.0)
    assert not limiter.allow("192.0.2.1", 59.9)
    assert limiter.allow("192.0.2.2", 2.0)
    assert limiter.allow("192.0.2.1", 60.0)


def test_lines_held_back_are_summarised_once_the_interval_has_passed() -> None:
    limiter = LogLimiter(60)
    for n in range(10_000):  # 10 packets from each of 1,000 addresses within a second
        limiter.allow(f"a{n % 1000}", n / 10_000)
    assert limiter.summary(30.0) is None  # not yet
    held = limiter.summary(61.0)
    # The first 100 addresses were written once each; every other line was held back.
    assert held == Suppressed(lines=10_000 - 100, keys=1000, seconds=61.0)
    assert limiter.summary(200.0) is None  # nothing held back since
    assert limiter.allow("a999", 200.0)  # a new interval: the cap starts again


def test_at_most_per_interval_lines_in_all() -> None:
    limiter = LogLimiter(60, per_interval=5)
    written = sum(limiter.allow(f"k{n}", 0.0) for n in range(50))
    assert written == 5
    assert limiter.summary(60.0) == Suppressed(45, 45, 60.0)
    assert sum(limiter.allow(f"x{n}", 61.0) for n in range(50)) == 5


def test_a_final_summary_reports_at_once_and_nothing_when_nothing_was_held() -> None:
    limiter = LogLimiter(60)
    assert limiter.summary(0.0, final=True) is None
    limiter.allow("k", 0.0)
    limiter.allow("k", 1.0)
    assert limiter.summary(2.0) is None
    assert limiter.summary(2.0, final=True) == Suppressed(1, 1, 2.0)


def test_the_limiter_is_bounded() -> None:
    limiter = LogLimiter(60, per_interval=10**9, limit=100)
    for n in range(1_000):
        assert limiter.allow(f"k{n}", 0.0)
    assert not limiter.allow("k999", 1.0)  # among the last 100: remembered
    assert limiter.allow("k0", 1.0)  # long forgotten: memory is bounded, so it may be written again
    assert limiter.summary(60.0) == Suppressed(1, 1, 60.0)


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 600, allow_nan=False)), max_size=300))
def test_never_more_than_one_line_per_key_per_interval(events: list[tuple[int, float]]) -> None:
    limiter = LogLimiter(60)
    last: dict[int, float] = {}
    for key, now in sorted(events, key=lambda e: e[1]):
        if limiter.allow(str(key), now):
            assert key not in last or now - last[key] >= 60
            last[key] = now


# --------------------------------------------------------------------------- the feed's N hook
def test_the_authz_cache_calls_its_nas_listeners_on_n_and_on_connect() -> None:
    cache = AuthzCache(10)
    calls: list[str] = []
    cache.on_nas_change(lambda: calls.append("nas"))
    cache.connected()
    assert calls == ["nas"]  # a (re)connected feed may have missed an N
    cache.apply("N 7")
    cache.apply("S 3")
    cache.apply("T 1")
    assert calls == ["nas", "nas"]


# --------------------------------------------------------------------------- networks
def test_parse_networks() -> None:
    assert parse_networks("") == ()
    assert parse_networks("  ") == ()
    assert parse_networks("10.0.0.0/8, 192.0.2.0/24 2001:db8::/32,,") == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/32"))
    assert parse_networks("192.0.2.7") == (ipaddress.ip_network("192.0.2.7/32"),)
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "nonsense", "10.0.0.0/8;DROP"):
        with pytest.raises(ValueError, match="not a network"):
            parse_networks(bad)


def test_allowed() -> None:
    nets = parse_networks("10.0.0.0/8, 2001:db8::/32")
    assert allowed("10.200.3.4", nets) and allowed("2001:db8::5", nets)
    assert not allowed("192.0.2.1", nets) and not allowed("2001:db9::1", nets)
    assert allowed("192.0.2.1", ()) and allowed("::1", ())  # no networks set: every address
    for junk in ("", "not-an-ip", "10.0.0.0/8"):
        assert not allowed(junk, ()) and not allowed(junk, nets)


@pytest.mark.parametrize(("address", "networks", "problem"), [
    ("0.0.0.0/0", "", "wider than /24"),
    ("10.0.0.0/23", "", "wider than /24"),
    ("::/0", "", "wider than /64"),
    ("2001:db8::/63", "", "wider than /64"),
    ("10.0.0.0/24", "", None),
    ("10.0.0.1/32", "", None),
    ("2001:db8::/64", "", None),
    ("10.0.0.1/32", "192.0.2.0/24", "outside CLOUDOS_CLIENT_NETWORKS (192.0.2.0/24)"),
    ("192.0.2.0/24", "192.0.2.0/25", "outside CLOUDOS_CLIENT_NETWORKS"),  # only half inside
    ("192.0.2.128/25", "192.0.2.0/24", None),
    ("2001:db8::1/128", "10.0.0.0/8", "outside"),
])
def test_nas_address_problem(address: str, networks: str, problem: str | None) -> None:
    found = nas_address_problem(ipaddress.ip_network(address), parse_networks(networks))
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_the_widest_prefix_is_the_operators() -> None:
    net = ipaddress.ip_network("10.0.0.0/16")
    assert nas_address_problem(net, (), widest_ipv4=16) is None
    problem = nas_address_problem(net, (), widest_ipv4=28)
    assert problem is not None and "wider than /28" in problem


# --------------------------------------------------------------------------- settings
def test_settings_refuse_a_bad_client_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDOS_CLIENT_NETWORKS", raising=False)
    base = {"database_url": "postgresql://x@127.0.0.1/x", "keyring": "/k"}
    assert ModuleSettings.load(base).unknown_client_seconds == 60
    assert ModuleSettings.load({**base, "client_networks": "10.0.0.0/8"}).client_networks == "10.0.0.0/8"
    with pytest.raises(ConfigError, match="client_networks"):
        ModuleSettings.load({**base, "client_networks": "10.0.0.1/8"})
    monkeypatch.setenv("CLOUDOS_UNKNOWN_CLIENT_SECONDS", "0")
    with pytest.raises(ConfigError, match="unknown_client_seconds"):
        ModuleSettings.load(base)
