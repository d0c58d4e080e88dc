"""AuthzCache without a database: fills, hits, the cloudos_authz messages, the fill race, and stale_after."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos.policy import Plan, Subscriber, SubscriberStatus, Tenant, Usage
from rlm_cloudos.policy.sessions import LiveSession, count_online, stale_after
from rlm_cloudos.store.authz import AuthzCache
from rlm_cloudos.store.rows import AccessContext

UTC = timezone.utc
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
# November in Asia/Karachi, as cloudos_period() gives it.
P_START = datetime(2026, 10, 31, 19, tzinfo=UTC)
P_END = datetime(2026, 11, 30, 19, tzinfo=UTC)
P_EPOCH = int(P_START.timestamp())
T_NOW = NOW.timestamp()

MAC1, MAC2, MAC3 = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "AA:BB:CC:DD:EE:03"

ISP1 = Tenant(id=1, slug="isp1", interim_interval=300)
ISP2 = Tenant(id=2, slug="isp2", interim_interval=60)
HOME = Plan(id=10, name="home", rate_limit="2M/8M")
CAP = Plan(id=11, name="cap", rate_limit="4M/16M", quota_bytes=10**7)
OTHER = Plan(id=20, name="other", rate_limit="1M/1M")

#: Source address → (NAS id, NAS name, tenant).
NAS = {
    "10.1.1.1": (100, "n1", ISP1),
    "10.1.1.2": (101, "n2", ISP1),
    "10.2.2.1": (200, "m1", ISP2),
}
A1, A2, B1 = "10.1.1.1", "10.1.1.2", "10.2.2.1"


def live(uid: str, nas_id: int = 100, age: float = 10.0, mac: str = MAC1) -> LiveSession:
    """A session whose last accounting was ``age`` seconds before NOW."""
    return LiveSession(uid, nas_id, T_NOW - age, mac)


def context(sub_id: int, username: str, *, at: str = A1, plan: Plan | None = HOME,
            sessions: tuple[LiveSession, ...] = (), used: tuple[int, int, int] = (0, 0, 0),
            status: SubscriberStatus = SubscriberStatus.ACTIVE) -> AccessContext:
    """What AUTHORIZE would read for ``username`` behind ``at`` (usage only with a plan)."""
    nas_id, nas_name, tenant = NAS[at]
    usage = None if plan is None else Usage(P_START, P_END, *used)
    sub = Subscriber(id=sub_id, username=username, status=status, plan=plan)
    return AccessContext(nas_id, nas_name, tenant, sub, f"sealed-{sub_id}".encode(), usage, sessions)


def ready_cache(max_entries: int = 1000) -> AuthzCache:
    cache = AuthzCache(max_entries)
    cache.connected()
    return cache


def fill(cache: AuthzCache, ctx: AccessContext, at: str = A1) -> None:
    assert cache.store(cache.begin(), at, ctx)


def get(cache: AuthzCache, username: str, at: str = A1, now: datetime = NOW) -> AccessContext | None:
    return cache.context(at, username, now)


def online(ctx: AccessContext | None, mac: str | None = None, now: datetime = NOW) -> int:
    """What decide_access counts as online in ``ctx`` for a login from ``mac``."""
    assert ctx is not None
    return count_online(ctx.sessions, mac, ctx.tenant.interim_interval, now)


def acct(sub_id: int, uid: str, *, nas_id: int = 100, updated: float = T_NOW, stopped: bool = False,
         counters: tuple[int, int, int, int] | None = None, mac: str = MAC1) -> str:
    """An 'A' message as cloudos_account() writes it (epoch with six decimals, like numeric's text)."""
    c = "- - - -" if counters is None else " ".join(str(v) for v in counters)
    return f"A {sub_id} {uid} {nas_id} {updated:.6f} {int(stopped)} {c} {mac}"


# ----------------------------------------------------------------------- not ready
def test_before_connected_nothing_is_served_or_kept() -> None:
    cache = AuthzCache(10)
    assert not cache.ready
    assert cache.store(cache.begin(), A1, context(1, "ali")) is False
    assert get(cache, "ali") is None
    assert len(cache) == 0
    assert cache.stale_context(A1, "ali", NOW) is None  # never connected: nothing held to fall back on


def test_unknown_subscriber_is_not_kept() -> None:
    cache = ready_cache()
    nas_id, nas_name, tenant = NAS[A1]
    assert cache.store(cache.begin(), A1, AccessContext(nas_id, nas_name, tenant, None, None)) is False
    assert len(cache) == 0


# ----------------------------------------------------------------------- store, then hit
def test_a_hit_takes_the_nas_of_the_address_it_was_stored_under() -> None:
    cache = ready_cache()
    ali = context(1, "ali", at=A1)
    fill(cache, ali, A1)
    fill(cache, context(2, "sara", at=A2), A2)
    assert get(cache, "ali", A1) == ali
    # The same subscriber through the tenant's other NAS: that NAS's id and name.
    via_n2 = get(cache, "ali", A2)
    assert via_n2 == replace(ali, nas_id=101, nas_name="n2")
    # Another tenant's NAS does not see isp1's subscribers; an unknown address is a miss.
    fill(cache, context(3, "zed", at=B1), B1)
    assert get(cache, "ali", B1) is None
    assert get(cache, "ali", "10.9.9.9") is None
    assert (cache.hits, cache.misses) == (2, 2)


def test_a_hit_hands_every_session_without_a_stop_to_the_policy() -> None:
    """The cache counts nothing: the held sessions go to decide_access as read."""
    cache = ready_cache()
    cutoff_age = stale_after(ISP1.interim_interval)  # 720 s for interim 300
    sessions = (
        live("fresh-1", mac=MAC1),
        live("fresh-2", nas_id=101, mac=MAC2),
        live("almost", age=cutoff_age - 1, mac=MAC3),
    )
    stored = context(1, "ali", sessions=sessions, used=(5, 6, 7))
    fill(cache, stored)
    got = get(cache, "ali")
    assert got == stored
    for mac, count in ((None, 3), (MAC1, 2), (MAC2, 2), (MAC3, 2), ("00:00:00:00:00:00", 3)):
        assert online(got, mac) == count, mac


@pytest.mark.parametrize("age_past_cutoff", [0, 1, 3600])
def test_a_held_session_gone_stale_is_read_again(age_past_cutoff: int) -> None:
    """Interims another radiusd stored are not announced: a session that went stale by what this cache
    heard may be alive in PostgreSQL, so its entry is a miss, never a count of one session fewer
    (exactly at the cutoff is stale, as updated_at > cutoff in SQL)."""
    cache = ready_cache()
    cutoff_age = stale_after(ISP1.interim_interval)
    fill(cache, context(1, "ali", sessions=(live("fresh", mac=MAC1),
                                            live("quiet", age=cutoff_age + age_past_cutoff, mac=MAC2))))
    assert get(cache, "ali") is None
    fill(cache, context(2, "bob", sessions=(live("almost", age=cutoff_age - 1),)))
    assert get(cache, "bob") is not None
    assert get(cache, "bob", now=NOW + timedelta(seconds=1)) is None  # at the cutoff now
    assert cache.stale_context(A1, "bob", NOW + timedelta(seconds=1)) is None  # the feed is up


def test_a_subscriber_without_a_plan_is_served_without_usage() -> None:
    cache = ready_cache()
    bare = context(1, "ali", plan=None, sessions=(live("u"),))
    fill(cache, bare)
    assert get(cache, "ali") == bare


# ----------------------------------------------------------------------- the period
def test_a_held_entry_serves_only_its_own_period() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    assert get(cache, "ali", now=P_START) is not None
    assert get(cache, "ali", now=P_END - timedelta(microseconds=1)) is not None
    assert get(cache, "ali", now=P_END) is None
    assert get(cache, "ali", now=P_END + timedelta(days=3)) is None
    assert get(cache, "ali", now=P_START - timedelta(microseconds=1)) is None


# ----------------------------------------------------------------------- admin messages
@pytest.fixture
def three() -> AuthzCache:
    """ali (isp1, home), sara (isp1, cap), zed (isp2, other), each with sessions on its NAS."""
    cache = ready_cache()
    fill(cache, context(1, "ali", plan=HOME, sessions=(live("a-n1", 100), live("a-n2", 101, mac=MAC2))), A1)
    fill(cache, context(2, "sara", plan=CAP, sessions=(live("s-n1", 100),)), A1)
    fill(cache, context(3, "zed", at=B1, plan=OTHER, sessions=(live("z-m1", 200),)), B1)
    return cache


def held(cache: AuthzCache) -> set[str]:
    names = {"ali": A1, "sara": A1, "zed": B1}
    return {u for u, at in names.items() if get(cache, u, at) is not None}


@pytest.mark.parametrize(("message", "left"), [
    ("S 1", {"sara", "zed"}),
    ("S 2", {"ali", "zed"}),
    ("S 99", {"ali", "sara", "zed"}),
    ("P 10", {"sara", "zed"}),
    ("P 11", {"ali", "zed"}),
    ("P 99", {"ali", "sara", "zed"}),
    ("T 1", {"zed"}),
    ("T 2", {"ali", "sara"}),
    ("T 99", {"ali", "sara", "zed"}),
])
def test_admin_message_drops_exactly_what_it_names(three: AuthzCache, message: str, left: set[str]) -> None:
    three.apply(message)
    assert held(three) == left
    assert len(three) == len(left)


def test_plan_message_keeps_subscribers_without_a_plan() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali", plan=None))
    cache.apply("P 10")
    assert get(cache, "ali") is not None


def test_nas_message_forgets_addresses_not_subscribers(three: AuthzCache) -> None:
    three.apply("N 100")
    assert held(three) == set()
    assert get(three, "ali", A2) is None
    assert len(three) == 3
    # A fill that begins after the message learns its address again; the other entries of
    # the tenant are served through it.
    fill(three, context(2, "sara", plan=CAP, sessions=(live("s-n1", 100),)), A1)
    assert held(three) == {"ali", "sara"}


def test_nas_reset_message_closes_only_that_nas_sessions(three: AuthzCache) -> None:
    three.apply("X 100")
    ali, sara, zed = get(three, "ali"), get(three, "sara"), get(three, "zed", B1)
    assert ali is not None and sara is not None and zed is not None
    assert [s.acct_unique_id for s in ali.sessions] == ["a-n2"]
    assert sara.sessions == () and online(sara) == 0
    assert [s.acct_unique_id for s in zed.sessions] == ["z-m1"]
    three.apply("X 100")  # Accounting-Off after Accounting-On: nothing more to close
    again = get(three, "ali")
    assert again is not None and [s.acct_unique_id for s in again.sessions] == ["a-n2"]


def test_nas_reset_with_its_event_time_keeps_the_sessions_that_began_after(three: AuthzCache) -> None:
    """schema 0007: the On closes only sessions last heard of before it, and says when it was."""
    three.apply(acct(1, "a-new", nas_id=100, updated=T_NOW + 60))  # ali redialled after the reboot
    three.apply(f"X 100 {T_NOW + 30:.6f}")
    ali, sara = get(three, "ali"), get(three, "sara")
    assert ali is not None and sara is not None
    assert sorted(s.acct_unique_id for s in ali.sessions) == ["a-n2", "a-new"]
    assert sara.sessions == ()


# ----------------------------------------------------------------------- accounting messages
def test_accounting_adds_a_session() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    cache.apply(acct(1, "u-1", nas_id=101, updated=T_NOW - 5, mac=MAC2))
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert got.sessions == (LiveSession("u-1", 101, T_NOW - 5, MAC2),)
    assert online(got) == 1
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time) == (0, 0, 0)
    assert online(got, MAC2) == 0  # a redial from that MAC


