"""The policy `cloudos worker` holds open sessions to, in a real PostgreSQL (schema 0008):
cloudos_coa_sweep finds sessions login would have refused, cloudos_coa_moot ends what is no
longer needed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import Cli
from tests.integration.world import World, build_world

MB = 10**6
_uids = itertools.count(1)


@pytest.fixture
def world(fresh_db: str, cli: Cli) -> Iterator[World]:
    yield from build_world(fresh_db, cli, World)


def start(world: World, user: str, at: datetime | None = None, inp: int = 0, out: int = 0) -> str:
    uid = f"pol-{next(_uids)}"
    at = at or datetime.now(timezone.utc)
    assert world.account_row(uid, "Start", user, at)[0] == "ok"
    if inp or out:
        assert world.account_row(uid, "Interim-Update", user, at + timedelta(seconds=1), inp, out, 1)[0] == "ok"
    return uid


def sweep(world: World, since: datetime | None = None, now: datetime | None = None) -> list[tuple[Any, ...]]:
    """What one sweep queued: (acct_unique_id, kind, reason)."""
    (before,) = world.conn.execute("SELECT coalesce(max(id), 0) FROM coa_outbox").fetchone() or (0,)
    world.conn.execute("SELECT cloudos_coa_sweep(%s, %s)", (now or datetime.now(timezone.utc), since))
    return world.conn.execute("SELECT acct_unique_id, kind, reason FROM coa_outbox WHERE id > %s ORDER BY id",
                              (before,)).fetchall()


def moot(world: World, now: datetime | None = None) -> dict[str, tuple[str, str]]:
    world.conn.execute("SELECT cloudos_coa_moot(%s)", (now or datetime.now(timezone.utc),))
    return {uid: (status, result) for uid, status, result in world.conn.execute(
        "SELECT acct_unique_id, status, result FROM coa_outbox ORDER BY id")}


def test_sweep_finds_what_login_would_refuse(world: World) -> None:
    db = world.conn
    uid = start(world, "ali")
    assert sweep(world) == []
    db.execute("UPDATE subscriber SET status = 'suspended' WHERE username = 'ali'")
    assert sweep(world) == [(uid, "disconnect", "suspended")]
    assert sweep(world) == []  # once: it has its Disconnect now, pending or settled
    db.execute("UPDATE coa_outbox SET status = 'ack'")
    assert sweep(world) == []


def test_sweep_leaves_a_walled_garden_session_and_a_fup_session(world: World) -> None:
    db = world.conn
    db.execute("UPDATE tenant SET walled_garden_address_list = 'garden', walled_garden_rate_limit = '64k/64k'")
    start(world, "ali")
    db.execute("UPDATE subscriber SET status = 'suspended' WHERE username = 'ali'")
    start(world, "fupper", inp=5 * MB, out=6 * MB)  # over the quota: the crossing queued its CoA
    assert db.execute("SELECT kind, reason FROM coa_outbox").fetchall() == [("coa", "quota_exhausted")]
    start(world, "fupper")  # a second session, let in at the FUP rate
    assert sweep(world) == []
    db.execute("UPDATE subscriber SET status = 'terminated' WHERE username = 'ali'")
    assert [r[2] for r in sweep(world)] == ["terminated"]  # no garden for the terminated


def test_sweep_finds_expired_and_over_a_hard_quota(world: World) -> None:
    db = world.conn
    now = datetime.now(timezone.utc)
    first = start(world, "capped", inp=5 * MB, out=6 * MB)  # crossing: a Disconnect for this one
    second = start(world, "capped")  # let in just before the crossing
    uid = start(world, "ali")
    db.execute("UPDATE subscriber SET expires_at = %s WHERE username = 'ali'", (now - timedelta(minutes=1),))
    assert sorted(sweep(world)) == sorted([(second, "disconnect", "quota_exhausted"), (uid, "disconnect", "expired")])
    assert first not in [r[0] for r in sweep(world)]


def test_sweep_since_looks_only_at_recent_sessions(world: World) -> None:
    now = datetime.now(timezone.utc)
    old = start(world, "ali", at=now - timedelta(hours=1))
    world.conn.execute("UPDATE subscriber SET status = 'suspended' WHERE username = 'ali'")
    assert sweep(world, since=now - timedelta(minutes=10)) == []
    assert sweep(world, since=None) == [(old, "disconnect", "suspended")]


def test_moot_cancels_when_back_within_policy_or_the_session_closed(world: World) -> None:
    db = world.conn
    now = datetime.now(timezone.utc)
    suspended = start(world, "ali")
    db.execute("UPDATE subscriber SET status = 'suspended' WHERE username = 'ali'")
    db.execute("SELECT cloudos_queue_coa(%s, 'disconnect', NULL, 'suspended')", (world.subscribers["ali"],))
    capped = start(world, "capped", inp=5 * MB, out=6 * MB)  # crossing: quota_exhausted Disconnect
    fup = start(world, "fupper", inp=5 * MB, out=6 * MB)  # crossing: quota_exhausted CoA
    admin = start(world, "ali", at=now + timedelta(seconds=5))
    db.execute("SELECT cloudos_queue_coa_sessions(%s, 'disconnect', NULL, 'admin')", ([admin],))
    db.execute("UPDATE coa_outbox SET attempts = 7, result = 'no answer' WHERE acct_unique_id = %s", (suspended,))
    assert {u: s for u, (s, _r) in moot(world).items()} == {
        suspended: "pending", capped: "pending", fup: "pending", admin: "pending"}

    db.execute("UPDATE subscriber SET status = 'active' WHERE username = 'ali'")  # resumed
    db.execute("UPDATE subscriber SET plan_id = %s WHERE username = 'capped'", (world.plans["home"],))  # new plan
    got = moot(world)
    assert got[suspended] == ("cancelled", "back within policy after 7 attempts (last: no answer)")
    assert got[capped] == ("cancelled", "back within policy after 0 attempts")
    assert got[fup][0] == got[admin][0] == "pending"  # still over quota; an operator's Disconnect holds

    # The next period: the quota is reset. An 'admin' request is not a policy one.
    got = moot(world, now=now + timedelta(days=40))
    assert got[fup] == ("cancelled", "back within policy after 0 attempts") and got[admin][0] == "pending"
    assert world.account_row(admin, "Stop", "ali", now + timedelta(seconds=9), 0, 0, 4)[0] == "ok"
    assert moot(world)[admin] == ("cancelled", "session closed after 0 attempts")


def test_a_session_back_after_its_disconnect_was_cancelled_is_swept_again(world: World) -> None:
    """The reaper closed it, so its Disconnect was cancelled; then the session was heard from again and
    came back (0011): a subscriber still suspended is disconnected again, not left online for good."""
    db = world.conn
    now = datetime.now(timezone.utc)
    uid = start(world, "ali", at=now - timedelta(hours=1))
    db.execute("UPDATE subscriber SET status = 'suspended' WHERE username = 'ali'")
    assert sweep(world, now=now) == [(uid, "disconnect", "suspended")]
    assert db.execute("SELECT reaped FROM cloudos_reap_sessions(%s)", (now,)).fetchone() == (1,)  # silent an hour
    assert moot(world, now)[uid][0] == "cancelled"
    assert world.account_row(uid, "Interim-Update", "ali", now, 100, 100, 3600)[0] == "ok"
    assert db.execute("SELECT stopped_at FROM session_open WHERE acct_unique_id = %s", (uid,)).fetchone() == (None,)
    assert sweep(world, now=now) == [(uid, "disconnect", "suspended")]
