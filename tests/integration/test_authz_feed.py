"""The cloudos_authz feed in a real PostgreSQL: its triggers, cloudos_account()'s messages, and an
AuthzCache fed by a real AuthzFeed answering what AUTHORIZE reads."""

from __future__ import annotations

import itertools
import os
import operator
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.sql
import pytest

from cloudos_stack import Stack
from rlm_cloudos.policy.access import online_sessions
from rlm_cloudos.policy import SubscriberStatus
from rlm_cloudos.policy.sessions import LiveSession, stale_after
from rlm_cloudos.store.authz import AuthzCache, AuthzFeed
from rlm_cloudos.store.pg import Database
from rlm_cloudos.store.rows import AccessContext
from tests.conftest import Cli
from tests.fixtures.pg import fetch_one
from tests.integration.world import MAC, NAS1, NAS2, World, build_world

UTC = timezone.utc
MB = 10**6
NAS3 = "10.1.1.3"
T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
#: The period T0 falls in: November in Asia/Karachi.
P_START = datetime(2026, 10, 31, 19, tzinfo=UTC)
MAC_A, MAC_B = MAC, "11:22:33:44:55:66"

_uids = itertools.count(1)


def new_uid() -> str:
    return f"authz-{next(_uids):06d}"


class FeedWorld(World):
    def account(self, uid: str, status: str, user: str | None, at: datetime, inp: int = 0, out: int = 0,
                secs: int = 0, *, nas: str = NAS1, mac: str | None = MAC_A,
                cause: str | None = None) -> tuple[str, str | None]:
        """One Accounting-Request through cloudos_account(): (result, feed)."""
        row = self.account_row(uid, status, user, at, inp, out, secs, nas=nas, mac=mac, cause=cause)
        return row[0], row[6]


@pytest.fixture
def world(fresh_db: str, cli: Cli) -> Iterator[FeedWorld]:
    yield from build_world(fresh_db, cli, FeedWorld)


@pytest.fixture
def listener(world: FeedWorld) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("LISTEN cloudos_authz")
        yield conn


def heard(conn: psycopg.Connection[Any], timeout: float = 0.5) -> list[str]:
    """Every cloudos_authz payload that arrives within ``timeout`` seconds."""
    return [n.payload for n in conn.notifies(timeout=timeout) if n.channel == "cloudos_authz"]


# ----------------------------------------------------------------------- stale_after == cloudos_stale_cutoff
def test_stale_after_is_cloudos_stale_cutoff(stack: Stack) -> None:
    now = datetime(2026, 11, 15, 12, 0, 0, 123456, tzinfo=UTC)
    interims = [60, 61, 299, 300, 301, 86400, *range(60, 86401, 97)]
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT i, extract(epoch FROM (%s::timestamptz - cloudos_stale_cutoff(%s::timestamptz, i))) "
            "FROM unnest(%s::int[]) AS i", (now, now, interims)).fetchall()
    assert len(rows) == len(interims)
    wrong = [(i, sql, stale_after(i)) for i, sql in rows if sql != stale_after(i)]
    assert wrong == []
    cutoffs: dict[int, Decimal] = dict(rows)
    assert cutoffs[300] == 720 and cutoffs[60] == 192