def test_accounting_without_a_calling_station_id() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    cache.apply(acct(1, "u-1", mac=""))  # concat_ws keeps the empty last field: "... - - - - "
    got = get(cache, "ali")
    assert got is not None and got.sessions == (LiveSession("u-1", 100, T_NOW, ""),)
    assert got.usage is not None and online(got) == 1


def test_accounting_updates_counters_and_session_in_place() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali", sessions=(live("u-1", age=300), live("u-2", mac=MAC2)), used=(1, 2, 3)))
    cache.apply(acct(1, "u-1", updated=T_NOW, counters=(P_EPOCH, 1000, 5000, 600)))
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time) == (1000, 5000, 600)
    assert sorted(got.sessions) == sorted((LiveSession("u-1", 100, T_NOW, MAC1), live("u-2", mac=MAC2)))
    assert (got.usage.period_start, got.usage.period_end) == (P_START, P_END)


def test_accounting_stop_removes_the_session() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali", sessions=(live("u-1"), live("u-2", mac=MAC2))))
    cache.apply(acct(1, "u-1", stopped=True, counters=(P_EPOCH, 10, 20, 30)))
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert got.sessions == (live("u-2", mac=MAC2),)
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time, online(got)) == (
        10, 20, 30, 1)
    cache.apply(acct(1, "never-seen", stopped=True))  # a Stop without Start: nothing to remove, nothing added
    assert get(cache, "ali") == got


def test_a_late_start_does_not_rewind_the_interim_applied_before_it() -> None:
    # The radiusd that stored an interim applied it at once; the Start's notification (an earlier
    # commit) reaches its listener after: the session and the counters stay as the interim left them.
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    cache.apply(acct(1, "u-1", updated=T_NOW - 300))
    cache.apply(acct(1, "u-1", updated=T_NOW, counters=(P_EPOCH, 1000, 3000, 300)))
    cache.apply(acct(1, "u-1", updated=T_NOW - 300))  # the Start, late
    cache.apply(acct(1, "u-1", updated=T_NOW - 60, counters=(P_EPOCH, 500, 1000, 240)))  # an older interim
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert got.sessions == (LiveSession("u-1", 100, T_NOW, MAC1),)
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time) == (1000, 3000, 300)


def test_a_late_start_does_not_revive_a_stopped_session() -> None:
    # Start and Stop a second apart (a PPPoE negotiation that failed): the Stop applied at once,
    # the Start's notification after it. A ghost session would refuse the redial as already online.
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    cache.apply(acct(1, "u-1", updated=T_NOW, stopped=True))
    cache.apply(acct(1, "u-1", updated=T_NOW))  # the Start, same second, late
    cache.apply(acct(1, "u-1", updated=T_NOW - 1))
    got = get(cache, "ali")
    assert got is not None and got.sessions == () and online(got) == 0
    # Another subscriber's session is not held back by it; a later session of the same id is news.
    cache.apply(acct(1, "u-2", updated=T_NOW - 1, mac=MAC2))
    cache.apply(acct(1, "u-1", updated=T_NOW + 172_800))
    got = get(cache, "ali", now=NOW)
    assert got is not None and sorted(s.acct_unique_id for s in got.sessions) == ["u-1", "u-2"]