# ----------------------------------------------------------------------- triggers
def test_admin_changes_are_announced(world: FeedWorld, listener: psycopg.Connection[Any], cli: Cli) -> None:
    ali, home = world.subscribers["ali"], world.plans["home"]

    def announced(*argv: str, stdin: str | None = None) -> list[str]:
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
        return heard(listener)

    assert heard(listener) == []
    assert announced("subscriber", "suspend", "ali", "--reason", "unpaid") == [f"S {ali}"]
    assert announced("subscriber", "resume", "ali") == [f"S {ali}"]
    assert announced("subscriber", "set-password", "ali", "--password-stdin", stdin="pw-new\n") == [f"S {ali}"]
    assert announced("subscriber", "set-plan", "ali", "cap") == [f"S {ali}"]
    assert announced("subscriber", "renew", "ali", "--until", "2099-01-31") == [f"S {ali}"]
    assert announced("plan", "update", "home", "--rate-limit", "3M/9M") == [f"P {home}"]
    assert announced("tenant", "set", "t1", "--interim-interval", "600") == [f"T {world.tenant}"]
    added = announced("nas", "add", "n3", "--address", NAS3, "--secret-stdin", stdin="secret-secret-3\n")
    (n3,) = fetch_one(world.conn.execute("SELECT id FROM nas WHERE name = 'n3'"))
    assert added == [f"N {n3}"]
    assert announced("nas", "remove", "n3") == [f"N {n3}"]
    new = announced("subscriber", "add", "newbie", "--plan", "home", "--password-stdin", stdin="pw-newbie\n")
    (newbie,) = fetch_one(world.conn.execute("SELECT id FROM subscriber WHERE username = 'newbie'"))
    assert new == [f"S {newbie}"]
    # Changes nothing authorize reads: listing is silent.
    assert announced("subscriber", "list") == []


# ----------------------------------------------------------------------- cloudos_account()'s messages
def test_cloudos_account_returns_what_it_announces(world: FeedWorld, listener: psycopg.Connection[Any]) -> None:
    ali, n1 = world.subscribers["ali"], world.nas["n1"]
    p0 = int(P_START.timestamp())
    uid = new_uid()

    result, feed = world.account(uid, "Start", "ali", T0, mac="aa:bb:cc:dd:ee:ff")
    assert result == "ok"
    assert heard(listener) == [feed]
    assert feed is not None
    kind, sid, got_uid, nas, updated, stopped, *counters, mac = feed.split(" ")
    assert (kind, sid, got_uid, nas, stopped, counters, mac) == ("A", str(ali), uid, str(n1), "0", ["-"] * 4, MAC_A)
    assert float(updated) == T0.timestamp()

    at = T0 + timedelta(seconds=300)
    _, feed = world.account(uid, "Interim-Update", "ali", at, 1000, 5000, 300, mac="aa:bb:cc:dd:ee:ff")
    # Returned (the radiusd that stored it applies it) but not announced: an interim that
    # crosses no quota changes nothing another radiusd decides (schema 0003).
    assert heard(listener) == []
    assert feed == f"A {ali} {uid} {n1} {at.timestamp():.6f} 0 {p0} 1000 5000 300 {MAC_A}"

    # An interim that crosses a quota is announced: every radiusd must refuse (or slow) the next login.
    capped, capped_uid = world.subscribers["capped"], new_uid()
    world.account(capped_uid, "Start", "capped", T0, mac=None)
    heard(listener)
    _, feed = world.account(capped_uid, "Interim-Update", "capped", at, 4 * MB, 5 * MB, 300, mac=None)
    assert heard(listener) == []  # 9 MB of 10
    _, feed = world.account(capped_uid, "Interim-Update", "capped", at + timedelta(seconds=300), 5 * MB, 6 * MB,
                            600, mac=None)
    assert heard(listener) == [feed]
    assert feed == f"A {capped} {capped_uid} {n1} {(at + timedelta(seconds=300)).timestamp():.6f} 0 {p0} " \
                   f"{5 * MB} {6 * MB} 600 "

    # The same packet again (a retransmission): nothing changes, nothing is announced.
    assert world.account(uid, "Interim-Update", "ali", at, 1000, 5000, 300, mac="aa:bb:cc:dd:ee:ff") == ("ok", None)
    assert heard(listener) == []

    # No Calling-Station-Id: the last field is empty.
    other = new_uid()
    _, feed = world.account(other, "Start", "ali", at, mac=None)
    assert heard(listener) == [feed]
    assert feed == f"A {ali} {other} {n1} {at.timestamp():.6f} 0 - - - - "

    stop = T0 + timedelta(seconds=400)
    _, feed = world.account(uid, "Stop", "ali", stop, 1500, 6000, 400, cause="User-Request")
    assert heard(listener) == [feed]
    assert feed == f"A {ali} {uid} {n1} {stop.timestamp():.6f} 1 {p0} 1500 6000 400 {MAC_A}"
    assert world.account(uid, "Stop", "ali", stop, 1500, 6000, 400, cause="User-Request") == ("ok", None)
    assert heard(listener) == []

    # An unknown user's session is recorded but concerns no subscriber: nothing for authorize.
    assert world.account(new_uid(), "Start", "nobody", T0) == ("ok", None)
    assert world.account(new_uid(), "Start", "ali", T0, nas="10.9.9.9") == ("unknown_nas", None)
    assert heard(listener) == []

    reboot = T0 + timedelta(seconds=500)
    assert world.account(new_uid(), "Accounting-On", None, reboot, mac=None) == (
        "nas_reset", f"X {n1} {reboot.timestamp():.6f}")
    assert heard(listener) == [f"X {n1} {reboot.timestamp():.6f}"]