def test_counters_from_another_session_never_go_down() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali", sessions=(live("u-1"), live("u-2", mac=MAC2)), used=(10, 20, 30)))
    cache.apply(acct(1, "u-2", updated=T_NOW, counters=(P_EPOCH, 5, 25, 40), mac=MAC2))  # an older commit
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time) == (10, 20, 30)


def test_a_reconnected_feed_forgets_the_stops() -> None:
    cache = ready_cache()
    cache.apply(acct(1, "u-1", updated=T_NOW, stopped=True))
    cache.connected()
    fill(cache, context(1, "ali"))
    cache.apply(acct(1, "u-1", updated=T_NOW))
    got = get(cache, "ali")
    assert got is not None and len(got.sessions) == 1


def test_accounting_into_a_newer_period_drops_the_entry() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali", used=(1, 2, 3)))
    cache.apply(acct(1, "u-1", counters=(int(P_END.timestamp()), 10, 20, 30)))
    assert get(cache, "ali") is None
    assert len(cache) == 0
    cache.apply(acct(1, "u-1", counters=(int(P_END.timestamp()), 11, 21, 31)))  # no longer held: nothing


def test_accounting_into_an_older_period_keeps_the_counters() -> None:
    # A late interim of last month counts there; the held month's counters stay as they are.
    cache = ready_cache()
    fill(cache, context(1, "ali", used=(1, 2, 3)))
    old_start = int(datetime(2026, 9, 30, 19, tzinfo=UTC).timestamp())
    cache.apply(acct(1, "u-1", updated=T_NOW - 60, counters=(old_start, 10, 20, 30)))
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time) == (1, 2, 3)
    assert got.sessions == (LiveSession("u-1", 100, T_NOW - 60, MAC1),)


def test_accounting_without_counters_leaves_them() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali", used=(7, 8, 9)))
    cache.apply(acct(1, "u-1"))
    got = get(cache, "ali")
    assert got is not None and got.usage is not None
    assert (got.usage.input_octets, got.usage.output_octets, got.usage.session_time) == (7, 8, 9)
    assert len(got.sessions) == 1


@pytest.mark.parametrize("message", [
    acct(1, "u-1"),
    acct(1, "u-1", counters=(P_EPOCH, 100, 200, 300)),
    acct(1, "u-1", stopped=True, counters=(P_EPOCH, 100, 200, 300)),
    acct(1, "u-new", nas_id=101, mac=MAC3),
    "X 100",
], ids=["session", "counters", "stop", "new-session", "nas-reset"])
def test_applying_a_message_twice_is_applying_it_once(message: str) -> None:
    def state() -> tuple[AccessContext | None, AccessContext | None]:
        return get(cache, "ali"), get(cache, "sara")

    cache = ready_cache()
    fill(cache, context(1, "ali", sessions=(live("u-1", age=400), live("u-2", 101, mac=MAC2)), used=(1, 1, 1)))
    fill(cache, context(2, "sara", plan=CAP, sessions=(live("s-1"),)))
    cache.apply(message)
    once = state()
    cache.apply(message)
    assert state() == once
    assert once[0] is not None and once[1] is not None


def test_accounting_for_a_subscriber_not_held_does_nothing() -> None:
    cache = ready_cache()
    ali = context(1, "ali", sessions=(live("u-1"),), used=(1, 2, 3))
    fill(cache, ali)
    cache.apply(acct(2, "u-9", counters=(P_EPOCH, 100, 200, 300)))
    cache.apply(acct(2, "u-9", stopped=True, counters=(int(P_END.timestamp()), 100, 200, 300)))
    assert len(cache) == 1
    assert get(cache, "ali") == ali


# ----------------------------------------------------------------------- the fill race
RACING = {
    "S": "S 1",
    "P": "P 10",
    "T": "T 1",
    "N": "N 100",
    "N-other": "N 555",  # any NAS change forgets every address
    "X": "X 100",
    "X-other": "X 555",  # an Accounting-On elsewhere: the read may predate it
    "A": acct(1, "u-1", counters=(P_EPOCH, 1, 2, 3)),
    "A-unheld": acct(1, "u-1"),  # ali is not held yet: still touched
}


@pytest.mark.parametrize("message", RACING.values(), ids=RACING.keys())
def test_a_fill_is_refused_when_what_it_read_changed_meanwhile(message: str) -> None:
    cache = ready_cache()
    token = cache.begin()
    cache.apply(message)
    assert cache.store(token, A1, context(1, "ali")) is False
    assert get(cache, "ali") is None
    # A fill begun after the message is kept.
    assert cache.store(cache.begin(), A1, context(1, "ali")) is True
    assert get(cache, "ali") is not None


UNRELATED = {
    "S": "S 2",
    "P": "P 11",
    "T": "T 2",
    "A": acct(2, "u-9", counters=(P_EPOCH, 1, 2, 3)),
}


@pytest.mark.parametrize("message", UNRELATED.values(), ids=UNRELATED.keys())
def test_a_touch_of_something_else_does_not_refuse_a_fill(message: str) -> None:
    cache = ready_cache()
    token = cache.begin()
    cache.apply(message)
    assert cache.store(token, A1, context(1, "ali")) is True
    assert get(cache, "ali") == context(1, "ali")


def test_a_fill_is_refused_when_the_feed_was_lost_meanwhile() -> None:
    cache = ready_cache()
    token = cache.begin()
    cache.lost()
    assert cache.store(token, A1, context(1, "ali")) is False
    assert cache.store(cache.begin(), A1, context(1, "ali")) is False  # not while the feed is down
    cache.connected()
    assert cache.store(token, A1, context(1, "ali")) is False  # begun before the reconnection
    assert cache.store(cache.begin(), A1, context(1, "ali")) is True