# ----------------------------------------------------------------------- the cache fed by the feed
def comparable(ctx: AccessContext | None) -> tuple[AccessContext, list[LiveSession]] | None:
    """``ctx`` with its sessions as a sorted list: json_agg returns them in no particular order."""
    return None if ctx is None else (replace(ctx, sessions=()), sorted(ctx.sessions))


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@dataclass
class Pair:
    """An AuthzCache fed by a real AuthzFeed, and the Database both fills and checks read."""

    cache: AuthzCache
    db: Database

    def fill(self, user: str, nas: str = NAS1) -> AccessContext:
        token = self.cache.begin()
        ctx = self.db.access_context(nas, user, T0)
        assert ctx is not None and ctx.subscriber is not None
        assert self.cache.store(token, nas, ctx), "the fill was refused: a notification came in between"
        return ctx

    def agree(self, user: str, nas: str = NAS1) -> AccessContext:
        """Poll (up to 2 s, for the feed to apply what was just written) until the cache answers
        what AUTHORIZE reads, at several instants, and decide_access counts the same sessions online
        from several MACs; fail with the difference otherwise."""
        for seconds in (0, 630, 1400, 3600):
            now = T0 + timedelta(seconds=seconds)

            def both(now: datetime = now) -> tuple[Any, Any]:
                return (comparable(self.cache.context(nas, user, now)),
                        comparable(self.db.access_context(nas, user, now)))

            wait_for(lambda: operator.eq(*both()), 2.0)
            cached, fresh = both()
            assert fresh is not None
            cutoff = now.timestamp() - stale_after(fresh[0].tenant.interim_interval)
            if cached is None and any(s.updated <= cutoff for s in fresh[1]):
                continue  # a held session gone stale is read again (store.authz): a miss, not another answer
            assert cached is not None, (user, nas, now, "not held")
            assert cached == fresh, (user, nas, now)
            held, read = self.cache.context(nas, user, now), self.db.access_context(nas, user, now)
            assert held is not None and read is not None
            for mac in (None, MAC_A, MAC_B):
                assert (online_sessions(held.tenant, held.sessions, mac, now)
                        == online_sessions(read.tenant, read.sessions, mac, now)), (user, nas, mac, now)
        fresh_ctx = self.db.access_context(nas, user, T0)
        assert fresh_ctx is not None
        return fresh_ctx

    def dropped(self, user: str, nas: str = NAS1) -> bool:
        return wait_for(lambda: self.cache.context(nas, user, T0) is None, 2.0)


@pytest.fixture
def fed(world: FeedWorld) -> Iterator[tuple[Pair, list[tuple[str, dict[str, Any]]]]]:
    logs: list[tuple[str, dict[str, Any]]] = []
    cache = AuthzCache(1000)
    feed = AuthzFeed(world.url, cache, lambda level, **fields: logs.append((level, fields)), ping_seconds=0.5)
    db = Database(world.url, size=2)
    db.open()
    feed.open()
    try:
        assert wait_for(lambda: cache.ready, 10.0), logs
        yield Pair(cache, db), logs
    finally:
        feed.close()
        db.close()