def test_after_the_feed_is_lost_only_stale_context_serves() -> None:
    cache = ready_cache()
    ali = context(1, "ali", sessions=(live("u-1"),), used=(1, 2, 3))
    fill(cache, ali)
    assert cache.stale_context(A1, "ali", NOW) is None  # the feed is up: nothing is stale
    cache.lost()
    assert not cache.ready
    assert get(cache, "ali") is None
    found = cache.stale_context(A1, "ali", NOW)
    assert found is not None
    ctx, age = found
    assert age >= 0
    assert ctx == ali
    assert cache.stale_context(A1, "nobody", NOW) is None
    assert cache.stale_context(A1, "ali", P_END) is None  # not past its period either
    cache.lost()  # a second loss keeps the first loss's time (and what was held)
    again = cache.stale_context(A1, "ali", NOW)
    assert again is not None and again[1] >= age


def test_connected_starts_empty() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    fill(cache, context(3, "zed", at=B1, plan=OTHER), B1)
    cache.lost()
    cache.connected()
    assert cache.ready and len(cache) == 0
    assert get(cache, "ali") is None and get(cache, "zed", B1) is None
    assert cache.stale_context(A1, "ali", NOW) is None
    # The address map went too: sara, filled through A2 only, is not found through A1.
    fill(cache, context(2, "sara", at=A2, plan=CAP), A2)
    assert get(cache, "sara", A2) is not None
    assert get(cache, "sara", A1) is None


# ----------------------------------------------------------------------- renames and eviction
def test_a_renamed_subscriber_is_held_under_its_new_name_only() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    fill(cache, context(1, "ali2"))
    assert get(cache, "ali") is None
    assert get(cache, "ali2") is not None
    assert len(cache) == 1
    cache.apply("S 1")
    assert len(cache) == 0


# A username freed by a delete or rename and taken by another subscriber before the old one's
# 'S' notification is applied: the fill overwrites the entry, so the old subscriber's id must no
# longer lead to it. Otherwise an 'A' message the read already saw (committed before the rename)
# lands on the new owner's entry, or raises KeyError once that entry is evicted, and the feed
# then empties the whole cache as a "bad_message".
def test_a_username_taken_over_by_another_subscriber_is_not_touched_by_the_old_one() -> None:
    cache = ready_cache()
    fill(cache, context(1, "bob", used=(1, 1, 1)))
    # Subscriber 1 was deleted and subscriber 2 created as "bob"; this fill read the new row
    # before 'S 1' came round.
    newbob = context(2, "bob", plan=CAP, used=(5, 5, 5))
    fill(cache, newbob)
    cache.apply(acct(1, "old-session", counters=(P_EPOCH, 900, 900, 900)))
    assert get(cache, "bob") == newbob


def test_a_message_for_a_subscriber_whose_key_was_taken_and_evicted_does_not_raise() -> None:
    cache = ready_cache(max_entries=1)
    fill(cache, context(1, "bob"))
    fill(cache, context(2, "bob", plan=CAP))
    fill(cache, context(3, "carl"))  # evicts (1, "bob")
    cache.apply(acct(1, "old-session", counters=(P_EPOCH, 900, 900, 900)))
    assert get(cache, "carl") is not None


def test_eviction_keeps_the_cache_bounded_and_the_index_consistent() -> None:
    cache = ready_cache(max_entries=3)
    for i in range(1, 11):
        fill(cache, context(i, f"user{i}"))
        assert len(cache) <= 3
    assert len(cache) == 3
    assert [u for u in (f"user{i}" for i in range(1, 11)) if get(cache, u) is not None] == [
        "user8", "user9", "user10"]
    # The evicted are gone from the by-subscriber index too: a message naming them finds nothing.
    for i in range(1, 8):
        cache.apply(f"S {i}")
        cache.apply(acct(i, f"u-{i}", counters=(P_EPOCH, 1, 2, 3)))
        cache.apply(acct(i, f"u-{i}", counters=(int(P_END.timestamp()), 1, 2, 3)))
    assert len(cache) == 3
    assert len(cache._by_sub) == 3  # noqa: SLF001 - the index must not outgrow the entries
    for i in (8, 9, 10):
        cache.apply(f"S {i}")
    assert len(cache) == 0 and len(cache._by_sub) == 0  # noqa: SLF001
    # Storing a held subscriber again replaces it in place: nothing is evicted.
    for i in (1, 2, 3):
        fill(cache, context(i, f"user{i}"))
    fill(cache, context(1, "user1", used=(9, 9, 9)))
    assert all(get(cache, f"user{i}") is not None for i in (1, 2, 3))