def test_the_cache_answers_what_postgresql_reads(world: FeedWorld, fed: tuple[Pair, list[Any]],
                                                 cli: Cli) -> None:
    p, logs = fed
    a1, a2, c1, c2 = new_uid(), new_uid(), new_uid(), new_uid()

    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    def account(*args: Any, **kwargs: Any) -> None:
        """As the radiusd that stored the packet: apply what cloudos_account() returned at once
        (interims that cross nothing are not announced to the others)."""
        _, feed = world.account(*args, **kwargs)
        if feed:
            p.cache.apply(feed)

    # Filled once each; from here on only the feed keeps them current.
    p.fill("ali", NAS1)
    p.fill("capped", NAS2)  # the cache learns n2's address through capped, and serves ali through it too
    p.agree("ali")
    p.agree("ali", NAS2)
    p.agree("capped")

    # Sessions open, on both NAS; Calling-Station-Id in lower case (PostgreSQL upper-cases it).
    account(a1, "Start", "ali", T0, mac="aa:bb:cc:dd:ee:ff")
    account(a2, "Start", "ali", at(5), nas=NAS2, mac=MAC_B)
    ctx = p.agree("ali")
    assert online_sessions(ctx.tenant, ctx.sessions, None, T0) == 2 and len(ctx.sessions) == 2

    # Interims, a duplicate, and one crossing capped's 10 MB quota.
    account(c1, "Start", "capped", T0)
    account(c1, "Interim-Update", "capped", at(300), 1 * MB, 3 * MB, 300)
    p.agree("capped")
    account(c1, "Interim-Update", "capped", at(600), 2 * MB, 9 * MB, 600)
    account(c1, "Interim-Update", "capped", at(600), 2 * MB, 9 * MB, 600)
    ctx = p.agree("capped")
    assert ctx.usage is not None and ctx.usage.total == 11 * MB
    assert world.conn.execute("SELECT count(*) FROM coa_outbox").fetchone() == (1,)  # it did cross
    account(a1, "Interim-Update", "ali", at(300), 100, 200, 300, mac="aa:bb:cc:dd:ee:ff")
    account(a2, "Interim-Update", "ali", at(305), 10, 20, 300, nas=NAS2, mac=MAC_B)
    ctx = p.agree("ali")
    assert ctx.usage is not None and (ctx.usage.input_octets, ctx.usage.output_octets) == (110, 220)

    # A Stop closes the session and counts its last bytes.
    account(a1, "Stop", "ali", at(400), 150, 300, 400, mac="aa:bb:cc:dd:ee:ff",
                  cause="User-Request")
    ctx = p.agree("ali")
    assert [s.acct_unique_id for s in ctx.sessions] == [a2]
    p.agree("ali", NAS2)

    # Accounting-On from n2 closes its sessions (ali's a2, capped's c2), not n1's (capped's c1).
    account(c2, "Start", "capped", at(610), nas=NAS2, mac=MAC_B)
    p.agree("capped")
    account(new_uid(), "Accounting-On", None, at(620), nas=NAS2, mac=None)
    ctx = p.agree("ali")
    assert ctx.sessions == ()
    ctx = p.agree("capped")
    assert [s.acct_unique_id for s in ctx.sessions] == [c1]

    # Admin changes drop the entry: a miss until a fill reads the change.
    before = p.agree("ali")
    for argv, stdin, status in [
        (("subscriber", "suspend", "ali"), None, SubscriberStatus.SUSPENDED),
        (("subscriber", "resume", "ali"), None, SubscriberStatus.ACTIVE),
        (("subscriber", "set-password", "ali", "--password-stdin"), "pw-ali-2\n", SubscriberStatus.ACTIVE),
    ]:
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
        assert p.dropped("ali"), (argv, "still served after the change")
        time.sleep(0.3)
        assert p.cache.context(NAS1, "ali", T0) is None, (argv, "served again without a fill")
        p.fill("ali")
        ctx = p.agree("ali")
        assert ctx.subscriber is not None and ctx.subscriber.status is status
        p.agree("capped")  # another subscriber's entry is untouched, and still current
    assert ctx.password_enc != before.password_enc

    # The re-filled entry follows accounting like the first one did.
    a3 = new_uid()
    account(a3, "Interim-Update", "ali", at(900), 1000, 2000, 60, mac=MAC_B)
    ctx = p.agree("ali")
    assert [s.acct_unique_id for s in ctx.sessions] == [a3]
    assert ctx.usage is not None and (ctx.usage.input_octets, ctx.usage.output_octets) == (1160, 2320)

    # A NAS added anywhere: every source address is forgotten until a fill reads it again.
    r = cli("nas", "add", "n3", "--address", NAS3, "--secret-stdin", stdin="secret-secret-3\n")
    assert r.code == 0, r.err
    assert p.dropped("ali") and p.dropped("capped", NAS2)
    assert len(p.cache) == 2  # the subscribers are still held
    p.fill("capped", NAS1)
    p.agree("ali")
    p.agree("capped")

    events = [fields.get("event") for _, fields in logs]
    assert "feed_connected" in events
    assert not {"feed_lost", "bad_message"} & set(events), logs


# ----------------------------------------------------------------------- forged notifications
def test_a_forged_notification_cannot_write_into_the_cache(world: FeedWorld, fed: tuple[Pair, list[Any]],
                                                          stack: Stack) -> None:
    """Any role may NOTIFY cloudos_authz. An A message with counters from a role that is not radiusd's
    would make capped's exhausted quota look unused, an X would hide its live session from
    Simultaneous-Use: from such a sender they only drop the entry, and the next login reads PostgreSQL."""
    p, logs = fed

    def fill() -> AccessContext:
        """A fill once the feed has delivered what was just written (a fill that races one is refused)."""
        for _ in range(50):
            token = p.cache.begin()
            ctx = p.db.access_context(NAS1, "capped", T0)
            assert ctx is not None
            if p.cache.store(token, NAS1, ctx):
                return ctx
            time.sleep(0.05)
        raise AssertionError("every fill was refused")

    c1 = new_uid()
    world.account(c1, "Start", "capped", T0)
    world.account(c1, "Interim-Update", "capped", T0 + timedelta(seconds=300), 2 * MB, 9 * MB, 300)
    held = fill()
    assert held.usage is not None and held.usage.total == 11 * MB and len(held.sessions) == 1
    assert held.subscriber is not None and held.nas_id is not None
    sid, nas_id, start = held.subscriber.id, held.nas_id, int(held.usage.period_start.timestamp())

    forger, password = f"forger_{os.getpid()}", os.urandom(12).hex()
    with psycopg.connect(stack.database_url, autocommit=True) as owner:
        owner.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            psycopg.sql.Identifier(forger), psycopg.sql.Literal(password)))
    try:
        with psycopg.connect(world.url, user=forger, password=password, autocommit=True) as conn:
            forged = {
                "A": f"A {sid} {c1} {nas_id} {time.time():.6f} 0 {start} 0 0 0 {MAC_A}",  # usage zeroed
                "X": f"X {nas_id}",  # every session of the NAS closed
            }
            for kind, payload in forged.items():
                fill()
                conn.execute("SELECT pg_notify('cloudos_authz', %s)", (payload,))

                def changed() -> bool:
                    ctx = p.cache.context(NAS1, "capped", T0)
                    return ctx is None or ctx.usage is None or ctx.usage.total != 11 * MB or len(ctx.sessions) != 1

                assert wait_for(changed, 3.0), f"the forged {kind} message was not heard"
                after = p.cache.context(NAS1, "capped", T0)
                assert after is None, (kind, after.usage if after else None, after.sessions if after else None)
                refilled = fill()  # PostgreSQL still says what it said
                assert refilled.usage is not None and refilled.usage.total == 11 * MB
                assert len(refilled.sessions) == 1
    finally:
        with psycopg.connect(stack.database_url, autocommit=True) as owner:
            owner.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(forger)))
    assert any(f.get("event") == "unverified_sender" for _, f in logs), logs

    # radiusd's own messages still write in place: a Stop is announced, and applied, not dropped.
    fill()
    world.account(c1, "Stop", "capped", T0 + timedelta(seconds=600), 3 * MB, 9 * MB, 600)
    assert wait_for(lambda: (c := p.cache.context(NAS1, "capped", T0)) is not None
                    and c.usage is not None and c.usage.total == 12 * MB and c.sessions == (), 3.0)