NAMES = ("bob", "carl", "dave", "erin")


def held_by_name(cache: AuthzCache) -> dict[str, AccessContext]:
    return {u: c for u in NAMES if (c := get(cache, u)) is not None}


@given(ops=st.lists(st.tuples(st.sampled_from(["store", "S", "A", "A-new-period"]), st.integers(1, 6),
                              st.sampled_from(NAMES)), max_size=60))
def test_any_sequence_of_fills_and_messages_stays_bounded_and_consistent(ops: list[tuple[str, int, str]]) -> None:
    # Subscriber ids and usernames drawn independently: renames and usernames taken over included.
    cache = ready_cache(max_entries=3)
    for op, i, name in ops:
        before = held_by_name(cache)
        if op == "store":
            fill(cache, context(i, name))
            assert get(cache, name) == context(i, name)
        elif op == "S":
            cache.apply(f"S {i}")
        elif op == "A":
            cache.apply(acct(i, "u", counters=(P_EPOCH, i, i, i)))
        else:
            cache.apply(acct(i, "u", counters=(int(P_END.timestamp()), i, i, i)))
        after = held_by_name(cache)
        assert len(cache) == len(after) <= 3
        # The by-subscriber index names exactly the held entries, each under its own subscriber.
        index = cache._by_sub  # noqa: SLF001
        assert sorted(index) == sorted(c.subscriber.id for c in after.values() if c.subscriber is not None)
        # A message changes only the entries of the subscriber it names.
        if op != "store":
            for u, ctx in before.items():
                assert ctx.subscriber is not None
                if ctx.subscriber.id != i:
                    assert after.get(u) == ctx, (op, i, u)
                elif op in ("S", "A-new-period"):
                    assert u not in after
                else:
                    got = after[u]
                    assert got.usage is not None and got.usage.input_octets == i


# ----------------------------------------------------------------------- malformed messages
@pytest.mark.parametrize("message", [
    "",
    "Q 1",
    "s 1",
    "S",
    "S x",
    "S 1.5",
    "P ",
    "T one",
    "N 1 2",
    "X -",
    "A",
    "A 1 u-1 100 1794312000.0 0 - - -",  # nine fields
    "A x u-1 100 1794312000.0 0 - - - - AA",
    "A 1 u-1 nas 1794312000.0 0 - - - - AA",
    "A 1 u-1 100 noon 0 - - - - AA",
    "A 1 u-1 100 1794312000.0 0 x - - - AA",
])
def test_a_malformed_message_raises_value_error(message: str) -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    with pytest.raises(ValueError):
        cache.apply(message)


def test_malformed_counters_of_a_held_subscriber_raise_value_error() -> None:
    cache = ready_cache()
    fill(cache, context(1, "ali"))
    with pytest.raises(ValueError):
        cache.apply(f"A 1 u-1 100 {T_NOW} 0 {P_EPOCH} lots 2 3 {MAC1}")


# ----------------------------------------------------------------------- stale_after
def test_stale_after_examples() -> None:
    assert stale_after(300) == 720
    assert stale_after(60) == 192
    assert stale_after(600) == 1380
    assert stale_after(61) == 2 * 68 + 60


@given(st.integers(60, 86400))
def test_stale_after_is_the_sql_formula_in_exact_decimals(interim: int) -> None:
    # cloudos_stale_cutoff(): 2 * ceil(p_interim * 1.1) + 60 in numeric, i.e. exact decimals.
    expected = 2 * math.ceil(Decimal(interim) * Decimal("1.1")) + 60
    assert stale_after(interim) == expected
